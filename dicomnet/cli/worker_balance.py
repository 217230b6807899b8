"""Which worker of ``serve --workers`` takes the next connection: the one serving fewest.

Every worker accepts from the supervisor's listening socket
(:class:`~dicomnet.acceptor.SharedAcceptor`). Left alone, whichever worker
is woken first takes the connection, and with a burst of connections (a
client opening 50 associations at once) one worker took two thirds of them.
A :class:`Balance` is a worker's gate: the workers publish how many
connections each serves in a small array of shared memory (one integer per
slot, written only by its worker; -1 for a worker not accepting: not started
yet, draining, or dead, which the supervisor marks), and a worker takes the
next connection only while it serves no more than every other accepting
worker. A published figure is refreshed each time its worker looks at the
queue; between times it can only be too high (the worker's connections end
unseen), which makes the others take more, never fewer. The acceptor's
patience covers a worker that is slow to come back to the queue.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

__all__ = ["ABSENT", "Balance"]

#: A slot whose worker does not accept.
ABSENT = -1


def _none() -> int:
    return 0


class Balance:
    """Worker ``slot``'s :class:`~dicomnet.acceptor.AcceptGate` over ``counts``.

    ``counts`` is the array shared by the supervisor and all workers
    (``multiprocessing`` ``RawArray`` of C longs). :attr:`live` says how
    many connections this worker serves (set once its server exists).
    """

    def __init__(self, counts: ctypes.Array[Any], slot: int) -> None:
        self.counts = counts
        self.slot = slot
        self.live: Callable[[], int] = _none

    def may_accept(self, connecting: int) -> bool:
        """True while no other accepting worker serves fewer connections than this one."""
        mine = self.live() + connecting
        counts, slot = self.counts, self.slot
        counts[slot] = mine
        for other in range(len(counts)):
            if other != slot and ABSENT < counts[other] < mine:
                return False
        return True

    def accepted(self) -> None:
        """Count the connection just accepted at once (the others see it)."""
        self.counts[self.slot] += 1

    def serving(self, on: bool) -> None:
        """Publish this worker as accepting (its count) or not (:data:`ABSENT`)."""
        self.counts[self.slot] = self.live() if on else ABSENT
