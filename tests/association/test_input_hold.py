"""ULProtocol.hold_input: a listener stops in the middle of a read and goes on a step later.

The held payload views must stay valid (the receive buffer is not reused), no
later event may overtake the held one, a read arriving meanwhile hands the held
bytes on first, and an incomplete PDU behind them is kept for the next read.
Driven by hand over a fake transport, with a real ULConnection in Sta6.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import replace
from typing import Any

import pytest
from conftest import require_module
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, accept_into_sta6, pdata_bytes, store_rq_command
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.policy import ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet.transport import HOLDING, ULProtocol, run
from dicomnet_pdu import events as ul
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.pdus import AAssociateAC, AReleaseRP, AReleaseRQ

PDU_LENGTH = 16384
CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


class FakeTransport:
    """What ULProtocol and FlowControl call on an asyncio transport."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = False
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def writelines(self, data: list[bytes | memoryview]) -> None:
        self.written += [bytes(piece) for piece in data]

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0


class Recorder:
    """A listener that holds at its first DataRun and copies what it sees when it goes on."""

    def __init__(self, protocol_ref: list[ULProtocol]) -> None:
        self.protocol_ref = protocol_ref
        self.seen: list[object] = []
        self.held_views: list[memoryview] = []
        self.payloads: list[bytes] = []
        self.hold_next = True
        self.holds = 0

    def ul_event(self, event: object) -> None:
        if isinstance(event, ul.DataRun):
            views = [data for _, _, data in event.pdvs]
            if self.hold_next and self.protocol_ref[0].hold_input(lambda: self.resume(views)):
                self.hold_next = False
                self.holds += 1
                self.held_views = views
                self.seen.append("held")
                return
            self.resume(views)
            return
        self.seen.append(type(event).__name__)

    def resume(self, views: list[memoryview]) -> None:
        self.payloads += [bytes(view) for view in views]
        self.seen.append("data")

    def timer_expired(self, name: str, seconds: float) -> None:
        pass

    def link_lost(self, exc: BaseException | None) -> None:
        self.seen.append("lost")


def data_pdu(fill: int) -> bytes:
    """One P-DATA-TF of PDU-length 16384: one data PDV (not last) of ``fill`` bytes."""
    payload = bytes([fill]) * (PDU_LENGTH - 6)
    return struct.pack(">BBIIBB", 4, 0, PDU_LENGTH, PDU_LENGTH - 4, 1, 0) + payload


async def established() -> tuple[ULProtocol, FakeTransport, Recorder]:
    """An acceptor's ULProtocol in Sta6, its receive buffer grown to its full size."""
    conn = ULConnection(Role.ACCEPTOR, max_pdu_receive=PDU_LENGTH)
    ref: list[ULProtocol] = []
    recorder = Recorder(ref)
    protocol = ULProtocol(conn, listener=recorder, autostart=True, initial_buffer_size=1 << 18)
    ref.append(protocol)
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    accept_into_sta6(protocol, PDU_LENGTH, CT, EXPLICIT_LE)
    recorder.seen.clear()
    return protocol, transport, recorder


def feed(protocol: ULProtocol, data: bytes) -> None:
    """One read of ``data``, as the event loop does it."""
    buffer = protocol.get_buffer(-1)
    assert len(buffer) >= len(data)
    buffer[: len(data)] = data
    protocol.buffer_updated(len(data))


async def test_events_after_a_hold_wait_for_it_and_the_views_stay_valid() -> None:
    protocol, transport, recorder = await established()
    pdus = [data_pdu(fill) for fill in (1, 2, 3)]
    feed(protocol, b"".join(pdus) + encode_pdu(AReleaseRQ()))
    # Held: the release behind the data is not delivered yet.
    assert recorder.seen == ["held"]
    assert not transport.paused  # asyncio's loop reads again only after this step
    await asyncio.sleep(0)
    assert recorder.seen == ["held", "data", "ReleaseIndication"]
    assert recorder.payloads == [pdu[12:] for pdu in pdus]


async def test_a_read_while_held_hands_the_held_bytes_on_first() -> None:
    protocol, _, recorder = await established()
    first, second = data_pdu(7), data_pdu(8)
    feed(protocol, first)
    assert recorder.seen == ["held"]
    # The loop wants to read again before the step: the held views are used up first,
    # while they still show what was received.
    feed(protocol, second)
    assert recorder.seen == ["held", "data", "data"]
    assert recorder.payloads == [first[12:], second[12:]]
    await asyncio.sleep(0)  # the cancelled step changes nothing
    assert recorder.seen == ["held", "data", "data"]


async def test_an_incomplete_pdu_behind_held_bytes_is_kept_for_the_next_read() -> None:
    protocol, _, recorder = await established()
    first, second = data_pdu(1), data_pdu(2)
    feed(protocol, first + second[:5000])
    await asyncio.sleep(0)
    assert recorder.payloads == [first[12:]]
    feed(protocol, second[5000:])
    assert recorder.payloads == [first[12:], second[12:]]


async def test_the_end_of_the_connection_hands_the_held_bytes_on_first() -> None:
    protocol, _, recorder = await established()
    feed(protocol, data_pdu(9))
    protocol.connection_lost(None)
    assert recorder.seen[:2] == ["held", "data"]
    assert recorder.seen[-1] == "lost"


