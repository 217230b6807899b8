"""Which worker of ``serve --workers`` takes the next connections: each up to its even share.

Every worker accepts from the supervisor's listening socket
(:class:`~dicomnet.acceptor.SharedAcceptor`). Left alone, whichever worker
is woken first takes the connection, and with a burst of connections (a
client opening 50 associations at once) one worker took two thirds of them.
A :class:`Balance` is a worker's gate: the workers publish how many
connections each serves in a small array of shared memory (one integer per
slot, written only by its worker; -1 for a worker not accepting: not started
yet, draining, or dead, which the supervisor marks), and a worker takes of
the waiting connections as many as bring it up to an even share of all the
accepting workers' connections and the waiting ones (rounded up, so that the
shares cover every waiting connection). Where the system does not tell how
many wait, a worker takes the next connection only while it serves no more
than every other accepting worker. A published figure is refreshed each time
its worker looks at the queue and each time one of its connections closes
(:meth:`Balance.closed`): a figure left at what the worker served when it last
accepted made the others take more of the next burst (after a burst of 50
ended, the next one went 35 / 15 and 18 / 32, and the worker with more
finished last). The acceptor's patience covers a worker that is slow to come
back to the queue.
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
        self._serving = False

    def allowance(self, connecting: int, waiting: int | None) -> int:
        """Connections this worker takes now: up to its even share (see the module)."""
        mine = self.live() + connecting
        counts, slot = self.counts, self.slot
        counts[slot] = mine
        others = (int(counts[other]) for other in range(len(counts)) if other != slot)
        accepting = [count for count in others if count > ABSENT]
        if waiting is None:
            return 0 if any(count < mine for count in accepting) else 1
        if not accepting:
            return max(1, waiting)
        total = mine + sum(accepting) + waiting
        share = -(-total // (len(accepting) + 1))  # rounded up
        return max(0, share - mine)

    def accepted(self) -> None:
        """Count the connection just accepted at once (the others see it)."""
        self.counts[self.slot] += 1

    def serving(self, on: bool) -> None:
        """Publish this worker as accepting (its count) or not (:data:`ABSENT`)."""
        self._serving = on
        self.counts[self.slot] = self.live() if on else ABSENT

    def closed(self) -> None:
        """One of this worker's connections has closed: publish its count again."""
        if self._serving:
            self.counts[self.slot] = self.live()
