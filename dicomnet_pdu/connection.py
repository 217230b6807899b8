"""The sans-IO Upper Layer connection: PS3.8 §9.2 driven by bytes, primitives and a clock.

:class:`ULConnection` is one end of one transport connection. The code that owns
the socket (``dicomnet.transport``) tells it what happened and asks it what to
do, in the manner of h11:

* ``connection_made(now)``, ``receive_data(data, now)`` (``b""`` when the
  transport closed) and ``handle_timer(now)`` are the transport's events;
* ``connect(rq)`` and ``send(pdu, now)`` are the local user's primitives;
* ``next_event()`` returns the indications and confirmations for the user
  (:mod:`dicomnet_pdu.events`), ``data_to_send()`` the bytes to write,
  ``should_close`` whether to close the transport, and ``get_timer()`` the
  ARTIM deadline to call ``handle_timer`` at.

Every input is looked up in the state table of :mod:`dicomnet_pdu.fsm`; the
action found there is carried out by one method of this class and returns the
next state. A local primitive in a cell Table 9-10 leaves blank raises
:class:`~dicomnet_pdu.errors.LocalProtocolError` and changes nothing.

Choices where PS3.8 leaves room:

* AE-6 finds an A-ASSOCIATE-RQ acceptable when bit 0 of its protocol-version is
  set (Table 9-11); otherwise it sends A-ASSOCIATE-RJ (permanent, service-provider
  ACSE, protocol-version-not-supported) and issues no indication.
* AA-1 sends the user's A-ABORT PDU as given for a local A-ABORT request, and
  source service-user, reason not specified for the Sta2 cases.
* AA-7 and AA-8 send source service-provider with reason unexpected-PDU for a
  PDU that is valid but out of place, or the reason carried by the
  :class:`~dicomnet_pdu.errors.RemoteProtocolError` for an invalid one. After an
  invalid PDU the rest of the byte stream is not parsed (framing is lost).
* Received bytes are parsed only while the transport is open and the machine is
  not idle; bytes arriving in Sta1 after the end of an association are dropped.
* :class:`~dicomnet_pdu.events.TransportClosed` is reported once, when the
  transport closes while no association exists (AA-5, AR-5, or after the
  machine went idle); AA-4 reports an abort instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final, TypeAlias

from .associate_cache import AssociateCache
from .codec import encode_pdata_segments, encode_pdu
from .codes import AbortReason, AbortSource, RejectReasonACSE, RejectResult, RejectSource
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    AbortIndication,
    AssociateAccepted,
    AssociateIndication,
    AssociateRejected,
    DataIndication,
    DataRun,
    ReleaseConfirmation,
    ReleaseIndication,
    TransportClosed,
    ULEvent,
)
from .framer import PDataScan, PDUFramer, PDVItem
from .fsm import TRANSITIONS, Action, Event, State
from .pdus import (
    PDU,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

__all__ = ["Role", "ULConnection"]

#: The state table's lookup, bound once: a method called on an imported name is looked up
#: as a module's attribute would be (a bound method made at each call).
_transition: Final = TRANSITIONS.get

Segment: TypeAlias = bytes | memoryview

# The states the receive path compares with on every read, looked up once: on Python 3.11
# each ``State.X`` goes through the enum metaclass's ``__getattr__`` hook (~80 ns).
_STA1 = State.STA1
_STA6 = State.STA6
# The states the actions below move to and the events fired on every association's way
# (connect, accept, release, close), looked up once for the same reason.
_STA2 = State.STA2
_STA3 = State.STA3
_STA4 = State.STA4
_STA5 = State.STA5
_STA7 = State.STA7
_STA8 = State.STA8
_STA9 = State.STA9
_STA10 = State.STA10
_STA11 = State.STA11
_STA12 = State.STA12
_STA13 = State.STA13
_EVT1 = Event.EVT1
_EVT2 = Event.EVT2
_EVT5 = Event.EVT5
_EVT17 = Event.EVT17
_EVT18 = Event.EVT18


class Role(Enum):
    """Which end of the association this connection is."""

    REQUESTOR = "requestor"
    ACCEPTOR = "acceptor"


_REQUESTOR = Role.REQUESTOR


#: The event a received PDU is (Table 9-10 rows).
_RECEIVED: Mapping[type, Event] = MappingProxyType(
    {
        AAssociateAC: Event.EVT3,
        AAssociateRJ: Event.EVT4,
        AAssociateRQ: Event.EVT6,
        PDataTF: Event.EVT10,
        AReleaseRQ: Event.EVT12,
        AReleaseRP: Event.EVT13,
        AAbort: Event.EVT16,
    }
)

#: The local primitive a PDU given to :meth:`ULConnection.send` stands for.
_SENT: Mapping[type, Event] = MappingProxyType(
    {
        AAssociateAC: Event.EVT7,
        AAssociateRJ: Event.EVT8,
        PDataTF: Event.EVT9,
        AReleaseRQ: Event.EVT11,
        AReleaseRP: Event.EVT14,
        AAbort: Event.EVT15,
    }
)

#: The states in which a P-DATA request (Evt9) is allowed, Sta6 first (a tuple: found
#: by identity, without hashing an Enum per PDU sent).
_PDATA_STATES: tuple[State, ...] = tuple(
    sorted((state for state, event in TRANSITIONS if event is Event.EVT9), key=lambda s: s.value)
)

_PRIMITIVE_NAMES: Mapping[Event, str] = MappingProxyType(
    {
        Event.EVT1: "A-ASSOCIATE request",
        Event.EVT2: "transport connection confirmation",
        Event.EVT5: "transport connection indication",
        Event.EVT7: "A-ASSOCIATE response (accept)",
        Event.EVT8: "A-ASSOCIATE response (reject)",
        Event.EVT9: "P-DATA request",
        Event.EVT11: "A-RELEASE request",
        Event.EVT14: "A-RELEASE response",
        Event.EVT15: "A-ABORT request",
    }
)

_PROTOCOL_VERSION_REJECT = AAssociateRJ(
    result=RejectResult.PERMANENT,
    source=RejectSource.SERVICE_PROVIDER_ACSE,
    reason=RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED,
)


class ULConnection:
    """One end of a DICOM Upper Layer connection, without I/O (PS3.8 §9.2).

    ``max_pdu_receive`` is our Maximum Length Received (the largest P-DATA-TF
    PDU-length accepted), ``max_associate_length`` the largest A-ASSOCIATE PDU
    accepted, and ``artim_timeout`` the ARTIM timer in seconds.
    ``closing_timeout`` (default: ``artim_timeout``) is the ARTIM timer started
    after sending A-RELEASE-RP or A-ABORT (AR-4, AA-1, AA-8): how long the peer
    has to close the connection (a statement's "closing timeout"). Times are
    whatever monotonic clock the caller passes as ``now``. ``associate_cache``
    (one per AE, shared by its connections) decodes and encodes the A-ASSOCIATE-RQ
    and -AC PDUs that equal earlier ones without coding them again.
    """

    def __init__(
        self,
        role: Role,
        *,
        max_pdu_receive: int = 16384,
        artim_timeout: float = 5.0,
        max_associate_length: int = 1 << 20,
        closing_timeout: float | None = None,
        associate_cache: AssociateCache | None = None,
    ) -> None:
        self._role = role
        self._state = _STA1
        self._framer = PDUFramer(
            max_pdata_length=max_pdu_receive,
            max_associate_length=max_associate_length,
            associate_cache=associate_cache,
        )
        self._pdata_scan = PDataScan(max_pdu_receive)  # the framer's limit, for receive_pdata
        self._associate_cache = associate_cache
        self._artim_timeout = artim_timeout
        self._closing_timeout = artim_timeout if closing_timeout is None else closing_timeout
        self._artim_deadline: float | None = None
        self._events: deque[ULEvent] = deque()
        self._out: list[Segment] = []
        self._should_close = False
        self._request: AAssociateRQ | None = None
        self._opened = False  # the transport connection has been made
        self._transport_closed = False  # receive_data(b"") seen
        self._closed_reported = False
        self._input_broken = False  # an invalid PDU was received: stop parsing

    # -- observing -----------------------------------------------------------------

    @property
    def role(self) -> Role:
        """Requestor or acceptor."""
        return self._role

    @property
    def state(self) -> State:
        """The current state of the state machine."""
        return self._state

    @property
    def should_close(self) -> bool:
        """Whether the transport connection should be closed now (after writing what is queued)."""
        return self._should_close

    def next_event(self) -> ULEvent | None:
        """The oldest event not yet returned, or ``None``."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> list[Segment]:
        """Everything to write to the transport since the last call, in order."""
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """The ARTIM deadline (absolute, in the caller's clock), or ``None`` if not running."""
        return self._artim_deadline

    # -- transport events ----------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """The transport connection is open: Evt2 for a requestor, Evt5 for an acceptor."""
        event = _EVT2 if self._role is _REQUESTOR else _EVT5
        self._fire(event, now, None, None)
        self._opened = True

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Bytes received from the peer; ``b""`` means the transport connection closed (Evt17).

        ``data`` is copied before this returns, so the caller may reuse its buffer.
        """
        if not data:
            self._on_transport_closed(now)
            return
        if not self._opened:
            raise LocalProtocolError("receive_data() before connection_made()")
        if self._idle() or self._input_broken or self._transport_closed:
            return
        framer = self._framer
        events = self._events
        try:
            framer.feed(data)
            while not self._idle():  # an action may have ended the association
                pdu = framer.next_pdu()
                if pdu is None:
                    return
                if type(pdu) is PDataTF and self._state is _STA6:
                    events.append(DataIndication(pdu))  # DT-2, the hot path
                    continue
                self._fire(_RECEIVED[type(pdu)], now, pdu, None)
        except RemoteProtocolError as exc:
            self._input_broken = True
            self._fire(Event.EVT19, now, None, exc)

    def receive_buffer(self, data: memoryview, now: float) -> int:
        """Bytes received, parsed in place: returns how many were consumed (whole PDUs).

        The caller keeps the rest (an incomplete PDU) and passes it again at the
        start of the next call, followed by the bytes read meanwhile; nothing is
        copied here. In Sta6 the P-DATA-TF PDUs of one call are reported as one
        :class:`~dicomnet_pdu.events.DataRun` whose payloads are slices of
        ``data``: take every event (:meth:`next_event`) before changing
        ``data``. Bytes that are not parsed (idle machine, invalid input
        earlier) count as consumed. Use either this or :meth:`receive_data`.
        """
        if not data:
            return 0
        if not self._opened:
            raise LocalProtocolError("receive_buffer() before connection_made()")
        if self._state is _STA1 or self._input_broken or self._transport_closed:
            return len(data)
        framer = self._framer
        events = self._events
        run: list[PDVItem] = []
        try:
            framer.lend(data)
            while self._state is not _STA1:  # an action may have ended the association
                if self._state is _STA6 and framer.take_pdata(run):
                    break  # the rest is an incomplete P-DATA-TF: next_pdu would wait too
                pdu = framer.next_pdu()
                if pdu is None:
                    break
                if type(pdu) is PDataTF and self._state is _STA6:
                    run += [(p.context_id, p.control_header, _view(p.data)) for p in pdu.pdvs]
                    continue
                if run:
                    events.append(DataRun(run))
                    run = []
                self._fire(_RECEIVED[type(pdu)], now, pdu, None)
        except RemoteProtocolError as exc:
            self._input_broken = True
            if run:
                events.append(DataRun(run))
                run = []
            self._fire(Event.EVT19, now, None, exc)
        finally:
            consumed = framer.take_back()
        if run:
            events.append(DataRun(run))
        return len(data) if self._input_broken or self._state is _STA1 else consumed

    def receive_pdata(self, data: memoryview) -> tuple[list[PDVItem], int] | None:
        """:meth:`receive_buffer` for the usual read in Sta6, its events handed back.

        When ``data`` holds only whole single-PDV P-DATA-TF PDUs, perhaps
        followed by the valid headers of an incomplete one, and no event is
        queued: their PDVs (the ``pdvs`` of the :class:`~dicomnet_pdu.events.DataRun`
        that :meth:`receive_buffer` would queue; slices of ``data``) and the
        bytes they take, nothing queued, the state unchanged (DT-2). Otherwise
        ``None`` and nothing done: call :meth:`receive_buffer` with ``data``.
        """
        if self._state is not _STA6 or self._events or self._input_broken or self._transport_closed:
            return None
        run: list[PDVItem] = []
        consumed, incomplete = self._pdata_scan.scan(data, 0, run)
        if consumed != len(data) and not incomplete:
            return None
        return run, consumed

    def handle_timer(self, now: float) -> None:
        """Evt18 if the ARTIM deadline has passed; nothing otherwise."""
        deadline = self._artim_deadline
        if deadline is None or now < deadline:
            return
        self._artim_deadline = None
        if (self._state, _EVT18) in TRANSITIONS:
            self._fire(_EVT18, now, None, None)

    def _idle(self) -> bool:
        return self._state is _STA1

    def _on_transport_closed(self, now: float) -> None:
        if self._transport_closed:
            return
        self._transport_closed = True
        if self._state is _STA1:
            if self._opened and not self._closed_reported:
                self._events.append(TransportClosed())
        else:
            self._fire(_EVT17, now, None, None)
        self._closed_reported = True
        self._should_close = True
        self._artim_deadline = None

    # -- local primitives ----------------------------------------------------------

    def connect(self, rq: AAssociateRQ) -> None:
        """A-ASSOCIATE request (Evt1, AE-1): the RQ is sent once the transport is up."""
        if self._role is not _REQUESTOR:
            raise LocalProtocolError("only an association-requestor sends A-ASSOCIATE-RQ")
        self._fire(_EVT1, 0.0, rq, None)

    def send(self, pdu: PDU, now: float) -> None:
        """A local primitive given as the PDU it sends.

        A-ASSOCIATE-AC/RJ (Evt7/Evt8), P-DATA-TF (Evt9), A-RELEASE-RQ (Evt11),
        A-RELEASE-RP (Evt14) or A-ABORT (Evt15). Raises
        :class:`LocalProtocolError` if the primitive is not allowed now.
        """
        event = _SENT.get(type(pdu))
        if event is None:
            raise LocalProtocolError(
                f"{type(pdu).__name__} is not sent with send(); use connect() for A-ASSOCIATE-RQ"
            )
        self._fire(event, now, pdu, None)

    def send_pdata_segments(self, segments: list[Segment]) -> None:
        """P-DATA request (Evt9) for one already encoded P-DATA-TF PDU, queued without copying."""
        if self._state not in _PDATA_STATES:
            raise LocalProtocolError(self._refusal(Event.EVT9))
        self._out.extend(segments)

    def set_max_pdu_receive(self, n: int) -> None:
        """Change the largest P-DATA-TF PDU accepted from the peer."""
        self._framer.set_max_pdata_length(n)
        self._pdata_scan.set_limit(n)

    # -- the machine ---------------------------------------------------------------

    def _refusal(self, event: Event) -> str:
        name = _PRIMITIVE_NAMES.get(event, event.value)
        return f"{name} is not allowed in {self._state.value} ({self._role.value})"

    def _fire(
        self, event: Event, now: float, pdu: PDU | None, error: RemoteProtocolError | None
    ) -> None:
        cell = _transition((self._state, event))
        if cell is None:
            raise LocalProtocolError(self._refusal(event))
        next_state = _ACTIONS[cell.action](self, now, pdu, error)
        if next_state not in cell.next_states:  # pragma: no cover - a bug in an action
            raise AssertionError(f"{cell.action.value} chose {next_state.value}")
        self._state = next_state

    def _start_artim(self, now: float, *, closing: bool = False) -> None:
        self._artim_deadline = now + (self._closing_timeout if closing else self._artim_timeout)

    def _emit_pdu(self, pdu: PDU) -> None:
        if type(pdu) is PDataTF:
            self._out.extend(encode_pdata_segments(pdu))
        elif self._associate_cache is not None and isinstance(pdu, AAssociateRQ | AAssociateAC):
            self._out.append(self._associate_cache.encode(pdu))
        else:
            self._out.append(encode_pdu(pdu))

    def _provider_abort(self, error: RemoteProtocolError | None) -> AbortReason:
        """Send A-ABORT (service-provider) for an invalid or unexpected PDU; return the reason."""
        reason = AbortReason.UNEXPECTED_PDU if error is None else error.abort_reason
        self._emit_pdu(AAbort(source=AbortSource.SERVICE_PROVIDER, reason=reason))
        return reason

    # Association establishment (Table 9-6)

    def _ae_1(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, AAssociateRQ)
        self._request = pdu
        return _STA4

    def _ae_2(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert self._request is not None
        self._emit_pdu(self._request)
        return _STA5

    def _ae_3(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, AAssociateAC)
        self._events.append(AssociateAccepted(pdu))
        return _STA6

    def _ae_4(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, AAssociateRJ)
        self._events.append(AssociateRejected(pdu))
        self._should_close = True
        return _STA1

    def _ae_5(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._start_artim(now)
        return _STA2

    def _ae_6(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, AAssociateRQ)
        self._artim_deadline = None
        if pdu.protocol_version & 0x0001:
            self._events.append(AssociateIndication(pdu))
            return _STA3
        self._emit_pdu(_PROTOCOL_VERSION_REJECT)
        self._start_artim(now)
        return _STA13

    def _ae_7(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        return _STA6

    def _ae_8(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        self._start_artim(now)
        return _STA13

    # Data transfer (Table 9-7)

    def _dt_1(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        return _STA6

    def _dt_2(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, PDataTF)
        self._events.append(DataIndication(pdu))
        return _STA6

    # Release (Table 9-8)

    def _ar_1(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        return _STA7

    def _ar_2(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._events.append(ReleaseIndication(collision=False))
        return _STA8

    def _ar_3(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._events.append(ReleaseConfirmation())
        self._should_close = True
        return _STA1

    def _ar_4(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        self._start_artim(now, closing=True)
        return _STA13

    def _ar_5(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._artim_deadline = None
        self._events.append(TransportClosed())
        return _STA1

    def _ar_6(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, PDataTF)
        self._events.append(DataIndication(pdu))
        return _STA7

    def _ar_7(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        return _STA8

    def _ar_8(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._events.append(ReleaseIndication(collision=True))
        return _STA9 if self._role is _REQUESTOR else _STA10

    def _ar_9(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert pdu is not None
        self._emit_pdu(pdu)
        return _STA11

    def _ar_10(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._events.append(ReleaseConfirmation())
        return _STA12

    # Abort (Table 9-9)

    def _aa_1(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        if isinstance(pdu, AAbort):
            self._emit_pdu(pdu)  # the local user's A-ABORT request (Evt15)
        else:
            self._emit_pdu(AAbort(source=AbortSource.SERVICE_USER))
        self._start_artim(now, closing=True)
        return _STA13

    def _aa_2(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._artim_deadline = None
        self._should_close = True
        return _STA1

    def _aa_3(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        assert isinstance(pdu, AAbort)
        self._events.append(AbortIndication(pdu.source, pdu.reason, from_peer=True))
        self._should_close = True
        return _STA1

    def _aa_4(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._events.append(
            AbortIndication(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED, False)
        )
        return _STA1

    def _aa_5(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._artim_deadline = None
        self._events.append(TransportClosed())
        return _STA1

    def _aa_6(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        return _STA13

    def _aa_7(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        self._provider_abort(error)
        return _STA13

    def _aa_8(self, now: float, pdu: PDU | None, error: RemoteProtocolError | None) -> State:
        reason = self._provider_abort(error)
        self._events.append(AbortIndication(AbortSource.SERVICE_PROVIDER, reason, False))
        self._start_artim(now, closing=True)
        return _STA13


def _view(data: bytes | bytearray | memoryview) -> memoryview:
    return data if isinstance(data, memoryview) else memoryview(data)


_ActionMethod: TypeAlias = Callable[
    [ULConnection, float, PDU | None, RemoteProtocolError | None], State
]

#: The method carrying out each action of Tables 9-6 to 9-9.
_ACTIONS: Mapping[Action, _ActionMethod] = MappingProxyType(
    {action: getattr(ULConnection, "_" + action.name.lower()) for action in Action}
)
