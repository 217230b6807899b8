"""ULConnection.receive_buffer: bytes parsed in place, P-DATA reported as runs of PDVs; and
receive_pdata, its hot path for reads of P-DATA-TF alone in Sta6."""

from __future__ import annotations

import random

import pytest

from dicomnet_pdu.codes import AbortReason
from dicomnet_pdu.connection import ULConnection
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.events import AbortIndication, DataRun, ReleaseIndication, ULEvent
from dicomnet_pdu.pdus import PDV, AReleaseRQ, PDataTF
from dicomnet_pdu.pdv import fragment_message
from fsm.pair import Pair, drain, sent_pdus, wire


def message_bytes(payload: bytes, *, max_pdu: int = 1000, pack: bool = False) -> bytes:
    pdus = fragment_message(
        1, b"C" * 50, payload, max_pdu_length=max_pdu, pack_command_and_data=pack
    )
    return b"".join(bytes(segment) for pdu in pdus for segment in pdu)


class Reader:
    """What the transport does: one buffer, the unconsumed rest kept at its start."""

    def __init__(self, conn: ULConnection, *, hot: bool = False) -> None:
        self.conn = conn
        self.hot = hot  # offer each read to receive_pdata first, as the transport does
        self.kept = b""
        self.items: list[tuple[int, int, bytes]] = []
        self.events: list[ULEvent] = []
        self.taken = 0  # reads receive_pdata took

    def read(self, data: bytes) -> None:
        buffer = bytearray(self.kept + data)
        taken = self.conn.receive_pdata(memoryview(buffer)) if self.hot else None
        if taken is not None:
            self.taken += 1
            assert drain(self.conn) == []  # nothing queued
            pdvs, consumed = taken
            self.items += [(c, ctl, bytes(view)) for c, ctl, view in pdvs]
            self.kept = bytes(buffer[consumed:])
            buffer[:] = b"\xee" * len(buffer)
            return
        consumed = self.conn.receive_buffer(memoryview(buffer), 0.0)
        for event in drain(self.conn):
            if isinstance(event, DataRun):
                # Payloads are views of the buffer: taken before the buffer changes.
                self.items += [(c, ctl, bytes(view)) for c, ctl, view in event.pdvs]
            self.events.append(event)
        self.kept = bytes(buffer[consumed:])
        buffer[:] = b"\xee" * len(buffer)  # the transport reuses it: views must be done


def expected_items(data: bytes) -> list[tuple[int, int, bytes]]:
    """The PDVs of ``data`` as receive_data reports them (one DataIndication per PDU)."""
    pair = Pair()
    pair.establish()
    pair.acc.receive_data(data, pair.now)
    items = []
    for event in drain(pair.acc):
        pdata = getattr(event, "pdata", None)
        assert isinstance(pdata, PDataTF)
        items += [(p.context_id, p.control_header, bytes(p.data)) for p in pdata.pdvs]
    return items


