"""A server binds its port first but accepts connections only once its handlers are in.

Between the two, a peer that connected would have been answered by an AE without its
services ("no such SOP class" for a C-STORE); it is refused instead and retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.policies import make_policy

from dicomnet import ae as ae_module
from dicomnet.ae import AE
from dicomnet.cli import serve as cli_serve
from dicomnet.systems import load_system, start_system
from dicomnet.systems import router as router_module
from dicomnet.systems import runner as system_runner
from dicomnet.transport import listen


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def _echo(port: int, called_ae: str) -> int:
    ae = AE("PROBE", make_policy("PROBE"))
    async with ae.associate("127.0.0.1", port, called_ae=called_ae) as assoc:
        return (await assoc.echo()).code


async def test_a_server_made_not_serving_refuses_until_it_starts() -> None:
    ae = AE("LATE", make_policy("LATE"))
    server = await ae.serve("127.0.0.1", 0, start_serving=False)
    async with server:
        assert server.port and await _refused(server.port)
        await server.start_serving()
        assert await _echo(server.port, "LATE") == 0


def _capture_ports(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ports bound by AE.serve and by a system's shared (routed) ports, as bound."""
    bound: list[int] = []

    async def capturing(*args: Any, **kwargs: Any) -> list[asyncio.Server]:
        listeners = await listen(*args, **kwargs)
        bound.append(listeners[0].sockets[0].getsockname()[1])
        return listeners

    monkeypatch.setattr(ae_module, "listen", capturing)
    monkeypatch.setattr(router_module, "listen", capturing)
    return bound


def _held(release: asyncio.Event, started: asyncio.Event, real: Callable[..., Any]) -> Any:
    async def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await release.wait()
        return await real(*args, **kwargs)

    return held


async def test_a_system_accepts_once_its_resources_and_handlers_are_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = _capture_ports(monkeypatch)
    opening, release = asyncio.Event(), asyncio.Event()
    held = _held(release, opening, system_runner.open_resources)
    monkeypatch.setattr(system_runner, "open_resources", held)
    start = asyncio.ensure_future(
        start_system(
            load_system("lifesys"), host="127.0.0.1", root=tmp_path, any_port=True, fsync=False
        )
    )
    await opening.wait()  # every port is bound; the index is being opened
    assert bound
    for port in bound:
        assert await _refused(port)
    release.set()
    running = await start
    try:
        storage = next(ae for ae in running.spec.aes if ae.name == "storage")
        assert await _echo(running.ports["storage"], storage.title) == 0
    finally:
        await running.close()


async def test_serve_accepts_once_its_index_and_handlers_are_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = _capture_ports(monkeypatch)
    opening, release = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(cli_serve, "_open_index", _held(release, opening, cli_serve._open_index))
    args = cli_serve.build_parser().parse_args(
        ["--output", str(tmp_path / "store"), "--port", "0", "--host", "127.0.0.1"]
    )
    ready, stop = asyncio.Event(), asyncio.Event()
    serving = asyncio.ensure_future(
        cli_serve.serve(args, ready=lambda _server: ready.set(), stop=stop)
    )
    await opening.wait()
    (port,) = bound
    assert await _refused(port)
    release.set()
    await ready.wait()
    try:
        assert await _echo(port, "DICOMNET") == 0
    finally:
        stop.set()
        assert await serving == 0
