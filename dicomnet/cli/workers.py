"""``dicomnet serve --workers N``: N worker processes accepting on one port.

The supervisor (the process started by the user) opens the listening socket
of the DICOM port (one per address; ``--port 0`` gets one number for all)
and starts N workers (``multiprocessing``, *spawn*: a fresh interpreter each,
no state inherited but the socket's descriptor). Each worker runs its own
event loop and accepts from that one socket, a connection at a time
(:mod:`dicomnet.acceptor`): one accept queue for all, served by whichever
worker comes back to it first, so a busy worker leaves the next connection
to an idle one. Connections that arrive while the workers start wait in the
queue. (With ``SO_REUSEPORT`` the kernel chose the worker by a hash of the
connection's addresses: 50 connections often went 30 to 20 or worse, and one
worker idled while the other finished.)

The DICOMweb port (``--http``) is reserved (bound with ``SO_REUSEPORT``,
never listening) and each worker listens on it with ``SO_REUSEPORT``; a
supervisor without ``SO_REUSEPORT`` refuses ``--http`` with ``--workers``.

* **Ready**: ``listening on PORT`` is printed once every worker listens. A
  worker that exits before it is ready (bad options, an index that cannot
  be opened) ends the start: the others are stopped and its exit code is
  returned.
* **A worker that dies** (kill -9, a crash) is started again in the same
  slot after a short pause (doubling while it keeps dying, at most 10 s);
  meanwhile the others take every connection. Each slot receives into its
  own folder (``.incoming/HOST-wSLOT``), and a
  worker settles its folder when it starts (the index's reconcile: files
  moved in are indexed, unfinished ones removed), so the new worker cleans
  what the dead one left, and no worker ever touches another's files. Once
  every worker has stopped, the supervisor settles all the folders again
  (a worker that died just before the stop was not started again).
* **SIGTERM/SIGINT** to the supervisor: it closes its descriptor of the
  listening socket, and each worker gets SIGTERM, stops accepting (closing
  its own; once all are closed new connections are refused), lets its
  associations finish for up to ``--drain`` seconds, aborts the rest and
  exits 0; the supervisor kills a worker still alive 10 s after that, and
  exits 0.
* **Supervisor gone** (kill -9): each worker holds the read end of a pipe
  the supervisor writes to; its end of file stops the worker.

No thread is used: the supervisor waits on the workers' process sentinels
and pipes with its event loop's readers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

from dicomnet.cli.announce import announce
from dicomnet.cli.collector import settle_collector
from dicomnet.cli.worker_balance import ABSENT
from dicomnet.observe.exposition import merge, render
from dicomnet.observe.http import MetricsEndpoint, start_metrics_endpoint
from dicomnet.observe.metrics import Snapshot
from dicomnet.transport import LISTEN_BACKLOG

__all__ = [
    "WorkerPlace",
    "WorkerTarget",
    "association_share",
    "listening_sockets",
    "publisher",
    "reserve_port",
    "shared_listener",
    "supervise",
    "worker_incoming",
    "worker_prefix",
]

_log = logging.getLogger("dicomnet.cli.workers")


@dataclass(frozen=True)
class WorkerPlace:
    """What a worker process is given besides the options: its place among the workers."""

    #: This worker's number (0 to count - 1) and how many workers there are.
    slot: int
    count: int
    #: The port, and the supervisor's listening sockets on it (see :mod:`dicomnet.acceptor`).
    port: int
    sockets: list[socket.socket]
    #: Connections each worker serves, -1 when not accepting (:mod:`.worker_balance`).
    counts: ctypes.Array[Any]


#: The function a worker process runs: (args, place, ready, lifeline).
WorkerTarget = Callable[[argparse.Namespace, WorkerPlace, Connection, Connection], None]
#: Seconds the workers have to get ready.
START_TIMEOUT: Final = 120.0
#: Seconds a worker still alive after the drain deadline is given before it is killed.
KILL_AFTER: Final = 10.0
#: Longest pause before a worker that keeps dying is started again.
MAX_RESTART_DELAY: Final = 10.0
EXIT_NETWORK: Final = 6


def worker_prefix() -> str:
    """The start of this host's workers' receiving folder names (``HOST-w``)."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    return f"{host}-w"


