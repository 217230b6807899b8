"""Who sends a job: the owner of jobs in 'sending', and whether that owner is gone.

Each queue store names its process with an owner id,
``host:pid:token`` (the token tells a process from a later one given the
same pid). A job in ``sending`` carries its owner and a lease, renewed while
the owner lives (:data:`LEASE` seconds ahead). A job is taken back into
``queued`` only when its owner is gone: its lease ran out, or its owner is a
process of this host that no longer exists (so a restarted
``serve --workers`` worker does not wait for the lease of its predecessor,
and leaves the jobs of the workers that still run alone).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from typing import Final

__all__ = ["LEASE", "gone", "new_owner"]

#: Seconds a job in 'sending' stays its owner's without a renewal.
LEASE: Final = 60.0


def new_owner() -> str:
    """An owner id for this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gone(owners: Iterable[str], me: str) -> list[str]:
    """The owners among ``owners`` known to be gone: processes of this host that ended
    (``''``, a job written before owners were kept, counts as gone)."""
    host = socket.gethostname()
    dead: list[str] = []
    for owner in owners:
        if owner == me:
            continue
        if not owner:
            dead.append(owner)
            continue
        where, _, rest = owner.partition(":")
        pid, _, _ = rest.partition(":")
        if where != host or not pid.isdigit():
            continue  # another host's: its lease tells
        if int(pid) == os.getpid() or not _alive(int(pid)):
            dead.append(owner)  # ended (a pid that is this process now: an earlier one)
    return dead
