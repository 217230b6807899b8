"""RunWriter's send buffer: never written into while the transport may still hold it,
used again once the transport has written everything (no new, zeroed buffer per batch).

The fake transport keeps the caller's buffers as uvloop, TLS and Python 3.12+ may do,
and reports them as its write buffer until the test lets it "write" them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from dicomnet.run_writer import SENDFILE_MIN_PAYLOAD, RunWriter
from dicomnet_pdu.layout import PDataRun, ReadableData

PAYLOAD = 1000  # per PDU


class Counting(ReadableData):
    """``length`` bytes counting up from 0 (mod 256), read in order."""

    def __init__(self, length: int) -> None:
        self._length = length
        self._position = 0

    @property
    def length(self) -> int:
        return self._length

    def readinto(self, views: list[memoryview]) -> None:
        for view in views:
            view[:] = bytes((self._position + i) % 256 for i in range(len(view)))
            self._position += len(view)

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError


class HoldingTransport:
    """Keeps every buffer written (not a copy) until :meth:`flush`."""

    def __init__(self) -> None:
        self.held: list[tuple[memoryview, bytes]] = []  # (buffer as given, bytes at write)
        self.sent: list[bytes] = []

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def write(self, data: memoryview | bytes) -> None:
        self.held.append((memoryview(data), bytes(data)))

    def writelines(self, data: list[memoryview | bytes]) -> None:
        for piece in data:
            self.write(piece)

    def get_write_buffer_size(self) -> int:
        return sum(len(view) for view, _ in self.held)

    def flush(self) -> None:
        for view, at_write in self.held:
            assert bytes(view) == at_write  # nobody wrote into it while it was held
            self.sent.append(bytes(view))
        self.held.clear()


class Core:
    def __init__(self) -> None:
        self.out: list[bytes | memoryview] = []

    def send_pdata_segments(self, segments: list[bytes | memoryview]) -> None:
        self.out.extend(segments)

    def data_to_send(self) -> list[bytes | memoryview]:
        out, self.out = self.out, []
        return out


def underlying(transport: HoldingTransport) -> object:
    """The object behind the last buffer written."""
    return transport.held[-1][0].obj


def test_a_held_buffer_is_left_alone_and_one_written_out_is_used_again() -> None:
    transport = HoldingTransport()
    writer = RunWriter(transport, Core())  # type: ignore[arg-type]
    run = PDataRun(1, Counting(6 * PAYLOAD), PAYLOAD)
    batch = 2 * (PAYLOAD + 12)
    writer.step(run, batch)
    first = underlying(transport)
    writer.step(run, batch)  # the first batch is still held: a new buffer
    second = underlying(transport)
    assert second is not first
    transport.flush()  # everything written: the buffer is free again
    writer.step(run, batch)
    assert underlying(transport) is second
    assert run.done
    transport.flush()
    payload = b"".join(
        chunk[offset + 12 : offset + 12 + PAYLOAD]
        for chunk in transport.sent
        for offset in range(0, len(chunk), PAYLOAD + 12)
    )
    assert payload == bytes(i % 256 for i in range(6 * PAYLOAD))


class SocketTransport(HoldingTransport):
    """A plain TCP transport (or a TLS one) with asyncio's default write buffer limits."""

    def __init__(self, tls: bool = False) -> None:
        super().__init__()
        self.sock = socket.socket()
        self.tls = tls
        self.limits = (64 * 1024, 16 * 1024)

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "socket":
            return self.sock
        if name == "ssl_object" and self.tls:
            return object()
        return default

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.limits

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        assert high is not None and low is not None
        self.limits = (high, low)


class InFile(Counting):
    """Data that a fake sendfile "sends" whole."""

    @property
    def can_sendfile(self) -> bool:
        return True

    def sendfile(self, socket_fd: int, count: int) -> int:
        self._position += count
        return count


@pytest.mark.skipif(not hasattr(os, "sendfile"), reason="no os.sendfile")
def test_a_connection_sending_big_pdus_resumes_writing_only_once_everything_is_written() -> None:
    # Resumed at the usual low-water mark, the next big PDU would find bytes still
    # queued and go the buffered way (a new buffer, read and copied) instead of by
    # sendfile; the high-water mark stays. Small PDUs and TLS leave the limits alone.
    big = SENDFILE_MIN_PAYLOAD
    transport = SocketTransport()
    with transport.sock:
        writer = RunWriter(transport, Core())  # type: ignore[arg-type]
        writer.step(PDataRun(1, InFile(3 * PAYLOAD), PAYLOAD), 4 * PAYLOAD)
        assert transport.limits == (64 * 1024, 16 * 1024)
        writer.step(PDataRun(1, InFile(2 * big), big), 4 * PAYLOAD)
        assert transport.limits == (64 * 1024, 0)
    tls = SocketTransport(tls=True)
    with tls.sock:
        writer = RunWriter(tls, Core())  # type: ignore[arg-type]
        writer.step(PDataRun(1, InFile(2 * big), big), 4 * PAYLOAD)
        assert tls.limits == (64 * 1024, 16 * 1024)
