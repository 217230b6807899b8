"""ULProtocol.send_pdata: P-DATA-TF PDUs gathered into few ``writelines`` calls.

A fake transport records each ``writelines`` call; a fake core records what
it was given. The bytes on the wire must be the PDUs unchanged and in order,
batches must stop at the batch size, and the write buffer must be awaited
between batches (flow control).
"""

from __future__ import annotations

import asyncio
import mmap
from collections.abc import Iterator
from typing import Any

import pytest

from dicomnet.transport import COALESCE_BYTES, MIN_READ_SIZE, RECEIVE_BUFFER_SIZE, ULProtocol
from dicomnet_pdu.layout import ReadableData
from dicomnet_pdu.pdus import PDU
from dicomnet_pdu.pdv import fragment_message


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def writelines(self, data: list[bytes | memoryview]) -> None:
        self.writes.append(b"".join(bytes(d) for d in data))

    def write(self, data: bytes | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


class FakeCore:
    should_close = False

    def __init__(self) -> None:
        self.out: list[bytes | memoryview] = []
        self.calls = 0

    def connection_made(self, now: float) -> None:
        pass

    def receive_data(self, data: bytes | memoryview, now: float) -> None:
        pass

    def receive_buffer(self, data: memoryview, now: float) -> int:
        return len(data)

    def receive_pdata(self, data: memoryview) -> None:
        return None

    def next_event(self) -> Any:
        return None

    def send(self, pdu: PDU, now: float) -> None:
        pass

    def send_pdata_segments(self, segments: list[bytes | memoryview]) -> None:
        self.calls += 1
        self.out.extend(segments)

    def data_to_send(self) -> list[bytes | memoryview]:
        out, self.out = self.out, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def message_pdus(size: int) -> list[list[bytes | memoryview]]:
    return list(fragment_message(1, b"\x01" * 20, bytes(size), max_pdu_length=16384))


def connected() -> tuple[ULProtocol, FakeTransport, FakeCore]:
    core = FakeCore()
    protocol = ULProtocol(core)
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport, core


@pytest.mark.parametrize("batch", [1, 16390, 65536, 10**9])
async def test_batches_keep_the_bytes_and_stop_at_the_batch_size(batch: int) -> None:
    protocol, transport, core = connected()
    pdus = message_pdus(200_000)
    wire = b"".join(bytes(s) for pdu in pdus for s in pdu)
    await protocol.send_pdata(iter(pdus), batch_bytes=batch)
    await asyncio.sleep(0)  # a small last batch is written at the end of the loop step
    assert b"".join(transport.writes) == wire
    pdu_bytes = [sum(len(s) for s in pdu) for pdu in pdus]
    if batch == 1:
        assert len(transport.writes) == len(pdus)
    elif batch >= len(wire):
        assert len(transport.writes) == 1
    else:
        # Each write holds whole PDUs and ends as soon as it reaches the batch size.
        assert all(len(w) < batch + max(pdu_bytes) for w in transport.writes)
        assert all(len(w) >= batch for w in transport.writes[:-1])
        assert len(transport.writes) < len(pdus)
    assert core.calls == len(transport.writes)


async def test_small_messages_of_one_loop_step_go_out_in_one_write() -> None:
    protocol, transport, core = connected()
    messages = [message_pdus(300 + n) for n in range(5)]
    wire = b"".join(bytes(s) for pdus in messages for pdu in pdus for s in pdu)
    buffers = []
    for pdus in messages:
        await protocol.send_pdata(iter(pdus))
        buffers.append(pdus)
    assert transport.writes == []  # deferred to the end of this loop step
    # Copied when queued: a caller may reuse its buffers before the write.
    scratch = bytearray(b"\x07" * 100)
    await protocol.send_pdata(iter([[memoryview(scratch)[:6], memoryview(scratch)[6:]]]))
    scratch[:] = bytes(100)
    await asyncio.sleep(0)
    assert transport.writes == [wire + b"\x07" * 100]
    assert core.calls == 6


async def test_deferred_small_messages_are_written_once_a_batch_is_waiting() -> None:
    protocol, transport, _ = connected()
    pdus = message_pdus(1000)
    size = sum(len(s) for pdu in pdus for s in pdu)
    assert size < COALESCE_BYTES
    batch = 3 * size
    for _ in range(3):
        await protocol.send_pdata(iter(pdus), batch_bytes=batch)
    assert len(transport.writes) == 1 and len(transport.writes[0]) == 3 * size
    await asyncio.sleep(0)
    assert len(transport.writes) == 1


async def test_a_deferred_write_is_dropped_when_the_connection_is_lost() -> None:
    protocol, transport, _ = connected()
    await protocol.send_pdata(iter(message_pdus(100)))
    protocol.conn.out.append(b"late")  # type: ignore[attr-defined]
    protocol.connection_lost(None)
    protocol.conn.out.append(b"after")  # type: ignore[attr-defined]
    before = list(transport.writes)
    await asyncio.sleep(0)  # the scheduled flush runs and writes nothing
    assert transport.writes == before
    assert b"after" not in b"".join(transport.writes)


async def test_the_write_buffer_is_awaited_between_batches() -> None:
    protocol, transport, _ = connected()
    protocol.pause_writing()
    pdus = message_pdus(100_000)
    task = asyncio.ensure_future(protocol.send_pdata(iter(pdus), batch_bytes=32768))
    await asyncio.sleep(0.01)
    assert len(transport.writes) == 1  # the first batch went out, then it waits
    protocol.resume_writing()
    await task
    assert len(transport.writes) > 1


async def test_a_lost_connection_stops_the_sender() -> None:
    protocol, transport, _ = connected()
    protocol.connection_lost(None)
    with pytest.raises(ConnectionResetError):
        await protocol.send_pdata(iter(message_pdus(1000)))
    assert transport.writes == []


async def test_reads_shrink_near_the_high_water_mark() -> None:
    protocol, _, _ = connected()
    while len(protocol.get_buffer(-1)) < RECEIVE_BUFFER_SIZE:  # grown as bulk data fills it
        protocol.buffer_updated(len(protocol.get_buffer(-1)))
    full = len(protocol.get_buffer(-1))
    flow = protocol.flow
    flow.add_backlog(flow.read_room() - 40_000)
    assert len(protocol.get_buffer(-1)) == 40_000
    flow.add_backlog(39_000)  # 1000 bytes of room: still a useful read
    assert len(protocol.get_buffer(-1)) == MIN_READ_SIZE
    flow.consume_backlog(flow.backlog)
    assert len(protocol.get_buffer(-1)) == full


async def test_the_first_receive_buffer_is_not_mapped_and_bulk_reads_grow_into_a_map() -> None:
    # A connection that only carries small PDUs (an echo cycle) costs no mmap/munmap;
    # one whose reads fill the buffer moves to mapped buffers that go back to the system.
    protocol, _, _ = connected()
    first = protocol.get_buffer(-1)
    assert isinstance(first.obj, bytearray)
    protocol.buffer_updated(len(first))
    grown = protocol.get_buffer(-1)
    assert len(grown) > len(first)
    assert isinstance(grown.obj, mmap.mmap)


async def test_flush_writes_the_deferred_small_messages_now() -> None:
    protocol, transport, _ = connected()
    first = message_pdus(300)
    second = message_pdus(400)
    await protocol.send_pdata(iter(first))
    protocol.flush()
    assert transport.writes == [b"".join(bytes(s) for pdu in first for s in pdu)]
    protocol.flush()  # nothing deferred: nothing written
    await protocol.send_pdata(iter(second))
    await asyncio.sleep(0)  # the end of the step writes what came after the flush
    assert transport.writes[1:] == [b"".join(bytes(s) for pdu in second for s in pdu)]


async def test_flush_writes_the_deferred_messages_at_once_and_only_once() -> None:
    protocol, transport, _ = connected()
    first, second = message_pdus(300), message_pdus(400)
    wire = b"".join(bytes(s) for pdus in (first, second) for pdu in pdus for s in pdu)
    await protocol.send_pdata(iter(first))
    await protocol.send_pdata(iter(second))
    assert transport.writes == []
    protocol.flush()
    assert transport.writes == [wire]  # before the end of the loop step
    protocol.flush()  # nothing waits: no empty write
    await asyncio.sleep(0)  # the end-of-step write was cancelled
    assert transport.writes == [wire]
    await protocol.send_pdata(iter(first))  # later messages are deferred again
    assert len(transport.writes) == 1
    await asyncio.sleep(0)
    assert len(transport.writes) == 2


async def test_an_echo_and_an_idle_acceptors_response_are_written_in_their_own_step() -> None:
    from dicomnet.ae import AE

    written: list[str] = []
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
            (theirs,) = server.active
            for side, protocol in (("SCU", assoc.protocol), ("SCP", theirs.protocol)):
                transport = protocol._transport
                assert transport is not None
                for name in ("write", "writelines"):
                    original = getattr(transport, name)

                    def recording(data: Any, side: str = side, original: Any = original) -> None:
                        written.append(side)
                        original(data)

                    setattr(transport, name, recording)

                def end_of_step(original: Any = protocol._flush) -> None:
                    written.append("end of step")
                    original()

                protocol._flush = end_of_step  # type: ignore[method-assign]
            assert (await assoc.echo()).is_success
    # Neither the request nor the response waited for the end of a loop step (the
    # acceptor answers inside the read that brought the request, written at its end).
    assert written[:2] == ["SCU", "SCP"]


class MemoryData(ReadableData):
    """Bytes in memory as ReadableData (a file's data set, laid out in place)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    @property
    def length(self) -> int:
        return len(self.data)

    def readinto(self, views: list[memoryview]) -> None:
        for view in views:
            view[:] = self.data[self.position : self.position + len(view)]
            self.position += len(view)

    def chunks(self) -> Iterator[bytes]:
        yield self.data


class HoldingTransport(FakeTransport):
    """Keeps the buffers it is given, uncopied, as queued (uvloop, TLS, Python 3.12 may)."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[memoryview] = []

    def write(self, data: bytes | memoryview) -> None:
        self.held.append(memoryview(data))

    def get_write_buffer_size(self) -> int:
        return sum(len(v) for v in self.held)


def _laid_out_message(size: int, max_pdu: int = 16384) -> tuple[Iterator[Any], bytes]:
    data = bytes(i % 251 for i in range(size))
    general = fragment_message(1, b"\x01" * 20, iter([data]), max_pdu_length=max_pdu)
    wire = b"".join(bytes(s) for pdu in general for s in pdu)  # type: ignore[union-attr]
    return fragment_message(1, b"\x01" * 20, MemoryData(data), max_pdu_length=max_pdu), wire


async def test_a_laid_out_data_set_goes_out_in_batches_of_whole_pdus() -> None:
    protocol, transport, _ = connected()
    pdus, wire = _laid_out_message(200_000)
    await protocol.send_pdata(pdus, batch_bytes=65536)
    assert b"".join(transport.writes) == wire
    # The command PDU rides in the first batch; every batch but the last is full.
    assert len(transport.writes) == 4
    assert all(65536 - 16396 < len(w) <= 65536 + 26 for w in transport.writes[:-1])


async def test_a_buffer_the_transport_holds_is_not_written_over() -> None:
    protocol = ULProtocol(FakeCore())
    transport = HoldingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    pdus, wire = _laid_out_message(300_000)
    await protocol.send_pdata(pdus, batch_bytes=32768)
    assert len(transport.held) > 2
    assert b"".join(bytes(v) for v in transport.held) == wire


async def test_a_pause_between_batches_resumes_the_same_data_set() -> None:
    protocol, transport, _ = connected()
    pdus, wire = _laid_out_message(100_000)
    protocol.pause_writing()
    task = asyncio.ensure_future(protocol.send_pdata(pdus, batch_bytes=32768))
    await asyncio.sleep(0.01)
    assert len(transport.writes) == 1  # the first batch went out, then it waits
    protocol.resume_writing()
    await task
    assert b"".join(transport.writes) == wire


async def test_write_now_writes_what_a_delivery_deferred() -> None:
    protocol, transport, _ = connected()
    pdus = message_pdus(300)
    wire = b"".join(bytes(s) for pdu in pdus for s in pdu)
    protocol._delivering = True  # as inside an event's delivery: the transmit after it writes
    await protocol.send_pdata(iter(pdus))
    assert transport.writes == []
    protocol.write_now()
    assert transport.writes == [wire]
    protocol._delivering = False
    await protocol.send_pdata(iter(pdus))  # outside a delivery: at the end of the step
    protocol.write_now()  # or now, and the end-of-step write finds nothing
    await asyncio.sleep(0)
    assert transport.writes == [wire, wire]
