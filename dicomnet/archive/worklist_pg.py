"""Modality Worklist items kept in the archive's PostgreSQL database.

The same tables, identity rule and C-FIND narrowing as
:mod:`.worklist_sqlite` (the statement of
:func:`~dicomnet.archive.worklist_sqlite.plan_worklist`, its parameters
numbered); writes are one transaction each, committed before they return.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from dicomnet.query.worklist import WorklistSource

from .plan import numbered
from .postgres import Connection, PostgresIndex
from .worklist_sqlite import (
    _ACCESSION,
    _MODALITY,
    _PATIENT_ID,
    _START_DATE,
    _STATION,
    WorklistEntry,
    _checked,
    _date,
    _load,
    _single,
    item_identity,
    plan_worklist,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["PostgresWorklist"]


class PostgresWorklist:
    """Worklist items in the archive's PostgreSQL database; a source for the MWL SCP."""

    def __init__(self, index: PostgresIndex) -> None:
        self._index = index

    @classmethod
    async def open(cls, index: PostgresIndex) -> PostgresWorklist:
        """The worklist of ``index``'s database (its tables are made by the migrations)."""
        return cls(index)

    async def close(self) -> None:
        """Nothing to release (the index owns the connections)."""

    async def add(self, item: Dataset) -> int:
        """Keep ``item`` (replacing one with its identity); its row key, once committed."""
        text, steps = _checked(item)
        identity = item_identity(item)
        patient_id, accession = _single(item.get(_PATIENT_ID)), _single(item.get(_ACCESSION))
        step_rows = [
            (_single(s.get(_MODALITY)), _single(s.get(_STATION)), _date(s.get(_START_DATE)))
            for s in steps
        ]

        async def work(conn: Connection) -> int:
            if identity is not None:
                await conn.execute("DELETE FROM worklist_item WHERE identity = $1", identity)
            key = await conn.fetchval(
                "INSERT INTO worklist_item (identity, patient_id, accession, added, item)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING pk",
                identity,
                patient_id,
                accession,
                time.time(),
                text.replace("\0", ""),
            )
            await conn.executemany(
                "INSERT INTO worklist_step (item_fk, modality, station_ae, start_date)"
                " VALUES ($1, $2, $3, $4)",
                [(key, *row) for row in step_rows],
            )
            return int(key)

        return await self._index.transaction(work)

    async def add_file(self, path: str | os.PathLike[str]) -> int:
        """Keep the item in a DICOM (``.wl``) or DICOM JSON (``.json``) file; its row key."""
        return await self.add(WorklistSource().add_file(path))

    async def remove(self, key: int) -> bool:
        """Remove the item with row key ``key``; whether there was one."""

        async def work(conn: Connection) -> bool:
            found = await conn.fetchval("DELETE FROM worklist_item WHERE pk = $1 RETURNING pk", key)
            return found is not None

        return await self._index.transaction(work)

    async def clear(self) -> int:
        """Remove every item; how many there were."""

        async def work(conn: Connection) -> int:
            return len(await conn.fetch("DELETE FROM worklist_item RETURNING pk"))

        return await self._index.transaction(work)

    async def entries(self) -> list[WorklistEntry]:
        """Every kept item, oldest first."""
        rows = await self._index.fetch("SELECT pk, added, item FROM worklist_item ORDER BY pk")
        return [WorklistEntry(int(k), float(a), _load(t)) for k, a, t in rows]

    async def count(self) -> int:
        """How many items are kept."""
        rows = await self._index.fetch("SELECT count(*) FROM worklist_item")
        return int(rows[0][0])

    async def candidates(
        self, identifier: Dataset, support: Mapping[int, frozenset[str]] | None = None
    ) -> AsyncIterator[Dataset]:
        """The items that may match ``identifier`` (a superset; the matcher decides)."""
        sql, params = plan_worklist(identifier, support)
        for _key, text in await self._index.fetch(numbered(sql), *params):
            yield _load(text)
