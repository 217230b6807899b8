"""Timers against peers that stop answering: release (no A-RELEASE-RP), connect (no SYN-ACK).

The ARTIM, associate and DIMSE timers are shown in test_association.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest
from helpers.policies import make_policy
from helpers.raw_ul import fake_acceptor, read_pdu

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.errors import TimeoutExpired
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.pdus import PDU, AAbort, AAssociateRQ, AReleaseRQ, PDataTF


async def test_release_timeout_aborts_and_names_the_timer() -> None:
    received: list[PDU] = []
    done = asyncio.Event()

    async def accept_then_ignore_release(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        rq = await read_pdu(reader)
        assert isinstance(rq, AAssociateRQ)
        outcome = negotiation.evaluate_request(make_policy("DEAF"), rq)
        assert isinstance(outcome, tuple)
        writer.write(encode_pdu(outcome[0]))
        try:
            while not received or not isinstance(received[-1], AAbort):
                # Read everything, answer nothing; close on A-ABORT as PS3.8 AA-3 says.
                received.append(await read_pdu(reader, timeout=10))
        finally:
            writer.close()
            done.set()

    ae = AE("SCU", make_policy("SCU", timers={"release": 0.2}))
    async with fake_acceptor(accept_then_ignore_release) as port:
        assoc = await ae.associate("127.0.0.1", port, called_ae="DEAF")
        with pytest.raises(TimeoutExpired) as info:
            await assoc.release()
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.wait_for(assoc.wait_closed(), 5)
    assert info.value.timer == "release" and info.value.seconds == 0.2
    assert assoc.is_ended and assoc.error is info.value
    # What the deaf peer saw: the A-RELEASE-RQ, then the A-ABORT sent when the timer expired.
    assert [type(pdu) for pdu in received] == [AReleaseRQ, AAbort]
    abort = received[1]
    assert isinstance(abort, AAbort) and abort.source == AbortSource.SERVICE_USER


async def test_release_timeout_through_the_context_manager() -> None:
    async def accept_then_ignore_release(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        rq = await read_pdu(reader)
        assert isinstance(rq, AAssociateRQ)
        outcome = negotiation.evaluate_request(make_policy("DEAF"), rq)
        assert isinstance(outcome, tuple)
        writer.write(encode_pdu(outcome[0]))
        await reader.read()  # until the requestor closes

    ae = AE("SCU", make_policy("SCU", timers={"release": 0.1}))
    async with fake_acceptor(accept_then_ignore_release) as port:
        with pytest.raises(TimeoutExpired) as info:
            async with ae.associate("127.0.0.1", port, called_ae="DEAF") as assoc:
                assert assoc.is_established
    assert info.value.timer == "release"


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listener never accepts and whose backlog is full.

    With the accept queue full, the kernel drops further SYNs, so a new
    connection attempt neither succeeds nor fails: only a timer ends it.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_connect_timeout_on_a_peer_that_never_answers_the_syn(unanswered_port: int) -> None:
    ae = AE("SCU", make_policy("SCU", timers={"connect": 0.2}))
    with pytest.raises(TimeoutExpired) as info:
        await ae.associate("127.0.0.1", unanswered_port)
    assert info.value.timer == "connect" and info.value.seconds == 0.2
    assert f"127.0.0.1:{unanswered_port}" in str(info.value)


async def test_dimse_timeout_on_a_peer_that_accepts_and_then_says_nothing() -> None:
    received: list[PDU] = []

    async def accept_then_stay_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        rq = await read_pdu(reader)
        assert isinstance(rq, AAssociateRQ)
        outcome = negotiation.evaluate_request(make_policy("MUTE"), rq)
        assert isinstance(outcome, tuple)
        writer.write(encode_pdu(outcome[0]))
        while not received or not isinstance(received[-1], AAbort):
            received.append(await read_pdu(reader, timeout=10))
        writer.close()

    ae = AE("SCU", make_policy("SCU", timers={"dimse": 0.2}))
    async with fake_acceptor(accept_then_stay_silent) as port:
        assoc = await ae.associate("127.0.0.1", port, called_ae="MUTE")
        with pytest.raises(TimeoutExpired) as info:
            await assoc.echo()
        await asyncio.wait_for(assoc.wait_closed(), 5)
    assert info.value.timer == "dimse" and info.value.seconds == 0.2
    # The C-ECHO-RQ went out, then the A-ABORT when the timer expired.
    assert [type(pdu) for pdu in received] == [PDataTF, AAbort]
