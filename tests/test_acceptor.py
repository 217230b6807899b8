"""Several processes accepting from one listening socket (``serve --workers``).

Each "worker" here is a server of its own in one process, accepting from its own
descriptor of one listening socket (as a worker process does with the descriptor
its supervisor passes it), with a :class:`Balance` over one shared array.
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
from typing import Any

import pytest
from helpers.policies import make_policy

from dicomnet.acceptor import PATIENCE_SECONDS, SharedAcceptor, waiting_connections
from dicomnet.ae import AE, Server
from dicomnet.cli.worker_balance import ABSENT, Balance
from dicomnet.transport import run


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


async def _workers(sock: socket.socket, count: int) -> tuple[list[Server], Any]:
    counts = (ctypes.c_long * count)(*([ABSENT] * count))
    servers = []
    for slot in range(count):
        balance = Balance(counts, slot)
        server = await AE(f"W{slot}", make_policy(f"W{slot}")).serve(
            shared=[sock.dup()], gate=balance
        )
        balance.live = lambda server=server: server.connections
        server.closed_hooks.append(balance.closed)  # as serve --workers does
        servers.append(server)
    return servers, counts


async def _connect(port: int, count: int) -> list[socket.socket]:
    loop = asyncio.get_running_loop()
    clients = []
    for _ in range(count):
        client = socket.socket()
        client.setblocking(False)
        await loop.sock_connect(client, ("127.0.0.1", port))
        clients.append(client)
    return clients


async def _until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.005)


async def _close(clients: list[socket.socket], servers: list[Any], sock: socket.socket) -> None:
    """Close the clients, the workers' servers and the listening socket."""
    for client in clients:
        client.close()
    for server in servers:
        server.close()
        await server.wait_closed()
    sock.close()


async def _spread(count: int) -> list[int]:
    sock = _listening()
    servers, counts = await _workers(sock, 2)
    clients = await _connect(sock.getsockname()[1], count)
    try:
        await _until(lambda: sum(s.connections for s in servers) == count)
        return [s.connections for s in servers]
    finally:
        await _close(clients, servers, sock)
        assert list(counts) == [ABSENT, ABSENT]  # closed: neither accepts any more


async def test_a_burst_of_connections_is_spread_evenly_over_the_workers() -> None:
    # Without the balance, the acceptor woken first takes up to 16 at a time.
    first, second = await _spread(40)
    assert abs(first - second) <= 1, (first, second)


def test_the_spread_holds_on_uvloop_too() -> None:
    pytest.importorskip("uvloop")
    first, second = run(_spread(40), use_uvloop=True)
    assert abs(first - second) <= 1, (first, second)


async def test_a_worker_serving_fewer_takes_the_next_connections() -> None:
    sock = _listening()
    port = sock.getsockname()[1]
    servers, counts = await _workers(sock, 2)
    clients = await _connect(port, 10)
    more: list[socket.socket] = []
    try:
        await _until(lambda: sum(s.connections for s in servers) == 10)
        assert [s.connections for s in servers] == [5, 5]
        # Worker 0's connections end; the next five go to it, then both take turns.
        ports = {p.peername[1] for p in servers[0]._protocols if p.peername}
        for client in clients:
            if client.getsockname()[1] in ports:
                client.close()
        await _until(lambda: servers[0].connections == 0)
        more = await _connect(port, 7)
        await _until(lambda: sum(s.connections for s in servers) == 12)
        assert sorted(s.connections for s in servers) == [6, 6]
    finally:
        for client in [*clients, *more]:
            client.close()
        for server in servers:
            server.close()
            await server.wait_closed()
        sock.close()
    assert list(counts) == [ABSENT, ABSENT]


async def test_each_worker_publishes_its_count_as_its_connections_close() -> None:
    """After a burst has ended, the next one is split evenly again.

    A count published only when its worker accepted stayed at what the worker
    served then, and the other worker took that many more of the next burst.
    """
    sock = _listening()
    port = sock.getsockname()[1]
    servers, counts = await _workers(sock, 2)
    clients: list[socket.socket] = []
    try:
        for _ in range(2):
            clients = await _connect(port, 20)
            await _until(lambda: sum(s.connections for s in servers) == 20)
            first, second = (s.connections for s in servers)
            assert abs(first - second) <= 1, (first, second)
            for client in clients:
                client.close()
            await _until(lambda: sum(s.connections for s in servers) == 0)
            assert list(counts) == [0, 0]
    finally:
        await _close(clients, servers, sock)
    assert list(counts) == [ABSENT, ABSENT]


def test_a_balance_not_accepting_stays_absent_as_connections_close() -> None:
    counts = (ctypes.c_long * 2)(ABSENT, 3)
    balance = Balance(counts, 0)
    balance.live = lambda: 2
    balance.closed()  # not serving yet: nothing published
    assert counts[0] == ABSENT
    balance.serving(True)
    balance.live = lambda: 1
    balance.closed()
    assert counts[0] == 1
    balance.serving(False)  # draining: its last connections close
    balance.live = lambda: 0
    balance.closed()
    assert counts[0] == ABSENT


