"""The reading side of the SQLite index: pooled read-only connections and the SELECTs.

:class:`SqliteReading` is the base of :class:`~dicomnet.archive.sqlite.SqliteIndex`:
C-FIND streams (through :class:`~dicomnet.archive.finding.RowFinding`), the
retrieve's instances, one instance's file, counts. Each SELECT holds one read-only
connection (WAL lets it read while the writer commits) and fetches its rows in
batches in the index's thread pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Query

from .backend import IndexUnavailable
from .finding import RowFinding
from .rows import BATCH, row_record

__all__ = ["SqliteReading"]

_T = TypeVar("_T")

#: Entity keys per ``IN (...)`` when a retrieve collects instances.
_CHUNK: Final = 500
_INSTANCES_BELOW: Final = {
    "IMAGE": "SELECT i.sop_uid, i.sop_class, i.transfer_syntax, i.path FROM instance i"
    " WHERE i.pk IN ({})",
    "SERIES": "SELECT i.sop_uid, i.sop_class, i.transfer_syntax, i.path FROM instance i"
    " WHERE i.series_fk IN ({})",
    "STUDY": "SELECT i.sop_uid, i.sop_class, i.transfer_syntax, i.path FROM instance i"
    " JOIN series se ON i.series_fk = se.pk WHERE se.study_fk IN ({})",
    "PATIENT": "SELECT i.sop_uid, i.sop_class, i.transfer_syntax, i.path FROM instance i"
    " JOIN series se ON i.series_fk = se.pk JOIN study st ON se.study_fk = st.pk"
    " WHERE st.patient_fk IN ({})",
}


class SqliteReading(RowFinding):
    """Reading an SQLite index (see the module); the index itself is the subclass."""

    path: Path
    _closed: bool
    #: Read-only connections not lent out now, every one made, and the lending limit.
    _free: list[sqlite3.Connection]
    _all_readers: list[sqlite3.Connection]
    _reader_slots: asyncio.Semaphore

    async def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking call in the index's thread pool (the subclass's)."""
        raise NotImplementedError

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        raise NotImplementedError

    def _reader_connection(self) -> sqlite3.Connection:
        conn = self._connect(True)
        self._all_readers.append(conn)
        return conn

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[sqlite3.Connection]:
        if self._closed:
            raise IndexUnavailable(f"index {self.path} is closed")
        async with self._reader_slots:
            conn = self._free.pop() if self._free else await self.run(self._reader_connection)
            try:
                yield conn
            finally:
                if not self._closed:
                    self._free.append(conn)

    async def _rows(
        self, sql: str, params: Sequence[object], *, first: int = BATCH
    ) -> AsyncGenerator[tuple[Any, ...], None]:
        """Rows of one SELECT, fetched in batches in the thread pool."""
        async with self._reader() as conn:
            cursor = await self.run(conn.execute, sql, list(params))
            try:
                size = first
                while True:
                    rows = await self.run(cursor.fetchmany, size)
                    if not rows:
                        return
                    for row in rows:
                        yield tuple(row)
                    size = BATCH
            finally:
                await self.run(cursor.close)

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """Retrieve: the instances below every matching entity."""
        keys = await self._matching_keys(query)
        records: dict[str, InstanceRecord] = {}
        template = _INSTANCES_BELOW[query.level]
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            sql = template.format(", ".join("?" * len(chunk)))
            async for uid, sop_class, syntax, path in self._rows(sql, chunk):
                records[uid] = row_record(uid, sop_class, syntax, path)
        return list(records.values())

    async def locate(self, sop_instance_uid: str) -> InstanceRecord | None:
        """One instance and its file, or ``None``."""
        sql = "SELECT sop_uid, sop_class, transfer_syntax, path FROM instance WHERE sop_uid = ?"
        found = None
        async for uid, sop_class, syntax, path in self._rows(sql, [sop_instance_uid]):
            found = row_record(uid, sop_class, syntax, path)
        return found

    async def count(self) -> int:
        """How many instances are indexed."""
        async with aclosing(self._rows("SELECT count(*) FROM instance", [])) as rows:
            async for (value,) in rows:
                return int(value)
        return 0

    async def paths_since(self, received: float) -> list[tuple[str, str]]:
        """(SOP Instance UID, path) of instances received at or after ``received``."""
        sql = "SELECT sop_uid, path FROM instance WHERE received >= ? ORDER BY received"
        return [(str(u), str(p)) async for u, p in self._rows(sql, [received])]
