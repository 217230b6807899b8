"""A future that wakes the one waiter parked on it at once: :class:`WakingFuture`.

An asyncio future runs its done callbacks from the event loop, one loop
callback each, a turn after it completes. A producer that completes many
futures together (the archive index's group commit completes one per stored
instance) can instead hand each future's waiter on directly: a consumer that
steps a waiting coroutine itself (the association's dispatcher, see
:mod:`dicomnet.association.eager`) sets :attr:`WakingFuture.waker` while it
waits, and the producer calls :func:`wake` right after completing the future.
A waiter that is a task waits as on any future (the waker stays ``None``).

A :class:`SharedFuture` is the same for many waiters at once: the index's group
commit completes one per batch, not one per instance; each parked waiter leaves
its waker in :attr:`SharedFuture.wakers`, and :func:`wake_shared` calls them. The
result is the batch's, shared by all: what one waiter alone needs to know (its
entry failed alone) the producer puts in that result. A shared future cannot be
cancelled by one of its waiters: a task waiting on it that is cancelled raises
:class:`asyncio.CancelledError` once the future completes (the producer's work
ends soon), and a parked waiter is cancelled where it waits by its dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SharedFuture", "WakingFuture", "wake_all", "wake_shared"]

_log = logging.getLogger("dicomnet")


class WakingFuture(asyncio.Future[Any]):
    """An :class:`asyncio.Future` with one synchronous waker (see the module docstring)."""

    __slots__ = ("waker",)

    #: Called once by the producer right after the future is completed (result or
    #: exception), in place of a done callback of the waiter's. Unset (no ``__init__``
    #: of its own: made as cheaply as a plain future) until a waiter sets it.
    waker: Callable[[], None] | None


def wake_all(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Call the waker of each completed :class:`WakingFuture` that has one (once; a waker
    that raises is logged); other futures are left to their done callbacks."""
    for future in futures:
        waker = getattr(future, "waker", None)  # (a plain future has none)
        if waker is not None and future.done():
            future.waker = None  # type: ignore[attr-defined] # (a WakingFuture)
            try:
                waker()
            except Exception:
                _log.exception("waking the waiter of a future failed")


class SharedFuture(asyncio.Future[Any]):
    """An :class:`asyncio.Future` of many waiters, each with a synchronous waker (see the
    module docstring); :meth:`cancel` is refused (its waiters leave alone)."""

    __slots__ = ("wakers",)

    def __init__(self) -> None:
        super().__init__()
        #: Called once each by the producer (:func:`wake_shared`) right after the future
        #: is completed; a waiter parked on it appends its own.
        self.wakers: list[Callable[[], None]] = []

    def cancel(self, msg: Any | None = None) -> bool:
        """Refused: the future is its other waiters' too (see the module docstring)."""
        return False


def wake_shared(future: SharedFuture) -> None:
    """Call each waker of the completed ``future`` (once; a waker that raises is logged)."""
    wakers, future.wakers = future.wakers, []
    for waker in wakers:
        try:
            waker()
        except Exception:
            _log.exception("waking a waiter of a shared future failed")
