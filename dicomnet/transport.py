"""The only place dicomnet touches sockets: an asyncio protocol around a sans-IO ULConnection.

:class:`ULProtocol` is an :class:`asyncio.BufferedProtocol`: asyncio reads into
a buffer of the connection's own (``get_buffer``/``buffer_updated``), which
starts small and grows when reads fill it, and the bytes go straight to the
Upper Layer core. After every input (bytes, timer, local
request) the protocol *transmits*: it writes what the core produced with
``writelines`` (PDV headers and payload slices are never joined), closes the
transport when the core says so, and re-arms the single timer handle for the
core's ARTIM deadline (see :mod:`dicomnet.timers`). Small P-DATA batches (a
C-FIND response, say) are copied into one piece and written together at the
end of the event-loop step, so a burst of small messages costs one send call.
Upper Layer events go to a :class:`LinkListener` (the association), which
never sees the socket.

Also here: TLS contexts (from :mod:`dicomnet.tls`), TCP_NODELAY, and, re-exported,
dual-stack listening with the acceptor's bounded TLS handshake (:mod:`dicomnet.listening`)
and client connect with a timeout and :func:`run`, which uses uvloop when it is installed
(:mod:`dicomnet.connecting`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, cast

from dicomnet_pdu.events import DataRun
from dicomnet_pdu.framer import PDVItem
from dicomnet_pdu.fsm import State
from dicomnet_pdu.layout import PDataRun
from dicomnet_pdu.pdus import PDU
from dicomnet_pdu.pdv import OutItem

from .connecting import connect, run
from .flow import FlowControl
from .listening import LISTEN_BACKLOG, listen
from .lowat import bytes_below_mark, lowat_socket, set_lowat
from .run_writer import RunWriter
from .timers import ARTIM, Deadlines
from .tls import client_tls_context, server_tls_context

__all__ = [
    "LISTEN_BACKLOG",
    "LinkListener",
    "ULConnectionLike",
    "ULProtocol",
    "client_tls_context",
    "connect",
    "listen",
    "run",
    "server_tls_context",
]

_log = logging.getLogger(__name__)
# Looked up once: on Python 3.11 each ``State.X`` costs a call of the enum metaclass hook.
_STA2 = State.STA2


#: Largest receive buffer handed to asyncio (reached by connections that carry bulk data).
#: A read costs the same loop and parse overhead whatever its size: with a sender ahead
#: of us, half the reads of 256 KB ones. Larger ones cost more in the kernel's copy per
#: byte (1 MB: 1.0 instead of 0.6 us per 16 KB on the development machine, its data and
#: the socket's no longer fit the core's cache; benchmarks/receive_cost.py --read-kb).
RECEIVE_BUFFER_SIZE = 512 * 1024
#: Receive buffer a connection starts with: enough for its negotiation and small messages.
INITIAL_RECEIVE_BUFFER_SIZE = 4 * 1024
#: Factor a receive buffer grows by each time one read fills it.
RECEIVE_BUFFER_GROWTH = 4
#: The smallest read offered to asyncio when the read backlog is near its high-water mark.
MIN_READ_SIZE = 16 * 1024
#: Room kept after an incomplete PDU held at the start of the receive buffer.
MIN_FREE_SPACE = 4 * 1024
#: An incomplete PDU missing at least this many bytes is read when they are all there
#: (``SO_RCVLOWAT``), not piece by piece: the pieces cost a loop step each and nothing
#: can be done with them before the PDU is whole (1 MB PDUs came in 4 reads or more).
WHOLE_PDU_WAIT = 64 * 1024
#: PDU type, reserved byte and 4-byte PDU length.
PDU_HEADER_LENGTH = 6
#: P-DATA-TF bytes gathered into one ``writelines`` call by :meth:`ULProtocol.send_pdata`.
SEND_BATCH_SIZE = 256 * 1024
#: P-DATA batches under this size are copied whole and their write is deferred to the
#: end of the event-loop step, coalescing consecutive small messages into one send call.
COALESCE_BYTES = 16 * 1024
#: Reason reading is paused while the listener holds the input (see ULProtocol.hold_input).
HOLDING = "holding"
#: Deadline of a close still writing: a peer that neither reads nor closes is cut off.
CLOSING = "closing"


class ULConnectionLike(Protocol):
    """What the transport needs from :class:`dicomnet_pdu.connection.ULConnection`."""

    @property
    def should_close(self) -> bool: ...

    def connection_made(self, now: float) -> None: ...
    def receive_data(self, data: bytes | memoryview, now: float) -> None: ...
    def receive_buffer(self, data: memoryview, now: float) -> int: ...
    def receive_pdata(self, data: memoryview) -> tuple[list[PDVItem], int] | None: ...
    def next_event(self) -> Any: ...
    def send(self, pdu: PDU, now: float) -> None: ...
    def send_pdata_segments(self, segments: list[bytes | memoryview]) -> None: ...
    def data_to_send(self) -> list[bytes | memoryview]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


class LinkListener(Protocol):
    """Receiver of everything that happens on one connection (the association)."""

    def ul_event(self, event: object) -> None:
        """An Upper Layer event from ``ULConnection.next_event()``."""

    def timer_expired(self, name: str, seconds: float) -> None:
        """A named deadline passed; for ``artim`` the core handles it right after."""

    def link_lost(self, exc: BaseException | None) -> None:
        """The transport is gone (after the core saw it close)."""


class ULProtocol(asyncio.BufferedProtocol):
    """Drives one :class:`ULConnection` over one asyncio transport.

    A requestor's connection is started at ``connection_made`` (``autostart``);
    an acceptor's is started by the server with :meth:`start`, which lets a
    server *hold* a connection past its association limit without reading it
    and without running ARTIM (see :mod:`dicomnet.ae`).
    """

    def __init__(
        self,
        conn: ULConnectionLike,
        *,
        listener: LinkListener | None = None,
        artim_seconds: float = 5.0,
        tcp_nodelay: bool = True,
        autostart: bool = True,
        on_connected: Callable[[ULProtocol], None] | None = None,
        buffer_size: int = RECEIVE_BUFFER_SIZE,
        initial_buffer_size: int = INITIAL_RECEIVE_BUFFER_SIZE,
    ) -> None:
        self.conn = conn
        self.listener = listener
        self.artim_seconds = artim_seconds
        self._tcp_nodelay = tcp_nodelay
        self._autostart = autostart
        self._on_connected = on_connected
        self._max_buffer = max(buffer_size, 1)
        # The first, small buffer comes from the heap (no mmap/munmap per connection);
        # the larger ones a bulk connection grows into are mapped (_anonymous_buffer).
        self._view = memoryview(bytearray(min(initial_buffer_size, self._max_buffer)))
        self._transport: asyncio.Transport | None = None
        self._flow: FlowControl | None = None
        self._timers: Deadlines | None = None
        self._started = False
        self._kept = 0  # bytes of an incomplete PDU at the start of the receive buffer
        self._in_sta2 = True  # until a parse leaves the core outside Sta2 (see _parse)
        self._artim_set = False  # whether transmit() last set the ARTIM deadline
        self._offered = 0  # size of the last read offered by get_buffer
        self._eof_fed = False
        self._lost = False
        self._delivered = 0  # events handed to the listener so far
        self._delivering = False
        self._deferred = 0  # P-DATA bytes given to the core but not yet written
        self._flush_handle: asyncio.Handle | None = None  # the end-of-step write, if due
        self._run_writer: RunWriter | None = None  # writes data sets laid out in place
        # hold_input: what the listener runs to go on, when; the parse it interrupted.
        self._resume: Callable[[], None] | None = None
        self._resume_handle: asyncio.Handle | None = None
        self._held: tuple[int, int] | None = None  # (end, left) of the parse it interrupted
        self._filled = False  # the last read filled what was offered
        self._lowat_socket: Any = None  # the plain TCP socket whose SO_RCVLOWAT is set
        self._lowat = 1  # its SO_RCVLOWAT now
        #: The event loop this connection runs in (asyncio.get_running_loop() asks the
        #: kernel for the process ID on every call).
        self.loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.peername: tuple[Any, ...] | None = None

    # -- properties ----------------------------------------------------------------

    @property
    def flow(self) -> FlowControl:
        """The flow-control object (only valid once connected)."""
        if self._flow is None:
            raise RuntimeError("not connected")
        return self._flow

    @property
    def timers(self) -> Deadlines:
        """The connection's deadlines (only valid once connected)."""
        if self._timers is None:
            raise RuntimeError("not connected")
        return self._timers

    @property
    def is_lost(self) -> bool:
        """Whether the transport has gone."""
        return self._lost

    def extra(self, name: str) -> Any:
        """``transport.get_extra_info(name)`` (e.g. ``peercert``, ``sockname``)."""
        return None if self._transport is None else self._transport.get_extra_info(name)

    # -- asyncio callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self.peername = transport.get_extra_info("peername")
        self._flow = FlowControl(transport)
        self._timers = Deadlines(asyncio.get_running_loop(), self._timer_fired)
        # Small PDUs (RSP, RELEASE) must not wait for Nagle's delayed ACK: asyncio's and
        # uvloop's TCP transports set TCP_NODELAY themselves; only a policy without it
        # costs a system call (tests/association/test_transport.py checks both loops).
        if not self._tcp_nodelay:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        self._lowat_socket = lowat_socket(transport)
        if self._on_connected is not None:
            self._on_connected(self)
        if self._autostart:
            self.start()

    def start(self) -> None:
        """Tell the core the transport is up (Evt2 requestor / Evt5 acceptor)."""
        if self._started or self._lost:
            return
        self._started = True
        self._guard(lambda: self.conn.connection_made(self.timers.now()))
        if self._kept and not self._lost:
            self._parse(self._kept)  # bytes read before start() (should not happen)

    def hold(self) -> None:
        """Stop reading until :meth:`release_hold` (a queued connection)."""
        self.flow.pause_reading("held")

    def release_hold(self) -> None:
        """Resume reading a held connection and start its core."""
        self.start()
        if self._flow is not None:
            self._flow.resume_reading("held")

    def get_buffer(self, sizehint: int) -> memoryview:
        # Reads go after the incomplete PDU kept at the start of the buffer. Near the
        # read high-water mark, read less: what one read brings in is handed to
        # consumers whole, so this bounds how far the backlog can overshoot.
        if self._resume is not None:
            self._release_input()  # the held bytes are handed on before the buffer is reused
        view = self._view
        kept = self._kept
        free = len(view) - kept
        flow = self._flow
        if flow is not None:
            room = flow.high_water - flow.backlog  # flow.read_room(), once per read
            if room < free:
                free = max(room, min(MIN_READ_SIZE, free))
                self._offered = free
                return view[kept : kept + free]
        self._offered = free
        return view[kept:] if kept else view

    def buffer_updated(self, nbytes: int) -> None:
        # The core parses the whole PDUs in place (their payloads reach consumers as
        # views of this buffer, consumed or copied before we return); the incomplete
        # PDU at the end stays, moved to the front, and the next read goes after it.
        self._filled = nbytes >= self._offered
        end = self._kept + nbytes
        if not self._started:
            self._kept = end
        else:
            self._parse(end)
        if self._held is None:
            self._fit()

    def _fit(self) -> None:
        """Grow the receive buffer after a parse, if the last read filled it or a PDU needs it."""
        if self._filled and len(self._view) < self._max_buffer:
            # A read filled the buffer: this connection carries bulk data, read more
            # at once. (The loop may still hold the old buffer during this call; it is
            # unmapped when the last reference goes.)
            self._grow(min(len(self._view) * RECEIVE_BUFFER_GROWTH, self._max_buffer))
        kept = self._kept
        if kept >= PDU_HEADER_LENGTH:
            # The incomplete PDU must fit: grow towards its length (its header passed
            # the core's size limits; growth stays in step with the bytes received).
            total = PDU_HEADER_LENGTH + int.from_bytes(self._view[2:6], "big")
            if total > len(self._view) - MIN_FREE_SPACE:
                self._grow(min(total + MIN_FREE_SPACE, len(self._view) * RECEIVE_BUFFER_GROWTH))
            size = len(self._view)
            missing = (total if total < size else size) - kept  # min(), without its call
            if self._lowat_socket is not None and (missing >= WHOLE_PDU_WAIT or self._lowat != 1):
                self._wait_for(missing)  # (the usual 16 KB PDU calls nothing here)
        elif self._lowat != 1 and self._lowat_socket is not None:
            self._wait_for(0)

    def _wait_for(self, missing: int) -> None:
        """Have the socket report readable once ``missing`` bytes are there, when that
        many are certain to come (the rest of the incomplete PDU kept), else at once."""
        if missing < WHOLE_PDU_WAIT or not self._started or self._lost:
            missing = 1
        if missing == self._lowat:
            return
        if not set_lowat(self._lowat_socket, missing):
            self._lowat_socket = None  # reads stay as they come
            return
        self._lowat = missing

    def _grow(self, size: int) -> None:
        if size <= len(self._view) or self._lost:
            return
        view = _anonymous_buffer(size)
        kept = self._kept
        if kept:
            view[:kept] = self._view[:kept]
        self._view = view

    def _parse(self, end: int) -> None:
        """Give the core the kept and the new bytes; keep what it did not consume."""
        # What _input(step) does, unrolled: this runs once per read.
        conn = self.conn
        # Only input in Sta2 can end in AA-1 without an indication (see _check_aa1), and
        # a connection leaves Sta2 for good with its first PDU: no state look-up after that.
        before = getattr(conn, "state", None) if self._in_sta2 else None
        delivered = self._delivered
        if self._resume is not None:
            self._release_input()  # events held back go first
        data = self._view[:end]
        try:
            # The usual read in Sta6, P-DATA-TF alone: its PDVs go to the listener as
            # the DataRun the core would queue, without a queue, a clock or a framer.
            taken = None if self._in_sta2 or self._delivering else conn.receive_pdata(data)
            if taken is None:
                consumed = conn.receive_buffer(data, self.loop.time())
                self._deliver()
            else:
                pdvs, consumed = taken
                listener = self.listener
                if pdvs and listener is not None:
                    self._delivered += 1
                    self._delivering = True
                    try:
                        listener.ul_event(DataRun(pdvs))
                    finally:
                        self._delivering = False
        except Exception:
            self._internal_error()
            consumed = -1
        else:
            if taken is None:
                self.transmit()
            else:
                # The core queued no event and kept its state: what the listener sent
                # through send_pdu went out there; only P-DATA it deferred is left.
                self._write_queued()
        if self._in_sta2:
            if before is _STA2:
                self._check_aa1(delivered)
            self._in_sta2 = getattr(conn, "state", None) is _STA2
        if consumed < 0:
            self._kept = 0
            return
        left = end - consumed
        if self._resume is not None:
            # The listener holds views of these bytes: keep them in place until it goes on.
            self._held = (end, left)
            return
        if left and left != end:  # _keep(end, left), inline: once per read
            view = self._view
            view[:left] = view[end - left : end]
        self._kept = left

    def _keep(self, end: int, left: int) -> None:
        """Move the ``left`` bytes before ``end`` (an incomplete PDU) to the buffer's start."""
        if left and left != end:
            view = self._view
            view[:left] = view[end - left : end]  # memmove within the buffer
        self._kept = left

    def hold_input(self, resume: Callable[[], None]) -> bool:
        """Called by the listener inside :meth:`LinkListener.ul_event`: stop there.

        No further event is delivered and the receive buffer (which the
        event's payload views point into) is not reused until ``resume`` has
        run: at the next step of the event loop, after the tasks the listener
        just created have taken their first step (a request's handler that
        claims its data stream then gets the payload uncopied), or earlier if
        the buffer is needed (the next read, end of file, a timer). ``resume``
        goes on with the event and may hold again. False when holding is not
        possible now (the caller goes on at once).
        """
        if self._resume is not None or self._lost or not self._delivering:
            return False
        loop = asyncio.get_running_loop()
        self._resume = resume
        self._resume_handle = loop.call_soon(self._resume_input)
        if not isinstance(loop, asyncio.BaseEventLoop) and self._flow is not None:
            # asyncio's loops run this step's callbacks before the next read; others
            # may read again at once (uvloop reads up to 32 times per poll): pause.
            self._flow.pause_reading(HOLDING)
        return True

    def _release_input(self) -> None:
        """Run every held ``resume`` now (the buffer or the event order needs it)."""
        while self._resume is not None:
            self._resume_input()

    def _resume_input(self) -> None:
        resume = self._resume
        if resume is None:
            return
        self._resume = None
        handle = self._resume_handle
        if handle is not None:
            handle.cancel()
            self._resume_handle = None

        def step() -> None:
            # Like an event being delivered: what the listener sends meanwhile must not
            # hand it the next event re-entrantly (see _deliver).
            self._delivering = True
            try:
                resume()
            finally:
                self._delivering = False

        ok = self._guard(step)
        if self._resume is None and self._flow is not None:
            self._flow.resume_reading(HOLDING)
        held = self._held
        if self._resume is not None or held is None:
            return  # held again (or no parse was interrupted)
        self._held = None
        if not ok or self._lost:
            self._kept = 0
            return
        self._keep(*held)
        self._fit()

    def eof_received(self) -> bool | None:
        if self._started and not self._eof_fed:
            self._eof_fed = True
            self._feed(b"")
        return False  # close our side too: DICOM has no half-closed state

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        if self._resume is not None:
            self._release_input()
        if self._started and not self._eof_fed:
            self._eof_fed = True
            self._feed(b"")
        self._lost = True
        self._view = _NO_BUFFER  # the receive buffer goes back to the system now
        if self._flow is not None:
            self._flow.connection_lost()
        if self._timers is not None:
            self._timers.close()
        if self.listener is not None:
            try:
                self.listener.link_lost(exc)
            except Exception:
                self._log().exception("error while handling a lost connection")
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    def _log(self) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
        """The listener's logger when it has one (it names the association), else ours."""
        log = getattr(self.listener, "log", None)
        if isinstance(log, logging.LoggerAdapter):
            return log
        return _log

    # -- input to the core ---------------------------------------------------------

    def _feed(self, data: bytes | memoryview) -> None:
        self._input(lambda: self.conn.receive_data(data, self.timers.now()))

    def _input(self, step: Callable[[], None]) -> bool:
        """:meth:`_guard` for received bytes; False when it failed (the transport closes)."""
        before = getattr(self.conn, "state", None)
        delivered = self._delivered
        ok = self._guard(step)
        if before is _STA2:
            self._check_aa1(delivered)
        return ok

    def _check_aa1(self, delivered: int) -> None:
        """After input in Sta2 (``delivered``: the event count before it)."""
        if delivered == self._delivered and getattr(self.conn, "state", None) is State.STA13:
            # PS3.8 AA-1 in Sta2 aborts without an indication to the user: say it here.
            self._log().warning("invalid data instead of an A-ASSOCIATE-RQ: A-ABORT sent")

    def _timer_fired(self, name: str, seconds: float) -> None:
        if name == CLOSING:
            self._log().warning("peer did not read the last %g s: connection dropped", seconds)
            self.abort_transport()
            return
        if self._lowat != 1 and bytes_below_mark(self._lowat_socket):
            # The peer is sending the big PDU, only slower than the timer: its bytes wait
            # below SO_RCVLOWAT and no read has restarted anything. Read them now and give
            # the timer its time again, as if each piece had been read when it came (a
            # peer that stopped is read out now and found silent at the next expiry).
            self._wait_for(0)
            self.timers.start(name, seconds)
            return
        if self.listener is not None:
            self.listener.timer_expired(name, seconds)
        if name == ARTIM:
            self._guard(lambda: self.conn.handle_timer(self.timers.now()))

    def _guard(self, step: Callable[[], None]) -> bool:
        """Run one input on the core, deliver its events, transmit; never raise."""
        if self._resume is not None:
            self._release_input()  # events held back go first
        try:
            step()
            self._deliver()
        except Exception:
            self._internal_error()
            return False
        self.transmit()
        return True

    def _internal_error(self) -> None:
        """Called in an ``except`` block: what raised is a bug below us."""
        # It must cost this connection, never the server; what the core had already
        # queued (an A-ABORT, say) is still written before it closes.
        self._log().exception("internal error on connection %s; closing it", self.peername)
        self.close_transport()

    def _deliver(self) -> None:
        # Never re-entrant: a listener that sends a PDU while handling an event (an
        # A-ABORT, say) must not be handed the next queued event before it has
        # finished with this one; the outer loop delivers it afterwards.
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._resume is None and (event := self.conn.next_event()) is not None:
                self._delivered += 1
                if self.listener is not None:
                    self.listener.ul_event(event)
        finally:
            self._delivering = False

    # -- output --------------------------------------------------------------------

    def transmit(self) -> None:
        """Write what the core produced, close if it asks, re-arm the ARTIM deadline."""
        if self._transport is None or self._lost:
            return
        self._deferred = 0
        data = self.conn.data_to_send()
        if data:
            self._transport.writelines(data)
        if self.conn.should_close and not self._transport.is_closing():
            self._close_within_artim()
        timers = self._timers
        if timers is not None:
            when = self.conn.get_timer()
            if when is not None or self._artim_set:  # (in Sta6, after every read: neither)
                timers.set_at(ARTIM, when, self.artim_seconds)
                self._artim_set = when is not None

    def send_pdu(self, pdu: PDU) -> None:
        """Give one PDU to the core and transmit it (raises ``LocalProtocolError`` on misuse)."""
        if self._lost:
            raise ConnectionResetError("connection lost")
        self.conn.send(pdu, self.timers.now())
        self._deliver()
        self.transmit()

    async def send_pdata(
        self, pdus: Iterable[OutItem], *, batch_bytes: int = SEND_BATCH_SIZE
    ) -> None:
        """Send already framed P-DATA-TF PDUs, awaiting the write buffer between batches.

        Consecutive PDUs are gathered until they hold ``batch_bytes`` (or the
        message ends) and handed to the core and the transport together: one
        ``writelines`` (one send system call) per batch instead of per PDU.
        PDU boundaries are unchanged. The write buffer is awaited between
        batches, so at most about one batch is queued beyond its high-water mark.
        A batch under ``COALESCE_BYTES`` is copied and written at the end of the
        event-loop step (or once ``batch_bytes`` of them are waiting), together
        with the small messages sent after it in the same step. A data set laid
        out in place (a :class:`~dicomnet_pdu.layout.PDataRun`) is written from
        this protocol's send buffer, ``batch_bytes`` (or one PDU) at a time.
        """
        remaining = iter(pdus)
        while not self.write_pdata(remaining, batch_bytes=batch_bytes):
            await self.flow.drain()

    def write_pdata(self, pdus: Iterator[OutItem], *, batch_bytes: int = SEND_BATCH_SIZE) -> bool:
        """:meth:`send_pdata` without waiting: write batches until the write buffer is full.

        A batch is written even when the buffer is already full (as
        :meth:`send_pdata` does before its first wait). True when ``pdus`` is
        used up and the buffer is below its high-water mark; False when the
        caller must ``await flow.drain()`` and call again with the same
        iterator. Raises ``ConnectionResetError`` once the connection is lost.
        """
        flow = self.flow
        while True:
            batch: list[bytes | memoryview] = []
            size = 0
            exhausted = True
            run: PDataRun | None = None
            for segments in pdus:
                if isinstance(segments, PDataRun):
                    run = segments
                    exhausted = False
                    break
                batch += segments
                # The PDU-length field (bytes 2-5 of the header) plus the header itself.
                size += 6 + int.from_bytes(segments[0][2:6], "big")
                if size >= batch_bytes:
                    exhausted = False
                    break
            if batch:
                self._write_batch(batch, size, batch_bytes)
            if run is not None:
                self._write_run(run, batch_bytes)
            if self._lost:
                raise ConnectionResetError("connection lost")
            if flow.write_paused:
                return False
            if exhausted:
                return True

    def write_whole(self, segments: list[bytes | memoryview], size: int) -> bool:
        """Write whole P-DATA-TF PDUs given as one list of buffers (``size`` bytes in all,
        as :func:`~dicomnet_pdu.pdv.whole_message` gives a small message's) as one batch
        of :meth:`write_pdata`. True when the write buffer is below its high-water mark
        after it; False when the caller must ``await flow.drain()`` before writing more.
        Raises ``ConnectionResetError`` once the connection is lost."""
        self._write_batch(segments, size, SEND_BATCH_SIZE)
        if self._lost:
            raise ConnectionResetError("connection lost")
        flow = self._flow  # (self.flow without the call: connected, or _write_batch raised)
        assert flow is not None
        return not flow.write_paused

    def _write_batch(self, segments: list[bytes | memoryview], size: int, batch_bytes: int) -> None:
        if self._lost:
            raise ConnectionResetError("connection lost")
        assert self._transport is not None
        if size < COALESCE_BYTES:
            # Copied, so the caller may reuse its buffers before the deferred write.
            self.conn.send_pdata_segments([b"".join(segments)])
            self._deferred += size
            if self._deferred < batch_bytes:
                # Inside an event's delivery the transmit that follows it writes this;
                # elsewhere it goes at the end of the loop step.
                if self._flush_handle is None and not self._delivering:
                    self._flush_handle = self.loop.call_soon(self._flush)
                return
        else:
            self.conn.send_pdata_segments(segments)
        self._write_queued()

    def _write_run(self, run: PDataRun, batch_bytes: int) -> None:
        """Write ``run``'s PDUs (see :mod:`dicomnet.run_writer`) until it is done or the
        write buffer is full (one batch is written either way)."""
        flow = self.flow
        while True:
            if self._lost:
                raise ConnectionResetError("connection lost")
            writer = self._run_writer
            if writer is None:
                assert self._transport is not None
                writer = self._run_writer = RunWriter(self._transport, self.conn)
            self._deferred = 0  # anything deferred goes out with this batch
            writer.step(run, batch_bytes)
            if run.done or flow.write_paused:
                return

    def _flush(self) -> None:
        self._flush_handle = None
        self._write_queued()

    def flush(self) -> None:
        """Write the small P-DATA deferred to the end of this loop step now.

        A sender that issues a burst of small messages in one step can let the
        peer start on the first ones while it prepares the rest; one that knows
        nothing else follows in this step (a request whose answer it awaits
        next, the last response of an idle acceptor) gets it to the peer one
        loop step sooner. What is sent after the flush in the same step is
        still written at the end of the step.
        """
        if self._flush_handle is not None:
            self.write_now()

    def write_now(self) -> None:
        """Write the P-DATA given to the core so far now, even while an event is being
        delivered (where it would wait for the transmit after it): for a listener that
        knows nothing else will follow in this delivery (the answer to the last message
        of a read), so the peer gets it before the listener's bookkeeping."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._write_queued()

    def _write_queued(self) -> None:
        # P-DATA never changes the state, closes, or touches ARTIM: write directly.
        self._deferred = 0
        if self._transport is None or self._lost:
            return
        data = self.conn.data_to_send()
        if len(data) == 1:
            self._transport.write(data[0])  # writelines would copy it (Python 3.11)
        elif data:
            self._transport.writelines(data)

    def close_transport(self) -> None:
        """Close the TCP connection once everything the core queued has been written.

        PDUs the core produced but nobody transmitted yet (an A-ABORT queued
        while an earlier event was being handled) are written first. A peer
        that does not read cannot hold the connection open: it is dropped
        ``artim_seconds`` after the close began (the ``closing`` deadline).
        """
        if self._transport is None or self._lost or self._transport.is_closing():
            return
        with contextlib.suppress(Exception):  # the core may be broken (an internal error)
            data = self.conn.data_to_send()
            if data:
                self._transport.writelines(data)
        self._close_within_artim()

    def _close_within_artim(self) -> None:
        # What is still buffered is written first, but a peer that neither reads nor
        # closes must not keep the socket: past ARTIM the connection is dropped.
        assert self._transport is not None
        self._transport.close()
        if self._timers is not None and self._transport.get_write_buffer_size():
            self._timers.start(CLOSING, self.artim_seconds)

    def abort_transport(self) -> None:
        """Drop the TCP connection at once: whatever is still unwritten is lost.

        Only for connections nothing more is owed to (a refused or cancelled
        connect, a server shutting down); otherwise use :meth:`close_transport`.
        """
        if self._transport is not None and not self._lost:
            self._transport.abort()


def _anonymous_buffer(size: int) -> memoryview:
    """A writable receive buffer of ``size`` bytes in an anonymous memory map of its own.

    Connections start with a small buffer, so an idle or chatty one costs
    little, and grow it when reads fill it. Each buffer is mapped on its own, so
    it goes back to the system as soon as the connection drops it: buffers from
    the heap would leave the heap fragmented after a burst of connections, and
    glibc raises its mmap threshold after a large block is freed, so later ones
    would come from the heap too and stay in the process.
    """
    return memoryview(mmap.mmap(-1, size))


_NO_BUFFER = memoryview(b"")
