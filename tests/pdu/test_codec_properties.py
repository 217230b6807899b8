"""Property tests: round trips for every item and PDU, framer splits, and fuzzed input that
must only ever raise RemoteProtocolError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomnet_pdu.codec import decode_pdu, encode_pdata_segments, encode_pdu
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.errors import RemoteProtocolError
from dicomnet_pdu.framer import PDUFramer
from dicomnet_pdu.items import (
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    SubItem,
    UserInformation,
)
from dicomnet_pdu.pdus import PDU, AAssociateAC, AAssociateRQ, PDataTF
from pdu import pdu_strategies as S
from pdu.vectors.captured import ECHOSCU_DCMTK_367_RQ, PYNETDICOM_304_RQ
from pdu.vectors.golden import GOLDEN

SEEDS = [wire for _, _, wire in GOLDEN] + [ECHOSCU_DCMTK_367_RQ, PYNETDICOM_304_RQ]
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_MAX_LENGTH = MaximumLength(maximum_length=16384)


def _with_max_length(info: UserInformation) -> UserInformation:
    """``info`` with the Maximum Length sub-item PS3.8 requires, unless it has one."""
    if info.maximum_length is not None:
        return info
    return UserInformation(items=(_MAX_LENGTH, *info.items))


def _rq_with(info: UserInformation) -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1,
                abstract_syntax="1.2.840.10008.1.1",
                transfer_syntaxes=("1.2.840.10008.1.2",),
            ),
        ),
        user_information=_with_max_length(info),
    )


@FAST
@given(S.pdus)
def test_every_pdu_round_trips(pdu: PDU) -> None:
    wire = encode_pdu(pdu)
    assert decode_pdu(wire) == pdu
    assert int.from_bytes(wire[2:6], "big") == len(wire) - 6


@FAST
@given(S.sub_items)
def test_every_sub_item_round_trips(item: SubItem) -> None:
    rq = _rq_with(UserInformation(items=(item,)))
    decoded = decode_pdu(encode_pdu(rq))
    assert isinstance(decoded, AAssociateRQ)
    assert decoded.user_information == rq.user_information
    assert item in decoded.user_information.items


@FAST
@given(S.contexts_ac())
def test_every_ac_context_round_trips(pc: PresentationContextAC) -> None:
    ac = AAssociateAC(
        called_ae_title="A",
        calling_ae_title="B",
        presentation_contexts=(pc,),
        user_information=_with_max_length(UserInformation()),
    )
    assert decode_pdu(encode_pdu(ac)) == ac


@FAST
@given(S.pdata_tfs)
def test_pdata_segments_join_to_encoding(pdata: PDataTF) -> None:
    assert b"".join(encode_pdata_segments(pdata)) == encode_pdu(pdata)


@FAST
@given(st.lists(S.pdus, min_size=1, max_size=5), st.data())
def test_framer_gives_same_pdus_for_any_split(pdus: list[PDU], data: st.DataObject) -> None:
    stream = b"".join(encode_pdu(p) for p in pdus)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    framer = PDUFramer(max_pdata_length=0)
    out: list[PDU] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        framer.feed(stream[previous:cut])
        previous = cut
        while (pdu := framer.next_pdu()) is not None:
            out.append(pdu)
    assert out == pdus
    assert framer.buffered == 0


def _decode_only_remote_errors(data: bytes) -> None:
    try:
        decode_pdu(data)
    except RemoteProtocolError as exc:
        assert exc.abort_source == AbortSource.SERVICE_PROVIDER
        assert 0 <= exc.abort_reason <= 6


def _frame_only_remote_errors(data: bytes, limit: int = 1024) -> None:
    framer = PDUFramer(max_pdata_length=limit, max_associate_length=limit)
    try:
        for start in range(0, len(data), 13):
            framer.feed(data[start : start + 13])
            while framer.next_pdu() is not None:
                pass
            # never more held than one PDU at the limit plus what one feed brought in
            assert framer.buffered <= limit + 6 + 13
    except RemoteProtocolError as exc:
        assert exc.abort_source == AbortSource.SERVICE_PROVIDER
        assert framer.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_remote_errors(data: bytes) -> None:
    _decode_only_remote_errors(data)
    _frame_only_remote_errors(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7), st.binary(max_size=300))
def test_random_bodies_with_a_valid_header(pdu_type: int, body: bytes) -> None:
    wire = struct.pack(">BxL", pdu_type, len(body)) + body
    _decode_only_remote_errors(wire)
    _frame_only_remote_errors(wire)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid PDU (seed or generated) after bit flips, truncation or a length change."""
    base = bytearray(draw(st.one_of(st.sampled_from(SEEDS), S.pdus.map(encode_pdu))))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "length", "byte", "insert"]))
        if kind == "flip" and base:
            pos = draw(st.integers(0, len(base) - 1))
            base[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate" and base:
            del base[draw(st.integers(0, len(base) - 1)) :]
        elif kind == "length" and len(base) >= 6:
            base[2:6] = struct.pack(">L", draw(st.integers(0, 0xFFFFFFFF)))
        elif kind == "byte" and base:
            # item-length fields are 2 bytes anywhere in the body: overwrite a pair
            pos = draw(st.integers(0, len(base) - 1))
            base[pos : pos + 2] = draw(st.binary(min_size=2, max_size=2))
        elif kind == "insert":
            pos = draw(st.integers(0, len(base)))
            base[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(base)


@settings(max_examples=200, deadline=None)
@given(mutated())
def test_mutated_pdus_only_raise_remote_errors(data: bytes) -> None:
    _decode_only_remote_errors(data)
    _frame_only_remote_errors(data, limit=4096)


@FAST
@given(st.integers(0, 0xFFFFFFFF), st.integers(1, 7), st.integers(0, 1 << 20))
def test_framer_refuses_over_limit_header_before_the_body(
    length: int, pdu_type: int, limit: int
) -> None:
    framer = PDUFramer(max_pdata_length=limit, max_associate_length=limit)
    header = struct.pack(">BxL", pdu_type, length)
    fixed = pdu_type in (3, 5, 6, 7)
    too_big = (length != 4) if fixed else (limit != 0 or pdu_type != 4) and length > limit
    if (pdu_type in (1, 2) and length < 68) or (pdu_type == 4 and length < 6):
        too_big = True  # too short to hold the fixed fields / one PDV
    if too_big:
        with pytest.raises(RemoteProtocolError):
            framer.feed(header)
        assert framer.buffered == 0
    else:
        framer.feed(header)
        assert framer.next_pdu() is None
        assert framer.buffered == 6


def _rq_wire_with_user_info(value: bytes) -> bytes:
    wire = bytearray(encode_pdu(_rq_with(UserInformation())))
    max_length = b"\x51\x00\x00\x04" + (16384).to_bytes(4, "big")
    assert wire[-12:] == b"\x50\x00\x00\x08" + max_length
    wire[-10:-8] = (len(value) + 8).to_bytes(2, "big")
    wire += value
    wire[2:6] = (len(wire) - 6).to_bytes(4, "big")
    return bytes(wire)


@settings(max_examples=200, deadline=None)
@given(st.integers(0x50, 0x5A), st.binary(max_size=60), st.binary(max_size=8))
def test_random_sub_item_values_only_raise_remote_errors(
    item_type: int, value: bytes, after: bytes
) -> None:
    sub = bytes([item_type, 0]) + len(value).to_bytes(2, "big") + value
    _decode_only_remote_errors(_rq_wire_with_user_info(sub + after))


@st.composite
def length_prefixed_fields(draw: st.DrawFn) -> bytes:
    """Sub-item bodies made of 2-byte-length fields, some of them lying about their length."""
    out = b""
    for _ in range(draw(st.integers(0, 4))):
        field = draw(st.sampled_from([b"", b"1.2.3", b"1.2.840.10008.1.1", b"\xff\x00"]))
        length = draw(st.one_of(st.just(len(field)), st.integers(0, 70)))
        out += length.to_bytes(2, "big") + field
    return out + draw(st.binary(max_size=3))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([0x54, 0x56, 0x57, 0x58, 0x59]), st.binary(max_size=2), length_prefixed_fields()
)
def test_structured_sub_item_values_only_raise_remote_errors(
    item_type: int, prefix: bytes, value: bytes
) -> None:
    value = prefix + value
    sub = bytes([item_type, 0]) + len(value).to_bytes(2, "big") + value
    _decode_only_remote_errors(_rq_wire_with_user_info(sub))


@st.composite
def context_items(draw: st.DrawFn) -> bytes:
    """A presentation context item (RQ or AC form) with random sub-items."""
    item_type = draw(st.sampled_from([0x20, 0x21]))
    header = bytes([draw(st.integers(0, 255)), 0, draw(st.integers(0, 6)), 0])
    subs = b""
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from([0x30, 0x40, 0x10, 0x21, 0x51, 0x99]))
        field = draw(st.sampled_from([b"", b"1.2.840.10008.1.2", b"\xfe\xff", b"1.2 "]))
        subs += bytes([kind, 0]) + len(field).to_bytes(2, "big") + field
    value = draw(st.one_of(st.just(header), st.binary(max_size=4))) + subs
    return bytes([item_type, 0]) + len(value).to_bytes(2, "big") + value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([1, 2]), context_items(), context_items())
def test_random_context_items_only_raise_remote_errors(
    pdu_type: int, first: bytes, second: bytes
) -> None:
    fixed = b"\x00\x01\x00\x00" + b"SCP".ljust(16) + b"SCU".ljust(16) + bytes(32)
    app = b"\x10\x00\x00\x15" + b"1.2.840.10008.3.1.1.1"
    body = fixed + app + first + second + b"\x50\x00\x00\x00"
    wire = bytes([pdu_type, 0]) + len(body).to_bytes(4, "big") + body
    _decode_only_remote_errors(wire)
