"""Wait, before the write rows, until creating a file costs what it usually does.

ext4 without a journal (this machine's disk) walks past every inode freed in
the last minutes when it creates a file in a block group where many were
freed (see :mod:`.scratch`). A suite started soon after a mass deletion
(another suite's clean-up, a package installation's temporary files, a test
run) pays that walk on every instance its SCPs store: 150-600 µs of CPU per
file created instead of about 50, at random, depending on the block group
each run's folder lands in. Runs of two rows compared with each other then
measure which of them drew the walked groups.

:func:`settle` measures the CPU cost of creating files in new folders beside
the ones the runs will write into (ext4 puts a folder near its parent's, and
a file near its folder), against the same on ``/dev/shm`` (no disk), after
``os.sync``. Folders elsewhere say nothing: ext4 spreads a new top folder to
a block group with many free inodes, which is where a mass deletion just
left them. While the file system costs more than :data:`QUIET_FACTOR` times
the memory file system, it waits and measures again, within a budget, until
two tries in a row find it quiet. The measuring files are left in place
(empty), so that measuring frees no inode; the suite removes them with its
folder.

A probe can miss walked groups that the runs later land in (a suite found the
file system quiet, three minutes after another's clean-up, and then stored at
half its usual rate or less in ten runs of twenty-two). So before measuring,
:func:`settle` also waits out the last noted clean-up of a suite
(:func:`~benchmarks.scratch.remove_scratch`) until :func:`remembered_seconds`
have passed: back-to-back suites are the usual way to walk the groups of the
one before.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .scratch import last_clean_up, memory_folder

__all__ = ["QUIET_FACTOR", "Settled", "creation_cost", "remembered_seconds", "settle"]

#: A file system is quiet when creating a file costs at most this many times what it
#: costs on /dev/shm, in two tries one after the other. Here: about 21 µs on /dev/shm,
#: 44-58 on a quiet ext4, 100-1,000 after a mass deletion (a run's folder in a group
#: where one try found 101 µs still stored at a fifth of the usual rate).
QUIET_FACTOR: Final = 4.0
#: Quiet tries in a row that make the file system quiet (one folder may miss the walk).
QUIET_TRIES: Final = 2
#: Files created per folder measured (as many as a run of the small set stores: the
#: freed inodes a group's first free ones do not show are walked by its later files),
#: and folders measured per try (the slowest one counts).
PROBE_FILES: Final = 2000
PROBE_FOLDERS: Final = 2


@dataclass(slots=True)
class Settled:
    """What :func:`settle` found: µs of CPU per file created, and how long it waited."""

    #: On /dev/shm (None: no memory file system to compare with; nothing was measured).
    baseline_us: float | None
    #: On the scratch folder's file system, one figure per try (the slowest folder's).
    costs_us: list[float] = field(default_factory=list)
    #: Seconds waited in all (for the last clean-up to be forgotten, then between tries).
    waited_seconds: float = 0.0
    #: Seconds between the last noted clean-up and the start (None: none noted).
    since_clean_up: float | None = None

    @property
    def quiet(self) -> bool:
        """The last :data:`QUIET_TRIES` tries each cost at most QUIET_FACTOR times the
        baseline (or nothing to compare with)."""
        if self.baseline_us is None:
            return True
        last = self.costs_us[-QUIET_TRIES:]
        limit = QUIET_FACTOR * self.baseline_us
        return len(last) == QUIET_TRIES and all(cost <= limit for cost in last)

    def describe(self) -> str:
        """One line for a suite's notes."""
        if self.baseline_us is None:
            return "file system not measured before the write rows (no /dev/shm to compare with)"
        tries = ", ".join(f"{cost:.0f}" for cost in self.costs_us)
        outcome = "quiet" if self.quiet else "still not quiet when the wait ended"
        since = (
            ""
            if self.since_clean_up is None
            else f"; the last suite's clean-up {self.since_clean_up:.0f} s before"
        )
        return (
            f"before the write rows, creating a file cost {tries} µs of CPU on the scratch "
            f"folder's file system against {self.baseline_us:.0f} µs on /dev/shm ({outcome} "
            f"at most {QUIET_FACTOR:g}x; waited {self.waited_seconds:.0f} s{since}): see "
            "benchmarks.settle"
        )


def remembered_seconds() -> float:
    """How long after a mass deletion ext4 may still walk the freed inodes: five minutes
    while their inode tables are not written back, which happens ``dirty_expire_centisecs``
    after they changed, and a minute more (a suite whose runs began 350 s after another's
    clean-up still found its first runs walked)."""
    try:
        expire = int(Path("/proc/sys/vm/dirty_expire_centisecs").read_text()) / 100
    except (OSError, ValueError):
        expire = 30.0
    return 300.0 + expire + 60.0


def creation_cost(folder: Path, files: int = PROBE_FILES) -> float:
    """µs of this thread's CPU per empty file created in ``folder`` (made if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    start = time.thread_time()
    for number in range(files):
        os.close(os.open(folder / f"{number}", flags, 0o644))
    return (time.thread_time() - start) / files * 1e6


def _memory_cost() -> float | None:
    """:func:`creation_cost` on /dev/shm, the least of three (None without /dev/shm)."""
    shm = memory_folder()
    if shm is None:
        return None
    with tempfile.TemporaryDirectory(dir=shm, prefix="dicomnet-settle-") as memory:
        return min(creation_cost(Path(memory) / str(number)) for number in range(3))


def _disk_cost(folder: Path, attempt: int) -> float:
    """The slowest of :data:`PROBE_FOLDERS` new folders under ``folder``, each one level
    down as a store's ``.incoming`` is in its folder (a folder's folder may land in
    another block group than its parent)."""
    return max(
        creation_cost(folder / f"settle.{attempt}-{number}" / ".incoming")
        for number in range(PROBE_FOLDERS)
    )


def settle(
    folder: Path,
    *,
    budget: float,
    pause: float = 15.0,
    baseline: Callable[[], float | None] = _memory_cost,
    measure: Callable[[Path, int], float] = _disk_cost,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    clean_up: Callable[[], float | None] = last_clean_up,
    wall: Callable[[], float] = time.time,
) -> Settled:
    """Wait out the last noted clean-up, then measure ``folder``'s file system until it is
    quiet, waiting ``pause`` seconds between tries; at most ``budget`` seconds in all. The
    files measured stay under ``folder``."""
    settled = Settled(baseline())
    if settled.baseline_us is None:
        return settled
    start = clock()
    noted = clean_up()
    if noted is not None:
        settled.since_clean_up = wall() - noted
        left = remembered_seconds() - settled.since_clean_up
        if left > 0:
            sleep(min(left, budget))
    attempt = 0
    while True:
        os.sync()
        settled.costs_us.append(measure(folder, attempt))
        settled.waited_seconds = clock() - start
        if settled.quiet or settled.waited_seconds + pause > budget:
            return settled
        if settled.costs_us[-1] > QUIET_FACTOR * settled.baseline_us:
            sleep(pause)  # (a quiet try is followed by the next one at once)
        attempt += 1
