"""A handler waiting for the end of its data set is stepped on by the receive callback.

An inline C-STORE handler that takes its fragments with ``consume_with`` and
then awaits ``finished()`` gets no task for that wait: the callback that
delivers the last fragment sets the result and runs the handler's next step at
once (on Python 3.11 outside any task). Any other wait, a fragment it must read,
or the association ending makes it a task as before: an abort cancels it at the
wait it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, pdata_bytes, store_rq_command

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.dimse.codec import decode_command
from dicomnet.dimse.commands import CommandField, CStoreRSP
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.wakeup import SharedFuture, WakingFuture, wake_all, wake_shared
from dicomnet_pdu.pdus import AAbort, AAssociateAC, PDataTF
from dicomnet_pdu.pdv import Reassembler

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ starts inline handlers as the loop's eager tasks"
)

CT_CONTEXT = 1
CONTEXTS = (ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),)
DATASET = b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00" * 2000  # 28 KB: two PDUs and more

Handler = Callable[[IncomingRequest], Awaitable[Reply]]


def store(message_id: int, dataset: bytes | None = None) -> bytes:
    command = store_rq_command(message_id, f"1.2.3.{message_id}", CT_IMAGE_STORAGE)
    return pdata_bytes(CT_CONTEXT, command, dataset)


def halves(message_id: int) -> tuple[bytes, bytes]:
    """The request's bytes cut after the command and the first data PDU (16 KB)."""
    whole = store(message_id, DATASET)
    cut = len(store(message_id)) + 16384 + 6
    return whole[:cut], whole[cut:]


async def receive_command(raw: RawClient) -> object:
    reassembler = Reassembler()
    while True:
        pdu = await raw.receive()
        assert isinstance(pdu, PDataTF), pdu
        for fragment in reassembler.feed(pdu):
            return decode_command(bytes(fragment.data))


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@contextlib.asynccontextmanager
async def associated(
    handler: Handler, *, resumable: bool = False, window: int = 1
) -> AsyncIterator[tuple[RawClient, Any]]:
    policy = make_policy(
        "SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
        max_operations_invoked=window,
        max_operations_performed=window,
    )
    ae = AE("SCP", policy)
    binding = Binding(
        command_field=CommandField.C_STORE_RQ, handler=handler, inline=True, resumable=resumable
    )
    ae.add_handler(binding)
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        ours = make_policy("RAW", max_operations_invoked=window, max_operations_performed=window)
        rq = negotiation.build_request(ours, called_ae_title="SCP", contexts=CONTEXTS)
        assert isinstance(await raw.request(rq), AAssociateAC)
        try:
            yield raw, server
        finally:
            await raw.close()


class Consuming:
    """Takes the fragments as they come, then waits for the end (``after``: one more wait)."""

    def __init__(self, after: Callable[[], Awaitable[None]] | None = None) -> None:
        self.after = after
        self.received: list[bytes] = []
        self.tasks: list[asyncio.Task[Any] | None] = []
        self.events: list[str] = []

    async def handle(self, request: IncomingRequest) -> Reply:
        stream = request.data
        assert stream is not None
        stream.consume_with(lambda views: self.received.extend(bytes(v) for v in views))
        self.events.append("waiting")
        try:
            await stream.finished()
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        self.tasks.append(asyncio.current_task())
        if self.after is not None:
            await self.after()
            self.tasks.append(asyncio.current_task())
        return Reply()


async def test_the_end_of_the_data_set_steps_the_handler_on_without_a_task() -> None:
    handler = Consuming()
    async with associated(handler.handle) as (raw, _):
        first, rest = halves(1)
        raw.send(first)
        await until(lambda: handler.events == ["waiting"])
        raw.send(rest)
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert b"".join(handler.received) == DATASET
    assert handler.tasks == [None]  # the receive callback ran it, not a task


async def test_a_handler_waiting_for_something_else_goes_on_in_a_task() -> None:
    handler = Consuming(after=lambda: asyncio.sleep(0))
    async with associated(handler.handle) as (raw, _):
        first, rest = halves(2)
        raw.send(first)
        await until(lambda: handler.events == ["waiting"])
        raw.send(rest)
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert len(handler.tasks) == 2
    assert handler.tasks[0] is None and handler.tasks[1] is not None


