"""The stalled suite's SCU bytes: a request, a whole command, and an unfinished data set."""

from __future__ import annotations

from benchmarks.harness import SUITES
from benchmarks.stalled_suite import _stream
from dicomnet_pdu.codec import PDU_HEADER, PDU_HEADER_LENGTH, decode_pdu
from dicomnet_pdu.pdus import AAssociateRQ, PDataTF


def split_pdata(data: bytes) -> list[PDataTF]:
    pdus = []
    while data:
        _, length = PDU_HEADER.unpack(data[:PDU_HEADER_LENGTH])
        end = PDU_HEADER_LENGTH + length
        pdu = decode_pdu(data[:end])
        assert isinstance(pdu, PDataTF)
        pdus.append(pdu)
        data = data[end:]
    return pdus


def test_a_stalled_scu_stops_inside_its_data_set() -> None:
    assert "stalled" in SUITES
    rq, partial = _stream("1.2.826.0.1.3680043.99.9.1")
    assert isinstance(decode_pdu(rq), AAssociateRQ)
    pdvs = [pdv for pdu in split_pdata(partial) for pdv in pdu.pdvs]
    assert [(pdv.is_command, pdv.is_last) for pdv in pdvs] == [(True, True), (False, False)]
