"""The latency proxy and the raw-socket sink/sender, in-process on loopback."""

from __future__ import annotations

import asyncio

from benchmarks.proxy import send_bytes, start_delay_proxy, start_sink

DELAY = 0.05


async def echo_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def test_delay_proxy_forwards_both_ways_with_its_delay() -> None:
    loop = asyncio.get_running_loop()
    target = await asyncio.start_server(echo_until_eof, "127.0.0.1", 0)
    proxy = await start_delay_proxy(target.sockets[0].getsockname()[1], DELAY)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.sockets[0].getsockname()[1]
        )
        payload = bytes(range(256)) * 4096  # 1 MiB: several chunks, flow control engaged
        sent_at = loop.time()
        writer.write(payload)
        await writer.drain()
        first = await reader.readexactly(1)
        first_at = loop.time()
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), timeout=10)  # until the proxied EOF
        writer.close()
        await writer.wait_closed()
    finally:
        proxy.close()
        target.close()
    assert first + rest == payload  # every byte, in order, then EOF
    # One delay out and one back; the loop may fire a timer up to its clock resolution early.
    assert first_at - sent_at >= 2 * DELAY - 0.01


async def test_delay_proxy_closes_client_when_target_is_down() -> None:
    spare = await asyncio.start_server(echo_until_eof, "127.0.0.1", 0)
    port = spare.sockets[0].getsockname()[1]
    spare.close()
    await spare.wait_closed()
    proxy = await start_delay_proxy(port, DELAY)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.sockets[0].getsockname()[1]
        )
        assert await asyncio.wait_for(reader.read(), timeout=10) == b""
        writer.close()
    finally:
        proxy.close()


async def test_send_reaches_sink_and_reports_totals() -> None:
    total = 3 * 16384 + 100  # not a multiple of the chunk size
    sink = await start_sink(total)
    try:
        result = await send_bytes(sink.sockets[0].getsockname()[1], total, 16384)
    finally:
        sink.close()
    assert result["bytes"] == total
    assert result["chunk"] == 16384
    assert result["seconds"] > 0
