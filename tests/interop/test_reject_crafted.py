"""Rejections no DCMTK option provokes, with a crafted A-ASSOCIATE-RQ over a raw socket.

PS3.8 Table 9-21: application-context-name-not-supported is (1, 1, 2) and
protocol-version-not-supported (1, 2, 2). The RQ is built with dicomnet's own
encoder and then patched, and the answer decoded with ``decode_pdu``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from helpers.policies import make_policy

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet_pdu.codec import PDU_HEADER, PDU_HEADER_LENGTH, decode_pdu, encode_pdu
from dicomnet_pdu.pdus import PDU, AAssociateAC, AAssociateRJ, AAssociateRQ


def good_request() -> AAssociateRQ:
    return negotiation.build_request(make_policy("RAW"), called_ae_title="DICOMNET")


def with_protocol_version(encoded: bytes, version: int) -> bytes:
    """Patch the Protocol-version field (bytes 7-8 of the PDU, PS3.8 Table 9-11)."""
    assert encoded[6:8] == b"\x00\x01"
    return encoded[:6] + version.to_bytes(2, "big") + encoded[8:]


async def exchange(port: int, request: bytes) -> PDU:
    """Send ``request`` on a new connection; decode the one PDU that comes back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        header = await asyncio.wait_for(reader.readexactly(PDU_HEADER_LENGTH), 5)
        _, length = PDU_HEADER.unpack(header)
        body = await asyncio.wait_for(reader.readexactly(length), 5)
    finally:
        writer.close()
    return decode_pdu(header + body)


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (encode_pdu(replace(good_request(), application_context_name="1.2.3")), (1, 1, 2)),
        (with_protocol_version(encode_pdu(good_request()), 0x0002), (1, 2, 2)),
        (with_protocol_version(encode_pdu(good_request()), 0x0000), (1, 2, 2)),
    ],
    ids=["application-context", "protocol-version-2", "protocol-version-0"],
)
async def test_crafted_request_is_rejected_with_exact_values(
    request_bytes: bytes, expected: tuple[int, int, int]
) -> None:
    async with await AE("DICOMNET").serve("127.0.0.1", 0) as server:
        answer = await exchange(server.port, request_bytes)
        # The server goes on serving.
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            assert (await assoc.echo()).is_success
    assert isinstance(answer, AAssociateRJ)
    assert (int(answer.result), int(answer.source), int(answer.reason)) == expected


async def test_other_protocol_version_bits_are_ignored() -> None:
    # PS3.8 §9.3.2: only bit 0 is tested; a version with bit 0 set is accepted.
    async with await AE("DICOMNET").serve("127.0.0.1", 0) as server:
        answer = await exchange(
            server.port, with_protocol_version(encode_pdu(good_request()), 0x0003)
        )
    assert isinstance(answer, AAssociateAC)
    assert [pc.result for pc in answer.presentation_contexts] == [0]
