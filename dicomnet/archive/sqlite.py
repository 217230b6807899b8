"""The SQLite index backend (stdlib :mod:`sqlite3`, WAL mode).

Every blocking database call runs in one bounded thread pool owned by the
index (``workers`` threads, default 2); the event loop only awaits them, and
no protocol work happens in those threads. One connection writes; up to
``readers`` connections read, each held by one C-FIND stream at a time (WAL
lets them read while the writer commits).

**Group commit.** :meth:`SqliteIndex.put_shared` queues the entry as it is and
returns the one future of the run of entries queued together (a
:class:`~dicomnet.wakeup.SharedFuture`); one writer takes every entry queued
so far (whole runs, up to ``batch_limit``) and commits them in one
transaction, then completes the runs' futures and wakes their callers. Without
fsync the writer is a chain of event loop callbacks (a commit then waits for
nothing: no task or coroutine per batch); what has to wait (a lock held by
another worker, a failed batch, jobs, the WAL's checkpoint) goes on in a task.
:meth:`SqliteIndex.put` does the same with a future of the entry's own. While
a commit runs, new entries queue up for the next one, so concurrent
associations share the cost of each commit. Each transaction holds the file's write lock
(:class:`~dicomnet.archive.opening.WriteLock`; other workers wait on it).

**Durability.** ``fsync=True`` (default): a row is on disk when :meth:`put`
returns (it survives kill -9 and power loss). Batches are committed on the
event loop's thread in ``synchronous=NORMAL`` (their frames written to the
WAL, not synced), then the WAL file is fsynced in the thread pool before their
callers are woken: what ``synchronous=FULL`` does at each commit, without the
statements of a batch running in a thread that takes the GIL back from the
loop after each of them. Before its transaction, one hop to the thread pool
names the batch's unnamed files (:attr:`IndexEntry.link`: their names written
to the store's intent log in one write and synced, the files linked, their
folder synced; see :mod:`dicomnet.storage.naming`) and syncs the folders other
files were linked into (:attr:`IndexEntry.sync_folders`), so a row never
reaches the disk before its file's name does, and the folder store's commit
threads sync only the files; once the rows are durable the intent log's
lines are settled. Without fsync the files are named the same way on the
loop's thread (one write to the log per batch). Deletions
and other operations commit with ``synchronous=FULL``. ``fsync=False``:
``synchronous=NORMAL`` and no sync (in WAL a commit survives kill -9 but may
be lost on power loss; the database stays consistent).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from dicomnet.storage.folder import fsync_folders
from dicomnet.storage.naming import PendingLink, link_all, settle_all
from dicomnet.wakeup import SharedFuture, wake_shared

from .backend import IndexUnavailable
from .entry import IndexEntry
from .migrations import migrate_sqlite
from .opening import LockTaken, WriteLock, opening_lock
from .plan import SQLITE
from .rows import delete_target
from .schema import SCHEMA_VERSION
from .series_keys import checked_series_keys
from .sqlite_reading import SqliteReading
from .sqlite_rows import chunks, delete_pending, delete_rows, has_side_rows, insert_many
from .walked import WalkColumns

__all__ = ["SqliteIndex"]

_log = logging.getLogger("dicomnet.archive")
_T = TypeVar("_T")

#: How long a connection waits for another one's lock (ms).
BUSY_TIMEOUT_MS: Final = 10000
#: SQLite's result codes of a lock held elsewhere.
_BUSY: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
#: Batches committed on the loop's thread between two WAL checkpoints.
CHECKPOINT_EVERY: Final = 64
#: WAL frames (pages) from which a checkpoint holds the writer up until it is done. A
#: checkpoint beside a writer that never pauses leaves the frames committed meanwhile,
#: and the WAL starts again from its beginning only once every frame is copied.
WAL_FRAMES_LIMIT: Final = 4096
#: Event-loop turns a new batch waits for more entries, at most, while each turn adds some.
GATHER_TURNS: Final = 8
#: Without fsync, entries queued from which a new batch stops waiting for more (or half
#: the last batch, if more). A commit then costs tens of microseconds, not a sync: holding
#: the first stores of an association's window until the rest of it has arrived leaves that
#: association's peer waiting, and the process idle once the window is in, while answering
#: them lets the peer send more.
GATHER_ENOUGH: Final = 4
#: Seconds between two tries of the write lock while another process holds it (first and
#: longest pause), and how long a batch tries so on the loop before it waits in the pool.
LOCK_RETRY: Final = (0.00025, 0.002)
LOCK_PATIENCE: Final = 0.05
#: Statements the writer's connection keeps compiled (the sqlite3 module's default is
#: 128): the instance inserts alone come in 66 lengths (see sqlite_rows.EXACT_RUN).
WRITER_STATEMENTS: Final = 256
#: Series keys remembered by the writer, at most.
_SERIES_KEYS: Final = 4096


@dataclass(slots=True)
class _Job:
    """One queued write other than an entry: a journal change, or an operation run alone."""

    future: asyncio.Future[Any]
    #: (path, SOP Instance UID) of a file about to be moved into place.
    journal: tuple[str, str] | None = None
    #: Path whose journal row is no longer needed.
    forget: str | None = None
    operation: Callable[[sqlite3.Connection], Any] | None = None


class _Batch:
    """What one transaction commits: entries, journal changes, and the runs it answers."""

    __slots__ = ("entries", "futures", "jobs", "links", "prepared")

    def __init__(self, entries: list[IndexEntry], jobs: list[_Job] | None = None) -> None:
        self.entries = entries
        self.jobs: list[_Job] = [] if jobs is None else jobs
        #: Its first entries whose files are named (and folders synced): see _prepare.
        self.prepared = 0
        #: The futures of the runs of entries it takes (see SqliteIndex.put_shared), with
        #: their entries' count.
        self.futures: list[tuple[SharedFuture, int]] = []
        #: The unnamed files of its entries (settled once the rows are durable).
        self.links: list[PendingLink] = []


class _Unsynced(Exception):
    """A batch's rows were committed, the WAL not synced: they fail with ``failure``."""

    def __init__(self, failure: IndexUnavailable) -> None:
        super().__init__(str(failure))
        self.failure = failure


