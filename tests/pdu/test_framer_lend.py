"""PDUFramer.lend/take_back/take_pdata: parsing a caller's buffer in place."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.errors import LocalProtocolError, RemoteProtocolError
from dicomnet_pdu.framer import PDataScan, PDUFramer, PDVItem
from dicomnet_pdu.pdus import PDV, AReleaseRQ, PDataTF
from pdu.vectors.golden import GOLDEN

STREAM = b"".join(wire for _, _, wire in GOLDEN)
EXPECTED = [pdu for _, pdu, _ in GOLDEN]


def pdata(data: bytes, *, context_id: int = 1, control: int = 0) -> bytes:
    pdv = PDV(
        context_id=context_id, is_command=bool(control & 1), is_last=bool(control & 2), data=data
    )
    return encode_pdu(PDataTF(pdvs=(pdv,)))


def test_lent_buffer_gives_the_same_pdus_and_reports_what_it_consumed() -> None:
    framer = PDUFramer(max_pdata_length=0)
    buffer = bytearray(STREAM + STREAM[:10])
    framer.lend(memoryview(buffer))
    out = []
    while (pdu := framer.next_pdu()) is not None:
        out.append(pdu)
    assert out == EXPECTED
    assert framer.take_back() == len(STREAM)
    assert framer.buffered == 0


def test_take_pdata_returns_views_of_the_buffer_without_copying() -> None:
    wire = pdata(b"a" * 100) + pdata(b"b" * 50, control=2) + encode_pdu(AReleaseRQ())
    buffer = bytearray(wire)
    view = memoryview(buffer)
    framer = PDUFramer()
    framer.lend(view)
    items: list[PDVItem] = []
    assert not framer.take_pdata(items)  # stopped at a whole PDU of another type
    assert [(c, ctl, bytes(v)) for c, ctl, v in items] == [(1, 0, b"a" * 100), (1, 2, b"b" * 50)]
    buffer[12] = ord("z")  # the payload is the buffer itself
    assert bytes(items[0][2][:1]) == b"z"
    assert framer.next_pdu() == AReleaseRQ()  # what is not a P-DATA-TF is left for next_pdu
    assert framer.take_back() == len(wire)


def test_take_pdata_stops_at_an_incomplete_pdu() -> None:
    wire = pdata(b"a" * 100) + pdata(b"b" * 50)
    framer = PDUFramer()
    framer.lend(memoryview(wire[:-1]))
    items: list[PDVItem] = []
    assert framer.take_pdata(items)  # says so: next_pdu has nothing either
    assert len(items) == 1 and framer.next_pdu() is None
    assert framer.take_back() == len(pdata(b"a" * 100))


def test_take_pdata_says_incomplete_only_when_the_headers_are_in_and_valid() -> None:
    whole = pdata(b"a" * 100)
    for cut, incomplete in ((0, True), (5, True), (len(whole) - 100 + 3, True)):
        framer = PDUFramer()
        framer.lend(memoryview(whole[: 12 + cut] if cut < 6 else whole[:cut]))
        assert framer.take_pdata([]) is incomplete
        assert framer.next_pdu() is None
        framer.take_back()
    short = PDUFramer()
    short.lend(memoryview(whole[:11]))  # the PDV header is not all in: next_pdu decides
    assert not short.take_pdata([])
    over = PDUFramer(max_pdata_length=50)
    over.lend(memoryview(whole[:20]))  # over the limit: refused by next_pdu, not waited for
    assert not over.take_pdata([])
    with pytest.raises(RemoteProtocolError):
        over.next_pdu()
    empty = PDUFramer()
    assert not empty.take_pdata([])


@pytest.mark.parametrize(
    "bad",
    [
        b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x00\x00",  # context ID 0
        b"\x04\x00\x00\x00\x00\x07\x00\x00\x00\x02\x01\x00\x00",  # PDV shorter than the PDU
        b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x01\x01\x00",  # item length below 2
    ],
)
def test_take_pdata_leaves_malformed_pdus_to_next_pdu(bad: bytes) -> None:
    framer = PDUFramer()
    framer.lend(memoryview(pdata(b"ok") + bad))
    items: list[PDVItem] = []
    framer.take_pdata(items)
    assert len(items) == 1
    with pytest.raises(RemoteProtocolError):
        framer.next_pdu()
    assert framer.take_back() == len(pdata(b"ok") + bad)  # broken: everything is dropped


def test_take_pdata_respects_the_limit() -> None:
    framer = PDUFramer(max_pdata_length=100)
    framer.lend(memoryview(pdata(b"x" * 94) + pdata(b"x" * 95)))
    items: list[PDVItem] = []
    framer.take_pdata(items)
    assert len(items) == 1  # 100 bytes: taken; the next one (101) is not
    with pytest.raises(RemoteProtocolError):
        framer.next_pdu()


def test_lend_and_feed_do_not_mix() -> None:
    framer = PDUFramer()
    framer.feed(b"\x04\x00")
    with pytest.raises(LocalProtocolError):
        framer.lend(memoryview(b"\x00\x00"))
    other = PDUFramer()
    other.lend(memoryview(b"\x04\x00"))
    with pytest.raises(LocalProtocolError):
        other.feed(b"\x00")
    assert other.take_back() == 0


def test_scan_checks_every_header_that_differs_from_the_last_one_passed() -> None:
    scan = PDataScan(0)
    good = pdata(b"x" * 40)
    # Same PDU-length as the good one, but context ID 0: it must not pass as "the same header".
    bad = good[:10] + b"\x00" + good[11:]
    items: list[PDVItem] = []
    assert scan.scan(memoryview(good + good + bad), 0, items) == (2 * len(good), False)
    assert len(items) == 2
    items.clear()  # the header passed in an earlier call is remembered; the bad one still is not
    assert scan.scan(memoryview(bad), 0, items) == (0, False) and items == []
    assert scan.scan(memoryview(good + pdata(b"y" * 40, control=2)), 0, items) == (
        2 * len(good),
        False,
    )
    assert [(c, ctl) for c, ctl, _ in items] == [(1, 0), (1, 2)]


def test_scan_forgets_the_header_passed_when_the_limit_changes() -> None:
    scan = PDataScan(0)
    wire = pdata(b"x" * 94)  # PDU-length 100
    items: list[PDVItem] = []
    assert scan.scan(memoryview(wire), 0, items) == (len(wire), False)
    scan.set_limit(99)
    assert scan.scan(memoryview(wire), 0, items) == (0, False)  # over the new limit
    assert len(items) == 1
    framer = PDUFramer(max_pdata_length=0)
    framer.lend(memoryview(wire))
    assert not framer.take_pdata(items) and len(items) == 2
    framer.take_back()
    framer.set_max_pdata_length(99)
    framer.lend(memoryview(wire))
    assert not framer.take_pdata(items) and len(items) == 2
    with pytest.raises(RemoteProtocolError):
        framer.next_pdu()
