"""The SQLite index backend (stdlib :mod:`sqlite3`, WAL mode): connections and transactions.

Every blocking database call runs in one bounded thread pool owned by the
index (``workers`` threads, default 2); the event loop only awaits them, and
no protocol work happens in those threads. One connection writes; up to
``readers`` connections read, each held by one C-FIND stream at a time (WAL
lets them read while the writer commits).

**Writing.** :class:`SqliteIndex` queues its writes and commits them in
batches by the group commit of its base
:class:`~dicomnet.archive.sqlite_group_commit.SqliteGroupCommit` (the queue,
the batches and when each commits: see that module); this module runs each
transaction: the statements of a batch, deletions and the other operations.
Each transaction holds the file's write lock
(:class:`~dicomnet.archive.opening.WriteLock`; other workers wait on it).

**Durability.** ``fsync=True`` (default): a row is on disk when :meth:`put`
returns (it survives kill -9 and power loss). Batches commit in
``synchronous=NORMAL`` on the event loop's thread, and the WAL file is synced
in the thread pool before their callers are woken (see the group commit).
Deletions and other operations commit with ``synchronous=FULL``.
``fsync=False``: ``synchronous=NORMAL`` and no sync (in WAL a commit survives
kill -9 but may be lost on power loss; the database stays consistent).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final, TypeVar

from .backend import IndexUnavailable
from .entry import IndexEntry
from .migrations import migrate_sqlite
from .opening import LockTaken, WriteLock, opening_lock
from .plan import SQLITE
from .rows import delete_target
from .schema import SCHEMA_VERSION
from .series_keys import KEYS_AT_ONCE, checked_keys_and_side_rows, checked_series_keys
from .sqlite_group_commit import SqliteGroupCommit, _Batch, _Job
from .sqlite_reading import SqliteReading
from .sqlite_rows import (
    RolledBack,
    chunks,
    delete_pending,
    delete_rows,
    has_side_rows,
    insert_many,
)
from .walked import WalkColumns

# (The group commit's settings, CHECKPOINT_EVERY and the others, are in its module.)
__all__ = ["SqliteIndex"]

_log = logging.getLogger("dicomnet.archive")
_T = TypeVar("_T")

#: How long a connection waits for another one's lock (ms).
BUSY_TIMEOUT_MS: Final = 10000
#: Statements the writer's connection keeps compiled (the sqlite3 module's default is
#: 128): the instance inserts alone come in 98 texts (see sqlite_rows.EXACT_RUN, _ROLLBACK_RUNS).
WRITER_STATEMENTS: Final = 256
#: Series keys remembered by the writer, at most.
_SERIES_KEYS: Final = 4096


class SqliteIndex(SqliteGroupCommit, SqliteReading):
    """An index of patients, studies, series and instances in one SQLite file.

    Create it with :meth:`open` (which makes the schema) and end it with
    :meth:`close`. It is an :class:`~dicomnet.archive.backend.IndexBackend`
    and a :class:`~dicomnet.query.source.QuerySource`.
    """

    #: The SQL dialect of this backend's statements.
    dialect = SQLITE
    #: Its waits (group commit, thread pool) need no current task (see StorageService).
    resumable_waits: Final = True

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = True,
        workers: int = 2,
        readers: int = 4,
        batch_limit: int = 512,
        inline_writes: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.batch_limit = batch_limit
        #: Commit batches on the event loop's thread (default; a commit is a short write to
        #: the WAL, synced afterwards in the thread pool with ``fsync``). ``False``: the
        #: whole transaction runs in the thread pool, in ``synchronous=FULL`` with ``fsync``.
        self.inline_writes = True if inline_writes is None else inline_writes
        super().__init__()  # (the group commit's queue)
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="dicomnet-index"
        )
        self._writer: sqlite3.Connection | None = None
        # The writer's cursor for the statements of every transaction (BEGIN, COMMIT,
        # PRAGMA data_version): ``Connection.execute`` makes a cursor per call.
        self._statements: sqlite3.Cursor | None = None
        #: Turns at writing the file, across processes (see :mod:`.opening`).
        self.write_lock: WriteLock | None = None
        self._free: list[sqlite3.Connection] = []
        self._all_readers: list[sqlite3.Connection] = []
        self._reader_slots = asyncio.Semaphore(max(1, readers))
        self._closed = False
        self._full_sync = fsync
        # Series UID -> row key of series committed lately (writer thread only): most
        # instances join a series that exists, and then skip three upserts (see
        # :mod:`.series_keys`; checked when PRAGMA data_version changes).
        self._series_keys: dict[str, int] = {}
        # Keys remembered before another connection's latest commit and not needed by a
        # batch since: checked when a batch needs them (kept, not dropped, so that a
        # worker's batches after the other workers' commits skip the upserts too).
        self._unchecked_keys: dict[str, int] = {}
        self._data_version = -1
        # Whether the pending or doomed tables may hold rows (writer thread only): while
        # they cannot, a batch skips removing its paths from them. Set again by a journal
        # row, a deletion, a failed transaction and another connection's commit.
        self._side_rows = True
        #: Transactions committed by the writer (a measure of group commit).
        self.commits = 0
        #: :attr:`IndexEntry.sync_folders` are synced (in the thread pool, once per folder
        #: and batch) before the batch's rows are committed: the folder store leaves them
        #: unsynced (see :class:`~dicomnet.archive.ingest.IndexedSink`).
        self.syncs_folders = fsync
        #: Unnamed files handed over with their entries (:attr:`IndexEntry.link`) are
        #: named a batch at a time before the batch's rows commit, and their intent
        #: log lines settled once the rows are durable (see :mod:`dicomnet.storage.naming`).
        self.links_files = True
        #: Called (writer thread) in each transaction that adds rows, with those
        #: entries: tables beside the archive's written atomically with the rows
        #: (the send queue's jobs, see :mod:`dicomnet.queue.sqlite`).
        self.row_hooks: list[Callable[[sqlite3.Connection, Sequence[IndexEntry]], None]] = []

    # ------------------------------------------------------------------ life cycle

    @classmethod
    async def open(cls, path: str | Path, **options: Any) -> SqliteIndex:
        """Open (creating if needed) the index at ``path``."""
        index = cls(path, **options)
        try:
            index._writer = await index.run(index._open_writer)
            index._statements = index._writer.cursor()
            if index.inline_writes:
                # Opening and migrating wait for other openers; inline writes (see
                # _inline) never wait for a lock on the loop's thread.
                await index.run(index._writer.execute, "PRAGMA busy_timeout = 0")
        except BaseException:
            await index.close()
            raise
        return index

    def _open_writer(self) -> sqlite3.Connection:
        """The writer connection, in WAL mode and migrated (one opener at a time)."""
        with opening_lock(self.path):
            self.write_lock = WriteLock(self.path)
            conn = self._connect(False)
            try:
                migrate_sqlite(conn, str(self.path))
                self._check_version(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            check_same_thread=False,
            isolation_level=None,
            cached_statements=128 if read_only else WRITER_STATEMENTS,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if read_only:
            conn.execute("PRAGMA query_only = 1")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.fsync else 'NORMAL'}")
            if self.inline_writes:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row[0] != str(SCHEMA_VERSION):
            raise IndexUnavailable(f"{self.path}: index schema {row[0]}, expected {SCHEMA_VERSION}")

    async def close(self) -> None:
        """Finish queued writes, close the connections and the thread pool."""
        self._closed = True
        await self._finish_writes()
        connections = [*self._all_readers, *([self._writer] if self._writer else [])]
        if self._checkpointer is not None:
            connections.append(self._checkpointer)
            self._checkpointer = None
        self._writer = None
        self._statements = None
        self._all_readers.clear()
        self._free.clear()
        for conn in connections:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        if self.write_lock is not None:
            # Several workers share the index: how often each committed and found the
            # other's commit in its way (``-vv``; see benchmarks/README.md, scale).
            _log.debug(
                "index %s closed: %d write transactions, the write lock found taken %d times",
                self.path,
                self.commits,
                self.write_lock.waits,
            )
            self.write_lock.close()

    async def __aenter__(self) -> SqliteIndex:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking call in the index's thread pool (database errors: IndexUnavailable)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The thread goes on with the connection it was handed: the caller must not
            # lend that connection out again, or close it, until the call has ended.
            await asyncio.wait({future})
            if not future.cancelled():
                future.exception()  # retrieved: the caller was cancelled, not failed
            raise
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"index {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ writing

    async def journaled(self) -> list[tuple[str, str]]:
        """(path, SOP Instance UID) of files journaled and not yet indexed or forgotten."""
        sql = "SELECT path, uid FROM pending ORDER BY path"
        return [(str(p), str(u)) async for p, u in self._rows(sql, [])]

    def _sync_wal(self) -> None:
        """Make the transactions committed so far durable (thread pool; see the group commit)."""
        fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def _unsynced(self, entries: list[IndexEntry], exc: OSError) -> IndexUnavailable:
        """The WAL could not be synced after ``entries`` were committed: they fail.

        Their rows are removed again (as far as the disk lets), so that no row
        is left of an instance whose file its store removes when told. Returns
        the error to answer them with.
        """
        _log.error(
            "index %s: WAL not synced, %d rows not indexed: %s", self.path, len(entries), exc
        )
        uids = [entry.sop_instance_uid for entry in entries]

        def remove(conn: sqlite3.Connection) -> None:
            for uid in uids:
                delete_rows(conn, "instance", uid)

        try:
            await self.run(self._operation, remove, True)
        except (OSError, sqlite3.Error) as again:
            _log.error("index %s: rows of an unsynced batch kept: %s", self.path, again)
        return IndexUnavailable(f"index {self.path}: WAL not synced: {exc}")

    def _waiting(self, batch: _Batch) -> None:
        """The batch written with the writer waiting for locks (in the thread pool)."""
        assert self._writer is not None
        self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            self._write_batch(batch, True)
        finally:
            if self._writer is not None:
                self._writer.execute("PRAGMA busy_timeout = 0")

    def write_turn(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The write lock held for one transaction (:mod:`.opening`; waiting: thread pool)."""
        if self.write_lock is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        return self.write_lock.turn(wait=wait)

    def _transaction(
        self,
        work: Callable[[sqlite3.Connection], _T],
        wait: bool,
        again: Callable[[sqlite3.Connection], _T] | None = None,
    ) -> _T:
        """Run ``work`` in a write transaction holding the write lock, and commit it.

        ``again``: run in a new transaction (the lock still held) when ``work`` raises
        :class:`~dicomnet.archive.sqlite_rows.RolledBack` (SQLite rolled its
        transaction back at a conflict).
        """
        conn = self._writer
        statements = self._statements
        if conn is None or statements is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        if len(self._series_keys) + len(self._unchecked_keys) > _SERIES_KEYS:
            self._series_keys.clear()
            self._unchecked_keys.clear()
        lock = self.write_lock
        if lock is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        # The lock taken and given back directly (what write_turn does, without the
        # generator of a context manager around every batch).
        if not (lock.acquire(wait=True) if wait else lock.try_acquire()):
            raise LockTaken
        try:
            statements.execute("BEGIN IMMEDIATE")
            try:
                try:
                    result = work(conn)
                except RolledBack:
                    if again is None:
                        raise
                    self._undone()
                    statements.execute("BEGIN IMMEDIATE")
                    result = again(conn)
            except BaseException:
                self._undone()
                if conn.in_transaction:  # (SQLite rolls some failures back itself)
                    statements.execute("ROLLBACK")
                raise
            statements.execute("COMMIT")
        finally:
            lock.release()
        self.commits += 1
        return result

    def _undone(self) -> None:
        """Forget what a transaction rolled back: the series rows it made are gone, and
        the side rows it removed are back."""
        self._series_keys.clear()
        self._side_rows = True

    def _write_batch(self, batch: _Batch, wait: bool) -> None:
        entries = batch.entries
        journals: list[tuple[str, str]] = []
        forgets: list[str] = []
        if batch.jobs:
            journals = [job.journal for job in batch.jobs if job.journal is not None]
            forgets = [job.forget for job in batch.jobs if job.forget is not None]

        def work(conn: sqlite3.Connection, rollback: bool = True) -> None:
            # Few statements per batch, each for many rows: the writer thread takes
            # the GIL back after every statement, which costs while the loop is busy.
            # Forgotten paths first and journal rows last, so a path forgotten and
            # journaled again in one batch, or indexed by one association and
            # journaled by another, keeps the newer journal row.
            if forgets:
                delete_pending(conn, forgets)
            if entries:
                self._check_series_keys(conn, entries)
                # (A UID indexed already rolls the usual batch's transaction back; it
                # runs again without, replacing the row: see _transaction.)
                insert_many(conn, entries, self._series_keys, rollback=rollback)
                for hook in self.row_hooks:
                    hook(conn, entries)
                if self._side_rows:
                    paths = [entry.path for entry in entries]
                    delete_pending(conn, paths)
                    # A path stored again is no longer one a deletion still has to remove.
                    for names in chunks(paths, 1):
                        sql = f"DELETE FROM doomed WHERE path IN ({', '.join('?' * len(names))})"
                        conn.execute(sql, names)
                    self._side_rows = has_side_rows(conn)
            if journals:
                self._side_rows = True
                for chunk in chunks(journals, 2):
                    conn.execute(
                        "INSERT OR REPLACE INTO pending (path, uid) VALUES "
                        + ", ".join(["(?, ?)"] * len(chunk)),
                        [value for pair in chunk for value in pair],
                    )

        # Only rows that answer a C-STORE need the sync; a journal row alone is
        # written (it survives kill -9) and synced with the next instance row.
        # Inline writes commit in NORMAL and sync the WAL afterwards (see _finish).
        # (The batch's files were named and their folders synced by _prepare.)
        full = self.fsync and not self.inline_writes and bool(entries)
        if full != self._full_sync:
            self._synchronous(full)
        self._transaction(work, wait, _replacing(work))

    def _check_series_keys(self, conn: sqlite3.Connection, entries: Sequence[IndexEntry]) -> None:
        """After another connection's commits: side rows may exist, series keys are checked.

        Each remembered key is checked once after the latest foreign commit, when a
        batch first needs it (or with the others, while they are no more than the
        batch's entries); until then it waits in :attr:`_unchecked_keys`.
        """
        statements = self._statements
        assert statements is not None  # (in a transaction)
        version = statements.execute("PRAGMA data_version").fetchone()[0]
        unchecked = self._unchecked_keys
        if version != self._data_version:
            self._data_version = version
            unchecked.update(self._series_keys)
            self._series_keys = {}
            if unchecked and len(unchecked) <= min(len(entries), KEYS_AT_ONCE):
                # Not more keys than the batch has entries (a worker that stores a few
                # series at a time): all of them are checked at once, instead of finding
                # the batch's series first, in the statement that looks for side rows.
                self._series_keys, self._side_rows = checked_keys_and_side_rows(conn, unchecked)
                unchecked.clear()
                return
            # Another connection may have journaled or doomed paths: only then are they
            # looked up.
            self._side_rows = has_side_rows(conn)
        if not unchecked:
            return
        if len(unchecked) <= len(entries):
            self._series_keys.update(checked_series_keys(conn, unchecked, unchecked))
            unchecked.clear()
            return
        # (A walked entry's Series Instance UID is an attribute; get() may decode it.)
        wanted = {
            columns.series_uid
            if type(columns := entry.columns) is WalkColumns
            else columns.get("series_uid", "")
            for entry in entries
        } & unchecked.keys()
        if wanted:
            self._series_keys.update(checked_series_keys(conn, unchecked, wanted))
            for uid in wanted:
                del unchecked[uid]

    def _synchronous(self, full: bool) -> None:
        if full != self._full_sync and self._writer is not None:
            self._writer.execute(f"PRAGMA synchronous = {'FULL' if full else 'NORMAL'}")
            self._full_sync = full

    def _run_operation(self, job: _Job, wait: bool) -> Any:
        assert job.operation is not None
        return self._operation(job.operation, wait)

    def _operation(self, operation: Callable[[sqlite3.Connection], _T], wait: bool) -> _T:
        self._series_keys.clear()  # deletions may remove series
        self._side_rows = True  # and note the files to remove
        self._synchronous(self.fsync)  # durable when it returns (no WAL sync follows)
        return self._transaction(operation, wait)

    async def delete(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> list[str]:
        """Remove a study, series or instance (exactly one given); the paths of its files."""
        kind, uid = delete_target(study_uid, series_uid, sop_instance_uid)

        def work(conn: sqlite3.Connection) -> list[str]:
            paths = delete_rows(conn, kind, uid)
            # The files to remove, noted with the rows' removal (see :meth:`doomed`).
            for chunk in chunks(paths, 1):
                conn.execute(
                    "INSERT OR IGNORE INTO doomed (path) VALUES " + ", ".join(["(?)"] * len(chunk)),
                    chunk,
                )
            return paths

        return await self._operate(work)

    async def doomed(self) -> list[str]:
        """Files of deleted instances not yet confirmed removed (see :meth:`forget_doomed`)."""
        return [str(p) async for (p,) in self._rows("SELECT path FROM doomed ORDER BY path", [])]

    async def forget_doomed(self, paths: Sequence[str]) -> None:
        """The files ``paths`` of deleted instances are gone."""

        def work(conn: sqlite3.Connection) -> None:
            for chunk in chunks(paths, 1):
                sql = f"DELETE FROM doomed WHERE path IN ({', '.join('?' * len(chunk))})"
                conn.execute(sql, chunk)

        await self._operate(work)

    async def clear(self) -> None:
        """Remove every row (the files are left alone)."""

        def work(conn: sqlite3.Connection) -> None:
            for table in ("instance", "series", "study", "patient"):
                conn.execute(f"DELETE FROM {table}")

        await self._operate(work)


def _replacing(
    work: Callable[[sqlite3.Connection, bool], None],
) -> Callable[[sqlite3.Connection], None]:
    """``work`` (a batch's) run again after a conflict rolled it back: rows replaced."""
    return lambda conn: work(conn, False)
