"""Back-pressure end to end: a slow handler pauses reading, and the sender waits for drain."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.dimse.commands import CommandField, CStoreRQ
from dicomnet.flow import DEFAULT_HIGH_WATER
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest

SIZE = 3 * DEFAULT_HIGH_WATER  # far more than the receive high-water mark


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds."""
    while not condition():
        await asyncio.sleep(0.01)


async def test_unread_data_pauses_the_receiver_and_blocks_the_sender() -> None:
    gate = asyncio.Event()
    received = 0
    server_side: list[Association] = []

    async def slow_store(request: IncomingRequest) -> int:
        nonlocal received
        server_side.append(request.association)
        await gate.wait()  # nothing is read until the test says so
        assert request.data is not None
        async for chunk in request.data:
            received += len(chunk)
        return 0

    scp_policy = make_policy(
        "SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    scp = AE(
        "SCP",
        scp_policy,
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=slow_store)],
    )
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,))]
    async with await scp.serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            # Small kernel buffers, so what the SCP does not read backs up into our transport.
            (theirs,) = server.active
            theirs.protocol.extra("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            assoc.protocol.extra("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            request = CStoreRQ(
                message_id=0,
                affected_sop_class_uid=CT_IMAGE_STORAGE,
                affected_sop_instance_uid="1.2.3.4",
            )
            stream = assoc.send_request(request, b"\x00" * SIZE)
            await asyncio.wait_for(until(lambda: bool(server_side)), 10)
            receiver = server_side[0].protocol.flow
            sender = assoc.protocol.flow
            # Wait until both ends push back: the SCP stopped reading, the SCU's buffer is full.
            await asyncio.wait_for(until(lambda: receiver.read_paused and sender.write_paused), 10)
            assert stream.sender is not None and not stream.sender.done()
            # Received but unread data stays bounded near the high-water mark.
            assert DEFAULT_HIGH_WATER < receiver.backlog <= DEFAULT_HIGH_WATER + 64 * 1024
            gate.set()
            response = await asyncio.wait_for(stream, 30)
            assert response.status == 0
            assert not receiver.read_paused and not sender.write_paused
    assert received == SIZE
