"""Back-pressure in both directions, in one object (the uvicorn ``FlowControl`` pattern).

Reading: the transport is paused while *any* reason to pause holds. Two reasons
exist: ``"backlog"`` (received DIMSE data not yet consumed by a handler has
passed the high-water mark) and ``"held"`` (the server queues a connection past
its association limit and must not read its A-ASSOCIATE-RQ yet). Nothing else
in dicomnet calls ``transport.pause_reading()``/``resume_reading()`` directly, so
the recorded state can never drift from the transport's.

Writing: asyncio calls ``pause_writing()``/``resume_writing()`` on the protocol
when the transport's write buffer crosses its limits; senders ``await drain()``
between P-DATA-TF PDUs so a large data set never sits in memory twice.
"""

from __future__ import annotations

import asyncio

__all__ = ["DEFAULT_HIGH_WATER", "DEFAULT_LOW_WATER", "FlowControl"]

#: Unconsumed received bytes above which reading pauses.
DEFAULT_HIGH_WATER = 4 * 1024 * 1024
#: Unconsumed received bytes at or below which reading resumes.
DEFAULT_LOW_WATER = 1024 * 1024


class FlowControl:
    """Pause/resume reading by reason, and a writable event for :meth:`drain`.

    ``transport`` only needs ``pause_reading()``/``resume_reading()``; tests
    pass a small fake.
    """

    def __init__(
        self,
        transport: asyncio.ReadTransport,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int = DEFAULT_LOW_WATER,
    ) -> None:
        if not 0 <= low_water <= high_water:
            raise ValueError("need 0 <= low_water <= high_water")
        self._transport = transport
        #: Backlog (bytes) past which reading pauses.
        self.high_water = high_water
        self._low_water = low_water
        self._pause_reasons: set[str] = set()
        self._writable = asyncio.Event()
        self._writable.set()
        self._lost = False
        #: Bytes handed to consumers but not yet consumed by them.
        self.backlog = 0
        # Both read on every message sent or received: plain attributes, kept in step
        # with the reasons and the writable event by the methods below.
        #: Whether the transport is currently paused for reading.
        self.read_paused = False
        #: Whether the transport's write buffer is above its high-water mark.
        self.write_paused = False

    # -- reading -------------------------------------------------------------------

    def pause_reading(self, reason: str) -> None:
        """Add a reason to stop reading; the first one pauses the transport."""
        was_paused = self.read_paused
        self._pause_reasons.add(reason)
        self.read_paused = True
        if not was_paused and not self._lost:
            self._transport.pause_reading()

    def resume_reading(self, reason: str) -> None:
        """Drop a reason; reading resumes when none is left."""
        if reason not in self._pause_reasons:
            return
        self._pause_reasons.discard(reason)
        self.read_paused = bool(self._pause_reasons)
        if not self._pause_reasons and not self._lost:
            self._transport.resume_reading()

    def read_room(self) -> int:
        """Bytes that may still be received before the backlog passes its high-water mark."""
        return self.high_water - self.backlog

    def add_backlog(self, nbytes: int) -> None:
        """Received data was queued for a consumer; pause past the high-water mark."""
        self.backlog += nbytes
        if self.backlog > self.high_water:
            self.pause_reading("backlog")

    def consume_backlog(self, nbytes: int) -> None:
        """A consumer took ``nbytes``; resume once at or below the low-water mark."""
        self.backlog = max(0, self.backlog - nbytes)
        if self.backlog <= self._low_water:
            self.resume_reading("backlog")

    # -- writing -------------------------------------------------------------------

    def pause_writing(self) -> None:
        """The transport's write buffer is above its high-water mark."""
        self.write_paused = True
        self._writable.clear()

    def resume_writing(self) -> None:
        """The transport's write buffer drained below its low-water mark."""
        self.write_paused = False
        self._writable.set()

    async def drain(self) -> None:
        """Wait until the transport accepts more data.

        Raises :class:`ConnectionResetError` once the connection is lost, so a
        sender does not keep producing PDUs nobody will read.
        """
        if not self._writable.is_set():
            await self._writable.wait()
        if self._lost:
            raise ConnectionResetError("connection lost")

    def connection_lost(self) -> None:
        """Wake every writer waiting in :meth:`drain` (they then raise)."""
        self._lost = True
        self.write_paused = False
        self._writable.set()
