"""The job store that goes with an index: SQLite's or PostgreSQL's."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from dicomnet.archive.backends import AnyIndex
from dicomnet.archive.sqlite import SqliteIndex

from .sqlite import SqliteQueueStore

if TYPE_CHECKING:
    from .postgres import PostgresQueueStore

__all__ = ["AnyQueueStore", "open_queue_store"]

AnyQueueStore: TypeAlias = "SqliteQueueStore | PostgresQueueStore"


async def open_queue_store(
    index: AnyIndex, *, enqueue: bool = True, owner: str | None = None
) -> AnyQueueStore:
    """The send jobs kept in ``index``'s database (``enqueue``: written with its rows;
    ``owner``: this process in the jobs it sends, default a new id)."""
    if isinstance(index, SqliteIndex):
        return await SqliteQueueStore.open(index, enqueue=enqueue, owner=owner)
    from .postgres import PostgresQueueStore  # noqa: PLC0415 (asyncpg is optional)

    return await PostgresQueueStore.open(index, enqueue=enqueue, owner=owner)
