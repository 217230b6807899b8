"""Transport options: uvloop picked by ``run()``, TCP_NODELAY on by default and switchable."""

from __future__ import annotations

import asyncio
import socket

import pytest
from conftest import require_module
from helpers.burst import connect_all
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.transport import run


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_run_uses_uvloop_when_installed() -> None:
    require_module("uvloop")
    import uvloop

    assert issubclass(run(loop_type()), uvloop.Loop)
    # Opting out gives the standard loop; nothing was installed globally.
    assert not issubclass(run(loop_type(), use_uvloop=False), uvloop.Loop)
    assert isinstance(asyncio.get_event_loop_policy(), asyncio.DefaultEventLoopPolicy)


def test_an_echo_runs_on_uvloop() -> None:
    require_module("uvloop")
    import uvloop

    async def echo_once() -> tuple[int, type, int]:
        async with await AE("SCP").serve("127.0.0.1", 0) as server:
            async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
                status = await assoc.echo()
                (theirs,) = server.active
                # uvloop's transports get TCP_NODELAY too, accepted and connected alike.
                option = nodelay(assoc) and nodelay(theirs)
        return status.code, type(asyncio.get_running_loop()), option

    code, loop, option = run(echo_once())
    assert code == 0 and issubclass(loop, uvloop.Loop) and option


def nodelay(association: Association) -> int:
    sock = association.protocol.extra("socket")
    value: int = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    return value


@pytest.mark.parametrize("enabled", [True, False])
async def test_tcp_nodelay_follows_the_policy(enabled: bool) -> None:
    server_policy = make_policy("SCP", tcp_nodelay=enabled)
    client_policy = make_policy("SCU", tcp_nodelay=enabled)
    async with await AE("SCP", server_policy).serve("127.0.0.1", 0) as server:
        async with AE("SCU", client_policy).associate("127.0.0.1", server.port) as assoc:
            (theirs,) = server.active
            assert bool(nodelay(assoc)) is enabled
            assert bool(nodelay(theirs)) is enabled
            assert (await assoc.echo()).is_success


async def test_tcp_nodelay_is_on_by_default() -> None:
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            (theirs,) = server.active
            assert nodelay(assoc) and nodelay(theirs)


async def test_a_burst_of_connections_is_queued_while_the_server_is_busy() -> None:
    """asyncio's default backlog (100) drops a burst's handshakes past it (the peers retry
    after 1, 2, 4 ... s); the listener asks for the kernel's maximum."""
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        # The loop is blocked while connecting: nothing is accepted meanwhile.
        assert connect_all(server.port, 300) == 300