async def test_a_loop_that_reads_at_once_is_paused_while_held() -> None:
    """uvloop reads again within the same poll: reading pauses until the listener goes on."""
    protocol, transport, recorder = await established()
    real = asyncio.get_running_loop()

    class OtherLoop:  # not an asyncio.BaseEventLoop
        def call_soon(self, callback: Any, *args: Any) -> asyncio.Handle:
            return real.call_soon(callback, *args)

        def time(self) -> float:
            return real.time()

    asyncio.events._set_running_loop(OtherLoop())  # type: ignore[arg-type]
    try:
        feed(protocol, data_pdu(3))
    finally:
        asyncio.events._set_running_loop(real)
    assert recorder.seen == ["held"]
    assert transport.paused and protocol.flow.read_paused
    await asyncio.sleep(0)
    assert recorder.seen == ["held", "data"]
    assert not transport.paused and HOLDING not in protocol.flow._pause_reasons


# -- over a socket: a Storage SCP's handlers, early and late, get every byte in order ------

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


async def serve_and_send(late: bool) -> tuple[list[bytes], list[object]]:
    """Three C-STOREs of 300 KB and an A-RELEASE-RQ; what the SCP got, what it answered."""
    received: list[bytes] = []

    async def handler(request: IncomingRequest) -> int:
        assert request.data is not None
        if late:
            await asyncio.sleep(0.01)  # claims the stream only after the data arrived
        parts: list[bytes] = []
        request.data.consume_with(lambda views: parts.extend(bytes(v) for v in views))
        await request.data.finished()
        received.append(b"".join(parts))
        return 0

    policy = replace(storage_policy("SCP"), max_pdu_receive=PDU_LENGTH)
    ae = AE("SCP", policy, handlers=[Binding(command_field=0x0001, handler=handler)])
    contexts = (
        ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(IMPLICIT_LE,)),
    )
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=contexts)
    datasets = [bytes([n]) * 300_000 + bytes(range(256)) for n in (1, 2, 3)]
    answers: list[object] = []
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(rq), AAssociateAC)
            wire = [
                pdata_bytes(1, store_rq_command(n + 1, f"1.2.3.{n + 1}"), data, max_pdu=PDU_LENGTH)
                for n, data in enumerate(datasets)
            ]
            # Two requests in one write (the second waits for the window), then one alone.
            raw.send(wire[0] + wire[1])
            answers += [await raw.receive() for _ in range(2)]
            raw.send(wire[2])
            answers.append(await raw.receive())
            raw.send(AReleaseRQ())
            answers.append(await raw.receive())
        finally:
            await raw.close()
    assert received == datasets
    return received, answers


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("late", [False, True])
def test_stored_data_sets_are_whole_and_in_order(loop: str, late: bool) -> None:
    if loop == "uvloop":
        require_module("uvloop")
    _, answers = run(serve_and_send(late), use_uvloop=loop == "uvloop")
    *responses, release = answers
    assert [type(answer).__name__ for answer in responses] == ["PDataTF"] * 3
    assert isinstance(release, AReleaseRP)


# -- any split of the stream into reads, any holds, any loop steps: the same payloads ------


class RandomHolder(Recorder):
    """Holds at the DataRuns the test picks (and again from within a resume)."""

    def __init__(self, protocol_ref: list[ULProtocol], holds: list[bool]) -> None:
        super().__init__(protocol_ref)
        self.plan = holds

    def ul_event(self, event: object) -> None:
        if isinstance(event, ul.DataRun):
            views = [data for _, _, data in event.pdvs]
            wants = self.plan.pop(0) if self.plan else False
            if wants and self.protocol_ref[0].hold_input(lambda: self.resume(views)):
                self.holds += 1
                return
            self.resume(views)
            return
        self.seen.append(type(event).__name__)


def small_pdu(fill: int, size: int) -> bytes:
    """A P-DATA-TF with one data PDV of ``size`` bytes of ``fill``."""
    return struct.pack(">BBIIBB", 4, 0, size + 6, size + 2, 1, 0) + bytes([fill % 256]) * size


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([1, 2, 100, 5000, PDU_LENGTH - 6]), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=70_000), max_size=12),
    holds=st.lists(st.booleans(), max_size=12),
    steps=st.lists(st.booleans(), max_size=12),
)
def test_payloads_survive_any_reads_holds_and_steps(
    sizes: list[int], cuts: list[int], holds: list[bool], steps: list[bool]
) -> None:
    pdus = [small_pdu(n, size) for n, size in enumerate(sizes)]
    stream = b"".join(pdus) + encode_pdu(AReleaseRQ())

    async def scenario() -> Recorder:
        protocol, _, _ = await established()
        holder = RandomHolder([protocol], list(holds))
        protocol.listener = holder
        position, reads = 0, list(cuts)
        while position < len(stream):
            buffer = protocol.get_buffer(-1)
            want = reads.pop(0) if reads else len(stream)
            count = min(len(buffer), want, len(stream) - position)
            buffer[:count] = stream[position : position + count]
            position += count
            protocol.buffer_updated(count)
            if steps and steps.pop(0):
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        return holder

    holder = asyncio.run(scenario())
    assert b"".join(holder.payloads) == b"".join(pdu[12:] for pdu in pdus)
    assert holder.seen[-1] == "ReleaseIndication"
    assert holder.seen.count("ReleaseIndication") == 1
