"""Scenarios for ULConnection: two ends wired back to back (see pair.py)."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codec import encode_pdata_segments
from dicomnet_pdu.codes import (
    AbortReason,
    AbortSource,
    RejectReasonACSE,
    RejectReasonUser,
    RejectResult,
    RejectSource,
)
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
from dicomnet_pdu.fsm import State
from dicomnet_pdu.pdus import (
    PDU,
    AAbort,
    AAssociateRJ,
    AReleaseRP,
    AReleaseRQ,
)

from .pair import Pair, drain, make_ac, make_pdata, make_rq, sent_pdus, wire

# -- establishment -------------------------------------------------------------------


def test_associate_accept() -> None:
    pair = Pair()
    rq = make_rq()
    pair.req.connect(rq)
    assert pair.req.state is State.STA4
    assert pair.req.data_to_send() == []  # AE-1: nothing sent before the transport is up
    pair.acc.connection_made(pair.now)
    assert pair.acc.state is State.STA2
    assert pair.acc.get_timer() == pair.now + 5.0  # AE-5 starts ARTIM
    pair.req.connection_made(pair.now)
    assert pair.req.state is State.STA5
    assert pair.req.get_timer() is None

    pair.deliver(pair.req)
    assert drain(pair.acc) == [AssociateIndication(rq)]
    assert pair.acc.state is State.STA3
    assert pair.acc.get_timer() is None  # AE-6 stops ARTIM

    ac = make_ac()
    pair.acc.send(ac, pair.now)
    assert pair.acc.state is State.STA6
    pair.deliver(pair.acc)
    events = drain(pair.req)
    assert len(events) == 1
    assert isinstance(events[0], AssociateAccepted)
    assert events[0].ac.presentation_contexts == ac.presentation_contexts
    assert pair.req.state is State.STA6
    assert not pair.req.should_close
    assert not pair.acc.should_close


def test_associate_reject() -> None:
    pair = Pair()
    pair.open()
    pair.deliver(pair.req)
    drain(pair.acc)
    rj = AAssociateRJ(
        result=RejectResult.PERMANENT,
        source=RejectSource.SERVICE_USER,
        reason=RejectReasonUser.CALLED_AE_TITLE_NOT_RECOGNIZED,
    )
    pair.acc.send(rj, pair.now)
    assert pair.acc.state is State.STA13  # AE-8
    assert pair.acc.get_timer() == pair.now + 5.0
    assert not pair.acc.should_close  # waits for the requestor to close
    pair.deliver(pair.acc)
    assert drain(pair.req) == [AssociateRejected(rj)]
    assert pair.req.state is State.STA1  # AE-4
    assert pair.req.should_close
    pair.pump()
    assert drain(pair.acc) == [TransportClosed()]  # AR-5
    assert pair.acc.state is State.STA1
    assert pair.acc.get_timer() is None
    assert drain(pair.req) == [TransportClosed()]


def test_unsupported_protocol_version_is_rejected_by_the_provider() -> None:
    pair = Pair()
    pair.open(make_rq(protocol_version=0x0002))
    pair.deliver(pair.req)
    assert drain(pair.acc) == []  # no indication: the service-provider answers (AE-6)
    assert pair.acc.state is State.STA13
    assert pair.acc.get_timer() == pair.now + 5.0
    (rj,) = sent_pdus(pair.acc)
    assert rj == AAssociateRJ(
        result=RejectResult.PERMANENT,
        source=RejectSource.SERVICE_PROVIDER_ACSE,
        reason=RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED,
    )


def test_protocol_version_only_bit_0_is_tested() -> None:
    pair = Pair()
    rq = make_rq(protocol_version=0x0003)
    pair.open(rq)
    pair.deliver(pair.req)
    assert drain(pair.acc) == [AssociateIndication(rq)]
    assert pair.acc.state is State.STA3


# -- data transfer -------------------------------------------------------------------


def test_pdata_both_ways() -> None:
    pair = Pair()
    pair.establish()
    to_acc = make_pdata(b"command from requestor")
    pair.req.send(to_acc, pair.now)
    pair.deliver(pair.req)
    (event,) = drain(pair.acc)
    assert isinstance(event, DataIndication)
    assert event.pdata == to_acc

    to_req = make_pdata(b"\x00" * 1000, is_command=False)
    pair.acc.send_pdata_segments(encode_pdata_segments(to_req))
    pair.deliver(pair.acc)
    (event,) = drain(pair.req)
    assert isinstance(event, DataIndication)
    assert event.pdata == to_req
    assert pair.req.state is State.STA6
    assert pair.acc.state is State.STA6


def test_pdata_segments_are_queued_without_copying() -> None:
    pair = Pair()
    pair.establish()
    payload = memoryview(b"x" * 100)
    segments: list[bytes | memoryview] = [b"header", payload]
    pair.req.send_pdata_segments(segments)
    out = pair.req.data_to_send()
    assert out[1] is payload


def test_many_pdus_in_one_read_and_one_pdu_split_across_reads() -> None:
    pair = Pair()
    pair.establish()
    pdatas = [make_pdata(bytes([i]) * 10) for i in range(5)]
    data = b"".join(wire(p) for p in pdatas)
    pair.acc.receive_data(data[:3], pair.now)
    assert drain(pair.acc) == []
    pair.acc.receive_data(data[3:], pair.now)
    assert [e.pdata for e in drain(pair.acc) if isinstance(e, DataIndication)] == pdatas


# -- release -------------------------------------------------------------------------


def test_normal_release() -> None:
    pair = Pair()
    pair.establish()
    pair.req.send(AReleaseRQ(), pair.now)
    assert pair.req.state is State.STA7
    pair.deliver(pair.req)
    assert drain(pair.acc) == [ReleaseIndication(collision=False)]
    assert pair.acc.state is State.STA8

    # data may still flow from the acceptor while it has not answered (AR-7, AR-6)
    pair.acc.send(make_pdata(b"late"), pair.now)
    assert pair.acc.state is State.STA8
    pair.deliver(pair.acc)
    (late,) = drain(pair.req)
    assert isinstance(late, DataIndication)
    assert pair.req.state is State.STA7

    pair.acc.send(AReleaseRP(), pair.now)
    assert pair.acc.state is State.STA13  # AR-4
    assert pair.acc.get_timer() == pair.now + 5.0
    pair.deliver(pair.acc)
    assert drain(pair.req) == [ReleaseConfirmation()]
    assert pair.req.state is State.STA1  # AR-3 closes
    assert pair.req.should_close
    pair.pump()
    assert drain(pair.acc) == [TransportClosed()]
    assert pair.acc.state is State.STA1
    assert pair.acc.get_timer() is None


def test_release_collision_requestor_answers_first() -> None:
    pair = Pair()
    pair.establish()
    pair.req.send(AReleaseRQ(), pair.now)
    pair.acc.send(AReleaseRQ(), pair.now)  # both at once: neither has seen the other's
    assert pair.req.state is State.STA7
    assert pair.acc.state is State.STA7
    pair.deliver(pair.req)
    pair.deliver(pair.acc)
    assert drain(pair.req) == [ReleaseIndication(collision=True)]
    assert drain(pair.acc) == [ReleaseIndication(collision=True)]
    assert pair.req.state is State.STA9  # AR-8, requestor
    assert pair.acc.state is State.STA10  # AR-8, acceptor

    # The acceptor may not answer before the requestor's RP has arrived.
    with pytest.raises(LocalProtocolError, match="Sta10"):
        pair.acc.send(AReleaseRP(), pair.now)
    assert pair.acc.state is State.STA10

    pair.req.send(AReleaseRP(), pair.now)
    assert pair.req.state is State.STA11  # AR-9
    pair.deliver(pair.req)
    assert drain(pair.acc) == [ReleaseConfirmation()]
    assert pair.acc.state is State.STA12  # AR-10

    pair.acc.send(AReleaseRP(), pair.now)
    assert pair.acc.state is State.STA13  # AR-4
    pair.deliver(pair.acc)
    assert drain(pair.req) == [ReleaseConfirmation()]
    assert pair.req.state is State.STA1  # AR-3
    pair.pump()
    assert drain(pair.acc) == [TransportClosed()]
    assert pair.acc.state is State.STA1
    assert pair.req.state is State.STA1


# -- abort ---------------------------------------------------------------------------


@pytest.mark.parametrize("aborter", ["req", "acc"])
def test_abort(aborter: str) -> None:
    pair = Pair()
    pair.establish()
    local = getattr(pair, aborter)
    remote = pair.other(local)
    local.send(AAbort(source=AbortSource.SERVICE_USER), pair.now)
    assert local.state is State.STA13  # AA-1
    assert local.get_timer() == pair.now + 5.0
    assert drain(local) == []
    pair.deliver(local)
    assert drain(remote) == [
        AbortIndication(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED, from_peer=True)
    ]
    assert remote.state is State.STA1  # AA-3
    assert remote.should_close
    pair.pump()
    assert drain(local) == [TransportClosed()]  # AR-5
    assert local.state is State.STA1


def test_abort_before_association_is_sent_as_given() -> None:
    pair = Pair()
    pair.open()
    pair.deliver(pair.req)
    drain(pair.acc)
    abort = AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNEXPECTED_PDU)
    pair.acc.send(abort, pair.now)
    assert sent_pdus(pair.acc) == [abort]
    assert pair.acc.state is State.STA13


def test_abort_while_connecting_closes_without_a_pdu() -> None:
    conn = ULConnection(Role.REQUESTOR)
    conn.connect(make_rq())
    conn.send(AAbort(), 0.0)
    assert conn.state is State.STA1  # AA-2
    assert conn.should_close
    assert conn.data_to_send() == []


# -- timers --------------------------------------------------------------------------


def test_artim_expiry_waiting_for_rq() -> None:
    pair = Pair(artim=2.0)
    pair.acc.connection_made(pair.now)
    assert pair.acc.get_timer() == 2.0
    pair.advance(1.9)
    assert pair.acc.state is State.STA2
    assert not pair.acc.should_close
    pair.advance(0.1)
    assert pair.acc.state is State.STA1  # AA-2
    assert pair.acc.should_close
    assert pair.acc.get_timer() is None
    assert pair.acc.data_to_send() == []
    pair.acc.receive_data(b"", pair.now)
    assert drain(pair.acc) == [TransportClosed()]


def test_artim_expiry_waiting_for_close() -> None:
    pair = Pair(artim=3.0)
    pair.establish()
    pair.req.send(AAbort(), pair.now)
    pair.deliver(pair.req)
    # The acceptor never closes (we do not pump), so the requestor's ARTIM runs out.
    pair.advance(2.0)
    assert pair.req.state is State.STA13
    assert not pair.req.should_close
    pair.advance(1.0)
    assert pair.req.state is State.STA1  # AA-2
    assert pair.req.should_close
    assert pair.req.get_timer() is None


def test_handle_timer_without_a_deadline_does_nothing() -> None:
    pair = Pair()
    pair.establish()
    pair.advance(1000.0)
    assert pair.req.state is State.STA6
    assert pair.acc.state is State.STA6


# -- bad input from the peer ---------------------------------------------------------


def test_invalid_pdu_type_aborts_with_unrecognized_pdu() -> None:
    pair = Pair()
    pair.establish()
    pair.acc.receive_data(b"\x09\x00\x00\x00\x00\x00", pair.now)
    assert pair.acc.state is State.STA13  # AA-8
    assert drain(pair.acc) == [
        AbortIndication(AbortSource.SERVICE_PROVIDER, AbortReason.UNRECOGNIZED_PDU, False)
    ]
    assert sent_pdus(pair.acc) == [
        AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNRECOGNIZED_PDU)
    ]
    assert pair.acc.get_timer() == pair.now + 5.0
    # the rest of the stream is not parsed any more
    pair.acc.receive_data(wire(make_pdata()), pair.now)
    assert drain(pair.acc) == []
    assert pair.acc.state is State.STA13


def test_malformed_pdu_aborts_with_the_decoder_reason() -> None:
    pair = Pair()
    pair.establish()
    # A-RELEASE-RQ must have a PDU-length of 4
    pair.req.receive_data(b"\x05\x00\x00\x00\x00\x02\x00\x00", pair.now)
    assert pair.req.state is State.STA13
    (event,) = drain(pair.req)
    assert isinstance(event, AbortIndication)
    assert event.source is AbortSource.SERVICE_PROVIDER
    assert not event.from_peer
    (abort,) = sent_pdus(pair.req)
    assert isinstance(abort, AAbort)
    assert abort.source is AbortSource.SERVICE_PROVIDER
    assert abort.reason == event.reason
    assert abort.reason is not AbortReason.UNEXPECTED_PDU


def test_pdata_before_association_in_sta2_is_aa1() -> None:
    pair = Pair()
    pair.acc.connection_made(pair.now)
    pair.now = 1.0
    pair.acc.receive_data(wire(make_pdata()), pair.now)
    assert pair.acc.state is State.STA13  # AA-1
    assert drain(pair.acc) == []
    assert sent_pdus(pair.acc) == [AAbort(source=AbortSource.SERVICE_USER)]
    assert pair.acc.get_timer() == 6.0  # restarted


def test_pdata_while_awaiting_ac_is_aa8() -> None:
    pair = Pair()
    pair.open()
    pair.req.data_to_send()
    pair.req.receive_data(wire(make_pdata()), pair.now)
    assert pair.req.state is State.STA13
    assert drain(pair.req) == [
        AbortIndication(AbortSource.SERVICE_PROVIDER, AbortReason.UNEXPECTED_PDU, False)
    ]
    assert sent_pdus(pair.req) == [
        AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNEXPECTED_PDU)
    ]


def test_sta13_ignores_pdus_and_answers_rq_with_abort() -> None:
    pair = Pair()
    pair.establish()
    pair.acc.send(AAbort(), pair.now)
    pair.acc.data_to_send()
    pair.acc.receive_data(wire(make_pdata()) + wire(AReleaseRQ()), pair.now)
    assert pair.acc.state is State.STA13  # AA-6
    assert pair.acc.data_to_send() == []
    assert drain(pair.acc) == []
    pair.acc.receive_data(wire(make_rq()), pair.now)
    assert pair.acc.state is State.STA13  # AA-7
    assert sent_pdus(pair.acc) == [
        AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNEXPECTED_PDU)
    ]
    pair.acc.receive_data(wire(AAbort()), pair.now)
    assert pair.acc.state is State.STA1  # AA-2
    assert pair.acc.should_close


def test_transport_closed_unexpectedly() -> None:
    pair = Pair()
    pair.establish()
    pair.close_link()
    for conn in (pair.req, pair.acc):
        assert drain(conn) == [
            AbortIndication(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED, False)
        ]
        assert conn.state is State.STA1  # AA-4
    pair.req.receive_data(b"", pair.now)
    assert drain(pair.req) == []  # reported once


def test_transport_closed_before_rq() -> None:
    pair = Pair()
    pair.acc.connection_made(pair.now)
    pair.acc.receive_data(b"", pair.now)
    assert pair.acc.state is State.STA1  # AA-5
    assert pair.acc.get_timer() is None
    assert drain(pair.acc) == [TransportClosed()]


def test_peer_abort_stops_parsing() -> None:
    pair = Pair()
    pair.establish()
    pair.req.receive_data(wire(AAbort()) + wire(make_pdata()), pair.now)
    assert [type(e) for e in drain(pair.req)] == [AbortIndication]
    assert pair.req.state is State.STA1


def test_oversized_pdata_is_rejected_by_the_framer() -> None:
    pair = Pair(max_pdu_receive=1024)
    pair.establish()
    pair.acc.receive_data(wire(make_pdata(b"y" * 2000)), pair.now)
    assert pair.acc.state is State.STA13
    (event,) = drain(pair.acc)
    assert isinstance(event, AbortIndication)
    assert not event.from_peer


def test_set_max_pdu_receive_raises_the_limit() -> None:
    pair = Pair(max_pdu_receive=1024)
    pair.establish()
    pair.acc.set_max_pdu_receive(4096)
    pair.acc.receive_data(wire(make_pdata(b"y" * 2000)), pair.now)
    assert pair.acc.state is State.STA6
    assert [type(e) for e in drain(pair.acc)] == [DataIndication]


# -- local misuse --------------------------------------------------------------------


def test_pdata_before_association_is_local_misuse() -> None:
    pair = Pair()
    pair.open()
    with pytest.raises(LocalProtocolError, match="P-DATA request is not allowed in Sta5"):
        pair.req.send(make_pdata(), pair.now)
    with pytest.raises(LocalProtocolError):
        pair.req.send_pdata_segments([b"x"])
    assert pair.req.state is State.STA5
    assert len(sent_pdus(pair.req)) == 1  # only the RQ


@pytest.mark.parametrize(
    ("pdu", "state"),
    [
        (AReleaseRQ(), State.STA2),
        (AReleaseRP(), State.STA2),
        (make_ac(), State.STA2),
        (AAbort(), State.STA2),
    ],
)
def test_primitives_before_rq_are_local_misuse(pdu: PDU, state: State) -> None:
    conn = ULConnection(Role.ACCEPTOR)
    conn.connection_made(0.0)
    with pytest.raises(LocalProtocolError):
        conn.send(pdu, 0.0)
    assert conn.state is state
    assert conn.data_to_send() == []


def test_send_rq_and_acceptor_connect_are_misuse() -> None:
    req = ULConnection(Role.REQUESTOR)
    with pytest.raises(LocalProtocolError, match="connect"):
        req.send(make_rq(), 0.0)
    acc = ULConnection(Role.ACCEPTOR)
    with pytest.raises(LocalProtocolError):
        acc.connect(make_rq())
    assert acc.state is State.STA1


def test_connection_made_twice_and_early_data_are_misuse() -> None:
    conn = ULConnection(Role.ACCEPTOR)
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"\x01", 0.0)
    conn.connection_made(0.0)
    with pytest.raises(LocalProtocolError):
        conn.connection_made(0.0)
    req = ULConnection(Role.REQUESTOR)
    with pytest.raises(LocalProtocolError):
        req.connection_made(0.0)  # no A-ASSOCIATE request yet
    assert req.state is State.STA1


def test_release_twice_is_misuse() -> None:
    pair = Pair()
    pair.establish()
    pair.req.send(AReleaseRQ(), pair.now)
    with pytest.raises(LocalProtocolError, match="A-RELEASE request"):
        pair.req.send(AReleaseRQ(), pair.now)
    assert pair.req.state is State.STA7


def test_after_close_everything_local_is_misuse_and_input_is_dropped() -> None:
    pair = Pair()
    pair.establish()
    pair.req.send(AAbort(), pair.now)
    pair.pump()
    assert pair.req.state is State.STA1
    with pytest.raises(LocalProtocolError):
        pair.req.send(AAbort(), pair.now)
    assert [type(e) for e in drain(pair.acc)] == [AbortIndication, TransportClosed]
    pair.acc.receive_data(wire(make_pdata()), pair.now)
    assert drain(pair.acc) == []
