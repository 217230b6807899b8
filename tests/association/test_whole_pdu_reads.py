"""A big PDU is read when it is all there: ``SO_RCVLOWAT`` is the rest of the incomplete PDU.

While the receive buffer holds the start of a PDU missing at least
``WHOLE_PDU_WAIT`` bytes, the socket reports readable only once that many are
queued; otherwise (no incomplete PDU, or a short rest, or TLS) at the first byte,
so a small PDU never waits behind a big one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from dataclasses import replace
from typing import Any

import pytest
from conftest import require_module
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, accept_into_sta6, pdata_bytes, store_rq_command
from helpers.raw_ul import feed_reads as feed

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.policy import ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet.transport import WHOLE_PDU_WAIT, ULProtocol, run
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.pdus import AAssociateAC, AReleaseRP, AReleaseRQ

BIG = 1 << 20
CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


class LowatSocket:
    """The transport's socket as far as SO_RCVLOWAT goes: records every value set."""

    family = socket.AF_INET
    type = socket.SOCK_STREAM

    def __init__(self) -> None:
        self.lowat: list[int] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        assert (level, option) == (socket.SOL_SOCKET, socket.SO_RCVLOWAT)
        self.lowat.append(value)


class FakeTransport:
    """A plain TCP transport (or a TLS one) that writes nowhere."""

    def __init__(self, tls: bool = False) -> None:
        self.sock = LowatSocket()
        self.tls = tls

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self.sock
        if name == "ssl_object" and self.tls:
            return object()
        return default

    def writelines(self, data: list[bytes | memoryview]) -> None:
        pass

    def write(self, data: bytes | memoryview) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class Sink:
    """A listener that takes every event and keeps the data payloads' sizes."""

    def __init__(self) -> None:
        self.data = 0

    def ul_event(self, event: object) -> None:
        for _, _, view in getattr(event, "pdvs", ()):
            self.data += len(view)

    def timer_expired(self, name: str, seconds: float) -> None:
        pass

    def link_lost(self, exc: BaseException | None) -> None:
        pass


async def established(
    tls: bool = False, buffer: int = 2 * BIG
) -> tuple[ULProtocol, FakeTransport, Sink]:
    """An acceptor's ULProtocol in Sta6 that takes PDUs of up to 1 MB, its receive buffer
    ``buffer`` bytes from the start."""
    conn = ULConnection(Role.ACCEPTOR, max_pdu_receive=BIG)
    sink = Sink()
    protocol = ULProtocol(conn, listener=sink, buffer_size=buffer, initial_buffer_size=buffer)
    transport = FakeTransport(tls)
    protocol.connection_made(transport)  # type: ignore[arg-type]
    accept_into_sta6(protocol, BIG, CT, EXPLICIT_LE)
    return protocol, transport, sink


def data_pdu(size: int) -> bytes:
    """A P-DATA-TF with one data PDV of ``size`` bytes (not the last fragment)."""
    return struct.pack(">BBIIBB", 4, 0, size + 6, size + 2, 1, 0) + b"\x5a" * size


async def test_the_rest_of_a_big_pdu_is_awaited_whole_then_reads_come_at_once_again() -> None:
    protocol, transport, sink = await established()
    pdu = data_pdu(BIG - 6)
    feed(protocol, pdu[:50_000])
    assert transport.sock.lowat == [len(pdu) - 50_000]
    feed(protocol, pdu[50_000:])
    assert sink.data == BIG - 6
    assert transport.sock.lowat == [len(pdu) - 50_000, 1]  # the next PDU may be small


async def test_a_short_rest_is_not_waited_for() -> None:
    protocol, transport, sink = await established()
    pdu = data_pdu(BIG - 6)
    feed(protocol, pdu[: len(pdu) - WHOLE_PDU_WAIT + 1])
    assert transport.sock.lowat == []
    feed(protocol, pdu[len(pdu) - WHOLE_PDU_WAIT + 1 :])
    assert sink.data == BIG - 6
    assert transport.sock.lowat == []


async def test_a_pdu_completed_with_the_start_of_the_next_waits_for_the_next() -> None:
    protocol, transport, sink = await established()
    first, second = data_pdu(300_000), data_pdu(500_000)
    feed(protocol, first[:1000])
    feed(protocol, first[1000:] + second[:2000])
    assert sink.data == 300_000
    assert transport.sock.lowat == [len(first) - 1000, len(second) - 2000]
    feed(protocol, second[2000:] + encode_pdu(AReleaseRQ()))
    assert sink.data == 800_000
    assert transport.sock.lowat[-1] == 1


