"""Process trees of the scale suite: CPU seconds and resident memory summed over a tree.

A server under test may be several processes: ``dicomnet serve --workers N``
(a supervisor and its workers), ``storescp --fork`` (a child per
association). Linux only (``/proc``). :func:`tree_cpu` sums user + system
time of every live process of the tree and of the children they reaped, so
the difference of two readings is what the tree used between them (a
child's time counts once: while it lives in its own figures, once reaped in
its parent's). :func:`tree_rss` sums VmRSS over the live processes.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["children", "tree", "tree_cpu", "tree_rss"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by the tree of ``root`` (reaped children included)."""
    total = 0
    for pid in tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / _CLOCK_TICKS


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
