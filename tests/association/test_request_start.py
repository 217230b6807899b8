"""When a request's handler starts: at once without a data set, else when its data arrives.

A raw client sends C-STORE-RQ commands and data sets in writes of its choosing
to an SCP whose handler records what it finds when it starts. The handler of a
request whose whole data set comes with it finds it complete (and answers in
the receive callback, without a task); one whose data set has not begun does
not start until it does, and never starts at all if the association ends first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
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
from dicomnet_pdu.pdus import AAbort, AAssociateAC, PDataTF
from dicomnet_pdu.pdv import Reassembler

CT_CONTEXT = 1
CONTEXTS = (ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),)
DATASET = b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00" * 20


class Recorder:
    """A C-STORE handler noting, at its start, how much of the data set is there."""

    def __init__(self) -> None:
        self.server: Any = None
        self.starts: list[tuple[int, bool, int, bool]] = []
        self.data: list[bytes] = []

    async def handle(self, request: IncomingRequest) -> Reply:
        stream = request.data
        assert stream is not None
        self.starts.append(
            (
                request.message.message_id,
                stream.complete,
                stream.received,
                request.is_cancelled,
            )
        )
        self.data.append(await stream.read())
        return Reply(status=0xFE00 if request.is_cancelled else 0x0000)


@pytest.fixture
async def scp() -> AsyncIterator[tuple[RawClient, Recorder]]:
    """A raw client associated with an SCP whose C-STORE handler is a Recorder."""
    policy = make_policy(
        "SCP",
        timers={"artim": 0.3},
        max_operations_invoked=4,
        max_operations_performed=4,
        accepted_contexts=(
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    recorder = Recorder()
    ae = AE("SCP", policy)
    ae.add_handler(
        Binding(command_field=CommandField.C_STORE_RQ, handler=recorder.handle, inline=True)
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        ours = make_policy("RAW", max_operations_invoked=4, max_operations_performed=4)
        rq = negotiation.build_request(ours, called_ae_title="SCP", contexts=CONTEXTS)
        assert isinstance(await raw.request(rq), AAssociateAC)
        recorder.server = server
        try:
            yield raw, recorder
        finally:
            await raw.close()


async def receive_command(raw: RawClient) -> object:
    reassembler = Reassembler()
    while True:
        pdu = await raw.receive()
        assert isinstance(pdu, PDataTF), pdu
        for fragment in reassembler.feed(pdu):
            return decode_command(bytes(fragment.data))


def store(message_id: int, dataset: bytes | None = None) -> bytes:
    command = store_rq_command(message_id, f"1.2.3.{message_id}", CT_IMAGE_STORAGE)
    return pdata_bytes(CT_CONTEXT, command, dataset)


def data_only(dataset: bytes) -> bytes:
    whole = store(0, dataset)
    command_pdus = store(0)
    return whole[len(command_pdus) :]


async def until_received(recorder: Recorder, count: int) -> None:
    """The SCP has decoded ``count`` requests (its association took them on)."""
    for _ in range(500):
        active = list(recorder.server.active)
        if (
            active
            and active[0].dispatcher.running + len(active[0].dispatcher._awaiting_data) >= count
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the SCP did not take the request")


async def test_a_data_set_that_comes_with_its_command_is_complete_when_the_handler_starts(
    scp: tuple[RawClient, Recorder],
) -> None:
    raw, recorder = scp
    raw.send(store(1, DATASET))
    response = await receive_command(raw)
    assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert recorder.starts == [(1, True, len(DATASET), False)]
    assert recorder.data == [DATASET]


async def test_the_handler_waits_for_its_data_set_to_begin(
    scp: tuple[RawClient, Recorder],
) -> None:
    raw, recorder = scp
    raw.send(store(2))  # the command alone
    await until_received(recorder, 1)
    assert recorder.starts == []
    raw.send(data_only(DATASET))
    response = await receive_command(raw)
    assert isinstance(response, CStoreRSP) and response.message_id_being_responded_to == 2
    assert recorder.starts == [(2, True, len(DATASET), False)]
    assert recorder.data == [DATASET]


async def test_a_large_data_set_starts_its_handler_before_it_is_handed_on(
    scp: tuple[RawClient, Recorder],
) -> None:
    raw, recorder = scp
    big = DATASET * 400  # several PDUs, more than is worth copying
    raw.send(store(3, big))
    response = await receive_command(raw)
    assert isinstance(response, CStoreRSP) and response.status == 0x0000
    ((message_id, complete, received, _),) = recorder.starts
    assert (message_id, complete, received) == (3, False, 0)
    assert recorder.data == [big]


async def test_a_request_whose_data_set_never_comes_never_starts(
    scp: tuple[RawClient, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    raw, recorder = scp
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    raw.send(store(5))
    await until_received(recorder, 1)
    raw.send(AAbort())
    assert await raw.at_eof()
    await asyncio.sleep(0.05)
    assert recorder.starts == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_handler_not_bound_inline_starts_in_its_own_task() -> None:
    """It may use what needs a current task (asyncio.timeout) from its first step on."""
    seen: list[bool] = []

    async def timed(request: IncomingRequest) -> Reply:
        async with asyncio.timeout(5):
            seen.append(asyncio.current_task() is not None)
            assert request.data is not None
            await request.data.read()
        return Reply()

    policy = make_policy(
        "SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    ae = AE("SCP", policy)
    ae.add_handler(Binding(command_field=CommandField.C_STORE_RQ, handler=timed))
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS)
        assert isinstance(await raw.request(rq), AAssociateAC)
        raw.send(store(6, DATASET))
        response = await receive_command(raw)
        await raw.close()
    assert isinstance(response, CStoreRSP) and response.status == 0x0000
    assert seen == [True]
