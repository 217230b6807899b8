"""A lock that serialises the opening of one SQLite index across processes.

Switching a new database to WAL and running the migrations take SQLite's exclusive
lock; when several workers start at once, SQLite may answer ``database is locked``
at once instead of calling the busy handler (it does so whenever waiting could
deadlock). Holding an advisory ``flock`` on a file beside the database while a
connection is set up and migrated makes openers take turns instead.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def opening_lock(database: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<database>-open`` (blocking; run in a worker thread)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{database}-open", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
