"""Requests sent inline by ``send_request`` (no task) when nothing waits before them."""

from __future__ import annotations

import asyncio

import pytest
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy

from dicomnet.ae import AE
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CEchoRQ, CommandField, CStoreRQ
from dicomnet.errors import NegotiationError
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest

ECHO = CEchoRQ(message_id=0, affected_sop_class_uid=VERIFICATION_SOP_CLASS)


async def test_a_request_with_room_is_written_before_send_request_returns() -> None:
    scp = AE("SCP", make_policy("SCP"))
    scu = AE("SCU", make_policy("SCU"))
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            written: list[int] = []
            protocol = assoc.protocol
            original = protocol.write_whole

            def spy(segments, size):  # type: ignore[no-untyped-def]
                done = original(segments, size)
                written.append(size)
                return done

            protocol.write_whole = spy  # type: ignore[method-assign]
            stream = assoc.send_request(ECHO)
            # Handed to the transport synchronously, its one PDU in one batch: no sender
            # task, message ID taken.
            assert written == [len(encode_command(ECHO)) + 12]
            assert stream.sender is None
            assert stream.message_id != 0
            assert (await stream).status == 0


def _store_pair() -> tuple[AE, AE, list[ProposedContext]]:
    async def drain(request: IncomingRequest) -> int:
        assert request.data is not None
        async for _ in request.data:
            pass
        return 0

    syntaxes = (IMPLICIT_LE,)
    scp = AE(
        "SCP",
        make_policy(
            "SCP",
            accepted_contexts=(
                AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=syntaxes),
            ),
        ),
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=drain)],
    )
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=syntaxes)]
    return scp, AE("SCU"), contexts


def _store(uid: str) -> CStoreRQ:
    return CStoreRQ(
        message_id=0, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
    )


async def test_a_data_set_larger_than_a_pdu_is_cut_and_written_before_send_request_returns() -> (
    None
):
    scp, scu, contexts = _store_pair()
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            protocol = assoc.protocol
            whole: list[int] = []
            cut: list[int] = []
            original_whole, original_cut = protocol.write_whole, protocol.write_pdata

            def spy_whole(segments, size):  # type: ignore[no-untyped-def]
                whole.append(size)
                return original_whole(segments, size)

            def spy_cut(pdus, **kwargs):  # type: ignore[no-untyped-def]
                done = original_cut(pdus, **kwargs)
                cut.append(int(done))
                return done

            protocol.write_whole = spy_whole  # type: ignore[method-assign]
            protocol.write_pdata = spy_cut  # type: ignore[method-assign]
            # Over the peer's maximum PDU length: the general cutter's PDUs.
            data = b"\x00" * (assoc.negotiated.max_pdu_send + 2)
            stream = assoc.send_request(_store("1.2.3.1"), data)
            assert whole == []
            assert cut == [1]
            assert stream.sender is None
            assert (await stream).status == 0
            # One PDU each for command and data set: written whole.
            small = assoc.send_request(_store("1.2.3.2"), b"\x00" * 100)
            assert len(whole) == 1
            assert small.sender is None
            assert (await small).status == 0


async def test_a_whole_request_that_fills_the_write_buffer_holds_the_next_until_drained() -> None:
    scp, scu, contexts = _store_pair()
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            protocol = assoc.protocol
            original = protocol.write_whole
            calls: list[int] = []

            def filling(segments, size):  # type: ignore[no-untyped-def]
                calls.append(size)
                done = original(segments, size)
                return done and len(calls) > 1  # the first write finds the buffer full

            protocol.write_whole = filling  # type: ignore[method-assign]
            first = assoc.send_request(_store("1.2.3.1"), b"\x00" * 100)
            # Written, but the send slot is held by a task until the buffer drains; the
            # next request waits behind it in a task of its own.
            assert first.sender is not None
            second = assoc.send_request(_store("1.2.3.2"), b"\x00" * 100)
            assert second.sender is not None
            responses = await asyncio.gather(first, second)
            assert [r.status for r in responses] == [0, 0]
            assert first.message_id != second.message_id


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
