"""Turns at writing one SQLite index, across processes: an advisory ``flock``.

Switching a new database to WAL and running the migrations take SQLite's exclusive
lock; when several workers start at once, SQLite may answer ``database is locked``
at once instead of calling the busy handler (it does so whenever waiting could
deadlock). Holding an advisory ``flock`` on a file beside the database while a
connection is set up and migrated makes openers take turns instead
(:func:`opening_lock`).

Each write transaction takes the same lock (:class:`WriteLock`). SQLite's own
busy handler polls: it sleeps 1 to 100 ms between tries, so two worker
processes writing one file lose time sleeping while the lock is free. A
writer that waits on the ``flock`` instead is woken by the kernel as soon as
the other one commits, and the entries queued meanwhile go into its batch.
Every writer of the project's code takes it (the archive's group commits,
deletions, the worklist and commitment tables); another program writing the
file (the ``sqlite3`` shell) does not, and is waited for by ``busy_timeout``.

The lock is the file ``<database>-lock``; it is never removed (removing it
while a process waits on it would let two writers hold "the" lock at once).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["LockTaken", "WriteLock", "lock_file", "opening_lock"]

_flock = fcntl.flock
#: ``flock`` operations: take without waiting, give back.
_TRY: Final = fcntl.LOCK_EX | fcntl.LOCK_NB
_UNLOCK: Final = fcntl.LOCK_UN


class LockTaken(Exception):
    """Another writer holds the lock (only when not waiting for it)."""


def lock_file(database: Path) -> Path:
    """The file whose ``flock`` gives turns at writing ``database``."""
    return database.with_name(database.name + "-lock")


def _open_lock_file(database: Path) -> int:
    database.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock_file(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


@contextmanager
def opening_lock(database: Path) -> Iterator[None]:
    """Hold the lock of ``database`` while opening it (blocking; run in a worker thread)."""
    fd = _open_lock_file(database)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class WriteLock:
    """The lock of ``database`` for one write transaction at a time (:meth:`turn`).

    Exclusive across processes (``flock`` on its own open file) and across the
    threads of this one (a :class:`threading.Lock`: ``flock`` does not tell
    apart two threads using one descriptor). Blocking waits run in the index's
    thread pool; the event loop's thread only ever tries (``wait=False``).
    """

    def __init__(self, database: Path) -> None:
        self._fd = _open_lock_file(database)
        self._threads = threading.Lock()
        #: Times the lock was found taken (a measure of contention).
        self.waits = 0

    def acquire(self, *, wait: bool) -> bool:
        """Take the lock (True); ``wait=False``: only if it is free now (else False)."""
        if not wait:
            return self.try_acquire()
        self._threads.acquire()
        try:
            _flock(self._fd, _TRY)
            return True
        except BlockingIOError:
            self.waits += 1
        except BaseException:
            self._threads.release()
            raise
        try:
            _flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return True

    def try_acquire(self) -> bool:
        """Take the lock if it is free now (True), without waiting (the event loop's
        way, once per batch: no keyword arguments, no branches for waiting)."""
        threads = self._threads
        if not threads.acquire(False):
            self.waits += 1
            return False
        try:
            _flock(self._fd, _TRY)
        except BlockingIOError:
            self.waits += 1
            threads.release()
            return False
        except BaseException:
            threads.release()
            raise
        return True

    def release(self) -> None:
        """Give the lock back."""
        try:
            _flock(self._fd, _UNLOCK)
        finally:
            self._threads.release()

    @contextmanager
    def turn(self, *, wait: bool) -> Iterator[None]:
        """Hold the lock for the ``with`` block (``wait=False``: :class:`LockTaken` if taken)."""
        if not self.acquire(wait=wait):
            raise LockTaken
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        """Close the lock file (not while held)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
