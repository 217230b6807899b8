"""A PDU that ends the association and garbage behind it, in one read: the A-ABORT arrives.

PS3.8 Table 9-10: invalid or unrecognized data (Evt19) in Sta2 or Sta3-Sta12 is
answered with AA-1/AA-8, an A-ABORT PDU on the wire. When the invalid bytes
arrive in the same read as a PDU that the association still handles (an
A-RELEASE-RQ to answer, a command that fails), the core has already queued that
A-ABORT and moved to Sta13 before the association sees the first PDU. What the
core queued must reach the peer, and the late answer must not be treated as an
internal error. An A-ABORT *from* the peer (AA-3) is the exception: nothing is
sent back.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, command_set, element, pdata_bytes

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.dimse.commands import CommandField
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, Policy, ProposedContext
from dicomnet.transport import ULProtocol
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.pdus import AAbort, AAssociateAC, AAssociateRQ, AReleaseRP, AReleaseRQ

CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
)

#: An unknown PDU type (0x99) with a well-formed header.
UNKNOWN_PDU = b"\x99\x00" + (4).to_bytes(4, "big") + b"junk"
#: An A-RELEASE-RQ whose length (2) is not the 4 PS3.8 Table 9-24 fixes.
BAD_LENGTH_PDU = b"\x05\x00" + (2).to_bytes(4, "big") + b"\0\0"

ECHO = command_set(
    element(0x00000002, VERIFICATION_SOP_CLASS),
    element(0x00000100, CommandField.C_ECHO_RQ),
    element(0x00000110, 1),
    element(0x00000800, 0x0101),
)


def scp_policy() -> Policy:
    return make_policy(
        "SCP",
        timers={"artim": 1.0},
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
    )


def negotiation_rq() -> AAssociateRQ:
    return negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS)


def request() -> bytes:
    return encode_pdu(negotiation_rq())


def bad_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.exc_info is not None or "internal error" in r.getMessage()
    ]


#: (first PDU, then the junk) sent in one write after the association is established.
ESTABLISHED_CASES = {
    "release-rq+unknown-pdu": encode_pdu(AReleaseRQ()) + UNKNOWN_PDU,
    "release-rq+bad-length": encode_pdu(AReleaseRQ()) + BAD_LENGTH_PDU,
    "release-rp+unknown-pdu": encode_pdu(AReleaseRP()) + UNKNOWN_PDU,
    "associate-rq+unknown-pdu": request() + UNKNOWN_PDU,
    "echo+unknown-pdu": pdata_bytes(1, ECHO) + UNKNOWN_PDU,
    "undecodable-command+unknown-pdu": pdata_bytes(1, b"\0" * 10) + UNKNOWN_PDU,
    "undecodable-command+bad-length": pdata_bytes(1, b"\0" * 10) + BAD_LENGTH_PDU,
}


@pytest.mark.parametrize("wire", ESTABLISHED_CASES.values(), ids=ESTABLISHED_CASES.keys())
async def test_the_abort_reaches_the_peer(wire: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(negotiation_rq()), AAssociateAC)
            raw.send(wire)
            answer = await raw.receive()
            assert isinstance(answer, AAbort), f"{answer!r} instead of A-ABORT"
            assert answer.source == AbortSource.SERVICE_PROVIDER
        finally:
            await raw.close()
        await asyncio.sleep(0)
    assert not bad_records(caplog)


async def test_the_abort_reaches_the_peer_before_establishment(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            raw.send(request() + UNKNOWN_PDU)
            answer = await raw.receive()
            assert isinstance(answer, AAbort)
        finally:
            await raw.close()
    assert not bad_records(caplog)


async def test_a_peer_abort_with_junk_behind_it_is_not_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(negotiation_rq()), AAssociateAC)
            raw.send(encode_pdu(AAbort()) + UNKNOWN_PDU)
            # AA-3: the association is gone, nothing is sent back, the connection closes.
            assert await raw.reader.read() == b""
        finally:
            await raw.close()
    assert not bad_records(caplog)


class _Flood:
    """A stand-in core with 8 MB queued to send, then asking to close."""

    should_close = True

    def __init__(self) -> None:
        self._out: list[bytes | memoryview] = [b"\x07" * (8 << 20)]

    def connection_made(self, now: float) -> None:
        pass

    def receive_data(self, data: bytes | memoryview, now: float) -> None:
        pass

    def next_event(self) -> None:
        return None

    def send(self, pdu: object, now: float) -> None:
        pass

    def send_pdata_segments(self, segments: list[bytes | memoryview]) -> None:
        pass

    def data_to_send(self) -> list[bytes | memoryview]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


async def test_a_peer_that_never_reads_cannot_hold_a_closing_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    protocols: list[ULProtocol] = []

    def factory() -> ULProtocol:
        protocol = ULProtocol(_Flood(), artim_seconds=0.2)
        protocols.append(protocol)
        return protocol

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        # A client that connects and then never reads a byte.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not protocols:
                await asyncio.sleep(0.01)
            # The core's 8 MB cannot all be written, so close() alone would wait forever.
            await asyncio.wait_for(asyncio.shield(protocols[0].closed), 30)
        finally:
            writer.transport.abort()
    assert any("did not read" in r.getMessage() for r in caplog.records)
