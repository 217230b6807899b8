"""Process trees of the scale suite: CPU seconds and resident memory summed over a tree.

A server under test may be several processes: ``dicomnet serve --workers N``
(a supervisor and its workers), ``storescp --fork`` (a child per
association). Linux only (``/proc``). :func:`tree_cpu` sums user + system
time of every live process of the tree and of the children they reaped, so
the difference of two readings is what the tree used between them (a
child's time counts once: while it lives in its own figures, once reaped in
its parent's). A live process's own time is read from its CPU-time clock
(``clock_gettime`` of ``clock_getcpuclockid(pid)``: nanoseconds, every thread
included) rather than ``/proc/PID/stat``, whose user and system times are
whole clock ticks (10 ms) each: the difference of two readings may be 20 ms
off per process, against about 0.26 s for a whole 50-association run.
:func:`tree_rss` sums VmRSS over the live processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = [
    "children",
    "process_counters",
    "process_cpu",
    "process_cpus",
    "role",
    "tree",
    "tree_cpu",
    "tree_rss",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: The kind of a process CPU-time clock that counts the scheduler's nanoseconds.
_CPUCLOCK_SCHED = 2


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def tree(root: int) -> list[int]:
    """``root`` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                parents[int(entry)] = int(fields[1])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return out


def process_cpu(pid: int) -> float | None:
    """CPU seconds used so far by the live process ``pid`` (all its threads), or ``None``.

    Its CPU-time clock (what ``clock_getcpuclockid(pid)`` returns, made here as
    glibc makes it: ``~pid << 3 | CPUCLOCK_SCHED``).
    """
    try:
        return time.clock_gettime((~pid << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return None


def process_counters(pid: int) -> dict[str, float] | None:
    """CPU seconds (clock), user and system seconds (ticks), context switches of ``pid``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    switches = dict(
        line.split(":", 1) for line in status.splitlines() if line.endswith(tuple("0123456789"))
    )
    return {
        "cpu": process_cpu(pid) or 0.0,
        "user": int(fields[11]) / _CLOCK_TICKS,
        "system": int(fields[12]) / _CLOCK_TICKS,
        "voluntary": int(switches.get("voluntary_ctxt_switches", "0")),
        "involuntary": int(switches.get("nonvoluntary_ctxt_switches", "0")),
    }


def process_cpus(root: int) -> dict[int, float]:
    """CPU seconds used so far by each live process of the tree of ``root`` (its own)."""
    out = {}
    for pid in tree(root):
        cpu = process_cpu(pid)
        if cpu is not None:
            out[pid] = cpu
    return out


def role(root: int, pid: int) -> str:
    """What ``pid`` of the tree of ``root`` is: ``supervisor`` (the root), ``tracker``
    (multiprocessing's resource tracker) or ``worker``."""
    if pid == root:
        return "supervisor"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "worker"
    return "tracker" if b"resource_tracker" in command else "worker"


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by the tree of ``root`` (reaped children included)."""
    total = 0.0
    for pid in tree(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        reaped = int(fields[13]) + int(fields[14])  # cutime cstime
        own = process_cpu(pid)
        if own is None:  # gone meanwhile, or no clock: its ticks
            own = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime stime
        total += own + reaped / _CLOCK_TICKS
    return total


def tree_rss(root: int) -> int:
    """Resident bytes of the tree of ``root`` now (summed VmRSS)."""
    total = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total
