"""Properties of ULConnection under arbitrary input (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.events import AbortIndication, DataIndication
from dicomnet_pdu.fsm import TRANSITIONS, Event, State
from dicomnet_pdu.pdus import AAbort, AReleaseRP, AReleaseRQ

from .pair import Pair, drain, make_ac, make_pdata, make_rq, sent_pdus, wire

VALID_PDUS = [
    wire(make_rq()),
    wire(make_ac()),
    wire(make_pdata()),
    wire(AReleaseRQ()),
    wire(AReleaseRP()),
    wire(AAbort()),
]

chunks = st.lists(
    st.one_of(st.binary(min_size=1, max_size=40), st.sampled_from(VALID_PDUS)),
    min_size=1,
    max_size=8,
)


def established_acceptor() -> ULConnection:
    conn = ULConnection(Role.ACCEPTOR)
    conn.connection_made(0.0)
    conn.receive_data(wire(make_rq()), 0.0)
    conn.send(make_ac(), 0.0)
    conn.data_to_send()
    drain(conn)
    return conn


@settings(max_examples=150, deadline=None)
@given(data=chunks, established=st.booleans())
def test_any_bytes_are_answered_never_raised(data: list[bytes], established: bool) -> None:
    """Whatever the peer sends, the connection reacts per the table and never raises."""
    if established:
        conn = established_acceptor()
    else:
        conn = ULConnection(Role.ACCEPTOR)
        conn.connection_made(0.0)
    for chunk in data:
        conn.receive_data(chunk, 1.0)
    events = drain(conn)
    out = sent_pdus(conn)  # whatever we send is well formed
    assert all(isinstance(p, AAbort) for p in out)  # an acceptor only ever aborts here
    aborts = [e for e in events if isinstance(e, AbortIndication)]
    assert len(aborts) <= 1
    if aborts and not aborts[0].from_peer:
        # a provider abort (AA-8) is always announced to the peer
        assert out
        assert out[0] == AAbort(source=AbortSource.SERVICE_PROVIDER, reason=aborts[0].reason)
    if conn.state is State.STA6:
        assert all(isinstance(e, DataIndication) for e in events)
    if conn.state is State.STA13:
        assert conn.get_timer() is not None


@settings(max_examples=150, deadline=None)
@given(stream=st.lists(st.sampled_from(VALID_PDUS), max_size=6), split=st.integers(1, 64))
def test_split_points_do_not_change_the_outcome(stream: list[bytes], split: int) -> None:
    """Feeding the same bytes whole or in small pieces gives the same events and state."""
    whole = established_acceptor()
    pieces = established_acceptor()
    data = b"".join(stream)
    if data:
        whole.receive_data(data, 0.0)
    for i in range(0, len(data), split):
        pieces.receive_data(data[i : i + split], 0.0)
    assert pieces.state is whole.state
    assert drain(pieces) == drain(whole)
    assert b"".join(pieces.data_to_send()) == b"".join(whole.data_to_send())


OPS = st.lists(
    st.tuples(
        st.sampled_from(["req", "acc"]),
        st.sampled_from(
            ["pdata", "release_rq", "release_rp", "abort", "ac", "deliver", "close", "timer"]
        ),
    ),
    max_size=25,
)


#: (requestor, acceptor) states in which a pair can rest with the link open and
#: nothing in flight: each side waits for a local primitive or for the other.
QUIESCENT = {
    (State.STA5, State.STA3),
    (State.STA6, State.STA6),
    (State.STA7, State.STA8),
    (State.STA8, State.STA7),
    (State.STA9, State.STA10),
    (State.STA11, State.STA12),
}


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_random_walk_follows_the_table(ops: list[tuple[str, str]]) -> None:
    """Random interleavings of primitives, deliveries, closes and timers.

    Local misuse is refused without effect, accepted primitives move as the table
    says, and once everything is delivered and the timers have run, the pair rests
    in a consistent pair of states or both sides are idle with the link closed.
    """
    pair = Pair(artim=1.0)
    pair.open()
    primitives = {
        "pdata": (make_pdata(), Event.EVT9),
        "release_rq": (AReleaseRQ(), Event.EVT11),
        "release_rp": (AReleaseRP(), Event.EVT14),
        "abort": (AAbort(), Event.EVT15),
        "ac": (make_ac(), Event.EVT7),
    }
    for side, op in ops:
        conn = getattr(pair, side)
        before = conn.state
        if op in primitives:
            pdu, event = primitives[op]
            cell = TRANSITIONS.get((before, event))
            try:
                conn.send(pdu, pair.now)
            except LocalProtocolError:
                assert cell is None
                assert conn.state is before
                continue
            assert cell is not None
            assert conn.state in cell.next_states
        elif op == "deliver":
            pair.deliver(conn)
        elif op == "close":
            pair.close_link()
        else:
            pair.advance(0.6)
        for c in (pair.req, pair.acc):
            drain(c)
    pair.pump()
    pair.advance(5.0)
    pair.pump()
    if pair.link_closed:
        assert pair.req.state is State.STA1
        assert pair.acc.state is State.STA1
    else:
        assert (pair.req.state, pair.acc.state) in QUIESCENT