async def test_an_abort_cancels_a_handler_waiting_for_its_data_set() -> None:
    handler = Consuming()
    async with associated(handler.handle) as (raw, server):
        first, _ = halves(3)
        raw.send(first)
        await until(lambda: handler.events == ["waiting"])
        (association,) = server.active
        raw.send(AAbort())
        assert await raw.at_eof()
        await until(lambda: not association.dispatcher.running)
    assert handler.events == ["waiting", "cancelled"]
    assert handler.tasks == []


async def test_a_reader_woken_for_each_fragment_goes_on_in_a_task() -> None:
    """``async for`` over the stream: a fragment to read is never handled inside the feed."""
    seen: list[asyncio.Task[Any] | None] = []
    chunks: list[bytes] = []

    async def reading(request: IncomingRequest) -> Reply:
        assert request.data is not None
        async for chunk in request.data:
            chunks.append(chunk)
            seen.append(asyncio.current_task())
        return Reply()

    async with associated(reading) as (raw, _):
        first, rest = halves(4)
        raw.send(first)
        await until(lambda: len(chunks) >= 1)
        raw.send(rest)
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert b"".join(chunks) == DATASET
    assert seen[-1] is not None


class Committing:
    """Reads its data set, then waits on a future another party completes: a plain one,
    or (``waking``) a WakingFuture its producer wakes (the index's group commit)."""

    def __init__(self, waking: bool = False) -> None:
        self.waking = waking
        self.future: asyncio.Future[None] | None = None
        self.tasks: list[asyncio.Task[Any] | None] = []
        self.events: list[str] = []

    async def handle(self, request: IncomingRequest) -> Reply:
        assert request.data is not None
        await request.data.read()
        loop = asyncio.get_running_loop()
        self.future = WakingFuture(loop=loop) if self.waking else loop.create_future()
        self.events.append("waiting")
        try:
            await self.future
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        self.tasks.append(asyncio.current_task())
        self.events.append("answered")
        return Reply()


