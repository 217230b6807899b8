"""Waiting: for something unless an event comes first, and for a one-time outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

__all__ = ["Outcome", "unless_set"]


async def unless_set(awaitable: Awaitable[Any], event: asyncio.Event) -> bool:
    """Await ``awaitable``; True when it finished, False when ``event`` was set first.

    The awaitable is cancelled when the event wins; its exception propagates otherwise.
    """
    waiter = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if waiter in done:
        waiter.result()
        return True
    waiter.cancel()
    return False


class Outcome:
    """Something that happens once (established, released), awaited by any number of tasks.

    Each waiter awaits a future of its own, completed directly when the outcome
    is set: a waiter resumes in the next event-loop step (``asyncio.shield`` of
    one shared future took two), and cancelling a waiter cancels only its own
    future. Awaiting an outcome that is already set does not suspend at all.
    """

    __slots__ = ("_error", "_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def done(self) -> bool:
        """Whether the outcome is set."""
        return self._is_set

    def set(self, error: BaseException | None = None) -> None:
        """Happened (``error`` None) or failed with ``error``; later calls change nothing."""
        if self._is_set:
            return
        self._is_set = True
        self._error = error
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return once set; raise its error if it failed."""
        if not self._is_set:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:  # cancelled: forget this waiter
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise
        if self._error is not None:
            raise self._error
