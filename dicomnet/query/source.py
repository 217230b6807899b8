"""Where a Query/Retrieve SCP gets its answers: the :class:`QuerySource` interface.

The Q/R service asks a source for the matches of a checked :class:`Query`
(streamed, so the first response can go out before the last match is found)
and for the instances a retrieve sends. :class:`MemorySource` answers from an
in-memory :class:`InstanceIndex`; :mod:`dicomnet.archive` answers from a
persistent index.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

from .index import InstanceIndex, InstanceRecord
from .query import Match, Query, find_matches, select_instances

__all__ = ["MemorySource", "QuerySource"]


@runtime_checkable
class QuerySource(Protocol):
    """Answers C-FIND queries and says which instances a C-MOVE/C-GET sends."""

    def matches(
        self, query: Query, *, retrieve_ae_title: str | None = None
    ) -> AsyncGenerator[Match, None]:
        """Each matching entity at the query level with its response identifier.

        The caller closes the generator (``aclose``) when it stops early, so a
        source can release what it holds (a database cursor).
        """
        ...

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """The instances below every matching entity (what a retrieve sends)."""
        ...


class MemorySource:
    """A :class:`QuerySource` over an in-memory :class:`InstanceIndex`."""

    def __init__(self, index: InstanceIndex) -> None:
        self.index = index

    async def matches(
        self, query: Query, *, retrieve_ae_title: str | None = None
    ) -> AsyncGenerator[Match, None]:
        """Matches found by walking the index (no awaiting between them)."""
        for match in find_matches(self.index, query, retrieve_ae_title=retrieve_ae_title):
            yield match

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """The instances of every matching entity."""
        return select_instances(self.index, query)