async def test_a_resumable_handler_goes_on_from_the_future_it_waits_on_without_a_task() -> None:
    handler = Committing()
    async with associated(handler.handle, resumable=True) as (raw, server):
        raw.send(store(5, b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00"))
        await until(lambda: handler.events == ["waiting"])
        (association,) = server.active
        assert not association.dispatcher._tasks  # parked, not a task
        assert handler.future is not None
        handler.future.set_result(None)
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
        # Its answer was progress: the idle acceptor's DIMSE timer runs again.
        await until(lambda: association.protocol.timers.is_running("dimse"))
    assert handler.tasks == [None]


async def test_a_handler_not_bound_resumable_goes_on_in_a_task_after_a_future() -> None:
    handler = Committing()
    async with associated(handler.handle) as (raw, _):
        raw.send(store(6, b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00"))
        await until(lambda: handler.events == ["waiting"])
        assert handler.future is not None
        handler.future.set_result(None)
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert len(handler.tasks) == 1 and handler.tasks[0] is not None


async def test_a_resumable_handler_is_stepped_on_by_the_producer_of_a_waking_future() -> None:
    handler = Committing(waking=True)
    async with associated(handler.handle, resumable=True) as (raw, server):
        raw.send(store(8, b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00"))
        await until(lambda: handler.events == ["waiting"])
        (association,) = server.active
        assert not association.dispatcher._tasks
        assert isinstance(handler.future, WakingFuture)
        handler.future.set_result(None)
        wake_all([handler.future])
        # Stepped on inside wake_all: answered and finished before it returned.
        assert handler.events == ["waiting", "answered"]
        assert not association.dispatcher.running
        response = await receive_command(raw)
        assert isinstance(response, CStoreRSP) and response.status == 0x0000
        await until(lambda: association.protocol.timers.is_running("dimse"))


@pytest.mark.parametrize("waking", [False, True], ids=["future", "waking future"])
async def test_an_abort_cancels_a_resumable_handler_and_the_future_it_waits_on(
    waking: bool,
) -> None:
    handler = Committing(waking)
    async with associated(handler.handle, resumable=True) as (raw, server):
        raw.send(store(9, b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00"))
        await until(lambda: handler.events == ["waiting"])
        (association,) = server.active
        raw.send(AAbort())
        assert await raw.at_eof()
        await until(lambda: not association.dispatcher.running)
    assert handler.events == ["waiting", "cancelled"]
    assert handler.future is not None and handler.future.cancelled()
    wake_all([handler.future])  # the producer wakes it later: nobody is parked there now
    assert handler.events == ["waiting", "cancelled"]
    assert handler.tasks == []


class Sharing:
    """Reads its data set, then waits on one SharedFuture with the other handlers."""

    def __init__(self) -> None:
        self.future: SharedFuture | None = None
        self.events: list[str] = []
        self.tasks: list[asyncio.Task[Any] | None] = []

    async def handle(self, request: IncomingRequest) -> Reply:
        assert request.data is not None
        await request.data.read()
        if self.future is None:
            self.future = SharedFuture()
        mid = request.message.message_id
        self.events.append(f"waiting {mid}")
        try:
            await self.future
        except asyncio.CancelledError:
            self.events.append(f"cancelled {mid}")
            raise
        self.tasks.append(asyncio.current_task())
        self.events.append(f"answered {mid}")
        return Reply()


SMALL = b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00"


async def test_resumable_handlers_parked_on_a_shared_future_are_stepped_on_together() -> None:
    handler = Sharing()
    async with associated(handler.handle, resumable=True, window=4) as (raw, server):
        for mid in (1, 2, 3):
            raw.send(store(mid, SMALL))
        await until(lambda: len(handler.events) == 3)
        (association,) = server.active
        assert not association.dispatcher._tasks  # all parked, none a task
        assert handler.future is not None
        # One waker for the association's handlers on that future, not one each.
        assert len(handler.future.wakers) == 1
        handler.future.set_result(None)
        wake_shared(handler.future)
        # Stepped on inside wake_shared, in the order they waited.
        assert handler.events[3:] == ["answered 1", "answered 2", "answered 3"]
        assert not association.dispatcher.running and not association.dispatcher._tasks
        statuses = []
        for _ in range(3):
            response = await receive_command(raw)
            assert isinstance(response, CStoreRSP)
            statuses.append(response.status)
        assert statuses == [0, 0, 0]
        await until(lambda: association.protocol.timers.is_running("dimse"))


async def test_an_abort_cancels_handlers_parked_on_a_shared_future_not_the_future() -> None:
    handler = Sharing()
    async with associated(handler.handle, resumable=True, window=4) as (raw, server):
        for mid in (1, 2):
            raw.send(store(mid, SMALL))
        await until(lambda: len(handler.events) == 2)
        (association,) = server.active
        raw.send(AAbort())
        assert await raw.at_eof()
        await until(lambda: not association.dispatcher.running)
    assert sorted(handler.events[2:]) == ["cancelled 1", "cancelled 2"]
    future = handler.future
    assert future is not None and not future.done()  # the others' wait goes on
    future.set_result(None)
    wake_shared(future)  # nobody is parked there now
    assert len(handler.events) == 4 and handler.tasks == []


async def test_a_task_waiting_on_a_shared_future_is_cancelled_once_it_completes() -> None:
    shared = SharedFuture()
    waiter = asyncio.ensure_future(asyncio.wait_for(asyncio.shield(shared), 10))
    plain = asyncio.ensure_future(_await(shared))
    await asyncio.sleep(0)
    assert plain.cancel()
    await asyncio.sleep(0)
    assert not plain.done() and not shared.cancelled()  # refused: it is the others' too
    shared.set_result(7)
    assert await waiter == 7
    with pytest.raises(asyncio.CancelledError):
        await plain


async def _await(future: SharedFuture) -> object:
    return await future
