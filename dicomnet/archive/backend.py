"""The interface every index backend offers (SQLite today; others can follow).

A backend keeps patients, studies, series and instances. It answers C-FIND
(as a :class:`~dicomnet.query.source.QuerySource`), says which files a
C-MOVE/C-GET sends, and adds, replaces and deletes instances. No SQL leaves a
backend: callers speak in :class:`~dicomnet.query.query.Query` values,
:class:`~.entry.IndexEntry` values and UIDs.

Errors: a backend raises :class:`IndexUnavailable` (an ``OSError``, so the
Storage SCP answers A700 and the Q/R SCP C001) when its database fails.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import Protocol, runtime_checkable

from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Match, Query

from .entry import IndexEntry

__all__ = ["IndexBackend", "IndexUnavailable"]


class IndexUnavailable(OSError):
    """The index cannot be read or written (the database failed)."""


@runtime_checkable
class IndexBackend(Protocol):
    """Insert/update, query, locate and delete instances."""

    def put(self, entry: IndexEntry) -> Awaitable[None]:
        """Add an instance, or replace the one with its SOP Instance UID; durable once awaited.

        (A coroutine, or the future of a queued write: SQLite hands its writer's future
        back, one coroutine less per stored instance.)
        """
        ...

    async def put_many(self, entries: Sequence[IndexEntry]) -> None:
        """Add or replace several instances in one transaction; durable on return."""
        ...

    async def journal(self, path: str, sop_instance_uid: str) -> None:
        """Note that ``path`` is about to be moved into place (before the rename)."""
        ...

    async def unjournal(self, path: str) -> None:
        """Drop the journal row of ``path`` (the file was not stored after all)."""
        ...

    async def journaled(self) -> list[tuple[str, str]]:
        """(path, SOP Instance UID) journaled and neither indexed nor dropped."""
        ...

    def matches(
        self,
        query: Query,
        *,
        retrieve_ae_title: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> AsyncGenerator[Match, None]:
        """C-FIND: each matching entity at the query level, streamed from the database.

        ``offset`` matches are skipped and at most ``limit`` given (QIDO-RS
        paging); a paged query is in a fixed order (the entities' keys).
        """
        ...

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """Retrieve: the instances below every matching entity, with their files."""
        ...

    async def locate(self, sop_instance_uid: str) -> InstanceRecord | None:
        """One instance and its file, or ``None``."""
        ...

    async def delete(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> list[str]:
        """Remove a study, series or instance (and emptied parents); the file paths it had.

        The paths are noted (:meth:`doomed`) in the same transaction, until the
        caller has removed the files and calls :meth:`forget_doomed`.
        """
        ...

    async def doomed(self) -> list[str]:
        """Files of instances :meth:`delete` removed, not yet confirmed gone."""
        ...

    async def forget_doomed(self, paths: Sequence[str]) -> None:
        """The files ``paths`` of deleted instances are gone (their notes go)."""
        ...

    async def count(self) -> int:
        """How many instances are indexed."""
        ...

    async def clear(self) -> None:
        """Remove every row (the files are left alone)."""
        ...

    async def close(self) -> None:
        """Finish pending writes and release the database."""
        ...