def worker_incoming(slot: int) -> str:
    """The receiving folder of worker ``slot`` on this host (relative to the store folder)."""
    return f".incoming/{worker_prefix()}{slot}"


def association_share(limit: int, count: int, slot: int) -> int:
    """Worker ``slot``'s part of an association limit shared by ``count`` workers.

    The parts add up to ``limit`` (the first ``limit % count`` workers take one
    more); 0 (no limit) stays 0. A worker with a part of 0 would be unlimited,
    so each part is at least 1 (more workers than the limit: the limit is exceeded).
    """
    if limit <= 0:
        return 0
    return max(1, limit // count + (1 if slot < limit % count else 0))


def _addresses(host: str | None, port: int) -> list[tuple[int, str]]:
    if host:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        return [(info[0], str(info[4][0])) for info in infos[:1]]
    return [(socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")]


def _bound_sockets(
    host: str | None, port: int, *, reuse_port: bool, listen: bool
) -> tuple[int, list[socket.socket]]:
    """A socket per address of ``host`` bound to ``port``; the port and sockets.

    Port 0: the first address picks the number, the others take it. With
    ``listen`` they listen (the kernel's longest accept queue) and do not block.
    Raises OSError when the port is taken or no address could be had.
    """
    sockets: list[socket.socket] = []
    try:
        for family, address in _addresses(host, port):
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError:
                continue  # no IPv6 here
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address, port))
            port = int(sock.getsockname()[1])
            if listen:
                sock.listen(LISTEN_BACKLOG)
                sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError("no address to listen on")
    return port, sockets


def listening_sockets(host: str | None, port: int) -> tuple[int, list[socket.socket]]:
    """Listen on ``host:port`` (every address when ``host`` is empty); the port and sockets.

    The workers accept from these sockets (:mod:`dicomnet.acceptor`); port 0:
    the first address picks the number, the others take it. The accept queue
    is the kernel's largest, so a burst of connections waits in it. Raises
    OSError when the port is taken.
    """
    return _bound_sockets(host, port, reuse_port=False, listen=True)


def reserve_port(host: str | None, port: int) -> tuple[int, list[socket.socket]]:
    """Bind (without listening) a ``SO_REUSEPORT`` socket per address; the port and sockets.

    Holding them keeps the port ours while the workers start (port 0: the
    first address picks the number, the others take it). Raises OSError when
    the port is taken (by a socket without ``SO_REUSEPORT``) or the OS lacks it.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("this system has no SO_REUSEPORT: serve --workers needs it")
    return _bound_sockets(host, port, reuse_port=True, listen=False)


def shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` shared with the other workers (``SO_REUSEPORT``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(socket.SOMAXCONN)  # a burst of clients is queued, not dropped
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Worker:
    slot: int
    process: BaseProcess
    ready: Connection
    lifeline: Connection
    started: float = field(default_factory=time.monotonic)
    listening: bool = False
    hung_up: bool = False


class _Supervisor:
    def __init__(
        self,
        args: argparse.Namespace,
        count: int,
        port: int,
        sockets: list[socket.socket],
        *,
        target: WorkerTarget,
        drain: float,
    ) -> None:
        self.args = args
        self.count = count
        self.port = port
        #: The listening sockets every worker accepts from (closed when the stop begins).
        self.sockets = sockets
        self.target = target
        self.drain = drain
        self.context = multiprocessing.get_context("spawn")
        #: Connections each worker serves (written by the workers; ABSENT when not accepting).
        self.counts = self.context.RawArray(ctypes.c_long, [ABSENT] * count)
        self.workers: dict[int, _Worker] = {}
        self.failures: dict[int, int] = {}
        self.stop = asyncio.Event()
        self.changed = asyncio.Event()
        self.said = asyncio.Event()
        #: Workers started again after they died.
        self.restarts = 0
        #: The latest counters of each live worker, and those its dead predecessors left.
        self.snapshots: dict[int, Snapshot] = {}
        self.carried: dict[int, Snapshot] = {}

    def start(self, slot: int) -> _Worker:
        ready_read, ready_write = self.context.Pipe(duplex=False)
        life_read, life_write = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=self.target,
            args=(self.args, self.place(slot), ready_write, life_read),
            name=f"dicomnet-worker-{slot}",
        )
        process.start()
        ready_write.close()
        life_read.close()
        worker = _Worker(slot, process, ready_read, life_write)
        self.workers[slot] = worker
        loop = asyncio.get_running_loop()
        loop.add_reader(process.sentinel, self.changed.set)
        loop.add_reader(ready_read.fileno(), self._heard, worker)
        _log.info("worker %d started (pid %s)", slot, process.pid)
        return worker

    def place(self, slot: int) -> WorkerPlace:
        """What worker ``slot`` is given."""
        return WorkerPlace(slot, self.count, self.port, self.sockets, self.counts)

    def _heard(self, worker: _Worker) -> None:
        """Messages from a worker: ``("ready", pid)``, then ``("metrics", snapshot)``."""
        try:
            while worker.ready.poll():
                message = worker.ready.recv()
                if isinstance(message, tuple) and message and message[0] == "metrics":
                    self.snapshots[worker.slot] = message[1]
                else:
                    worker.listening = True
                    self.said.set()
        except (EOFError, OSError):
            worker.hung_up = True
            with contextlib.suppress(OSError, ValueError):
                asyncio.get_running_loop().remove_reader(worker.ready.fileno())

    def forget(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(worker.process.sentinel)
        with contextlib.suppress(OSError, ValueError):
            loop.remove_reader(worker.ready.fileno())
        worker.ready.close()
        worker.lifeline.close()
        worker.process.close()
        self.counts[worker.slot] = ABSENT  # the others take every connection meanwhile
        # Its counters stay counted (a counter never goes back); its gauges go.
        last = self.snapshots.pop(worker.slot, {})
        counters = {k: v for k, v in last.items() if k.endswith("_total")}
        self.carried[worker.slot] = merge([self.carried.get(worker.slot, {}), counters])

    def metrics(self) -> Snapshot:
        """Every worker's counters summed, with the supervisor's own."""
        own: Snapshot = {
            "workers": {"": float(sum(1 for w in self.workers.values() if w.listening))},
            "worker_restarts_total": {"": float(self.restarts)},
        }
        return merge([*self.carried.values(), *self.snapshots.values(), own])

    async def wait_ready(self) -> int | None:
        """Wait until every worker said it listens; an exit code if one ended first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            for worker in self.workers.values():
                if not worker.listening and not worker.process.is_alive():
                    code = worker.process.exitcode
                    return 1 if code is None or code == 0 else (code if code > 0 else 1)
            if all(worker.listening for worker in self.workers.values()):
                return None
            if self.stop.is_set():
                return 0
            self.said.clear()
            self.changed.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (self.said, self.changed, self.stop)]
            try:
                await asyncio.wait(
                    waits, timeout=max(0.0, deadline - loop.time()), return_when="FIRST_COMPLETED"
                )
            finally:
                for wait in waits:
                    wait.cancel()
            if loop.time() >= deadline:
                message = f"workers not ready within {START_TIMEOUT:g} s"
                print(f"dicomnet serve: {message}", file=sys.stderr)
                return 1

    async def watch(self) -> None:
        """Start dead workers again until asked to stop."""
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            self.changed.clear()
            for slot, worker in list(self.workers.items()):
                if worker.process.is_alive():
                    continue
                code = worker.process.exitcode
                lived = time.monotonic() - worker.started
                self.forget(worker)
                del self.workers[slot]
                self.failures[slot] = 0 if lived > 30 else self.failures.get(slot, 0) + 1
                delay = min(MAX_RESTART_DELAY, 0.1 * 2 ** self.failures[slot])
                _log.warning(
                    "worker %d exited (%s) after %.1f s: starting it again in %.1f s",
                    slot,
                    code,
                    lived,
                    delay,
                )
                loop.call_later(delay, self._restart, slot)
            waits = [asyncio.ensure_future(e.wait()) for e in (self.changed, self.stop)]
            try:
                await asyncio.wait(waits, return_when="FIRST_COMPLETED")
            finally:
                for wait in waits:
                    wait.cancel()

    def _restart(self, slot: int) -> None:
        if self.stop.is_set() or slot in self.workers:
            return
        self.restarts += 1
        self.start(slot)

    async def shutdown(self) -> None:
        """SIGTERM every worker, wait for the drain, kill what is left.

        The supervisor's descriptors of the listening sockets are closed first:
        once every worker has closed its own, new connections are refused.
        """
        self.stop.set()
        for sock in self.sockets:
            sock.close()
        for worker in self.workers.values():
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError, OSError):
                    worker.process.terminate()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain + KILL_AFTER
        while any(w.process.is_alive() for w in self.workers.values()):
            if loop.time() >= deadline:
                for worker in self.workers.values():
                    if worker.process.is_alive():
                        _log.warning("worker %d still running: killed", worker.slot)
                        worker.process.kill()
                break
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.5)
        for worker in self.workers.values():
            worker.process.join(timeout=5)
            self.forget(worker)
        self.workers.clear()