@pytest.mark.parametrize("hot", [False, True])
@pytest.mark.parametrize("pack", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_any_split_gives_the_pdvs_of_receive_data(seed: int, pack: bool, hot: bool) -> None:
    data = message_bytes(bytes(range(256)) * 40, pack=pack) * 3
    rng = random.Random(seed)
    pair = Pair()
    pair.establish()
    reader = Reader(pair.acc, hot=hot)
    at = 0
    while at < len(data):
        step = rng.choice([1, 5, 6, 7, 11, 12, 13, 500, 1006, 3000, 9000])
        reader.read(data[at : at + step])
        at += step
    assert reader.kept == b""
    assert reader.items == expected_items(data)
    assert all(isinstance(event, DataRun) for event in reader.events)


def test_one_read_is_one_run_and_release_comes_after_it() -> None:
    pair = Pair()
    pair.establish()
    data = message_bytes(b"x" * 5000) + wire(AReleaseRQ())
    reader = Reader(pair.acc)
    reader.read(data)
    assert [type(event) for event in reader.events] == [DataRun, ReleaseIndication]
    assert reader.items == expected_items(message_bytes(b"x" * 5000))


def test_incomplete_pdu_is_not_consumed() -> None:
    pair = Pair()
    pair.establish()
    data = message_bytes(b"y" * 3000)
    first = 1006 + 3  # one whole PDU (the command's) and 3 bytes of the next header
    buffer = bytearray(data[:first])
    consumed = pair.acc.receive_buffer(memoryview(buffer), 0.0)
    assert consumed == len(wire_command()) and drain(pair.acc)


def wire_command() -> bytes:
    pdus = fragment_message(1, b"C" * 50, None, max_pdu_length=1000)
    return b"".join(bytes(segment) for pdu in pdus for segment in pdu)


def test_invalid_pdu_after_data_reports_the_data_then_aborts() -> None:
    pair = Pair()
    pair.establish()
    good = message_bytes(b"z" * 2000)
    bad = b"\x04\x00\x00\x00\x00\x06" + b"\x00\x00\x00\x02\x00\x00"  # PDV on context 0
    reader = Reader(pair.acc)
    reader.read(good + bad + b"junk")
    assert [type(event) for event in reader.events] == [DataRun, AbortIndication]
    assert reader.items == expected_items(good)
    abort = reader.events[-1]
    assert isinstance(abort, AbortIndication)
    assert abort.reason == AbortReason.INVALID_PDU_PARAMETER_VALUE
    assert reader.kept == b""  # nothing more is parsed after an invalid PDU
    assert sent_pdus(pair.acc)[-1].__class__.__name__ == "AAbort"


def test_over_limit_header_is_refused_before_its_body() -> None:
    pair = Pair(max_pdu_receive=16384)
    pair.establish()
    header = b"\x04\x00" + (16385).to_bytes(4, "big")
    consumed = pair.acc.receive_buffer(memoryview(bytearray(header)), 0.0)
    assert consumed == len(header)
    assert [type(event) for event in drain(pair.acc)] == [AbortIndication]


def test_before_connection_made_is_refused() -> None:
    pair = Pair()
    with pytest.raises(LocalProtocolError):
        pair.acc.receive_buffer(memoryview(bytearray(b"\x04")), 0.0)


def test_multi_pdv_pdu_is_reported_in_order() -> None:
    pair = Pair()
    pair.establish()
    pdu = PDataTF(
        pdvs=(
            PDV(context_id=1, is_command=True, is_last=True, data=b"cmd"),
            PDV(context_id=1, is_command=False, is_last=False, data=b"d1"),
        )
    )
    follow = PDataTF(pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=b"d2"),))
    reader = Reader(pair.acc)
    reader.read(wire(pdu) + wire(follow))
    assert reader.items == [(1, 3, b"cmd"), (1, 0, b"d1"), (1, 2, b"d2")]


def test_receive_pdata_takes_whole_pdata_and_the_headers_of_an_incomplete_one() -> None:
    pair = Pair()
    pair.establish()
    data = message_bytes(b"q" * 3000)  # PDUs of 62 (the command), 1006, 1006, ... bytes
    buffer = bytearray(data[: 62 + 1006 + 12])  # two whole PDUs and the next one's headers
    taken = pair.acc.receive_pdata(memoryview(buffer))
    assert taken is not None
    pdvs, consumed = taken
    assert consumed == 62 + 1006 and len(pdvs) == 2
    buffer[-13] = ord("Z")  # the payloads are views of the buffer
    assert bytes(pdvs[1][2][-1:]) == b"Z"
    assert drain(pair.acc) == [] and pair.acc.state.name == "STA6"


@pytest.mark.parametrize(
    "tail",
    [
        wire(AReleaseRQ()),  # another PDU type
        b"\x04\x00" + (16385).to_bytes(4, "big") + bytes(6),  # over the limit
        b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x00\x00",  # PDV on context 0
        b"\x04\x00\x00\x00",  # fewer than 12 bytes: left to the general path
    ],
)
def test_receive_pdata_leaves_any_other_read_to_receive_buffer(tail: bytes) -> None:
    pair = Pair(max_pdu_receive=16384)
    pair.establish()
    buffer = bytearray(message_bytes(b"r" * 2000) + tail)
    assert pair.acc.receive_pdata(memoryview(buffer)) is None
    assert drain(pair.acc) == [] and pair.acc.state.name == "STA6"  # nothing done


def test_receive_pdata_only_in_sta6_with_nothing_queued() -> None:
    pair = Pair()
    data = bytearray(message_bytes(b"s" * 100))
    pair.acc.connection_made(0.0)
    assert pair.acc.receive_pdata(memoryview(data)) is None  # Sta2
    pair = Pair()
    pair.establish()
    pair.acc.receive_buffer(memoryview(bytearray(wire(AReleaseRQ()))), 0.0)  # queued, Sta8
    assert pair.acc.receive_pdata(memoryview(data)) is None


def test_hot_reads_take_the_usual_reads() -> None:
    pair = Pair()
    pair.establish()
    reader = Reader(pair.acc, hot=True)
    data = message_bytes(b"t" * 20000)
    reads = [data[:62]] + [data[at : at + 1006] for at in range(62, len(data), 1006)]
    for read in reads:
        reader.read(read)
    assert reader.taken == len(reads)
    assert reader.items == expected_items(data)
