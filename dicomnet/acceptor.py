"""Accepting from a listening socket that several processes share (transport layer).

``dicomnet serve --workers N`` opens the listening socket once, in the
supervisor, and every worker accepts from it: one accept queue, served by
whichever worker asks first. A worker busy with its associations comes back
to its event loop later than an idle one, so the idle one takes the next
connection, and the connections spread by how busy each worker is rather
than by a hash of their addresses (``SO_REUSEPORT``: with 50 connections one
worker often got 30 or more, and the other one idled at the end).

uvloop's own acceptor (libuv) accepts until the queue is empty, and
asyncio's up to the listen backlog, so whichever worker woke first took
nearly all of a burst. :class:`SharedAcceptor` takes at most ``per_wakeup``
connections each time the socket is readable, as many as its *gate*
(:class:`AcceptGate`) allows, given the connections waiting in the queue
(Linux tells: :func:`waiting_connections`), e.g. "up to my even share of what
the workers serve and what waits". A burst is so split in one or two turns of
each worker; asked one connection at a time ("do I serve no more than any
other?"), the workers took turns at every connection, each turn a pause of
the one ahead and a wakeup of the other, and under CPU load 50 connections
took 0.2-0.5 s to be accepted instead of 25 ms. A process the gate holds
back stops watching the socket for :data:`RETRY_SECONDS` (no busy loop while
another process takes the connection), and takes it anyway once held back
for :data:`PATIENCE_SECONDS` with a connection still waiting (another
process that is stuck must not stop this one from serving). Each accepted
socket goes to the loop (``loop.connect_accepted_socket``), on asyncio's
loop and uvloop alike.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import Final, Protocol

__all__ = [
    "ACCEPT_PER_WAKEUP",
    "PATIENCE_SECONDS",
    "RETRY_SECONDS",
    "AcceptGate",
    "Listener",
    "SharedAcceptor",
    "waiting_connections",
]

_log = logging.getLogger(__name__)

#: Connections one process accepts (at most) each time the shared socket is readable.
ACCEPT_PER_WAKEUP: Final = 16
#: Seconds a process held back by its gate stops watching the socket.
RETRY_SECONDS: Final = 0.002
#: Seconds held back, with a connection waiting all along, after which a process accepts.
PATIENCE_SECONDS: Final = 0.05
#: Seconds accepting pauses after an error (out of descriptors, say; as asyncio does).
PAUSE_WHEN_OUT_OF_FILES: Final = 1.0
#: Linux ``struct tcp_info``: its length up to ``tcpi_sacked``, and where ``tcpi_unacked``
#: is, which for a listening socket holds the length of its accept queue.
_TCP_INFO_LENGTH: Final = 32
_TCP_INFO_QUEUED: Final = struct.Struct("=I")
_TCP_INFO_QUEUED_AT: Final = 24
_TCP_LISTEN: Final = 10


def waiting_connections(sock: socket.socket) -> int | None:
    """Connections waiting in the accept queue of the listening ``sock``; None if unknown.

    Linux only (``TCP_INFO`` of a listening TCP socket); elsewhere, or for another
    kind of socket, None.
    """
    option = getattr(socket, "TCP_INFO", None)
    if option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LENGTH)
    except OSError:
        return None
    if len(info) < _TCP_INFO_LENGTH or info[0] != _TCP_LISTEN:
        return None
    return int(_TCP_INFO_QUEUED.unpack_from(info, _TCP_INFO_QUEUED_AT)[0])


class Listener(Protocol):
    """What a server needs of a listener (an :class:`asyncio.Server` is one)."""

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""

    async def start_serving(self) -> None:
        """Accept connections from now on."""

    def close(self) -> None:
        """Stop accepting (connections accepted already are not touched)."""

    async def wait_closed(self) -> None:
        """Wait until closed."""


class AcceptGate(Protocol):
    """Decides how many of the waiting connections this process takes from a shared socket."""

    def allowance(self, connecting: int, waiting: int | None) -> int:
        """Connections to accept now before asking again; 0 to leave them to another.

        ``connecting``: accepted, their protocols not made yet; ``waiting``: in the
        accept queue (None when the system does not tell).
        """

    def accepted(self) -> None:
        """This process has just accepted a connection."""

    def serving(self, on: bool) -> None:
        """This process starts (True) or stops (False) accepting."""


class SharedAcceptor:
    """Accepts connections from ``sock``, a listening socket other processes accept from too.

    ``sock`` is this process's own descriptor of it: :meth:`close` closes it
    (the socket itself stays open while another process holds it).
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        *,
        gate: AcceptGate | None = None,
        per_wakeup: int = ACCEPT_PER_WAKEUP,
    ) -> None:
        self._sock = sock
        self._factory = protocol_factory
        self._gate = gate
        self._per_wakeup = max(1, per_wakeup)
        #: Since when the gate holds this process back (loop time), with a connection waiting.
        self._held_since: float | None = None
        self._loop = asyncio.get_running_loop()
        self._serving = False
        self._closed = False
        self._resume: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()
        #: Whether the system tells the length of the accept queue (asked until it does not).
        self._queue_known = True
        #: Connections accepted so far.
        self.accepted = 0
        #: Connections accepted whose protocol is not made yet (what the gate is told).
        self._connecting = 0
        sock.setblocking(False)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The shared listening socket (none once closed)."""
        return () if self._closed else (self._sock,)

    def is_serving(self) -> bool:
        """True while accepting."""
        return self._serving

    async def start_serving(self) -> None:
        """Accept connections from now on."""
        if self._serving or self._closed:
            return
        self._serving = True
        if self._gate is not None:
            self._gate.serving(True)
        self._loop.add_reader(self._sock.fileno(), self._accept)

    def _allowance(self) -> int:
        """Connections to accept now (0: held back, the socket not watched for a while)."""
        if self._gate is None:
            return self._per_wakeup
        waiting = None
        if self._queue_known:
            waiting = waiting_connections(self._sock)
            self._queue_known = waiting is not None
        allowed = self._gate.allowance(self._connecting, waiting)
        if allowed > 0:
            self._held_since = None
            return allowed
        now = self._loop.time()
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= PATIENCE_SECONDS:
            return 1  # until the gate says yes again, or the queue is empty
        self._loop.remove_reader(self._sock.fileno())
        self._resume = self._loop.call_later(RETRY_SECONDS, self._go_on)
        return 0

    def _accept(self) -> None:
        allowed = 0
        for _ in range(self._per_wakeup):
            if allowed == 0:
                allowed = self._allowance()
                if allowed == 0:
                    return
            allowed -= 1
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                self._held_since = None
                return  # another process took it, or the peer gave up already
            except OSError as exc:  # out of descriptors, say: not a busy loop meanwhile
                _log.error("accepting paused for %g s: %s", PAUSE_WHEN_OUT_OF_FILES, exc)
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(PAUSE_WHEN_OUT_OF_FILES, self._go_on)
                return
            self.accepted += 1
            self._connecting += 1
            if self._gate is not None:
                self._gate.accepted()
            task = self._loop.create_task(self._connect(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _go_on(self) -> None:
        self._resume = None
        if self._serving:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _connect(self, conn: socket.socket) -> None:
        # Counted here until its protocol is made; from then on the server counts it
        # (Server.connections: its protocols made, connected or not yet).
        made = False

        def protocol() -> asyncio.BaseProtocol:
            nonlocal made
            made = True
            self._connecting -= 1
            return self._factory()

        try:
            await self._loop.connect_accepted_socket(protocol, conn)
        except Exception as exc:  # the connection goes, the acceptor stays
            _log.warning("accepted connection dropped: %s", exc)
            conn.close()
        finally:
            if not made:
                self._connecting -= 1

    def close(self) -> None:
        """Stop accepting and close this process's descriptor of the socket."""
        if self._closed:
            return
        if self._serving:
            self._loop.remove_reader(self._sock.fileno())
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._serving and self._gate is not None:
            self._gate.serving(False)
        self._serving = False
        self._closed = True
        self._sock.close()

    async def wait_closed(self) -> None:
        """Wait until the connections accepted before :meth:`close` are handed over."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