class SqliteIndex(SqliteReading):
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
        # Batches committed inline since the last WAL checkpoint (inline writes
        # check-point in the thread pool, so that no fsync of a checkpoint, which
        # SQLite makes even in synchronous=NORMAL, blocks the event loop).
        self._since_checkpoint = 0
        # The checkpoint running (at most one), and its connection (see _checkpoint).
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        # Frames in the WAL at the last checkpoint.
        self._wal_frames = 0
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
        # Entries (see put_shared) and other jobs, in the order queued.
        self._queue: deque[IndexEntry | _Job] = deque()
        # Jobs in the queue (not entries).
        self._jobs = 0
        # The future of the entries queued last (the open run) and their count; the
        # futures of earlier runs whose entries are still queued, with their counts.
        self._open: SharedFuture | None = None
        self._open_count = 0
        self._runs: deque[tuple[SharedFuture, int]] = deque()
        self._writer_task: asyncio.Task[None] | None = None
        # The writer runs as loop callbacks (see _turn): its next turn is due, or it is
        # committing; the gathering's turns so far, entries queued at the last one, and
        # the entries from which it stops gathering.
        self._turning = False
        self._turns = 0
        self._turn_queued = 0
        self._enough = 0
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
        # Entries in the writer's last batch (see _gather).
        self._last_batch = 0
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
        while self._turning:  # (at most GATHER_TURNS turns, then committed or a task)
            await asyncio.sleep(0)
        if self._writer_task is not None:
            await asyncio.shield(self._writer_task)
        if self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)
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

    def put_shared(self, entry: IndexEntry) -> SharedFuture:
        """Queue ``entry``; the future its batch completes once its row is committed.

        One :class:`~dicomnet.wakeup.SharedFuture` stands for a run of entries
        queued one after the other (at most ``batch_limit``, never split between
        batches): its result is ``None`` when each of them is in, else a dict by
        ``id(entry)`` of the errors of those that failed (each alone, see
        :meth:`_write`); entries not in it are in, or were left out by their
        :attr:`IndexEntry.link` (its outcome tells why). No future, no queued job
        per entry: a Storage SCP handler parked on it is stepped on by the group
        commit itself (see :mod:`dicomnet.wakeup`).
        """
        if self._closed or self._writer is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        self._queue.append(entry)
        future = self._open
        if future is None or self._open_count >= self.batch_limit:
            future = self._new_run()
        self._open_count += 1
        return future

    def _new_run(self) -> SharedFuture:
        """The future of the entries queued from now on (the writer runs until they are in)."""
        self._close_run()
        future = self._open = SharedFuture()
        self._start()
        return future

    def _start(self) -> None:
        """Start the writer unless it is running: as loop callbacks (:meth:`_turn`) when
        its commits need no wait (no fsync, inline writes), else as a task."""
        if self._turning:
            return
        task = self._writer_task
        if task is not None and not task.done():
            return
        loop = asyncio.get_running_loop()
        if self.fsync or not self.inline_writes:
            self._writer_task = loop.create_task(self._write_loop())
            return
        self._turning = True
        self._turns = 0
        self._enough = self._gather_enough()
        loop.call_soon(self._turn)

    def _close_run(self) -> None:
        """Entries queued from now on get a new future (this one's run ends here)."""
        if self._open is not None:
            self._runs.append((self._open, self._open_count))
            self._open = None
        self._open_count = 0

    def put(self, entry: IndexEntry) -> asyncio.Future[None]:
        """Add or replace one instance: the future of its write, done once committed."""
        shared = self.put_shared(entry)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        shared.add_done_callback(functools.partial(_answer_one, future, entry))
        return future

    async def journal(self, path: str, sop_instance_uid: str) -> None:
        """Note that the file ``path`` is about to be moved into place (see :meth:`journaled`)."""
        job = _Job(asyncio.get_running_loop().create_future(), journal=(path, sop_instance_uid))
        await self._submit(job)

    async def unjournal(self, path: str) -> None:
        """The file ``path`` will not be indexed after all (its journal row goes)."""
        await self._submit(_Job(asyncio.get_running_loop().create_future(), forget=path))

    async def journaled(self) -> list[tuple[str, str]]:
        """(path, SOP Instance UID) of files journaled and not yet indexed or forgotten."""
        sql = "SELECT path, uid FROM pending ORDER BY path"
        return [(str(p), str(u)) async for p, u in self._rows(sql, [])]

    async def put_many(self, entries: Sequence[IndexEntry]) -> None:
        """Add or replace several instances (committed together with other queued ones)."""
        await asyncio.gather(*[self.put(entry) for entry in entries])

    def _submit(self, job: _Job) -> asyncio.Future[Any]:
        """Queue ``job`` for the writer; its future (awaited by the caller, not wrapped)."""
        if self._closed or self._writer is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        if job.operation is not None:
            self._close_run()  # (a batch never takes entries from both sides of it)
        self._queue.append(job)
        self._jobs += 1
        self._start()
        return job.future

    def _turn(self) -> None:
        """The writer without fsync, one loop turn at a time (a callback, not a task).

        It gathers as :meth:`_gather` does, a turn per call, then commits the
        queued entries here, batch after batch, and answers them (no task, no
        coroutine per batch: a commit without fsync waits for nothing). What has
        to wait goes on in the writer task (:meth:`_write_loop`): queued jobs, a
        batch whose transaction did not commit (another writer's lock, an error;
        it is tried again there, as a task's would be), a checkpoint the commits
        wait for.
        """
        queue = self._queue
        queued = len(queue)
        if not (
            queued >= self._enough
            or self._turns >= GATHER_TURNS
            or (self._turns and queued == self._turn_queued)
        ):
            self._turns += 1
            self._turn_queued = queued
            asyncio.get_running_loop().call_soon(self._turn)
            return
        handover: Coroutine[Any, Any, None] | None = None
        try:
            while queue:
                if self._jobs:
                    handover = self._write_loop(gather=False)
                    break
                batch = _Batch([])
                self._fill(batch)
                self._last_batch = len(batch.entries)
                if not self._commit_now(batch):
                    handover = self._write_loop(batch)
                    break
                if self._checkpoint_due():
                    handover = self._write_loop(checkpoint=True)
                    break
        except BaseException:
            handover = self._write_loop(gather=False)
            raise
        finally:
            self._turning = False
            if handover is not None:
                self._writer_task = asyncio.get_running_loop().create_task(handover)

    def _commit_now(self, batch: _Batch) -> bool:
        """Commit ``batch`` on the loop's thread if the write lock is free and the
        transaction succeeds, then answer it (True); else leave it (False)."""
        try:
            self._name_now(batch)
            self._write_batch(batch, False)
            self._since_checkpoint += 1
            if batch.links:
                settle_all(batch.links)
        except Exception:  # (the writer task tries it again, and answers it)
            return False
        self._answer(batch, None)
        return True

    def _checkpoint_due(self) -> bool:
        """Start a WAL checkpoint once :data:`CHECKPOINT_EVERY` batches were committed
        inline; True when the next commits have to wait for it (see _checkpoint)."""
        if self._since_checkpoint < CHECKPOINT_EVERY or self._checkpointing is not None:
            return False
        self._since_checkpoint = 0
        if self._wal_frames >= WAL_FRAMES_LIMIT:
            # Commits wait for this one: it copies every frame, and the WAL
            # starts again from its beginning at the next commit.
            return True
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())
        return False

    async def _write_loop(
        self, batch: _Batch | None = None, *, gather: bool = True, checkpoint: bool = False
    ) -> None:
        """The writer as a task: ``batch`` first (one that :meth:`_turn` could not commit),
        or the commits' checkpoint first, or gathering the first batch."""
        if checkpoint:
            await self._checkpoint()
        elif batch is not None:
            await self._write(batch)
            if self._checkpoint_due():
                await self._checkpoint()
        elif gather:
            await self._gather()
        queue = self._queue
        while queue:
            first = queue[0]
            if type(first) is _Job and first.operation is not None:
                # Operations (deletions) may be long: always in the thread pool.
                queue.popleft()
                self._jobs -= 1
                await self._run_alone(first)
                continue
            batch = _Batch([])
            self._fill(batch)
            self._last_batch = len(batch.entries) + len(batch.jobs)
            await self._write(batch)
            if self._checkpoint_due():
                await self._checkpoint()

    def _fill(self, batch: _Batch) -> None:
        """Move queued writes (up to the next operation) into ``batch``: whole runs of
        entries (see :meth:`put_shared`), up to the limit unless ``batch`` is empty."""
        queue = self._queue
        entries = batch.entries
        if not self._jobs and len(entries) + len(queue) <= self.batch_limit:
            # (The usual case: entries only, all of them, in a few calls.)
            entries += queue  # type: ignore[arg-type] # (no jobs: entries only)
            queue.clear()
            self._close_run()
            batch.futures += self._runs
            self._runs.clear()
            return
        runs = self._runs
        left = 0  # entries of the run being taken still queued
        while queue:
            item = queue[0]
            if isinstance(item, _Job):
                if item.operation is not None:
                    break  # (never inside a run: _submit ends the open one first)
                queue.popleft()
                self._jobs -= 1
                batch.jobs.append(item)
                continue
            if not left:
                if not runs:
                    self._close_run()
                future, left = runs[0]
                if entries and len(entries) + left > self.batch_limit:
                    break
                runs.popleft()
                batch.futures.append((future, left))
            queue.popleft()
            entries.append(item)
            left -= 1

    async def _gather(self) -> None:
        """Let the entries of the next loop turns join the first batch, while they keep coming.

        Stores whose data ends in the same few turns share one commit (a commit has a
        fixed cost): a busy process already handles many connections a turn, one less
        busy (a worker of several) handles few and committed smaller batches. A turn
        that adds nothing, or a full batch, ends the wait: a lone store is not held up.
        Without fsync so do :data:`GATHER_ENOUGH` entries (a commit costs no sync), or
        half as many as the last batch held if that is more: an association whose window
        is all in a batch waits for it, but under the load of many associations (workers
        sharing the index's write lock) batches stay large, each commit of another
        worker costs the next transaction its cached pages again.
        """
        enough = self._gather_enough()
        for _ in range(GATHER_TURNS):
            queued = len(self._queue)
            if queued >= enough:
                return
            await asyncio.sleep(0)
            if len(self._queue) == queued:
                return

    def _gather_enough(self) -> int:
        """Entries queued from which a new batch stops waiting for more (see _gather)."""
        if self.fsync:
            return self.batch_limit
        return min(self.batch_limit, max(GATHER_ENOUGH, self._last_batch // 2))

    async def _run_alone(self, job: _Job) -> None:
        """Run an operation job in its own transaction (thread pool) and answer it."""
        try:
            result = await self.run(self._run_operation, job, True)
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            return
        if not job.future.done():
            job.future.set_result(result)

    async def _write(self, batch: _Batch) -> None:
        """Commit ``batch`` and answer its writers: its futures completed, their parked
        waiters woken. If the transaction fails, its writes are committed one by one (one
        bad entry must not fail the others) and the failures go in the runs' result."""
        try:
            await self._commit(batch, grows=True)
        except _Unsynced as unsynced:
            self._answer(batch, dict.fromkeys(map(id, batch.entries), unsynced.failure))
            return
        except Exception as exc:
            if len(batch.entries) + len(batch.jobs) == 1:
                self._answer(batch, dict.fromkeys(map(id, batch.entries), exc), exc)
                return
            failures: dict[int, BaseException] = {}
            for entry in batch.entries:
                try:
                    await self._commit(_Batch([entry]))
                except _Unsynced as unsynced:
                    failures[id(entry)] = unsynced.failure
                except Exception as alone:
                    failures[id(entry)] = alone
            for job in batch.jobs:
                try:
                    await self._commit(_Batch([], [job]))
                except Exception as alone:
                    if not job.future.done():
                        job.future.set_exception(alone)
            self._answer(batch, failures or None)
            return
        self._answer(batch, None)

    def _answer(
        self,
        batch: _Batch,
        failures: dict[int, BaseException] | None,
        exc: BaseException | None = None,
    ) -> None:
        """Complete the futures of ``batch`` (``exc``: its jobs failed) and wake their waiters."""
        for job in batch.jobs:
            if not job.future.done():
                if exc is None:
                    job.future.set_result(None)
                else:
                    job.future.set_exception(exc)
        runs = batch.futures
        for future, _ in runs:
            future.set_result(failures)
        for future, _ in runs:
            wake_shared(future)

    async def _commit(self, batch: _Batch, *, grows: bool = False) -> None:
        """Commit the rows of ``batch``, durable in the mode asked; then the intent log's
        lines of its files are settled. Raises what failed the transaction, or
        :class:`_Unsynced` (the rows were removed again). With ``grows``, writes
        queued while it waits for another writer's lock join it."""
        if self.inline_writes:
            await self._inline(batch, grows=grows)
        else:
            await self._prepare(batch)
            await self.run(self._write_batch, batch, True)
        if self.inline_writes and self.fsync and batch.entries:
            try:
                await self.run(self._sync_wal)
            except OSError as exc:
                raise _Unsynced(await self._unsynced(batch.entries, exc)) from exc
        # The rows are durable: the intent log's lines of their files are settled.
        if batch.links:
            settle_all(batch.links)

    def _sync_wal(self) -> None:
        """Make the transactions committed so far durable (thread pool; see the module)."""
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

    async def _inline(self, batch: _Batch, *, grows: bool) -> None:
        """Run a batch's transaction on the loop's thread (never waiting for a lock).

        The folders of the files of ``batch`` are synced first, in the thread pool.
        When another writer holds the write lock (another worker's commit), the loop
        tries again after a short pause, and with ``grows`` the writes queued
        meanwhile join ``batch``: one transaction more per commit of the other
        writer would cost its fixed part again, and a transaction in the thread
        pool takes the GIL from the loop after each statement. Held longer than
        :data:`LOCK_PATIENCE` (``index delete``), or SQLite's lock taken (a program
        without the write lock), the batch waits in the thread pool instead."""
        deadline: float | None = None
        pause, longest = LOCK_RETRY
        while True:
            if batch.prepared < len(batch.entries):
                await self._prepare(batch)
            try:
                self._write_batch(batch, False)
                break
            except LockTaken:
                if not grows:
                    await self.run(self._waiting, batch)
                    return
                now = asyncio.get_running_loop().time()
                if deadline is None:
                    deadline = now + LOCK_PATIENCE
                elif now >= deadline:
                    await self.run(self._waiting, batch)
                    return
                await asyncio.sleep(pause)
                pause = min(2 * pause, longest)
                self._fill(batch)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY:
                    raise IndexUnavailable(f"index {self.path}: {exc}") from exc
                await self.run(self._waiting, batch)
                return
            except sqlite3.Error as exc:
                raise IndexUnavailable(f"index {self.path}: {exc}") from exc
        self._since_checkpoint += 1

    async def _prepare(self, batch: _Batch) -> None:
        """Before the rows of the entries of ``batch`` not yet prepared commit: their
        unnamed files are named (:func:`~dicomnet.storage.naming.link_all`) and, with
        fsync, the folders of their files synced, in one hop to the thread pool (inline
        without fsync, :meth:`_name_now`). Entries whose file did not get its name leave
        the batch (their sinks see why from their links)."""
        if not self.fsync:
            self._name_now(batch)
            return
        start = batch.prepared
        entries = batch.entries[start:] if start else batch.entries
        links = [link for entry in entries if (link := entry.link) is not None]
        batch.links += links
        folders = [folder for entry in entries for folder in entry.sync_folders]
        failed: list[PendingLink] = []
        if links or folders:
            failed = await self.run(_name_files, links, folders)
        if failed:
            _drop_unlinked(batch, failed)
        batch.prepared = len(batch.entries)

    def _name_now(self, batch: _Batch) -> None:
        """:meth:`_prepare` without fsync: the files named on the loop's thread."""
        start = batch.prepared
        entries = batch.entries[start:] if start else batch.entries
        links = [link for entry in entries if (link := entry.link) is not None]
        if links:
            batch.links += links
            failed = link_all(links)
            if failed:
                _drop_unlinked(batch, failed)
        batch.prepared = len(batch.entries)

    def _waiting(self, batch: _Batch) -> None:
        """The batch written with the writer waiting for locks (in the thread pool)."""
        assert self._writer is not None
        self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            self._write_batch(batch, True)
        finally:
            if self._writer is not None:
                self._writer.execute("PRAGMA busy_timeout = 0")

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database, in the thread pool, on a connection of its own.

        The writer goes on committing meanwhile (unless the WAL has grown past
        :data:`WAL_FRAMES_LIMIT`, see :meth:`_write_loop`): a passive checkpoint
        waits for no one, and its fsync of the database (``synchronous=NORMAL``)
        no longer holds up the batches behind it (10-40 ms here, with the 16
        stores of a window waiting).
        """
        try:
            if self._checkpointer is None:
                self._checkpointer = await self.run(self._connect, False)
            conn = self._checkpointer
            row = await self.run(lambda: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
            self._wal_frames = int(row[1])
        except (OSError, sqlite3.Error) as exc:  # tried again after the next batches
            _log.warning("index %s: WAL checkpoint failed: %s", self.path, exc)
        finally:
            self._checkpointing = None

    def write_turn(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The write lock held for one transaction (:mod:`.opening`; waiting: thread pool)."""
        if self.write_lock is None:
            raise IndexUnavailable(f"index {self.path} is closed")
        return self.write_lock.turn(wait=wait)

    def _transaction(self, work: Callable[[sqlite3.Connection], _T], wait: bool) -> _T:
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
        if not lock.acquire(wait=wait):
            raise LockTaken
        try:
            statements.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                self._series_keys.clear()  # rows made in this transaction are gone
                self._side_rows = True  # and rows it removed are back
                statements.execute("ROLLBACK")
                raise
            statements.execute("COMMIT")
        finally:
            lock.release()
        self.commits += 1
        return result

    def _write_batch(self, batch: _Batch, wait: bool) -> None:
        entries = batch.entries
        journals: list[tuple[str, str]] = []
        forgets: list[str] = []
        if batch.jobs:
            journals = [job.journal for job in batch.jobs if job.journal is not None]
            forgets = [job.forget for job in batch.jobs if job.forget is not None]

        def work(conn: sqlite3.Connection) -> None:
            # Few statements per batch, each for many rows: the writer thread takes
            # the GIL back after every statement, which costs while the loop is busy.
            # Forgotten paths first and journal rows last, so a path forgotten and
            # journaled again in one batch, or indexed by one association and
            # journaled by another, keeps the newer journal row.
            if forgets:
                delete_pending(conn, forgets)
            if entries:
                self._check_series_keys(conn, entries)
                insert_many(conn, entries, self._series_keys)
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
        self._synchronous(self.fsync and bool(entries) and not self.inline_writes)
        self._transaction(work, wait)

    def _check_series_keys(self, conn: sqlite3.Connection, entries: Sequence[IndexEntry]) -> None:
        """After another connection's commits: side rows may exist, series keys are checked.

        Each remembered key is checked once after the latest foreign commit, when a
        batch first needs it; until then it waits in :attr:`_unchecked_keys`.
        """
        statements = self._statements
        assert statements is not None  # (in a transaction)
        version = statements.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            # Another connection may have journaled or doomed paths: only then are they
            # looked up.
            self._side_rows = has_side_rows(conn)
            self._unchecked_keys.update(self._series_keys)
            self._series_keys = {}
        unchecked = self._unchecked_keys
        if not unchecked:
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

    async def _operate(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        job = _Job(asyncio.get_running_loop().create_future(), operation=operation)
        result: _T = await self._submit(job)
        return result

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


def _name_files(links: list[PendingLink], folders: list[str]) -> list[PendingLink]:
    """Name the unnamed files of ``links``, sync ``folders`` (thread pool); those not named."""
    failed = link_all(links)
    if folders:
        fsync_folders(folders)
    return failed


def _drop_unlinked(batch: _Batch, failed: list[PendingLink]) -> None:
    """Take the entries of the files of ``failed`` out of ``batch`` (no row; their sinks
    see why from their links, and are answered with the batch)."""
    ids = {id(link) for link in failed}
    batch.entries[:] = [entry for entry in batch.entries if id(entry.link) not in ids]
    batch.links[:] = [link for link in batch.links if id(link) not in ids]


def _answer_one(future: asyncio.Future[None], entry: IndexEntry, shared: SharedFuture) -> None:
    """Complete the future of one entry of ``shared``'s run (see SqliteIndex.put)."""
    if future.done():
        return
    failures = shared.result()
    error = None if failures is None else failures.get(id(entry))
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
