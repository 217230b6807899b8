"""A-ASSOCIATE-RQ bytes captured from DCMTK echoscu and pynetdicom: decode and re-encode."""

from __future__ import annotations

from dicomnet_pdu.codec import decode_pdu, encode_pdu
from dicomnet_pdu.framer import PDUFramer
from dicomnet_pdu.items import PresentationContextRQ
from dicomnet_pdu.pdus import AAssociateRQ
from pdu.vectors.captured import (
    ECHOSCU_DCMTK_367_RESERVED_FF_OFFSET,
    ECHOSCU_DCMTK_367_RQ,
    PYNETDICOM_304_RQ,
)

VERIFICATION = "1.2.840.10008.1.1"


def test_echoscu_rq_decodes() -> None:
    rq = decode_pdu(ECHOSCU_DCMTK_367_RQ)
    assert isinstance(rq, AAssociateRQ)
    assert (rq.called_ae_title, rq.calling_ae_title) == ("ANY-SCP", "ECHOSCU")
    assert rq.presentation_contexts == (
        PresentationContextRQ(
            context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=("1.2.840.10008.1.2",)
        ),
    )
    info = rq.user_information
    assert info.maximum_length == 16384
    assert info.implementation_class_uid == "1.2.276.0.7230010.3.0.3.6.7"  # odd length, unpadded
    assert info.implementation_version_name == "OFFIS_DCMTK_367"


def test_echoscu_rq_reencodes_identically_but_for_its_reserved_ff() -> None:
    """DCMTK puts 0xff in a reserved byte of the context item; PS3.8 says send 00, not test."""
    wire = encode_pdu(decode_pdu(ECHOSCU_DCMTK_367_RQ))
    expected = bytearray(ECHOSCU_DCMTK_367_RQ)
    assert expected[ECHOSCU_DCMTK_367_RESERVED_FF_OFFSET] == 0xFF
    expected[ECHOSCU_DCMTK_367_RESERVED_FF_OFFSET] = 0x00
    assert wire == bytes(expected)


def test_pynetdicom_rq_round_trips_byte_identical() -> None:
    rq = decode_pdu(PYNETDICOM_304_RQ)
    assert isinstance(rq, AAssociateRQ)
    assert (rq.called_ae_title, rq.calling_ae_title) == ("ANY-SCP", "PYNETDICOM")
    assert rq.presentation_contexts[0].abstract_syntax == VERIFICATION
    assert len(rq.presentation_contexts[0].transfer_syntaxes) == 4
    assert rq.user_information.maximum_length == 16382
    assert rq.user_information.implementation_version_name == "PYNETDICOM_304"
    assert encode_pdu(rq) == PYNETDICOM_304_RQ


def test_captures_through_the_framer_in_small_pieces() -> None:
    framer = PDUFramer()
    stream = ECHOSCU_DCMTK_367_RQ + PYNETDICOM_304_RQ
    out = []
    for start in range(0, len(stream), 7):
        framer.feed(stream[start : start + 7])
        while (pdu := framer.next_pdu()) is not None:
            out.append(pdu)
    assert out == [decode_pdu(ECHOSCU_DCMTK_367_RQ), decode_pdu(PYNETDICOM_304_RQ)]
