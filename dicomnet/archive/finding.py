"""C-FIND over an index backend's rows, shared by SQLite and PostgreSQL.

:func:`find_rows` runs a query's plan (:mod:`.plan`) through a backend's row
reader, finishes each row with the in-memory matcher and yields the
matches, each able to write its response without pydicom when the
:class:`~.response.Layout` allows.

``offset`` and ``limit`` page through the matches (QIDO-RS): when the plan
leaves nothing for the in-memory matcher, every row is a match and the
database skips and stops (``LIMIT``/``OFFSET``), so the rows before the
page cost nothing; otherwise the rows are matched and the first
``offset`` matches skipped here. A paged query is ordered by the entity's
key, so that pages of repeated queries follow on from each other.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, ClassVar

from dicomnet.query.matching import match_element
from dicomnet.query.query import Match, Query, match_keys, respond

from .plan import POSTGRESQL, Plan, plan_query
from .response import response_layout
from .rows import BATCH, FIRST_BATCH, column_positions, row_identifier, row_lookup

__all__ = ["RowFinding", "RowReader", "find_rows", "paged_sql"]

_log = logging.getLogger("dicomnet.archive")

#: A backend's reader of one SELECT's rows (``?`` parameters).
RowReader = Callable[[str, Sequence[object]], AsyncGenerator[tuple[Any, ...], None]]


def paged_sql(
    plan: Plan, dialect: str, *, offset: int, limit: int | None, exact: bool
) -> tuple[str, list[object]]:
    """The plan's statement ordered by key, with ``LIMIT``/``OFFSET`` when ``exact``."""
    sql = f"{plan.sql} ORDER BY t.pk"
    params = list(plan.params)
    if exact:
        sql += " LIMIT ? OFFSET ?"
        no_limit = None if dialect == POSTGRESQL else -1
        params.extend((no_limit if limit is None else limit, offset))
    return sql, params


async def find_rows(
    query: Query,
    dialect: str,
    read: RowReader,
    *,
    retrieve_ae_title: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> AsyncGenerator[Match, None]:
    """The matches of ``query`` (after ``offset`` of them, at most ``limit``), streamed."""
    plan = plan_query(query, dialect)
    layout = response_layout(query, plan, retrieve_ae_title)
    keys, partial = match_keys(query)
    sql, params = plan.sql, list(plan.params)
    skip, left = offset, limit
    if offset or limit is not None:
        sql, params = paged_sql(plan, dialect, offset=offset, limit=limit, exact=not keys)
        if not keys:
            skip, left = 0, None
    _log.debug("C-FIND plan: %s %s", sql, params)
    if left == 0:
        return
    positions = column_positions(plan)
    rows = read(sql, params)
    try:
        async for row in rows:
            lookup = row_lookup(query.level, plan, row, positions)
            match: Match | None = None
            if layout is None:
                match = respond(query, lookup, retrieve_ae_title=retrieve_ae_title)
                if match is None:
                    continue
            elif not all(match_element(key, lookup(int(key.tag))) for key in keys):
                continue
            if skip:
                skip -= 1
                continue
            if match is None:
                assert layout is not None
                match = Match(
                    partial=partial,
                    build=functools.partial(row_identifier, query, lookup, retrieve_ae_title),
                    encode=functools.partial(layout.encode, row, lookup),
                    elements=functools.partial(layout.elements, row, lookup),
                )
            yield match
            if left is not None:
                left -= 1
                if left == 0:
                    return
    finally:
        await rows.aclose()


class RowFinding:
    """C-FIND and the retrieve's matching for an index in SQL (SQLite, PostgreSQL).

    A subclass names its ``dialect`` and reads the rows of one SELECT (``?``
    parameters) with ``_rows``; the plan and the in-memory matcher are shared.
    """

    #: The SQL dialect of the index's statements (:mod:`.plan`).
    dialect: ClassVar[str]

    def _rows(
        self, sql: str, params: Sequence[object], *, first: int = BATCH
    ) -> AsyncGenerator[tuple[Any, ...], None]:
        raise NotImplementedError

    def matches(
        self,
        query: Query,
        *,
        retrieve_ae_title: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> AsyncGenerator[Match, None]:
        """C-FIND: the SQL plan's rows, finished by the in-memory matcher, streamed."""
        read = functools.partial(self._rows, first=FIRST_BATCH)
        return find_rows(
            query,
            self.dialect,
            read,
            retrieve_ae_title=retrieve_ae_title,
            offset=offset,
            limit=limit,
        )

    async def _matching_keys(self, query: Query) -> list[int]:
        """Retrieve: the keys of every entity ``query`` matches."""
        plan = plan_query(query, self.dialect)
        rows = self._rows(plan.sql, plan.params)
        try:
            return [
                int(row[0])
                async for row in rows
                if respond(query, row_lookup(query.level, plan, row)) is not None
            ]
        finally:
            await rows.aclose()
