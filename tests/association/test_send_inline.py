"""Requests sent inline by ``send_request`` (no task) when nothing waits before them."""

from __future__ import annotations

import asyncio

import pytest
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.dimse.commands import CEchoRQ, CommandField
from dicomnet.errors import NegotiationError
from dicomnet.policy import VERIFICATION_SOP_CLASS
from dicomnet.services.base import Binding, IncomingRequest

ECHO = CEchoRQ(message_id=0, affected_sop_class_uid=VERIFICATION_SOP_CLASS)


async def test_a_request_with_room_is_written_before_send_request_returns() -> None:
    scp = AE("SCP", make_policy("SCP"))
    scu = AE("SCU", make_policy("SCU"))
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            written: list[int] = []
            protocol = assoc.protocol
            original = protocol.write_pdata

            def spy(pdus, **kwargs):  # type: ignore[no-untyped-def]
                done = original(pdus, **kwargs)
                written.append(int(done))
                return done

            protocol.write_pdata = spy  # type: ignore[method-assign]
            stream = assoc.send_request(ECHO)
            # Handed to the transport synchronously: no sender task, message ID taken.
            assert written == [1]
            assert stream.sender is None
            assert stream.message_id != 0
            assert (await stream).status == 0


async def test_requests_behind_a_waiting_one_keep_their_order() -> None:
    # Window 1: the second request waits (in a task) for the first response; the
    # third must not overtake it even when a slot is free when it is issued.
    order: list[int] = []
    gate = asyncio.Event()

    async def echo(request: IncomingRequest) -> int:
        order.append(request.message.message_id)
        await gate.wait()
        return 0

    scp = AE(
        "SCP",
        make_policy("SCP", max_operations_performed=1),
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=echo)],
    )
    scu = AE("SCU", make_policy("SCU", max_operations_invoked=1))
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            first = assoc.send_request(ECHO)
            assert first.sender is None  # inline
            second = assoc.send_request(ECHO)
            assert second.sender is not None  # the window is full: it waits in a task
            gate.set()
            await first
            third = assoc.send_request(ECHO)
            assert third.sender is not None  # someone waits before it: no overtaking
            responses = await asyncio.gather(second, third)
    assert [r.status for r in responses] == [0, 0]
    assert order == [first.message_id, second.message_id, third.message_id]


async def test_an_unknown_context_fails_the_stream_and_frees_the_slots() -> None:
    scp = AE("SCP", make_policy("SCP"))
    scu = AE("SCU", make_policy("SCU", max_operations_invoked=1))
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            bad = assoc.send_request(ECHO, context=99)
            assert bad.done and bad.sender is None
            with pytest.raises(NegotiationError, match="ID 99"):
                await bad
            # Window and sender slots were given back: the next request goes inline.
            good = assoc.send_request(ECHO)
            assert good.sender is None
            assert (await good).status == 0