async def supervise(
    args: argparse.Namespace,
    count: int,
    target: WorkerTarget,
    *,
    drain: float,
    prepare: Callable[[], Any] | None = None,
) -> int:
    """Run ``count`` workers on ``args.host``/``args.port`` until SIGTERM/SIGINT; the exit code.

    ``prepare`` (a coroutine function) runs once the port is reserved, before
    any worker starts (``serve`` settles what dead workers left: no worker
    is receiving yet), and again once every worker has stopped: a worker that
    died and was not started again before the stop (or was killed at the end
    of the drain) leaves nothing unsettled behind it.
    """
    try:
        port, listening = listening_sockets(args.host, args.port)
    except OSError as exc:
        print(f"dicomnet serve: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    reserved: list[socket.socket] = []
    if getattr(args, "http", None) is not None:  # each worker listens on it (SO_REUSEPORT)
        try:
            # Loopback unless --http-host says otherwise, as with one process.
            args.http, reserved = reserve_port(args.http_host or "127.0.0.1", args.http)
        except OSError as exc:
            for sock in listening:
                sock.close()
            print(f"dicomnet serve: cannot listen on HTTP port {args.http}: {exc}", file=sys.stderr)
            return EXIT_NETWORK
    loop = asyncio.get_running_loop()
    supervisor = _Supervisor(args, count, port, listening, target=target, drain=drain)
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, supervisor.stop.set)
        except (NotImplementedError, RuntimeError):
            continue
        handled.append(signum)
    endpoint: MetricsEndpoint | None = None
    prepared = False
    try:
        if prepare is not None:
            code = await prepare()
            if code:
                return int(code)
            prepared = True
        for slot in range(count):
            supervisor.start(slot)
        failed = await supervisor.wait_ready()
        if failed is not None:
            return failed
        if getattr(args, "metrics_port", None) is not None:
            try:
                endpoint = await start_metrics_endpoint(
                    args.metrics_host, args.metrics_port, lambda: render(supervisor.metrics())
                )
            except OSError as exc:
                print(f"dicomnet serve: cannot serve metrics: {exc}", file=sys.stderr)
                return EXIT_NETWORK
            announce(f"metrics listening on {endpoint.port}")
        announce(f"listening on {port}")
        _log.info("%d workers listening on port %d", count, port)
        await supervisor.watch()
        _log.info("stopping %d workers", len(supervisor.workers))
        return 0
    finally:
        if endpoint is not None:
            await endpoint.close()
        await supervisor.shutdown()
        if prepared and prepare is not None and await prepare():
            _log.warning("what the workers left could not be settled: the next start will")
        for sock in [*listening, *reserved]:
            sock.close()
        for signum in handled:
            loop.remove_signal_handler(signum)


def ready_signal(connection: Connection) -> Callable[[Any], None]:
    """The ``ready`` callback of a worker: settle its garbage collector, tell the supervisor.

    The collector is settled (:func:`~dicomnet.cli.collector.settle_collector`)
    before the supervisor hears of it, so before ``listening on PORT``.
    """

    def ready(_server: Any) -> None:
        settle_collector()
        with contextlib.suppress(OSError):
            connection.send(("ready", os.getpid()))

    return ready


def publisher(connection: Connection) -> Callable[[Snapshot], None]:
    """How a worker sends its counters to the supervisor (OSError once it is gone)."""

    def publish(snapshot: Snapshot) -> None:
        connection.send(("metrics", snapshot))

    return publish
