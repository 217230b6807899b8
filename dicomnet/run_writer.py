"""Writing a data set laid out in place (a :class:`~dicomnet_pdu.layout.PDataRun`).

:class:`RunWriter` is the part of a connection's protocol that turns a run into
socket writes, one step at a time:

* A batch: as many whole PDUs as fit in ``batch_bytes``, their headers written
  into one send buffer and the data read into the slices between them, then one
  ``transport.write``. The buffer is used again for the next batch unless the
  transport still holds it (its write buffer is not empty by then: uvloop, TLS and
  Python 3.12+ may keep the caller's buffer rather than a copy).
* One big PDU by ``os.sendfile``: for PDUs of :data:`SENDFILE_MIN_PAYLOAD` or more
  on a plain (not TLS) socket whose transport has nothing buffered, the PDU's
  headers go through the transport and the payload from the file straight to the
  socket, without passing through this process. ``sendfile`` never waits: what the
  socket does not take at once is read and written the buffered way, so flow
  control stays the transport's. Once a connection sends such PDUs, its writing
  resumes only when the transport has written everything (low-water mark 0), so
  that the next big PDU goes by ``sendfile`` again and the send buffer is free.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Final, Protocol

from dicomnet_pdu.layout import PDataRun

__all__ = ["SENDFILE_MIN_PAYLOAD", "RunWriter"]

#: PDUs carrying at least this many data bytes go out with ``os.sendfile`` when they can
#: (two system calls per PDU: worth it only for big PDUs).
SENDFILE_MIN_PAYLOAD: Final = 256 * 1024


class _Core(Protocol):
    def send_pdata_segments(self, segments: list[bytes | memoryview]) -> None: ...
    def data_to_send(self) -> list[bytes | memoryview]: ...


def plain_stream_socket(transport: asyncio.BaseTransport) -> Any:
    """The transport's stream socket when the bytes written to it or read from it are
    the association's own (no TLS between), else ``None``."""
    if transport.get_extra_info("sslcontext") is not None:
        return None
    if transport.get_extra_info("ssl_object") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM:
        return None
    return sock


def sendfile_socket(transport: asyncio.BaseTransport) -> int | None:
    """The socket's descriptor when data may be sent to it with ``os.sendfile``.

    ``None`` for TLS (the bytes must be encrypted), for transports without a socket,
    and where ``os.sendfile`` does not exist.
    """
    if not hasattr(os, "sendfile"):
        return None
    sock = plain_stream_socket(transport)
    if sock is None:
        return None
    fd = sock.fileno()
    return fd if isinstance(fd, int) and fd >= 0 else None


class RunWriter:
    """Writes laid-out data sets to one transport (see the module docstring)."""

    __slots__ = ("_buffer", "_conn", "_drains", "_lent", "_socket", "_transport")

    def __init__(
        self, transport: asyncio.WriteTransport, conn: _Core, *, use_sendfile: bool = True
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._buffer: memoryview | None = None
        self._lent = False  # the transport may hold the buffer (it has not written all)
        self._socket = sendfile_socket(transport) if use_sendfile else None
        self._drains = False  # writing resumes only once the transport is empty

    def step(self, run: PDataRun, batch_bytes: int) -> None:
        """Write the next batch of ``run`` (or its next PDU by ``sendfile``)."""
        if (
            self._socket is not None
            and run.largest_pdu >= SENDFILE_MIN_PAYLOAD
            and run.can_sendfile
        ):
            if not self._drains:
                self._resume_when_empty()
            if not self._transport.get_write_buffer_size():
                self._send_pdu(run, self._socket)
                return
        # What waits to be written (the command's small PDU deferred to the end of
        # this step) goes first, copied into the same buffer: one write, no join.
        queued = self._conn.data_to_send()
        head = sum(map(len, queued))
        room = max(batch_bytes, run.largest_pdu)
        buffer = self._room(head + room)
        try:
            used = head + run.fill(buffer[head : head + room])
        except BaseException:
            if queued:
                self._transport.writelines(queued)
            raise
        position = 0
        for segment in queued:
            buffer[position : position + len(segment)] = segment
            position += len(segment)
        self._write(buffer[:used])

    def _resume_when_empty(self) -> None:
        """Have writing resume only once the transport has written everything, not at
        its usual low-water mark: the next big PDU then goes by sendfile again and the
        send buffer is free, instead of a new buffer read and queued behind the rest.
        The socket's own buffer still holds what keeps the peer busy meanwhile."""
        self._drains = True
        high, _ = self._transport.get_write_buffer_limits()
        self._transport.set_write_buffer_limits(high=high, low=0)

    def _room(self, size: int) -> memoryview:
        buffer = self._buffer
        if self._lent:
            # A transport that has written everything holds nothing of the buffer any
            # more; until then the next batch goes into a new one.
            if self._transport.get_write_buffer_size():
                buffer = None
            self._lent = False
        if buffer is None or len(buffer) < size:
            buffer = self._buffer = memoryview(bytearray(size))
        return buffer

    def _write(self, data: memoryview | bytes) -> None:
        self._conn.send_pdata_segments([data])
        queued = self._conn.data_to_send()
        if len(queued) == 1:
            self._transport.write(queued[0])
        elif queued:
            self._transport.writelines(queued)
        if self._transport.get_write_buffer_size():
            # The transport may hold the buffer itself rather than a copy (uvloop, TLS,
            # Python 3.12+) until it has written it.
            self._lent = True

    def _send_pdu(self, run: PDataRun, sock: int) -> None:
        """One PDU: its headers (after anything queued) through the transport, then as
        much of its payload as the socket takes by ``sendfile``, the rest buffered."""
        queued = self._conn.data_to_send()
        header, count = run.next_pdu()
        self._write(b"".join([*queued, header]) if queued else header)
        sent = 0
        if not self._transport.get_write_buffer_size():
            sent = run.sendfile(sock, count)
        rest = count - sent
        if rest:
            view = self._room(count)[:rest]  # one size for every PDU's rest: reused
            run.readinto([view])
            self._write(view)
