"""Open an archive database by its location: a SQLite file path or a PostgreSQL URL.

``postgresql://user@host:port/db`` (or ``postgres://``) opens a
:class:`~.postgres.PostgresIndex` (asyncpg, imported only then); anything
else is the path of a SQLite file (:class:`~.sqlite.SqliteIndex`).
:func:`open_archive` opens the index with the worklist and the commitment
journal kept beside it, as ``dicomnet serve`` and the systems use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from .commitment_sqlite import SqliteReportJournal
from .sqlite import SqliteIndex
from .worklist_sqlite import SqliteWorklist

if TYPE_CHECKING:
    from .commitment_pg import PostgresReportJournal
    from .postgres import PostgresIndex
    from .worklist_pg import PostgresWorklist

__all__ = [
    "AnyIndex",
    "AnyJournal",
    "AnyWorklist",
    "ArchiveDatabase",
    "describe",
    "is_postgres_url",
    "open_archive",
    "open_index",
    "open_journal",
    "open_worklist",
]

AnyIndex: TypeAlias = "SqliteIndex | PostgresIndex"
AnyWorklist: TypeAlias = "SqliteWorklist | PostgresWorklist"
AnyJournal: TypeAlias = "SqliteReportJournal | PostgresReportJournal"


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(location: str | Path) -> str:
    """``location`` for messages (a URL without its password)."""
    if is_postgres_url(location):
        from .postgres import redacted  # noqa: PLC0415 (asyncpg is optional)

        return redacted(str(location))
    return str(location)


async def open_index(location: str | Path, *, fsync: bool = True) -> AnyIndex:
    """The index at ``location`` (a SQLite path or a PostgreSQL URL), schema brought up to date.

    Raises :class:`~.backend.IndexUnavailable` (an ``OSError``) when it cannot be opened.
    """
    if is_postgres_url(location):
        from .postgres import PostgresIndex  # noqa: PLC0415 (asyncpg is optional)

        return await PostgresIndex.open(str(location), fsync=fsync)
    return await SqliteIndex.open(location, fsync=fsync)


async def open_worklist(index: AnyIndex) -> AnyWorklist:
    """The worklist kept in ``index``'s database."""
    if isinstance(index, SqliteIndex):
        return await SqliteWorklist.open(index)
    from .worklist_pg import PostgresWorklist  # noqa: PLC0415 (asyncpg is optional)

    return await PostgresWorklist.open(index)


async def open_journal(index: AnyIndex) -> AnyJournal:
    """The outstanding commitment reports kept in ``index``'s database."""
    if isinstance(index, SqliteIndex):
        return await SqliteReportJournal.open(index)
    from .commitment_pg import PostgresReportJournal  # noqa: PLC0415 (asyncpg is optional)

    return await PostgresReportJournal.open(index)


@dataclass
class ArchiveDatabase:
    """An index with the worklist and commitment journal kept beside it."""

    index: AnyIndex
    worklist: AnyWorklist
    journal: AnyJournal

    async def close(self) -> None:
        """Close the worklist, the journal, then the index."""
        await self.worklist.close()
        await self.journal.close()
        await self.index.close()


async def open_archive(location: str | Path, *, fsync: bool = True) -> ArchiveDatabase:
    """Open the index at ``location`` with its worklist and journal (closed again on failure)."""
    index = await open_index(location, fsync=fsync)
    worklist: AnyWorklist | None = None
    try:
        worklist = await open_worklist(index)
        journal = await open_journal(index)
    except BaseException:
        if worklist is not None:
            await worklist.close()
        await index.close()
        raise
    return ArchiveDatabase(index, worklist, journal)
