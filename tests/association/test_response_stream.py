"""ResponseStream: its final-response callback runs once and is not kept after it; a
Response made from a received message is the constructor's."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
from collections.abc import Iterator

import pytest

from dicomnet.association.requests import Response, ResponseStream, received_response
from dicomnet.dimse.commands import plain_store_rsp

CT = "1.2.840.10008.5.1.4.1.1.2"


async def _no_cancel(stream: ResponseStream) -> None:
    return None


def _response(status: int) -> Response:
    message = plain_store_rsp(
        responded_to=1,
        status=status,
        sop_class_uid=CT,
        sop_instance_uid="1.2.3",
        has_dataset=False,
    )
    return Response(message=message, dataset=None, context_id=1)


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _stream_ended(ending: str, seen: list[object]) -> weakref.ref[ResponseStream]:
    """A stream whose callback holds it (as the Storage SCU's does), ended by ``ending``."""
    stream = ResponseStream(_no_cancel)
    entry = ("source", stream)
    stream.on_final = lambda done: seen.append(entry)
    if ending == "failure":
        stream.fail(ConnectionError("gone"))
    else:
        stream.deliver(_response(0xFF00))  # pending: no callback yet
        assert seen == []
        stream.deliver(_response(0x0000))
        assert stream.result().status == 0
    assert seen == [entry]
    assert stream.on_final is None
    stream.deliver(_response(0x0000))  # after the final: ignored, no second call
    assert len(seen) == 1
    return weakref.ref(stream)


@pytest.mark.parametrize("ending", ["final response", "failure"])
async def test_a_callback_that_holds_its_stream_leaves_no_cycle(
    ending: str, collector_off: None
) -> None:
    seen: list[object] = []
    gone = _stream_ended(ending, seen)
    seen.clear()
    assert gone() is None  # freed by reference counting, the collector off


@pytest.mark.parametrize("dataset", [None, b"\x08\x00\x18\x00"])
def test_received_response_is_the_constructors(dataset: bytes | None) -> None:
    message = _response(0xB000).message
    made = received_response(message, dataset, 3)
    expected = Response(message=message, dataset=dataset, context_id=3)
    assert type(made) is Response
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    assert (made.message, made.dataset, made.context_id) == (message, dataset, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.context_id = 5  # type: ignore[misc]


async def test_awaited_before_and_after_the_final_response() -> None:
    early = ResponseStream(_no_cancel)
    waiting = asyncio.ensure_future(_await(early))
    await asyncio.sleep(0)
    assert not early.done
    with pytest.raises(asyncio.InvalidStateError):
        early.result()
    early.deliver(_response(0xFF00))  # pending: the awaiter waits on
    await asyncio.sleep(0)
    assert not waiting.done()
    early.deliver(_response(0x0000))
    assert (await waiting).status == 0
    late = ResponseStream(_no_cancel)
    late.deliver(_response(0xB000))
    assert late.done
    assert (await late).status == 0xB000
    assert (await late).status == 0xB000  # awaited again: the same response


async def _await(stream: ResponseStream) -> Response:
    return await stream


async def test_iterated_pending_responses_then_the_final_one_or_the_error() -> None:
    stream = ResponseStream(_no_cancel)
    stream.deliver(_response(0xFF00))
    stream.deliver(_response(0xFF01))
    seen: list[int] = []

    async def iterate() -> None:
        async for response in stream:
            seen.append(response.status)  # noqa: PERF401 (seen as they come)

    task = asyncio.ensure_future(iterate())
    await asyncio.sleep(0)
    assert seen == [0xFF00, 0xFF01]  # given as they came, then it waits
    stream.deliver(_response(0xFF00))
    stream.deliver(_response(0x0000))
    await task
    assert seen == [0xFF00, 0xFF01, 0xFF00, 0x0000]

    failing = ResponseStream(_no_cancel)
    failing.deliver(_response(0xFF00))
    failing.fail(ConnectionError("gone"))
    assert failing.done
    got: list[int] = []
    with pytest.raises(ConnectionError, match="gone"):
        async for response in failing:
            got.append(response.status)  # noqa: PERF401 (kept up to the error)
    assert got == [0xFF00]  # the pending response first, then the error
    with pytest.raises(ConnectionError, match="gone"):
        await failing
    with pytest.raises(ConnectionError, match="gone"):
        failing.result()


async def test_a_cancelled_awaiter_leaves_the_stream_to_its_response() -> None:
    stream = ResponseStream(_no_cancel)
    seen: list[object] = []
    stream.on_final = seen.append
    waiting = asyncio.ensure_future(_await(stream))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    stream.deliver(_response(0x0000))  # no error for the cancelled awaiter's future
    assert seen == [stream]
    assert stream.result().status == 0
    assert (await stream).status == 0  # a new awaiter gets the response
