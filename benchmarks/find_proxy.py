"""A timing TCP proxy for the ``find`` suite: when do a request and its responses pass?

``python -m benchmarks.find_proxy --port P --target T --report FILE`` forwards
127.0.0.1:P to 127.0.0.1:T and reads the PDUs going by (without changing
them). In each P-DATA-TF it notes every PDV that ends a command set: the
first one from the client is the request (C-FIND-RQ / C-MOVE-RQ), each one
from the server a response. When a connection closes it appends one JSON line
to FILE: milliseconds from the request to the first and to the last response
and how many responses passed, so association set-up and release (and the
client's start-up) are outside the timed span.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CommandClock", "PduReader", "main"]

_HOST = "127.0.0.1"
_P_DATA_TF = 0x04


class PduReader:
    """Splits a byte stream into PDUs; counts the PDVs that end a command set."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> int:
        """Take ``data``; how many command sets ended in the PDUs it completed."""
        self._buffer += data
        ended = 0
        buffer = self._buffer
        pos = 0
        while len(buffer) - pos >= 6:
            length = int.from_bytes(buffer[pos + 2 : pos + 6], "big")
            if len(buffer) - pos < 6 + length:
                break
            if buffer[pos] == _P_DATA_TF:
                item = pos + 6
                end = item + length
                while item + 6 <= end:
                    pdv_length = int.from_bytes(buffer[item : item + 4], "big")
                    control = buffer[item + 5]
                    if control & 0x03 == 0x03:  # command, last fragment
                        ended += 1
                    item += 4 + pdv_length
            pos += 6 + length
        del buffer[:pos]
        return ended


@dataclass(slots=True)
class CommandClock:
    """The request's and the responses' times of one association."""

    request: float | None = None
    first: float | None = None
    last: float | None = None
    responses: int = 0
    requests: int = 0

    def client_commands(self, count: int, now: float) -> None:
        """``count`` command sets from the client at ``now``."""
        if count and self.request is None:
            self.request = now
        self.requests += count

    def server_commands(self, count: int, now: float) -> None:
        """``count`` command sets from the server at ``now``."""
        if count:
            self.responses += count
            if self.first is None:
                self.first = now
            self.last = now

    def report(self) -> dict[str, float | int | None]:
        """Milliseconds from the request to the first and last response; the counts."""

        def since(moment: float | None) -> float | None:
            if moment is None or self.request is None:
                return None
            return (moment - self.request) * 1000.0

        return {
            "first_ms": since(self.first),
            "last_ms": since(self.last),
            "responses": self.responses,
            "requests": self.requests,
        }


@dataclass(slots=True)
class _Link:
    clock: CommandClock = field(default_factory=CommandClock)
    client: asyncio.StreamWriter | None = None


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_commands: object,
) -> None:
    pdus = PduReader()
    try:
        while data := await reader.read(1 << 16):
            count = pdus.feed(data)
            if count:
                on_commands(count, time.perf_counter())  # type: ignore[operator]
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            writer.close()


async def _serve(port: int, target: int, report: Path) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        link = _Link()
        try:
            server_r, server_w = await asyncio.open_connection(_HOST, target)
        except OSError:
            client_w.close()
            return
        for w in (client_w, server_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            _pump(client_r, server_w, link.clock.client_commands),
            _pump(server_r, client_w, link.clock.server_commands),
        )
        client_w.close()
        server_w.close()
        with report.open("a") as out:
            out.write(json.dumps(link.clock.report()) + "\n")

    server = await asyncio.start_server(handle, _HOST, port)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the proxy until killed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.find_proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.run(_serve(args.port, args.target, args.report))
    except ImportError:
        asyncio.run(_serve(args.port, args.target, args.report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
