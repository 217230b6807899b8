"""PDUFramer: any split gives the same PDUs; limits are enforced on the header."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codec import decode_pdu, encode_pdu
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.errors import LocalProtocolError, RemoteProtocolError
from dicomnet_pdu.framer import PDUFramer
from dicomnet_pdu.pdus import PDU, PDV, PDataTF
from pdu.vectors.golden import GOLDEN, P_DATA_BYTES

STREAM = b"".join(wire for _, _, wire in GOLDEN)
EXPECTED = [pdu for _, pdu, _ in GOLDEN]


def _drain(framer: PDUFramer) -> list[PDU]:
    out: list[PDU] = []
    while (pdu := framer.next_pdu()) is not None:
        out.append(pdu)
    return out


def test_whole_stream_at_once() -> None:
    framer = PDUFramer()
    framer.feed(STREAM)
    assert _drain(framer) == EXPECTED
    assert framer.buffered == 0


def test_one_byte_at_a_time() -> None:
    framer = PDUFramer()
    out: list[PDU] = []
    for index in range(len(STREAM)):
        framer.feed(STREAM[index : index + 1])
        out.extend(_drain(framer))
    assert out == EXPECTED
    assert framer.buffered == 0


def test_none_until_complete_and_buffered_counts_bytes() -> None:
    framer = PDUFramer()
    assert framer.next_pdu() is None
    framer.feed(P_DATA_BYTES[:5])
    assert framer.next_pdu() is None
    assert framer.buffered == 5
    framer.feed(memoryview(P_DATA_BYTES)[5:-1])
    assert framer.next_pdu() is None
    framer.feed(bytearray(P_DATA_BYTES[-1:]))
    assert framer.buffered == len(P_DATA_BYTES)
    assert framer.next_pdu() == decode_pdu(P_DATA_BYTES)
    assert framer.buffered == 0


def test_returned_pdvs_survive_later_feeds() -> None:
    framer = PDUFramer(max_pdata_length=0)
    first = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=False, data=b"A" * 100),))
    second = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=b"B" * 100),))
    framer.feed(encode_pdu(first) + encode_pdu(second)[:50])
    got = framer.next_pdu()
    assert isinstance(got, PDataTF)
    framer.feed(encode_pdu(second)[50:] + bytes(200_000))  # forces growth/compaction paths
    assert framer.next_pdu() == second
    assert bytes(got.pdvs[0].data) == b"A" * 100


def test_large_stream_is_compacted() -> None:
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=False, data=bytes(16378)),))
    wire = encode_pdu(pdata)
    framer = PDUFramer()
    count = 0
    for _ in range(20):
        framer.feed(wire + wire[:100])
        count += len(_drain(framer))
        framer.feed(wire[100:])
        count += len(_drain(framer))
        assert framer.buffered < len(wire)
    assert count == 40
    assert framer.buffered == 0


def test_buffer_is_compacted_when_never_empty() -> None:
    """A stream that never ends on a PDU boundary still keeps the buffer bounded."""
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=False, data=bytes(16378)),))
    wire = encode_pdu(pdata)
    stream = wire * 64
    framer = PDUFramer()
    count = 0
    for start in range(0, len(stream), 10_000):
        framer.feed(stream[start : start + 10_000])
        count += len(_drain(framer))
        assert framer.buffered < len(wire)
        # consumed blocks are dropped: what is held is the partial PDU and one read
        assert sum(len(block) for block in framer._blocks) < len(wire) + 10_000
    assert count == 64
    assert framer.buffered == 0


def _expect(framer: PDUFramer, data: bytes, reason: AbortReason) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        framer.feed(data)
        framer.next_pdu()
    assert info.value.abort_reason == reason
    assert info.value.abort_source == AbortSource.SERVICE_PROVIDER
    assert framer.buffered == 0
    # the framer stays broken
    with pytest.raises(RemoteProtocolError):
        framer.next_pdu()
    with pytest.raises(RemoteProtocolError):
        framer.feed(b"\x05")


def test_two_gigabyte_header_is_refused_at_once() -> None:
    _expect(PDUFramer(), bytes.fromhex("04 00 80000000"), AbortReason.INVALID_PDU_PARAMETER_VALUE)
    _expect(PDUFramer(), bytes.fromhex("01 00 80000000"), AbortReason.INVALID_PDU_PARAMETER_VALUE)
    _expect(
        PDUFramer(max_pdata_length=0),
        bytes.fromhex("01 00 ffffffff"),
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
    )


def test_limit_raises_from_feed_before_body_is_buffered() -> None:
    framer = PDUFramer(max_pdata_length=100)
    with pytest.raises(RemoteProtocolError):
        framer.feed(bytes.fromhex("04 00 00000065"))  # 101 > 100
    assert framer.buffered == 0


def test_pdata_limit_is_inclusive_and_adjustable() -> None:
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=True, is_last=True, data=bytes(94)),))
    wire = encode_pdu(pdata)  # PDU-length 100
    framer = PDUFramer(max_pdata_length=100)
    framer.feed(wire)
    assert framer.next_pdu() == pdata
    framer.set_max_pdata_length(99)
    assert framer.max_pdata_length == 99
    _expect(framer, wire, AbortReason.INVALID_PDU_PARAMETER_VALUE)


def test_unlimited_pdata_length() -> None:
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=bytes(70000)),))
    framer = PDUFramer(max_pdata_length=0)
    framer.feed(encode_pdu(pdata))
    assert framer.next_pdu() == pdata


@pytest.mark.parametrize(
    "header",
    [
        "04 00 00000005",
        "05 00 00000005",
        "06 00 00000003",
        "07 00 00000000",
        "03 00 00000008",
        "01 00 00000010",
    ],
)
def test_fixed_size_pdus_with_wrong_length(header: str) -> None:
    _expect(PDUFramer(), bytes.fromhex(header), AbortReason.INVALID_PDU_PARAMETER_VALUE)


def test_unknown_pdu_type() -> None:
    _expect(PDUFramer(), bytes.fromhex("09 00 00000004"), AbortReason.UNRECOGNIZED_PDU)


def test_associate_limit() -> None:
    rq = next(wire for name, _, wire in GOLDEN if name == "associate-rq")
    framer = PDUFramer(max_associate_length=len(rq) - 6)
    framer.feed(rq)
    assert framer.next_pdu() is not None
    _expect(
        PDUFramer(max_associate_length=len(rq) - 7), rq, AbortReason.INVALID_PDU_PARAMETER_VALUE
    )


def test_malformed_body_raises_and_breaks_framer() -> None:
    _expect(
        PDUFramer(),
        bytes.fromhex("04 00 00000006 00000009 0100"),
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
    )


def test_bad_limits_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        PDUFramer(max_pdata_length=-1)
    with pytest.raises(LocalProtocolError):
        PDUFramer().set_max_pdata_length(1 << 32)


def test_fed_buffer_may_be_reused_at_once() -> None:
    """The transport hands a view of its receive buffer and overwrites it afterwards."""
    pdata = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=b"x" * 300),))
    wire = encode_pdu(pdata)
    receive = bytearray(len(wire))
    framer = PDUFramer()
    receive[:200] = wire[:200]
    framer.feed(memoryview(receive)[:200])
    receive[:] = bytes(len(receive))  # reused for the next read
    receive[: len(wire) - 200] = wire[200:]
    framer.feed(memoryview(receive)[: len(wire) - 200])
    receive[:] = b"\xff" * len(receive)
    assert framer.next_pdu() == pdata


def test_pdus_within_one_read_are_not_copied_again() -> None:
    first = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=False, data=b"a" * 500),))
    second = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=b"b" * 500),))
    framer = PDUFramer()
    framer.feed(bytearray(encode_pdu(first) + encode_pdu(second)))
    got = [framer.next_pdu(), framer.next_pdu()]
    assert got == [first, second]
    payloads = [pdu.pdvs[0].data for pdu in got if isinstance(pdu, PDataTF)]
    # Both payloads are views of the same block: one copy of the read, none per PDU.
    assert all(isinstance(p, memoryview) for p in payloads)
    assert isinstance(payloads[0], memoryview) and isinstance(payloads[1], memoryview)
    assert payloads[0].obj is payloads[1].obj
    assert framer.buffered == 0 and not framer._blocks


def test_header_split_over_many_feeds() -> None:
    pdata = PDataTF(pdvs=(PDV(context_id=3, is_command=True, is_last=True, data=b"c" * 40),))
    wire = encode_pdu(pdata)
    framer = PDUFramer()
    for index in range(5):
        framer.feed(wire[index : index + 1])
        assert framer.next_pdu() is None
    framer.feed(wire[5:7])
    assert framer.next_pdu() is None
    framer.feed(wire[7:])
    assert framer.next_pdu() == pdata
