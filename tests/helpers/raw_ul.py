"""Raw Upper Layer peers for tests: whole PDUs over a plain asyncio stream.

:class:`RawClient` speaks PS3.8 by hand (so a test can send what a correct
implementation never would), and :func:`fake_acceptor` answers an
A-ASSOCIATE-RQ with a fixed PDU and then does whatever the test tells it.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Protocol

from dicomnet_pdu.codec import PDU_HEADER, PDU_HEADER_LENGTH, decode_pdu, encode_pdu
from dicomnet_pdu.items import MaximumLength, PresentationContextRQ, UserInformation
from dicomnet_pdu.pdus import PDU, AAssociateAC, AAssociateRQ
from dicomnet_pdu.pdv import fragment_message


async def read_pdu(reader: asyncio.StreamReader, timeout: float = 5) -> PDU:
    """Read and decode one whole PDU."""
    header = await asyncio.wait_for(reader.readexactly(PDU_HEADER_LENGTH), timeout)
    _, length = PDU_HEADER.unpack(header)
    body = await asyncio.wait_for(reader.readexactly(length), timeout)
    return decode_pdu(header + body)


def pdata_bytes(
    context_id: int, command: bytes, dataset: bytes | None = None, max_pdu: int = 16384
) -> bytes:
    """One DIMSE message as P-DATA-TF PDUs, ready to write."""
    return b"".join(
        b"".join(bytes(segment) for segment in pdu)
        for pdu in fragment_message(context_id, command, dataset, max_pdu_length=max_pdu)
    )


def element(tag: int, value: bytes | int | str) -> bytes:
    """One Implicit VR Little Endian command element (US as int, UI/AE as str)."""
    if isinstance(value, int):
        raw = struct.pack("<H", value)
    elif isinstance(value, str):
        raw = value.encode("ascii")
        if len(raw) % 2:
            raw += b"\0"
    else:
        raw = value
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(raw)) + raw


def command_set(*elements: bytes) -> bytes:
    """Elements preceded by Command Group Length (0000,0000) (PS3.7 §6.3.1)."""
    body = b"".join(elements)
    return element(0x00000000, struct.pack("<I", len(body))) + body


def store_rq_command(
    message_id: int, instance_uid: str, sop_class: str = "1.2.840.10008.5.1.4.1.1.7"
) -> bytes:
    """A C-STORE-RQ command set with a data set following (Secondary Capture by default)."""
    return command_set(
        element(0x00000002, sop_class),
        element(0x00000100, 0x0001),  # C-STORE-RQ
        element(0x00000110, message_id),
        element(0x00000700, 0),
        element(0x00000800, 0x0000),  # a data set follows
        element(0x00001000, instance_uid),
    )


class RawClient:
    """One TCP connection to an acceptor, PDU by PDU."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int) -> RawClient:
        """Open the connection."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def send(self, pdu: PDU | bytes) -> None:
        """Write a PDU (or raw bytes)."""
        self.writer.write(pdu if isinstance(pdu, bytes) else encode_pdu(pdu))

    async def request(self, rq: AAssociateRQ) -> PDU:
        """Send ``rq``; the answer (AC, RJ or ABORT)."""
        self.send(rq)
        return await self.receive()

    async def receive(self, timeout: float = 5) -> PDU:
        """The next PDU."""
        return await read_pdu(self.reader, timeout)

    async def at_eof(self, timeout: float = 5) -> bool:
        """Wait until the peer closes; True if nothing more came."""
        data = await asyncio.wait_for(self.reader.read(), timeout)
        return data == b""

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


@asynccontextmanager
async def fake_acceptor(
    conversation: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A TCP server on loopback that runs ``conversation`` per connection; yields its port."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            await conversation(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


class _Receiving(Protocol):
    """What :func:`feed_reads` needs of a protocol: asyncio's BufferedProtocol calls."""

    def get_buffer(self, sizehint: int) -> memoryview: ...

    def buffer_updated(self, nbytes: int) -> None: ...


class _Accepting(_Receiving, Protocol):
    def send_pdu(self, pdu: PDU) -> None: ...


def feed_reads(protocol: _Receiving, data: bytes) -> None:
    """Reads of ``data``, as the event loop makes them (as much as each buffer offered)."""
    while data:
        buffer = protocol.get_buffer(-1)
        count = min(len(buffer), len(data))
        buffer[:count] = data[:count]
        protocol.buffer_updated(count)
        data = data[count:]


def accept_into_sta6(
    protocol: _Accepting, max_pdu: int, abstract_syntax: str, transfer_syntax: str
) -> None:
    """Bring an acceptor's ULProtocol (connected) to Sta6: an A-ASSOCIATE-RQ proposing one
    context is read and an A-ASSOCIATE-AC sent, both with a maximum length of ``max_pdu``."""
    user = UserInformation(items=(MaximumLength(maximum_length=max_pdu),))
    context = PresentationContextRQ(
        context_id=1, abstract_syntax=abstract_syntax, transfer_syntaxes=(transfer_syntax,)
    )
    rq = AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(context,),
        user_information=user,
    )
    feed_reads(protocol, encode_pdu(rq))
    ac = AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(),
        user_information=user,
    )
    protocol.send_pdu(ac)
