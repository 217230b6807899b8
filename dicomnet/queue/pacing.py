"""How fast a destination is sent to: byte rate, minimum interval, retry backoff.

* :class:`TokenBucket` limits the bytes written per second: a send waits until
  the bucket holds tokens, then the bytes it wrote are taken out (the bucket
  may go below zero for an instance larger than its burst; the next send then
  waits for the debt to fill). Over a run, bytes / rate is the time it takes.
* :class:`Pacer` adds the minimum interval between the starts of two sends.
* :func:`backoff_delay` is the wait before attempt ``n + 1`` after ``n``
  failed ones: ``base * 2**(n-1)``, capped at ``cap``, then spread by
  ``± jitter`` (a fraction) so that jobs that failed together do not retry
  together.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

__all__ = ["Pacer", "TokenBucket", "backoff_delay"]


def backoff_delay(
    attempts: int, base: float, cap: float, jitter: float, rng: random.Random
) -> float:
    """Seconds to wait after ``attempts`` failed attempts (``attempts >= 1``)."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    if jitter > 0:
        delay *= 1.0 + jitter * (2.0 * rng.random() - 1.0)
    return max(0.0, min(cap, delay))


@dataclass
class TokenBucket:
    """``rate`` bytes per second, up to ``burst`` bytes at once (default: one second's worth)."""

    rate: float
    burst: float = 0.0
    _tokens: float = field(default=0.0, init=False)
    _stamp: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.burst <= 0:
            self.burst = self.rate
        self._tokens = self.burst

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until the bucket holds a token again (0: now)."""
        self._refill(now)
        return 0.0 if self._tokens > 0 else -self._tokens / self.rate + 1e-3

    def spend(self, count: int, now: float) -> None:
        """Take ``count`` bytes written out of the bucket."""
        self._refill(now)
        self._tokens -= count

    async def ready(self) -> None:
        """Wait until a send may write."""
        loop = asyncio.get_running_loop()
        while (delay := self.wait_time(loop.time())) > 0:
            await asyncio.sleep(delay)


class Pacer:
    """The minimum interval between sends and the byte rate of one destination."""

    def __init__(self, min_interval: float = 0.0, max_rate: float = 0.0) -> None:
        self.min_interval = min_interval
        self.bucket = TokenBucket(max_rate) if max_rate > 0 else None
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def before_send(self, size: int) -> None:
        """Wait until a send of about ``size`` bytes may start; take them from the bucket.

        One caller at a time, so that sends in flight together are paced too;
        :meth:`adjust` corrects the count once the bytes written are known. Without a
        minimum interval or a rate there is nothing to wait for.
        """
        if self.bucket is None and self.min_interval <= 0:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.bucket is not None:
                await self.bucket.ready()
                self.bucket.spend(size, loop.time())
            self._next = loop.time() + self.min_interval

    def adjust(self, count: int) -> None:
        """``count`` more bytes were written than announced (negative: fewer)."""
        if self.bucket is not None and count:
            self.bucket.spend(count, asyncio.get_running_loop().time())
