"""Deadlines for one connection, run by a single ``loop.call_at`` handle (aioquic style).

The sans-IO Upper Layer only *asks* for its ARTIM timer (``get_timer()``
returns a deadline, ``handle_timer(now)`` fires it); the association layer adds
its own local timers: ``associate`` (requestor waiting for A-ASSOCIATE-AC/RJ),
``dimse`` (whenever the peer owes us something in Sta6: a response, the rest
of a message, reading ours, or an idle acceptor's next request; see
:mod:`dicomnet.association.dimse_timer`), ``release`` (waiting for
A-RELEASE-RP); and the transport's ``closing`` (a close still writing, cut off
after ARTIM). All of them are kept here
as named absolute deadlines and one handle is armed for the earliest, so a
connection never has more than one callback scheduled on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["ARTIM", "Deadlines"]

#: Name of the Upper Layer's own timer (PS3.8 §9.1.5).
ARTIM = "artim"


class Deadlines:
    """Named deadlines with one ``loop.call_at`` handle for the earliest.

    ``on_expired(name, seconds)`` is called for each deadline that has passed,
    with the duration it was started with (for :class:`~dicomnet.errors.TimeoutExpired`).
    A deadline is removed before its callback runs, so the callback may start
    it again.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_expired: Callable[[str, float], None],
    ) -> None:
        self._loop = loop
        #: The loop's clock itself (what :meth:`now` calls), for callers on the hot path.
        self.clock: Callable[[], float] = loop.time
        self._on_expired = on_expired
        self._deadlines: dict[str, tuple[float, float]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._handle_when: float | None = None
        self._closed = False

    def now(self) -> float:
        """The loop's clock, the time base of every deadline."""
        return self._loop.time()

    def start(self, name: str, seconds: float | None) -> None:
        """Start (or restart) ``name`` to expire ``seconds`` from now; ``None`` clears it."""
        if seconds is None:
            self.stop(name)
            return
        self.set_at(name, self.now() + seconds, seconds)

    def set_at(self, name: str, when: float | None, seconds: float = 0.0) -> None:
        """Set ``name`` to the absolute loop time ``when`` (``None`` clears it)."""
        if when is None:
            # stop(name), inline: the transport clears ARTIM this way after every read.
            if self._deadlines.pop(name, None) is not None and self._handle is None:
                self._rearm()
            return
        self._deadlines[name] = (when, seconds)
        armed = self._handle_when
        if armed is not None and armed <= when:
            return  # the handle already fires no later than this (see _rearm)
        self._rearm()

    def stop(self, name: str) -> None:
        """Clear ``name`` if it is set."""
        if self._deadlines.pop(name, None) is not None and self._handle is None:
            self._rearm()

    def deadline(self, name: str) -> float | None:
        """The loop time at which ``name`` expires, or ``None`` when it is not set."""
        entry = self._deadlines.get(name)
        return None if entry is None else entry[0]

    def is_running(self, name: str) -> bool:
        """Whether ``name`` is currently set."""
        return name in self._deadlines

    def close(self) -> None:
        """Clear everything; later calls to :meth:`start` are ignored."""
        self._closed = True
        self._deadlines.clear()
        self._cancel_handle()

    def _cancel_handle(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._handle_when = None

    def _rearm(self) -> None:
        # Lazy: a handle armed no later than the earliest deadline is kept (it then
        # fires early, finds nothing due and re-arms), so restarting or stopping a
        # deadline once per message costs no cancel and no new handle. So an armed
        # handle is never later than any deadline: setting a later one, or removing
        # one, needs no look at the others (set_at, stop).
        if self._closed:
            self._deadlines.clear()
            return
        if not self._deadlines:
            return
        when = min(deadline for deadline, _ in self._deadlines.values())
        armed = self._handle_when
        if armed is not None and armed <= when:
            return
        self._cancel_handle()
        self._handle = self._loop.call_at(when, self._fire)
        self._handle_when = when

    def _fire(self) -> None:
        self._handle = None
        self._handle_when = None
        now = self.now()
        expired = [
            (name, seconds) for name, (when, seconds) in self._deadlines.items() if when <= now
        ]
        for name, _ in expired:
            del self._deadlines[name]
        for name, seconds in expired:
            if self._closed:
                return
            self._on_expired(name, seconds)
        self._rearm()
