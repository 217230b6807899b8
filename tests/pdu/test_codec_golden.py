"""PDU codec against the hand-written PS3.8 byte vectors of ``vectors/golden.py``."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codec import decode_pdu, encode_pdata_segments, encode_pdu
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.items import PresentationContextAC
from dicomnet_pdu.pdus import PDU, PDV, AAssociateAC, PDataTF
from pdu.vectors.golden import (
    GOLDEN,
    P_DATA_BYTES,
)

h = bytes.fromhex


@pytest.mark.parametrize(
    ("pdu", "wire"), [(p, w) for _, p, w in GOLDEN], ids=[n for n, _, _ in GOLDEN]
)
def test_encode_matches_vector(pdu: PDU, wire: bytes) -> None:
    assert encode_pdu(pdu) == wire


@pytest.mark.parametrize(
    ("pdu", "wire"), [(p, w) for _, p, w in GOLDEN], ids=[n for n, _, _ in GOLDEN]
)
def test_decode_matches_object(pdu: PDU, wire: bytes) -> None:
    assert decode_pdu(wire) == pdu


def test_vectors_have_the_length_their_header_announces() -> None:
    for _, _, wire in GOLDEN:
        assert int.from_bytes(wire[2:6], "big") == len(wire) - 6


def test_pdata_segments_do_not_copy_payload() -> None:
    payload = bytearray(b"x" * 1000)
    view = memoryview(payload)[100:900]
    blob = b"y" * 10
    pdata = PDataTF(
        pdvs=(
            PDV(context_id=1, is_command=False, is_last=False, data=view),
            PDV(context_id=1, is_command=False, is_last=True, data=blob),
        )
    )
    segments = encode_pdata_segments(pdata)
    assert b"".join(segments) == encode_pdu(pdata)
    # header of the PDU and of the first PDV come first, then the payload itself
    assert segments[0] == h("04 00 00000336") + h("00000322 01 00")
    assert isinstance(segments[1], memoryview)
    assert segments[1].obj is payload  # same buffer, not a copy
    assert segments[3] is blob


def test_decoded_pdv_data_is_a_view_into_the_input() -> None:
    buf = bytearray(P_DATA_BYTES)
    pdata = decode_pdu(buf)
    assert isinstance(pdata, PDataTF)
    data = pdata.pdvs[0].data
    assert isinstance(data, memoryview)
    assert data.obj is buf
    assert bytes(data) == b"\x01\x02\x03"


def test_ac_with_absent_transfer_syntax_in_rejected_context() -> None:
    """A refused context without its (not significant) transfer syntax sub-item decodes."""
    body = b"".join(
        [
            h("0001 0000"),
            b"A".ljust(16),
            b"B".ljust(16),
            bytes(32),
            h("10 00 0015"),
            b"1.2.840.10008.3.1.1.1",
            h("21 00 0004 05 00 04 00"),  # ID 5, transfer syntaxes not supported, no sub-item
            h("50 00 0008 51 00 0004 00004000"),
        ]
    )
    ac = decode_pdu(h("02 00") + len(body).to_bytes(4, "big") + body)
    assert isinstance(ac, AAssociateAC)
    assert ac.presentation_contexts == (
        PresentationContextAC(
            context_id=5, result=PresentationContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
        ),
    )
