"""Await something unless an event comes first (the association ending, usually)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["unless_set"]


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