async def test_the_wait_stops_at_the_end_of_the_receive_buffer() -> None:
    protocol, transport, sink = await established(buffer=256 * 1024)
    pdu = data_pdu(BIG - 6)  # 6 bytes longer than the 1 MB the buffer grows to for it
    feed(protocol, pdu[:50_000])
    assert transport.sock.lowat == [BIG - 50_000]
    feed(protocol, pdu[50_000:])
    assert sink.data == BIG - 6
    assert transport.sock.lowat == [BIG - 50_000, 1]


async def test_tls_reads_as_they_come() -> None:
    protocol, transport, sink = await established(tls=True)
    pdu = data_pdu(BIG - 6)
    feed(protocol, pdu[:50_000])
    feed(protocol, pdu[50_000:])
    assert sink.data == BIG - 6
    assert transport.sock.lowat == []


# -- over a socket: the pieces of a big PDU written apart wake the SCP once ------------------

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PIECE = 64 * 1024


async def store_in_pieces(
    reads: list[int], pause: float = 0.002, dimse: float | None = 60.0
) -> list[object]:
    """One C-STORE of a 1 MB data set in 1 MB PDUs, written in 64 KB pieces ``pause``
    seconds apart, and a release; what the SCP answered. ``reads`` gets the SCP's read
    sizes; ``dimse`` is the SCP's DIMSE timeout."""
    received: list[int] = []

    async def handler(request: IncomingRequest) -> int:
        assert request.data is not None
        request.data.consume_with(lambda views: received.extend(len(v) for v in views))
        await request.data.finished()
        return 0

    scp = storage_policy("SCP")
    policy = replace(scp, max_pdu_receive=BIG, timers=replace(scp.timers, dimse=dimse))
    ae = AE("SCP", policy, handlers=[Binding(command_field=0x0001, handler=handler)])
    contexts = (
        ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(IMPLICIT_LE,)),
    )
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=contexts)
    dataset = bytes(range(256)) * (BIG // 256)
    answers: list[object] = []
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(rq), AAssociateAC)
            wire = pdata_bytes(1, store_rq_command(1, "1.2.3.1"), dataset, max_pdu=BIG)
            reads.clear()
            for start in range(0, len(wire), PIECE):
                raw.send(wire[start : start + PIECE])
                await raw.writer.drain()
                await asyncio.sleep(pause)  # the SCP could read each piece alone
            answers.append(await raw.receive())
            raw.send(AReleaseRQ())
            answers.append(await raw.receive())
        finally:
            await raw.close()
    assert sum(received) == len(dataset)
    return answers


@pytest.mark.skipif(sys.platform != "linux", reason="SO_RCVLOWAT wakes epoll on Linux")
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_big_pdu_written_in_pieces_is_read_in_few_reads(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loop == "uvloop":
        require_module("uvloop")
    reads: list[int] = []
    buffer_updated = ULProtocol.buffer_updated

    def spy(self: ULProtocol, nbytes: int) -> None:
        reads.append(nbytes)
        buffer_updated(self, nbytes)

    monkeypatch.setattr(ULProtocol, "buffer_updated", spy)
    response, release = run(store_in_pieces(reads), use_uvloop=loop == "uvloop")
    assert type(response).__name__ == "PDataTF"
    assert isinstance(release, AReleaseRP)
    # 17 pieces (the command PDU and the start of the data in the first): without the wait
    # for the whole PDU each piece is a read of its own. The buffer grows on the way
    # (4 KB, 16 KB, ...) and a read offered less than the rest takes what fits.
    pieces = -(-sum(reads) // PIECE)
    assert pieces >= 16
    assert len(reads) <= 8


@pytest.mark.skipif(sys.platform != "linux", reason="SO_RCVLOWAT wakes epoll on Linux")
def test_a_big_pdu_slower_than_the_dimse_timeout_in_all_but_its_pieces_is_received() -> None:
    # Each 64 KB piece comes within the timeout, the whole 1 MB PDU does not: the pieces
    # waiting below the low-water mark count as progress, as they would if read one by one.
    reads: list[int] = []
    response, release = run(store_in_pieces(reads, pause=0.12, dimse=0.5))
    assert type(response).__name__ == "PDataTF"
    assert isinstance(release, AReleaseRP)


@pytest.mark.parametrize(
    ("platform", "release", "fits"),
    [
        ("linux", "6.18.44-fc", True),
        ("linux", "4.18.0-553.el8", True),
        ("linux", "4.17.9", False),
        ("linux", "3.10.0-1160.el7", False),
        ("linux", "odd", False),
        ("darwin", "23.1.0", False),
    ],
)
def test_the_low_water_mark_is_left_alone_where_the_kernel_cannot_hold_it(
    platform: str, release: str, fits: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dicomnet import lowat

    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(lowat.os, "uname", lambda: os.uname_result(("", "", release, "", "")))
    assert lowat.kernel_fits_lowat() is fits
