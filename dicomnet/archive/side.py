"""A second connection to an index's SQLite file, for the tables beside the archive's.

The worklist (:mod:`.worklist_sqlite`) and the outstanding commitment reports
(:mod:`.commitment_sqlite`) live in the archive's database file, in their own
tables, written through their own connection. Its blocking calls run in the
index's thread pool (:meth:`SqliteIndex.run`), one at a time; each write is
its own transaction, synced as the index is (``synchronous=FULL`` unless the
index was opened with ``fsync=False``). Each write takes the index's write
lock (:meth:`SqliteIndex.write_turn`), so it and the archive's group commits,
in this process and in other workers, take turns.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from .backend import IndexUnavailable
from .sqlite import SqliteIndex

__all__ = ["SideConnection"]

_T = TypeVar("_T")


class SideConnection:
    """One connection to ``index``'s database file; :meth:`open` creates ``schema``."""

    def __init__(self, index: SqliteIndex) -> None:
        self.index = index
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, index: SqliteIndex, schema: str) -> SideConnection:
        """Connect and run ``schema`` (``CREATE ... IF NOT EXISTS`` statements)."""
        side = cls(index)
        side._conn = await index.run(side._connect)
        try:
            async with side._lock:  # executescript commits on its own
                await index.run(side._create, schema)
        except BaseException:
            await side.close()
            raise
        return side

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.index.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {'FULL' if self.index.fsync else 'NORMAL'}")
        return conn

    def _create(self, schema: str) -> None:
        assert self._conn is not None
        with self.index.write_turn():
            self._conn.executescript(schema)

    def _transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        conn = self._conn
        if conn is None:
            raise IndexUnavailable(f"index {self.index.path} is closed")
        with self.index.write_turn():
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return result

    async def write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one transaction, committed (and synced) on return."""
        async with self._lock:
            return await self.index.run(self._transaction, work)

    async def read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` (reads only) on the connection."""
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise IndexUnavailable(f"index {self.index.path} is closed")
            return await self.index.run(work, conn)

    async def close(self) -> None:
        """Close the connection (before the index is closed)."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await self.index.run(conn.close)
