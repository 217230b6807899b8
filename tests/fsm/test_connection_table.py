"""Every cell of PS3.8 Table 9-10 driven through ULConnection's public API.

For each (state, event) the connection is brought into the state by real inputs,
the event is produced by the matching call, and the outcome is checked against
the fixture: the next state, and the visible effect of the action (PDUs sent,
events issued, ARTIM, close) as Tables 9-6 to 9-9 define it. Blank cells must
either refuse a local primitive with LocalProtocolError or change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dicomnet_pdu.codes import AbortSource, RejectReasonUser, RejectResult, RejectSource
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.events import (
    AbortIndication,
    AssociateAccepted,
    AssociateIndication,
    AssociateRejected,
    DataIndication,
    ReleaseConfirmation,
    ReleaseIndication,
    TransportClosed,
)
from dicomnet_pdu.pdus import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

from .pair import drain, make_ac, make_pdata, make_rq, sent_pdus, wire
from .spec_tables import Cell, state_table

NOW = 100.0
ARTIM = 5.0
RJ = AAssociateRJ(
    result=RejectResult.PERMANENT,
    source=RejectSource.SERVICE_USER,
    reason=RejectReasonUser.NO_REASON_GIVEN,
)

# -- bringing a connection into each state with real inputs -------------------------


def _sta1(role: Role) -> ULConnection:
    return ULConnection(role, artim_timeout=ARTIM)


def _sta2(role: Role) -> ULConnection:
    conn = _sta1(Role.ACCEPTOR)
    conn.connection_made(NOW)
    return conn


def _sta3(role: Role) -> ULConnection:
    conn = _sta2(role)
    conn.receive_data(wire(make_rq()), NOW)
    return conn


def _sta4(role: Role) -> ULConnection:
    conn = _sta1(Role.REQUESTOR)
    conn.connect(make_rq())
    return conn


def _sta5(role: Role) -> ULConnection:
    conn = _sta4(role)
    conn.connection_made(NOW)
    return conn


def _sta6(role: Role) -> ULConnection:
    if role is Role.REQUESTOR:
        conn = _sta5(role)
        conn.receive_data(wire(make_ac()), NOW)
    else:
        conn = _sta3(role)
        conn.send(make_ac(), NOW)
    return conn


def _sta7(role: Role) -> ULConnection:
    conn = _sta6(role)
    conn.send(AReleaseRQ(), NOW)
    return conn


def _sta8(role: Role) -> ULConnection:
    conn = _sta6(role)
    conn.receive_data(wire(AReleaseRQ()), NOW)
    return conn


def _sta9(role: Role) -> ULConnection:
    conn = _sta7(Role.REQUESTOR)
    conn.receive_data(wire(AReleaseRQ()), NOW)
    return conn


def _sta10(role: Role) -> ULConnection:
    conn = _sta7(Role.ACCEPTOR)
    conn.receive_data(wire(AReleaseRQ()), NOW)
    return conn


def _sta11(role: Role) -> ULConnection:
    conn = _sta9(role)
    conn.send(AReleaseRP(), NOW)
    return conn


def _sta12(role: Role) -> ULConnection:
    conn = _sta10(role)
    conn.receive_data(wire(AReleaseRP()), NOW)
    return conn


def _sta13(role: Role) -> ULConnection:
    conn = _sta6(role)
    conn.send(AAbort(), NOW)
    return conn


BUILDERS: dict[str, Callable[[Role], ULConnection]] = {
    "Sta1": _sta1,
    "Sta2": _sta2,
    "Sta3": _sta3,
    "Sta4": _sta4,
    "Sta5": _sta5,
    "Sta6": _sta6,
    "Sta7": _sta7,
    "Sta8": _sta8,
    "Sta9": _sta9,
    "Sta10": _sta10,
    "Sta11": _sta11,
    "Sta12": _sta12,
    "Sta13": _sta13,
}
REQUESTOR_ONLY = {"Sta4", "Sta5", "Sta9", "Sta11"}
ACCEPTOR_ONLY = {"Sta2", "Sta3", "Sta10", "Sta12"}


def role_for(cell: Cell) -> Role:
    """A role in which the cell's state is reachable (Evt5 needs an acceptor in Sta1)."""
    if cell.state in REQUESTOR_ONLY:
        return Role.REQUESTOR
    if cell.state in ACCEPTOR_ONLY or cell.event == "Evt5":
        return Role.ACCEPTOR
    return Role.REQUESTOR


