"""The group commit of the SQLite index: the queue of writes, its batches and their commits.

:class:`SqliteGroupCommit` is a base of :class:`~dicomnet.archive.sqlite.SqliteIndex`:
it decides when and in which batches the queued writes commit, and answers their
callers; the index (:mod:`.sqlite`) holds the connections and runs each batch's
transaction (:meth:`~dicomnet.archive.sqlite.SqliteIndex._write_batch`).

**Group commit.** :meth:`SqliteGroupCommit.put_shared` queues the entry as it is and
returns the one future of the run of entries queued together (a
:class:`~dicomnet.wakeup.SharedFuture`); one writer takes every entry queued
so far (whole runs, up to ``batch_limit``) and commits them in one
transaction, then completes the runs' futures and wakes their callers. Without
fsync the writer is a chain of event loop callbacks (a commit then waits for
nothing: no task or coroutine per batch); what has to wait (a lock held by
another worker, a failed batch, jobs, the WAL's checkpoint) goes on in a task.
:meth:`SqliteGroupCommit.put` does the same with a future of the entry's own. While
a commit runs, new entries queue up for the next one, so concurrent
associations share the cost of each commit.

**A batch's durability** (``fsync=True``, see :mod:`.sqlite` for the modes).
Batches are committed on the event loop's thread in ``synchronous=NORMAL``
(their frames written to the WAL, not synced), then the WAL file is fsynced in
the thread pool before their callers are woken: what ``synchronous=FULL`` does
at each commit, without the statements of a batch running in a thread that
takes the GIL back from the loop after each of them. Before its transaction,
one hop to the thread pool names the batch's unnamed files
(:attr:`IndexEntry.link`: their names written to the store's intent log in one
write and synced, the files linked, their folder synced; see
:mod:`dicomnet.storage.naming`) and syncs the folders other files were linked
into (:attr:`IndexEntry.sync_folders`), so a row never reaches the disk before
its file's name does, and the folder store's commit threads sync only the
files; once the rows are durable the intent log's lines are settled. Without
fsync the files are named the same way on the loop's thread (one write to the
log per batch).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, Final, TypeVar

from dicomnet.storage.folder import fsync_folders
from dicomnet.storage.naming import PendingLink, link_all, settle_all
from dicomnet.wakeup import SharedFuture, wake_shared

from .backend import IndexUnavailable
from .entry import IndexEntry
from .opening import LockTaken

__all__ = [
    "CHECKPOINT_EVERY",
    "GATHER_ENOUGH",
    "GATHER_TURNS",
    "LOCK_PATIENCE",
    "LOCK_RETRY",
    "WAL_FRAMES_LIMIT",
    "SqliteGroupCommit",
]

_log = logging.getLogger("dicomnet.archive")
_T = TypeVar("_T")
#: An entry's pending link.
_LINK: Final = attrgetter("link")

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


class SqliteGroupCommit:
    """The queue of an SQLite index's writes and its writer (see the module).

    The index itself is the subclass: it sets the options below and provides the
    connections, the thread pool and the transactions (the methods that raise
    :exc:`NotImplementedError` here).
    """

    path: Path
    fsync: bool
    batch_limit: int
    inline_writes: bool
    _closed: bool
    _writer: sqlite3.Connection | None

    def __init__(self) -> None:
        super().__init__()
        # Batches committed inline since the last WAL checkpoint (inline writes
        # check-point in the thread pool, so that no fsync of a checkpoint, which
        # SQLite makes even in synchronous=NORMAL, blocks the event loop).
        self._since_checkpoint = 0
        # The checkpoint running (at most one), and its connection (see _checkpoint).
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        # Frames in the WAL at the last checkpoint.
        self._wal_frames = 0
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
        # Entries in the writer's last batch (see _gather).
        self._last_batch = 0

    # ------------------------------------------------------------------ the index's side

    async def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking call in the index's thread pool (the subclass's)."""
        raise NotImplementedError

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        raise NotImplementedError

    def _write_batch(self, batch: _Batch, wait: bool) -> None:
        """The transaction of ``batch`` (``wait``: for the write lock; else LockTaken)."""
        raise NotImplementedError

    def _waiting(self, batch: _Batch) -> None:
        """The batch written with the writer waiting for locks (in the thread pool)."""
        raise NotImplementedError

    def _run_operation(self, job: _Job, wait: bool) -> Any:
        """The operation of ``job`` in a transaction of its own (thread pool)."""
        raise NotImplementedError

    def _sync_wal(self) -> None:
        """Make the transactions committed so far durable (thread pool)."""
        raise NotImplementedError

    async def _unsynced(self, entries: list[IndexEntry], exc: OSError) -> IndexUnavailable:
        """The WAL could not be synced after ``entries`` were committed: their rows
        removed again; the error to answer them with."""
        raise NotImplementedError

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
        links = list(map(_LINK, entries))
        if None in links:  # (an entry of a file named already: no link)
            links = [link for link in links if link is not None]
        if links:
            batch.links += links
            failed = link_all(links)
            if failed:
                _drop_unlinked(batch, failed)
        batch.prepared = len(batch.entries)

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

    async def _operate(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        job = _Job(asyncio.get_running_loop().create_future(), operation=operation)
        result: _T = await self._submit(job)
        return result

    async def _finish_writes(self) -> None:
        """Wait for the writes queued and the checkpoint running (the index is closing)."""
        while self._turning:  # (at most GATHER_TURNS turns, then committed or a task)
            await asyncio.sleep(0)
        if self._writer_task is not None:
            await asyncio.shield(self._writer_task)
        if self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)


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
