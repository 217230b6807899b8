"""DataStream: queued reading and hand-over to a synchronous consumer."""

from __future__ import annotations

import asyncio

import pytest

from dicomnet.services.base import DataStream


def views(*chunks: bytes) -> list[memoryview]:
    return [memoryview(bytearray(chunk)) for chunk in chunks]


async def test_views_are_copied_when_queued() -> None:
    stream = DataStream()
    parts = views(b"ab", b"cd")
    assert stream.feed_views(parts) == 4
    parts[0][0] = ord("x")  # the receive buffer is reused
    stream.finish()
    assert await stream.read() == b"abcd"


async def test_consumer_gets_queued_fragments_first_then_each_run() -> None:
    consumed: list[int] = []
    stream = DataStream(on_consumed=consumed.append)
    stream.feed(b"early")
    seen: list[bytes] = []
    stream.consume_with(lambda vs: seen.append(b"".join(vs)) and None)
    assert seen == [b"early"] and consumed == [5]
    assert stream.feed_views(views(b"1", b"2")) == 0  # nothing queued: no backlog
    stream.feed(b"3")
    waiter = asyncio.ensure_future(stream.finished())
    await asyncio.sleep(0)
    assert not waiter.done()
    stream.finish()
    await waiter
    assert seen == [b"early", b"12", b"3"] and stream.received == 8


async def test_consumer_that_stops_drops_the_rest() -> None:
    seen: list[bytes] = []

    def consumer(vs: list[memoryview]) -> bool:
        seen.append(b"".join(vs))
        return True

    stream = DataStream()
    stream.consume_with(consumer)
    stream.feed_views(views(b"a"))
    await stream.finished()  # stopped: returns before the data set is complete
    stream.feed_views(views(b"b"))
    assert seen == [b"a"]


async def test_consumer_error_is_raised_by_finished() -> None:
    def consumer(vs: list[memoryview]) -> None:
        raise ValueError("broken")

    stream = DataStream()
    stream.consume_with(consumer)
    stream.feed_views(views(b"a"))
    with pytest.raises(ValueError, match="broken"):
        await stream.finished()


async def test_association_end_is_raised_by_finished() -> None:
    stream = DataStream()
    stream.consume_with(lambda vs: None)
    stream.fail(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await stream.finished()


async def test_stream_is_read_once() -> None:
    stream = DataStream()
    stream.consume_with(lambda vs: None)
    with pytest.raises(RuntimeError):
        aiter(stream)