# -- producing each event ------------------------------------------------------------

EVENTS: dict[str, Callable[[ULConnection], None]] = {
    "Evt1": lambda c: c.connect(make_rq()),
    "Evt2": lambda c: c.connection_made(NOW),
    "Evt3": lambda c: c.receive_data(wire(make_ac()), NOW),
    "Evt4": lambda c: c.receive_data(wire(RJ), NOW),
    "Evt5": lambda c: c.connection_made(NOW),
    "Evt6": lambda c: c.receive_data(wire(make_rq()), NOW),
    "Evt7": lambda c: c.send(make_ac(), NOW),
    "Evt8": lambda c: c.send(RJ, NOW),
    "Evt9": lambda c: c.send(make_pdata(), NOW),
    "Evt10": lambda c: c.receive_data(wire(make_pdata()), NOW),
    "Evt11": lambda c: c.send(AReleaseRQ(), NOW),
    "Evt12": lambda c: c.receive_data(wire(AReleaseRQ()), NOW),
    "Evt13": lambda c: c.receive_data(wire(AReleaseRP()), NOW),
    "Evt14": lambda c: c.send(AReleaseRP(), NOW),
    "Evt15": lambda c: c.send(AAbort(), NOW),
    "Evt16": lambda c: c.receive_data(wire(AAbort()), NOW),
    "Evt17": lambda c: c.receive_data(b"", NOW),
    "Evt18": lambda c: c.handle_timer(NOW + 10 * ARTIM),
    "Evt19": lambda c: c.receive_data(b"\xff" * 10, NOW),
}
LOCAL_PRIMITIVES = {"Evt1", "Evt7", "Evt8", "Evt9", "Evt11", "Evt14", "Evt15"}


# -- what each action visibly does (PS3.8 Tables 9-6 to 9-9) -------------------------

RUNNING = "running"  # ARTIM deadline at NOW + ARTIM
STOPPED = "stopped"
ANY = "any"


@dataclass(frozen=True)
class Effect:
    """PDU types sent, event types issued, ARTIM afterwards, and whether to close."""

    sent: tuple[type, ...] = ()
    events: tuple[type, ...] = ()
    artim: str = ANY
    close: bool = False


EFFECTS: dict[str, Effect] = {
    "AE-1": Effect(),
    "AE-2": Effect(sent=(AAssociateRQ,)),
    "AE-3": Effect(events=(AssociateAccepted,)),
    "AE-4": Effect(events=(AssociateRejected,), close=True),
    "AE-5": Effect(artim=RUNNING),
    "AE-6": Effect(events=(AssociateIndication,), artim=STOPPED),
    "AE-7": Effect(sent=(AAssociateAC,)),
    "AE-8": Effect(sent=(AAssociateRJ,), artim=RUNNING),
    "DT-1": Effect(sent=(PDataTF,)),
    "DT-2": Effect(events=(DataIndication,)),
    "AR-1": Effect(sent=(AReleaseRQ,)),
    "AR-2": Effect(events=(ReleaseIndication,)),
    "AR-3": Effect(events=(ReleaseConfirmation,), close=True),
    "AR-4": Effect(sent=(AReleaseRP,), artim=RUNNING),
    "AR-5": Effect(events=(TransportClosed,), artim=STOPPED),
    "AR-6": Effect(events=(DataIndication,)),
    "AR-7": Effect(sent=(PDataTF,)),
    "AR-8": Effect(events=(ReleaseIndication,)),
    "AR-9": Effect(sent=(AReleaseRP,)),
    "AR-10": Effect(events=(ReleaseConfirmation,)),
    "AA-1": Effect(sent=(AAbort,), artim=RUNNING),
    "AA-2": Effect(artim=STOPPED, close=True),
    "AA-3": Effect(events=(AbortIndication,), close=True),
    "AA-4": Effect(events=(AbortIndication,)),
    "AA-5": Effect(events=(TransportClosed,), artim=STOPPED),
    "AA-6": Effect(),
    "AA-7": Effect(sent=(AAbort,)),
    "AA-8": Effect(sent=(AAbort,), events=(AbortIndication,), artim=RUNNING),
}


