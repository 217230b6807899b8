"""A-ASSOCIATE-RQ/AC that break what PS3.8 makes mandatory are invalid PDUs (Evt19), and
items of unrecognized types are skipped (PS3.8 §9.3), seen through ULConnection.

Expected answers come from the transcribed Table 9-10 (``../shared/spec``): Evt19 in
Sta2 is AA-1 (A-ABORT, service-user source), in Sta5 AA-8 (A-ABORT, service-provider
source, with the decoder's reason).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.events import AbortIndication, AssociateAccepted, AssociateIndication
from dicomnet_pdu.fsm import State
from dicomnet_pdu.items import MaximumLength, UserInformation
from dicomnet_pdu.pdus import AAbort

from .pair import USER_INFO, Pair, drain, make_ac, make_rq, sent_pdus
from .spec_tables import state_table

VENDOR_ITEMS = b"\x60\x00\x00\x02zz" + b"\xff\x00\x00\x00"
TWO_MAX_LENGTHS = UserInformation(items=(*USER_INFO.items, *USER_INFO.items))
USER_INFO_WIRE = 4 + 8  # the 0x50 item holding one 8-byte Maximum Length sub-item


def _without_user_information(wire: bytes) -> bytes:
    """``wire`` (an RQ/AC ending with a user information item) without that item."""
    ui_length = int.from_bytes(wire[-USER_INFO_WIRE + 2 : -USER_INFO_WIRE + 4], "big")
    assert ui_length == USER_INFO_WIRE - 4
    body = wire[6:-USER_INFO_WIRE]
    return wire[:2] + len(body).to_bytes(4, "big") + body


def _insert_before_user_information(wire: bytes, extra: bytes) -> bytes:
    body = wire[6:-USER_INFO_WIRE] + extra + wire[-USER_INFO_WIRE:]
    return wire[:2] + len(body).to_bytes(4, "big") + body


def _rq_wire(kind: str) -> bytes:
    rq = make_rq()
    if kind == "no-user-information":
        return _without_user_information(encode_pdu(rq))
    if kind == "no-maximum-length":
        return encode_pdu(replace(rq, user_information=UserInformation()))
    if kind == "two-maximum-lengths":
        return encode_pdu(replace(rq, user_information=TWO_MAX_LENGTHS))
    assert kind == "repeated-context-id"
    context = rq.presentation_contexts[0]
    return encode_pdu(replace(rq, presentation_contexts=(context, context)))


MALFORMED = [
    "no-user-information",
    "no-maximum-length",
    "two-maximum-lengths",
    "repeated-context-id",
]


def test_the_spec_answers_evt19_in_sta2_with_aa1_and_in_sta5_with_aa8() -> None:
    cells = {(c.state, c.event): c.action for c in state_table()}
    assert cells[("Sta2", "Evt19")] == "AA-1"
    assert cells[("Sta5", "Evt19")] == "AA-8"


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_rq_is_aborted_not_accepted(kind: str) -> None:
    pair = Pair()
    pair.acc.connection_made(pair.now)
    pair.acc.receive_data(_rq_wire(kind), pair.now)
    assert drain(pair.acc) == []  # no A-ASSOCIATE indication: nothing to accept
    assert pair.acc.state is State.STA13
    assert sent_pdus(pair.acc) == [AAbort(source=AbortSource.SERVICE_USER)]


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_ac_is_aborted_by_the_requestor(kind: str) -> None:
    pair = Pair()
    pair.open()
    pair.deliver(pair.req)
    drain(pair.acc)
    ac = make_ac()
    if kind == "no-user-information":
        wire = _without_user_information(encode_pdu(ac))
    elif kind == "no-maximum-length":
        wire = encode_pdu(replace(ac, user_information=UserInformation()))
    elif kind == "two-maximum-lengths":
        wire = encode_pdu(replace(ac, user_information=TWO_MAX_LENGTHS))
    else:
        context = ac.presentation_contexts[0]
        wire = encode_pdu(replace(ac, presentation_contexts=(context, context)))
    pair.req.receive_data(wire, pair.now)
    (event,) = drain(pair.req)
    assert isinstance(event, AbortIndication)
    assert pair.req.state is State.STA13
    (abort,) = sent_pdus(pair.req)
    assert abort.source is AbortSource.SERVICE_PROVIDER  # type: ignore[union-attr]
    assert abort.reason in (  # type: ignore[union-attr]
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
        AbortReason.UNEXPECTED_PDU_PARAMETER,
    )


def test_unrecognized_items_in_rq_reach_the_user_as_the_plain_request() -> None:
    pair = Pair()
    pair.acc.connection_made(pair.now)
    wire = _insert_before_user_information(encode_pdu(make_rq()), VENDOR_ITEMS)
    pair.acc.receive_data(wire, pair.now)
    assert drain(pair.acc) == [AssociateIndication(make_rq())]
    assert pair.acc.state is State.STA3


def test_unrecognized_items_in_ac_reach_the_user_as_the_plain_accept() -> None:
    pair = Pair()
    pair.open()
    pair.deliver(pair.req)
    drain(pair.acc)
    wire = _insert_before_user_information(encode_pdu(make_ac()), VENDOR_ITEMS)
    pair.req.receive_data(wire, pair.now)
    assert drain(pair.req) == [AssociateAccepted(make_ac())]
    assert pair.req.state is State.STA6


def test_maximum_length_zero_is_still_unlimited_and_accepted() -> None:
    pair = Pair()
    pair.acc.connection_made(pair.now)
    rq = replace(
        make_rq(), user_information=UserInformation(items=(MaximumLength(maximum_length=0),))
    )
    pair.acc.receive_data(encode_pdu(rq), pair.now)
    assert drain(pair.acc) == [AssociateIndication(rq)]
