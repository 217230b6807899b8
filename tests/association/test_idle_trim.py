"""A server returns freed memory once it has stayed idle, not while clients keep coming."""

from __future__ import annotations

import asyncio

import pytest

import dicomnet.ae as ae_module
from dicomnet.ae import AE


async def connect_and_close(port: int) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


async def wait_until(predicate: object) -> None:
    assert callable(predicate)
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("gave up waiting")


async def test_memory_is_released_after_idle_and_not_between_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(ae_module, "release_free_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(ae_module, "TRIM_AFTER_CONNECTIONS", 1)
    monkeypatch.setattr(ae_module, "TRIM_WHEN_IDLE_SECONDS", 1.0)
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        await connect_and_close(server.port)
        await wait_until(lambda: not server._protocols)
        assert calls == []  # not at once: another client may be about to connect
        await connect_and_close(server.port)  # arrives within the delay: cancels it
        await wait_until(lambda: not server._protocols)
        await wait_until(lambda: calls)
        assert calls == [1]
        await asyncio.sleep(1.2)
        assert calls == [1]  # once per idle period