def test_balance_ignores_workers_not_accepting_and_publishes_its_count() -> None:
    counts = (ctypes.c_long * 3)(ABSENT, 5, ABSENT)
    balance = Balance(counts, 0)
    balance.live = lambda: 4
    assert balance.allowance(1, None) == 1  # 5 <= 5
    assert counts[0] == 5
    balance.accepted()
    assert counts[0] == 6
    assert balance.allowance(2, None) == 0  # 6 > 5: slot 1 serves fewer
    counts[1] = ABSENT  # dead or draining: not waited for
    assert balance.allowance(2, None) == 1
    assert balance.allowance(2, 7) == 7  # alone: every waiting connection
    balance.serving(False)
    assert counts[0] == ABSENT


def test_balance_takes_up_to_an_even_share_of_what_is_served_and_waits() -> None:
    counts = (ctypes.c_long * 3)(ABSENT, 5, 9)
    balance = Balance(counts, 0)
    balance.live = lambda: 4
    # 4 + 5 + 9 served, 12 waiting: 30 in all, 10 each; this worker takes 6.
    assert balance.allowance(0, 12) == 6
    assert counts[0] == 4
    # Ahead of its share: none (the others take them).
    balance.live = lambda: 12
    assert balance.allowance(0, 3) == 0
    # Shares rounded up: 5 + 5 served, 1 waiting: both may take it (one gets it).
    counts[2] = ABSENT
    balance.live = lambda: 5
    assert balance.allowance(0, 1) == 1


class _Counting(Balance):
    """A balance that counts the times it held its worker back."""

    held = 0

    def allowance(self, connecting: int, waiting: int | None) -> int:
        allowed = super().allowance(connecting, waiting)
        if allowed == 0:
            _Counting.held += 1
        return allowed


async def test_a_queued_burst_is_split_without_taking_turns_at_each_connection() -> None:
    """Connections waiting when the workers look are shared out at once.

    One connection at a time ("do I serve no more than the other?"), the worker
    ahead paused at nearly every connection of a burst while the other took one.
    """
    sock = _listening()
    port = sock.getsockname()[1]
    clients = await _connect(port, 40)  # all queued before any worker accepts
    assert waiting_connections(sock) == 40
    counts = (ctypes.c_long * 2)(ABSENT, ABSENT)
    _Counting.held = 0
    servers = []
    try:
        for slot in range(2):
            balance = _Counting(counts, slot)
            server = await AE(f"W{slot}", make_policy(f"W{slot}")).serve(
                shared=[sock.dup()], gate=balance, start_serving=False
            )
            balance.live = lambda server=server: server.connections
            servers.append(server)
        for server in servers:
            await server.start_serving()
        await _until(lambda: sum(s.connections for s in servers) == 40)
        first, second = (s.connections for s in servers)
        assert abs(first - second) <= 1, (first, second)
        assert _Counting.held <= 4
    finally:
        await _close(clients, servers, sock)


def test_waiting_connections_is_the_accept_queue_of_a_tcp_listener() -> None:
    sock = _listening()
    clients = [socket.create_connection(sock.getsockname()) for _ in range(3)]
    try:
        assert waiting_connections(sock) == 3
        sock.setblocking(True)
        sock.accept()[0].close()
        assert waiting_connections(sock) == 2
    finally:
        for client in clients:
            client.close()
        sock.close()
    left, right = socket.socketpair()
    with left, right:
        assert waiting_connections(left) is None


class _Never:
    """A gate that always says another process should take the connection."""

    def __init__(self) -> None:
        self.asked = 0

    def allowance(self, connecting: int, waiting: int | None) -> int:
        self.asked += 1
        return 0

    def accepted(self) -> None:
        pass

    def serving(self, on: bool) -> None:
        pass


async def test_a_held_back_acceptor_takes_the_connection_when_no_one_else_does() -> None:
    """A worker that never comes back to the queue must not stop the others serving."""
    sock = _listening()
    made: list[asyncio.Protocol] = []

    def factory() -> asyncio.Protocol:
        made.append(asyncio.Protocol())
        return made[-1]

    gate = _Never()
    acceptor = SharedAcceptor(sock, factory, gate=gate)
    await acceptor.start_serving()
    loop = asyncio.get_running_loop()
    clients = await _connect(sock.getsockname()[1], 3)
    try:
        started = loop.time()
        await _until(lambda: len(made) == 3)
        assert loop.time() - started >= PATIENCE_SECONDS * 0.9  # held back first
        # Held back a few times (paused, not polling in a busy loop).
        assert 2 <= gate.asked < 200
        assert acceptor.accepted == 3
    finally:
        for client in clients:
            client.close()
        acceptor.close()
        await acceptor.wait_closed()
    assert acceptor.sockets == ()
