"""The DIMSE timer of one association: it times the peer, never our own handlers.

PS3.8 §9.1.5 defines only ARTIM; how long to wait for the peer in Sta6 is
local (the Policy's ``timers.dimse``). It runs whenever the peer owes us
something: a response, the rest of a message it started, reading what we
write, or (for an idle acceptor) its next request or the release. Each sign of
progress restarts it: every P-DATA-TF received and every PDU taken to be
written. So a peer that trickles a large data set is served, and one that goes
silent half way is aborted after the timeout, whatever it was in the middle of.

It does not run while only our handlers work, or while reading is paused
because a consumer of received data is behind (the wait is then ours).

The association says what is owed (``owed()``, a few words for the log, or
``None``); this object keeps the deadline in the connection's
:class:`~dicomnet.timers.Deadlines`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from dicomnet.dimse.commands import CommandField
from dicomnet.flow import FlowControl
from dicomnet.policy import Timers
from dicomnet.timers import Deadlines

__all__ = ["DIMSE", "DimseTimer"]

#: Name of the deadline in :class:`~dicomnet.timers.Deadlines` (and of the timer in errors).
DIMSE = "dimse"
#: Seconds of loop time within which PDUs taken for writing restart the timer once
#: (see :meth:`DimseTimer.progress`); far below any timeout, far above one batch's work.
PROGRESS_GRAIN = 0.001

_T = TypeVar("_T")


class _Request(Protocol):
    """An outstanding request (a ResponseStream): its Command Field."""

    command_field: int


class DimseTimer:
    """Start, restart and stop the ``dimse`` deadline as the association's state changes."""

    def __init__(
        self,
        seconds: float | Timers | None,
        owed: Callable[[], str | None],
        *,
        outstanding: Mapping[int, _Request] | None = None,
    ) -> None:
        """``seconds``: the timeout, or the Policy's :class:`Timers` (its ``dimse`` and its
        per-service ``responses``, picked by the ``outstanding`` requests' services)."""
        timers = seconds if isinstance(seconds, Timers) else None
        self.seconds = seconds.dimse if isinstance(seconds, Timers) else seconds
        self._owed = owed
        #: Per-service response timeouts (``Timers.responses``) and the command
        #: fields of the requests waiting for responses.
        self._timers_policy = timers
        self._outstanding = outstanding if outstanding is not None else {}
        self._timers: Deadlines | None = None
        #: The connection's flow control (once attached).
        self.flow: FlowControl | None = None
        self._clock: Callable[[], float] = _unattached
        #: Messages being written now (the peer must read them).
        self.sending = 0
        #: Set while a run of received PDUs is handled (see :meth:`deferring`; the
        #: association sets it directly, once per read).
        self.deferred = False
        # What was asked while deferred: 1 an update, 2 a restart (see :meth:`catch_up`).
        self._asked = 0

    def attach(self, timers: Deadlines, flow: FlowControl) -> None:
        """Use the connection's deadlines and flow control (once connected)."""
        self._timers = timers
        self.flow = flow
        self._clock = timers.clock

    @property
    def read_paused(self) -> bool:
        """Whether reading is paused (a consumer of received data is behind)."""
        return self.flow is not None and self.flow.read_paused

    def deferring(self, on: bool) -> None:
        """While on, :meth:`update` and :meth:`restart` do nothing: the caller restarts the
        timer once when it turns this off (a run of received PDUs is progress; what the
        handlers it started sent meanwhile needs no restart of its own)."""
        self.deferred = on
        if on:
            self._asked = 0

    def catch_up(self) -> None:
        """After a deferral begun with :meth:`deferring`: restart the timer if a restart was
        asked meanwhile (a message sent), else update it if that was asked; else nothing."""
        asked, self._asked = self._asked, 0
        if asked == 2:
            self.restart()
        elif asked == 1:
            self.update()

    def update(self) -> None:
        """Start the timer if something is owed and it is not running; stop it if nothing is."""
        timers = self._timers
        if timers is None:
            return
        if self.deferred:
            self._asked = self._asked or 1
            return
        if self._owed() is None:
            timers.stop(DIMSE)
        elif not timers.is_running(DIMSE):
            timers.start(DIMSE, self.current())

    def restart(self) -> None:
        """Progress on the wire: start the timer afresh if something is owed, else stop it."""
        timers = self._timers
        if timers is None:
            return
        if self.deferred:
            self._asked = 2
            return
        if self._owed() is None:
            timers.stop(DIMSE)
            return
        self.restart_owed()

    def restart_owed(self) -> None:
        """:meth:`restart` for a caller that knows the peer owes something now (a data set
        still arriving, reading not paused): the timer starts afresh."""
        timers = self._timers
        if timers is None:
            return
        # timers.start(DIMSE, self.current()) without its calls when no per-service
        # response timeout applies: this runs after every read.
        policy = self._timers_policy
        seconds = self.seconds if policy is None or not policy.responses else self.current()
        if seconds is None:
            timers.stop(DIMSE)
        else:
            timers.set_at(DIMSE, self._clock() + seconds, seconds)

    def current(self) -> float | None:
        """The timeout now: the longest response timeout of the outstanding requests'
        services (``None`` if one has none), else the general one."""
        policy = self._timers_policy
        if policy is None or not policy.responses:
            return self.seconds
        waits = [policy.response(_service(r.command_field)) for r in self._outstanding.values()]
        if not waits:
            return self.seconds
        if None in waits:
            return None
        return max(w for w in waits if w is not None)

    def stop(self) -> None:
        """Stop the timer (released, ended)."""
        if self._timers is not None:
            self._timers.stop(DIMSE)

    def consumed(self, nbytes: int) -> None:
        """A consumer took ``nbytes`` of received data; restart when reading resumes."""
        flow = self.flow
        if flow is None:
            return
        paused = flow.read_paused
        flow.consume_backlog(nbytes)
        if paused and not flow.read_paused:
            self.restart()

    def progress(self, items: Iterable[_T]) -> Iterator[_T]:
        """``items`` (PDUs to write), restarting the timer as they are taken.

        PDUs taken in one burst (a batch written together) restart it once: a PDU
        restarts it when the loop clock has moved at least :data:`PROGRESS_GRAIN`
        since the last restart (the first one always), so after any wait for the
        peer to read, the next PDU restarts it.
        """
        last = float("-inf")
        for item in items:
            timers = self._timers
            if timers is not None and not self.deferred:
                now = timers.now()
                if now - last >= PROGRESS_GRAIN:
                    last = now
                    self.restart()
            yield item


def _service(command_field: int) -> str:
    """``"C-FIND"`` for C-FIND-RQ's command field, etc."""
    try:
        return CommandField(command_field).name.removesuffix("_RQ").replace("_", "-")
    except ValueError:
        return ""


def _unattached() -> float:
    """The clock before :meth:`DimseTimer.attach` (never asked: nothing runs until then)."""
    return 0.0