CELLS = state_table()
CELL_AT = {(c.state, c.event): c for c in CELLS}


def test_every_action_has_an_expected_effect() -> None:
    assert {c.action for c in CELLS if c.action} == set(EFFECTS)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.state}-{c.event}")
def test_cell_through_the_connection(cell: Cell) -> None:
    role = role_for(cell)
    if cell.event in ("Evt2", "Evt5"):
        # connection_made() is Evt2 for a requestor and Evt5 for an acceptor, so in a
        # state only one role reaches, the other event cannot be produced: check the
        # cell the call does produce.
        cell = CELL_AT[cell.state, "Evt2" if role is Role.REQUESTOR else "Evt5"]
    conn = BUILDERS[cell.state](role)
    assert conn.state.value == cell.state
    conn.data_to_send()
    drain(conn)
    close_before = conn.should_close
    fire = EVENTS[cell.event]

    if cell.action is None:
        try:
            fire(conn)
        except LocalProtocolError:
            pass
        else:
            assert cell.event not in LOCAL_PRIMITIVES, "a blank cell accepted a local primitive"
        assert conn.state.value == cell.state
        assert conn.data_to_send() == []
        assert [e for e in drain(conn) if not isinstance(e, TransportClosed)] == []
        return

    fire(conn)
    expected_next = cell.next_states
    if cell.action == "AE-6":
        expected_next = ("Sta3",)  # the RQ used is acceptable (protocol version 1)
    elif cell.action == "AR-8":
        expected_next = ("Sta9",) if role is Role.REQUESTOR else ("Sta10",)
    assert (conn.state.value,) == expected_next

    effect = EFFECTS[cell.action]
    sent = sent_pdus(conn)
    assert tuple(type(p) for p in sent) == effect.sent
    events = drain(conn)
    assert tuple(type(e) for e in events) == effect.events
    if effect.artim == RUNNING:
        assert conn.get_timer() == NOW + ARTIM
    elif effect.artim == STOPPED:
        assert conn.get_timer() is None
    if effect.close:
        assert conn.should_close and not close_before

    # Details the action tables fix beyond the types.
    if cell.action in ("AA-7", "AA-8"):
        assert isinstance(sent[0], AAbort)
        assert sent[0].source is AbortSource.SERVICE_PROVIDER
    if cell.action == "AA-1" and cell.state == "Sta2":
        assert sent == [AAbort(source=AbortSource.SERVICE_USER)]
    if cell.action == "AA-8":
        assert isinstance(events[0], AbortIndication)
        assert not events[0].from_peer
        assert events[0].reason == sent[0].reason  # type: ignore[union-attr]
    if cell.action == "AA-3":
        assert isinstance(events[0], AbortIndication)
        assert events[0].from_peer
    if cell.action == "AA-4":
        assert isinstance(events[0], AbortIndication)
        assert not events[0].from_peer
        assert events[0].source is AbortSource.SERVICE_PROVIDER
    if cell.action in ("AR-2", "AR-8"):
        assert events == [ReleaseIndication(collision=cell.action == "AR-8")]
