"""A server that shares nothing between its processes, timed as the scale suite times dicomnet.

``python -m benchmarks.scale_control [--connections 50,200,1000] [--pairs 7]``

The scale suite's targets compare ``dicomnet serve --workers 2`` with
``--workers 1`` on this machine, where the load client and the workers share
two cores. This tool measures what the machine itself allows for such a pair:
a length-prefixed request/response server whose worker processes share
nothing (each its own ``SO_REUSEPORT`` socket, event loop and memory; no
files, no index), with a fixed amount of interpreter work per request
(``--server-work`` rounds of 30 look-ups in a table of ``--table`` entries)
and a client process that spends ``--client-work`` look-ups per answer. The
defaults make the server's and the client's CPU per request close to what
dicomnet's workers and load client spend per small instance (here about 125-170
us per request against dicomnet's 100-130, and about 40 us in either client).
Connections, requests per connection and the window (requests outstanding per
connection) follow the suite's load.

Both servers (one worker, two workers) stay alive side by side; after a
warm-up, each round runs the client against each in turn (the order
alternating). Per run: the servers' CPU (each process's CPU-time clock, as the
suite reads it), their context switches (``/proc/PID/status``), the client's CPU and
the wall time. It prints, per connection count, the medians and the paired
ratios two workers / one worker of CPU per request and requests per second,
and with ``--json FILE`` writes every run. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, cast

from .processes import free_port
from .scale_procs import process_counters, tree_cpu

__all__ = ["answer", "main", "paired_median", "request_bytes"]

#: A request: a 4-byte little-endian length, then 30 unsigned 32-bit fields and filler.
_FIELDS: Final = struct.Struct("<30I")
_FILLER: Final = 2000
#: Every answer is this long: its length prefix, then the 8-byte result, zero-padded.
ANSWER_SIZE: Final = 64
_ANSWER: Final = struct.Struct("<I8s52x")


def request_bytes(seed: int = 1000) -> bytes:
    """One request (length prefix included): fields ``seed`` .. ``seed + 29``, then filler."""
    payload = _FIELDS.pack(*range(seed, seed + 30)) + bytes(_FILLER)
    return len(payload).to_bytes(4, "little") + payload


def answer(fields: Sequence[int], table: dict[int, str], rounds: int) -> int:
    """The result a worker computes for one request: ``rounds`` x 30 dependent look-ups."""
    size = len(table)
    acc = 0
    for step in range(1, rounds + 1):
        for field in fields:
            acc += len(table.get((field * step * 7919 + acc) % size, ""))
    return acc


def _table(size: int) -> dict[int, str]:
    return {key: str(key) for key in range(size)}


def _install_loop() -> None:
    try:
        import uvloop
    except ImportError:  # (the speed extra is not installed: asyncio's own loop)
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# ---------------------------------------------------------------------------- server


def _worker(sock: socket.socket, rounds: int, size: int) -> None:
    table = _table(size)

    class _Answering(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # (uvloop's transports implement asyncio.Transport without deriving from it.)
            self.transport = cast(asyncio.Transport, transport)
            self.buffer = bytearray()

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer
            buffer += data
            out: list[bytes] = []
            while len(buffer) >= 4:
                length = int.from_bytes(buffer[:4], "little")
                if len(buffer) < 4 + length:
                    break
                result = answer(_FIELDS.unpack_from(buffer, 4), table, rounds)
                # (The payload copied once, as a sink takes its data set.)
                result += bytes(buffer[4 + _FIELDS.size : 4 + length]).count(1)
                out.append(_ANSWER.pack(ANSWER_SIZE - 4, result.to_bytes(8, "little")))
                del buffer[: 4 + length]
            if out:
                self.transport.write(b"".join(out))

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Answering, sock=sock, backlog=2048)
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        await stop
        server.close()

    _install_loop()
    asyncio.run(serve())


def _serve(port: int, workers: int, rounds: int, size: int) -> int:
    """Fork ``workers`` processes, each listening on ``port`` (``SO_REUSEPORT``)."""
    pids: list[int] = []
    for _ in range(workers):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
        pid = os.fork()
        if pid == 0:
            try:
                _worker(sock, rounds, size)
            finally:
                os._exit(0)
        sock.close()
        pids.append(pid)
    stops = {signal.SIGTERM, signal.SIGINT}
    # (Blocked, so that they wait for sigwait instead of ending this process at once.)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    print("ready", *pids, flush=True)
    signal.sigwait(stops)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)
    return 0


# ---------------------------------------------------------------------------- client


def _spend(table: dict[int, str], rounds: int, seed: int) -> int:
    size = len(table)
    acc = seed
    for step in range(rounds):
        acc += len(table.get((acc * 7919 + step) % size, ""))
    return acc


async def _load(port: int, connections: int, requests: int, window: int, rounds: int) -> int:
    """Each connection sends ``requests`` requests, up to ``window`` outstanding; the
    answers received (all of them, unless a connection failed)."""
    table = _table(200_000) if rounds else {}
    message = request_bytes()

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = got = 0
        while got < requests:
            free = min(window - (sent - got), requests - sent)
            if free > 0:
                writer.write(message * free)
                sent += free
            if rounds:
                _spend(table, rounds, got)
            await reader.readexactly(ANSWER_SIZE)
            got += 1
        writer.close()
        return got

    return sum(await asyncio.gather(*(one() for _ in range(connections))))


def _client(port: int, connections: int, requests: int, window: int, rounds: int) -> int:
    _install_loop()
    wall, cpu = time.perf_counter(), time.process_time()
    answered = asyncio.run(_load(port, connections, requests, window, rounds))
    report = {
        "answered": answered,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
    }
    print(json.dumps(report), flush=True)
    return 0 if answered == connections * requests else 1


# ---------------------------------------------------------------------------- driver


def _switches(pids: Sequence[int]) -> int:
    """Context switches (voluntary and not) of ``pids`` so far."""
    total = 0
    for pid in pids:
        counters = process_counters(pid)
        if counters is not None:
            total += int(counters["voluntary"] + counters["involuntary"])
    return total


def paired_median(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the ratios of runs taken in the same round."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("paired runs need as many numerators as denominators, at least one")
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def _module() -> list[str]:
    return [sys.executable, "-m", "benchmarks.scale_control"]


def _run(args: argparse.Namespace) -> int:
    servers: dict[int, tuple[int, list[int], subprocess.Popen[str]]] = {}
    levels = [int(value) for value in args.connections.split(",")]
    runs: list[dict[str, Any]] = []
    try:
        for workers in (1, 2):
            port = free_port()
            command = [*_module(), "serve", str(port), str(workers)]
            command += ["--server-work", str(args.server_work), "--table", str(args.table)]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            assert process.stdout is not None
            line = process.stdout.readline().split()
            if not line or line[0] != "ready":
                raise RuntimeError(f"the {workers}-worker server did not start")
            servers[workers] = (port, [int(pid) for pid in line[1:]], process)
        # (A server's CPU: its tree's, the idle parent with its workers, as the suite reads it.)

        def once(workers: int, connections: int, requests: int) -> dict[str, Any]:
            port, pids, process = servers[workers]
            cpu, switched = tree_cpu(process.pid), _switches(pids)
            command = [*_module(), "load", str(port), str(connections), str(requests)]
            command += ["--window", str(args.window), "--client-work", str(args.client_work)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            report: dict[str, Any] = json.loads(done.stdout)
            report.update(
                workers=workers,
                connections=connections,
                server_cpu=tree_cpu(process.pid) - cpu,
                switches=_switches(pids) - switched,
            )
            return report

        for workers in (1, 2):
            once(workers, 20, 50)  # warm-up
        print(
            "connections  w1 req/s  w2 req/s  w1 us/req  w2 us/req  "
            "w2/w1 CPU (paired)  w2/w1 req/s (paired)  switches/req w1 w2"
        )
        for connections in levels:
            rows: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
            for round_ in range(args.pairs):
                for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
                    row = once(workers, connections, args.requests)
                    rows[workers].append(row)
                    runs.append(row)
            count = connections * args.requests

            def med(
                workers: int, key: str, scale: float = 1.0, rows: dict[int, list[Any]] = rows
            ) -> float:
                return float(statistics.median(row[key] * scale for row in rows[workers]))

            cpu_ratio = paired_median(
                [row["server_cpu"] for row in rows[2]], [row["server_cpu"] for row in rows[1]]
            )
            rate_ratio = paired_median(
                [row["seconds"] for row in rows[1]], [row["seconds"] for row in rows[2]]
            )
            print(
                f"{connections:>11}  {count / med(1, 'seconds'):8.0f}  "
                f"{count / med(2, 'seconds'):8.0f}  {med(1, 'server_cpu', 1e6 / count):9.1f}  "
                f"{med(2, 'server_cpu', 1e6 / count):9.1f}  {cpu_ratio:18.3f}  "
                f"{rate_ratio:20.3f}  {med(1, 'switches', 1 / count):.3f} "
                f"{med(2, 'switches', 1 / count):.3f}",
                flush=True,
            )
    finally:
        for _port, _pids, process in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    if args.json is not None:
        settings = {key: value for key, value in vars(args).items() if key != "json"}
        Path(args.json).write_text(json.dumps({"settings": settings, "runs": runs}, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_control")
    parser.add_argument("--server-work", type=int, default=30, help="look-up rounds per request")
    parser.add_argument("--table", type=int, default=200_000, help="entries of the server's table")
    parser.add_argument("--connections", default="50,200,1000")
    parser.add_argument("--requests", type=int, default=20, help="per connection")
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--client-work", type=int, default=200, help="look-ups per answer")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="(internal) the server")
    serve.add_argument("port", type=int)
    serve.add_argument("workers", type=int)
    serve.add_argument("--server-work", type=int, default=30)
    serve.add_argument("--table", type=int, default=200_000)
    load = commands.add_parser("load", help="(internal) the client")
    load.add_argument("port", type=int)
    load.add_argument("connections", type=int)
    load.add_argument("requests", type=int)
    load.add_argument("--window", type=int, default=4)
    load.add_argument("--client-work", type=int, default=200)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args.port, args.workers, args.server_work, args.table)
    if args.command == "load":
        return _client(args.port, args.connections, args.requests, args.window, args.client_work)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
