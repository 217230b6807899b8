"""Plain asyncio TCP tools for the benchmarks: a latency proxy and a raw-socket ceiling.

Each tool runs as its own process (``python -m benchmarks.proxy TOOL ...``) so it
never shares an event loop with the peers it sits between. A listening tool
prints ``PORT <n>`` on stdout once it accepts connections, which is how the
parent learns the ephemeral port without polling.

* ``delay``: forwards 127.0.0.1:<port> to a target, holding every chunk for a
  fixed time in each direction (a WAN-like round trip on loopback). Order is
  kept by one FIFO and one timer per direction; reading from a side pauses
  while the other side's write buffer is full.
* ``sink`` / ``send``: the ceiling. ``send`` pushes ``--total`` bytes in
  ``--chunk``-sized writes to ``sink``, which answers one byte when it has
  them all; ``send`` prints the elapsed seconds as JSON. No DICOM framing, no
  copies beyond the kernel's: the best any asyncio stack could do.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

__all__ = ["main", "send_bytes", "start_delay_proxy", "start_sink"]

T = TypeVar("T")

_HOST = "127.0.0.1"


class _DelayedPipe(asyncio.Protocol):
    """One side of a proxied connection; what it receives goes out the peer side later.

    An EOF travels through the FIFO like data. A side is closed once EOF has
    gone both ways through it (received from its socket and written to it).
    """

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.peer: _DelayedPipe | None = None
        self.eof_in = False  # our socket sent EOF (or went away)
        self.eof_out = False  # we wrote EOF to our socket
        self._pending_reads: list[bytes | None] = []  # received before the peer connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def attach(self, peer: _DelayedPipe) -> None:
        """Start forwarding to ``peer`` (what arrived before is forwarded now)."""
        self.peer = peer
        for item in self._pending_reads:
            self._enqueue(item)
        self._pending_reads.clear()

    def data_received(self, data: bytes) -> None:
        self._enqueue(data)

    def eof_received(self) -> bool:
        self.eof_in = True
        self._enqueue(None)
        # Keep our write side open until the peer's delayed EOF has come through.
        return not self.eof_out

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.eof_in:
            self.eof_in = True
            self._enqueue(None)  # the delayed FIFO still drains to the peer, then closes it

    def pause_writing(self) -> None:
        # Our write buffer is full: stop reading from the side that feeds it.
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def _enqueue(self, item: bytes | None) -> None:
        if self.peer is None:
            self._pending_reads.append(item)
            return
        loop = asyncio.get_running_loop()
        self._queue.append((loop.time() + self._delay, item))
        if self._timer is None:
            self._timer = loop.call_at(self._queue[0][0], self._flush)

    def _flush(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        peer = self.peer
        target = peer.transport if peer is not None else None
        while self._queue and self._queue[0][0] <= now:
            _, item = self._queue.popleft()
            if peer is None or target is None or target.is_closing():
                continue
            if item is not None:
                target.write(item)
            elif peer.eof_in or not target.can_write_eof():
                target.close()  # EOF both ways through the peer side: done with it
            elif not peer.eof_out:
                peer.eof_out = True
                target.write_eof()
        if self._queue:
            self._timer = loop.call_at(self._queue[0][0], self._flush)


async def start_delay_proxy(
    target_port: int, delay: float, *, target_host: str = _HOST
) -> asyncio.Server:
    """Listen on an ephemeral 127.0.0.1 port; forward each connection to the target.

    Every chunk is held ``delay`` seconds in each direction.
    """
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task[None]] = set()

    def factory() -> _DelayedPipe:
        downstream = _DelayedPipe(delay)

        async def connect_upstream() -> None:
            try:
                _, upstream = await loop.create_connection(
                    lambda: _DelayedPipe(delay), target_host, target_port
                )
            except OSError:
                if downstream.transport is not None:
                    downstream.transport.close()
                return
            upstream.attach(downstream)
            downstream.attach(upstream)

        # Keep a reference so the connect task is not garbage-collected mid-flight.
        task = loop.create_task(connect_upstream())
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        return downstream

    return await loop.create_server(factory, _HOST, 0)


async def _serve_delay(target_port: int, delay: float) -> None:
    server = await start_delay_proxy(target_port, delay)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


class _Sink(asyncio.BufferedProtocol):
    """Receives into one reused buffer; answers one byte once ``total`` bytes arrived."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._received = 0
        self._buffer = bytearray(1 << 20)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._received += nbytes
        if self._received >= self._total and self._transport is not None:
            self._transport.write(b"\x01")
            self._received = 0  # ready for the next run on a new or the same connection


async def start_sink(total: int) -> asyncio.Server:
    """Listen on an ephemeral 127.0.0.1 port as the raw-socket sink for ``total`` bytes."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Sink(total), _HOST, 0)


async def _serve_sink(total: int) -> None:
    server = await start_sink(total)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


async def send_bytes(port: int, total: int, chunk: int) -> dict[str, float | int]:
    """Send ``total`` bytes to a sink in ``chunk``-sized writes; seconds until it answered."""
    reader, writer = await asyncio.open_connection(_HOST, port)
    payload = memoryview(bytes(range(256)) * (chunk // 256 + 1))[:chunk]
    full, rest = divmod(total, chunk)
    start = time.perf_counter()
    for _ in range(full):
        writer.write(payload)
        await writer.drain()
    if rest:
        writer.write(payload[:rest])
    await writer.drain()
    await reader.readexactly(1)
    seconds = time.perf_counter() - start
    writer.close()
    await writer.wait_closed()
    return {"seconds": seconds, "bytes": total, "chunk": chunk}


def _run(coro: Coroutine[Any, Any, T], use_uvloop: bool) -> T:
    if use_uvloop:
        import uvloop

        result: T = uvloop.run(coro)
        return result
    return asyncio.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the proxy process (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    sub = parser.add_subparsers(dest="tool", required=True)
    delay = sub.add_parser("delay", help="latency proxy to 127.0.0.1:TARGET_PORT")
    delay.add_argument("target_port", type=int)
    delay.add_argument("--delay", type=float, default=0.010, help="seconds, each direction")
    sink = sub.add_parser("sink", help="raw-socket sink")
    sink.add_argument("--total", type=int, required=True)
    send = sub.add_parser("send", help="raw-socket sender")
    send.add_argument("port", type=int)
    send.add_argument("--total", type=int, required=True)
    send.add_argument("--chunk", type=int, default=16384)
    args = parser.parse_args(argv)
    try:
        if args.tool == "delay":
            _run(_serve_delay(args.target_port, args.delay), args.uvloop)
        elif args.tool == "sink":
            _run(_serve_sink(args.total), args.uvloop)
        else:
            result = _run(send_bytes(args.port, args.total, args.chunk), args.uvloop)
            print(json.dumps(result), flush=True)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
