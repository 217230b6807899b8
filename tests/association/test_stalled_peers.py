"""Peers that stop half way: every state an acceptor waits in ends at a timer.

PS3.8 §9.1.5 bounds Sta2 (no A-ASSOCIATE-RQ yet) and Sta13 (waiting for the
peer to close) with ARTIM; in Sta6 the local DIMSE timer bounds every wait on
the peer: an idle association, a command or data set half received
(restarted by each fragment), and a response the peer does not read. When it
expires the association is aborted with A-ABORT on the wire, and ARTIM then
bounds the wait for the close. A silent TCP connection (Sta2) is shown in
test_association.py (``test_artim_closes_a_connection_that_never_sends_a_request``).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, fake_acceptor, read_pdu

from dicomnet import negotiation
from dicomnet.ae import AE, Server
from dicomnet.association import Association
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CEchoRQ, CommandField, CStoreRQ
from dicomnet.errors import AssociationAborted, TimeoutExpired
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    LimitMode,
    Policy,
    ProposedContext,
)
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.pdus import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
    ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
)
ECHO_CONTEXT = 1
STORE_CONTEXT = 3


def scp_policy(*, dimse: float = 0.5, artim: float = 0.3) -> Policy:
    return make_policy(
        "SCP",
        timers={"dimse": dimse, "artim": artim},
        accepted_contexts=tuple(
            AcceptedContext(abstract_syntax=c.abstract_syntax, transfer_syntaxes=(IMPLICIT_LE,))
            for c in CONTEXTS
        ),
    )


def pdv(context_id: int, data: bytes, *, command: bool, last: bool) -> bytes:
    """One P-DATA-TF holding one PDV with the given control bits."""
    return encode_pdu(
        PDataTF(pdvs=(PDV(context_id=context_id, is_command=command, is_last=last, data=data),))
    )


ECHO = encode_command(CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS))
STORE = encode_command(
    CStoreRQ(
        message_id=1,
        affected_sop_class_uid=CT_IMAGE_STORAGE,
        affected_sop_instance_uid="1.2.826.0.1.3680043.99.7",
    )
)


async def associated(server: Server) -> RawClient:
    raw = await RawClient.connect("127.0.0.1", server.port)
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS)
    assert isinstance(await raw.request(rq), AAssociateAC)
    return raw


def the_association(server: Server) -> Association:
    (association,) = server.active
    return association


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate()`` until true (a liveness bound, not a timing check)."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def increasing(values: list[float | None]) -> bool:
    """Whether every value is set and each is later than the one before."""
    return all(a is not None and b is not None and a < b for a, b in itertools.pairwise(values))


async def expect_abort_then_close(raw: RawClient) -> AAbort:
    """The acceptor's A-ABORT, then its close: this side never closes first."""
    abort = await raw.receive(timeout=10)
    assert isinstance(abort, AAbort)
    assert await raw.at_eof(timeout=10)
    return abort


@pytest.fixture
async def scp() -> AsyncIterator[Server]:
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:
        yield server


# ------------------------------------------------------------------ Sta13: waiting for the close


async def test_peer_that_never_closes_after_the_release_rp_is_closed_after_artim(
    scp: Server,
) -> None:
    raw = await associated(scp)
    try:
        raw.send(AReleaseRQ())
        assert isinstance(await raw.receive(), AReleaseRP)
        # PS3.8 AR-4: the acceptor waits in Sta13 for the requestor to close, at most
        # ARTIM (Evt18, AA-2); this peer never closes.
        assert await raw.at_eof(timeout=10)
    finally:
        await raw.close()
    await until(lambda: not scp.active, "the association to end")


async def test_idle_association_is_aborted_and_closed_though_the_peer_never_closes(
    scp: Server,
) -> None:
    raw = await associated(scp)
    try:
        abort = await expect_abort_then_close(raw)
    finally:
        await raw.close()
    assert abort.source == AbortSource.SERVICE_USER


# ------------------------------------------------------------------ Sta6: half a message


async def test_half_received_command_is_aborted(scp: Server) -> None:
    raw = await associated(scp)
    try:
        raw.send(pdv(ECHO_CONTEXT, ECHO[:20], command=True, last=False))
        await expect_abort_then_close(raw)
    finally:
        await raw.close()


async def test_each_command_fragment_restarts_the_dimse_timer() -> None:
    async with await AE("SCP", scp_policy(dimse=30)).serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            timers = the_association(server).protocol.timers
            await until(lambda: timers.deadline("dimse") is not None, "the idle timer")
            deadlines = [timers.deadline("dimse")]
            for start in range(0, len(ECHO) - 10, 10):
                await asyncio.sleep(0.02)  # the loop clock moves between two fragments
                raw.send(pdv(ECHO_CONTEXT, ECHO[start : start + 10], command=True, last=False))
                await until(lambda: timers.deadline("dimse") != deadlines[-1], "a restart")
                deadlines.append(timers.deadline("dimse"))
            assert increasing(deadlines)
        finally:
            await raw.close()


async def read_all(request: IncomingRequest) -> int:
    assert request.data is not None
    await request.data.read()
    return 0


def reading_scp(*, dimse: float = 0.5) -> AE:
    """An SCP whose C-STORE handler reads the whole data set."""
    return AE(
        "SCP",
        scp_policy(dimse=dimse),
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=read_all)],
    )


async def test_half_received_data_set_is_aborted_and_the_handler_is_stopped() -> None:
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[tuple[Association, BaseException | bytes]] = loop.create_future()

    async def read_all(request: IncomingRequest) -> int:
        assert request.data is not None
        try:
            data = await request.data.read()
        except BaseException as exc:
            outcome.set_result((request.association, exc))
            raise
        outcome.set_result((request.association, data))
        return 0

    ae = AE(
        "SCP",
        scp_policy(),
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=read_all)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            raw.send(pdv(STORE_CONTEXT, STORE, command=True, last=True))
            raw.send(
                pdv(STORE_CONTEXT, b"\x08\x00\x16\x00" + bytes(100), command=False, last=False)
            )
            await expect_abort_then_close(raw)
        finally:
            await raw.close()
        association, seen = await asyncio.wait_for(outcome, 10)
    # The handler never got a data set: its read ended with the association.
    assert isinstance(seen, BaseException)
    assert isinstance(association.error, TimeoutExpired) and association.error.timer == "dimse"


async def test_command_announcing_a_data_set_that_never_comes_is_aborted() -> None:
    async with await reading_scp().serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            raw.send(pdv(STORE_CONTEXT, STORE, command=True, last=True))
            await expect_abort_then_close(raw)
        finally:
            await raw.close()


async def test_each_data_set_fragment_restarts_the_dimse_timer() -> None:
    async with await reading_scp(dimse=30).serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            timers = the_association(server).protocol.timers
            raw.send(pdv(STORE_CONTEXT, STORE, command=True, last=True))
            await until(lambda: timers.deadline("dimse") is not None, "the timer")
            deadlines = [timers.deadline("dimse")]
            for _ in range(4):
                await asyncio.sleep(0.02)
                raw.send(pdv(STORE_CONTEXT, b"\0" * 64, command=False, last=False))
                await until(lambda: timers.deadline("dimse") != deadlines[-1], "a restart")
                deadlines.append(timers.deadline("dimse"))
            assert increasing(deadlines)
            # The last fragment: the handler works on its own now; the peer owes nothing.
            raw.send(pdv(STORE_CONTEXT, b"\0" * 64, command=False, last=True))
            response = await raw.receive()
            assert isinstance(response, PDataTF)
        finally:
            await raw.close()


async def test_a_handler_working_on_a_complete_request_is_not_timed_out() -> None:
    # The DIMSE timer measures the peer: while only our handler is busy, nothing is due
    # from the peer, so the timer does not run.
    proceed = asyncio.Event()
    started = asyncio.Event()

    async def slow(request: IncomingRequest) -> int:
        started.set()
        await proceed.wait()
        return 0

    ae = AE(
        "SCP",
        scp_policy(dimse=0.2),
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=slow)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            timers = the_association(server).protocol.timers
            raw.send(pdv(ECHO_CONTEXT, ECHO, command=True, last=True))
            await asyncio.wait_for(started.wait(), 10)
            assert timers.deadline("dimse") is None
            proceed.set()
            response = await raw.receive()
            assert isinstance(response, PDataTF)
        finally:
            await raw.close()


# ------------------------------------------------------------------ Sta6: a peer that stops reading


async def test_peer_that_stops_reading_our_response_is_aborted_and_closed() -> None:
    # A response far larger than every socket buffer on the way: the send blocks on the
    # peer, which never reads. The DIMSE timer ends it; after the A-ABORT (which the
    # peer cannot read either) the close is not left waiting for the write buffer.
    association: asyncio.Future[Association] = asyncio.get_running_loop().create_future()

    async def huge(request: IncomingRequest) -> Reply:
        association.set_result(request.association)
        return Reply(status=0, dataset=bytes(32 * 1024 * 1024))

    ae = AE(
        "SCP",
        scp_policy(),
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=huge)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        raw = RawClient(reader, writer)
        try:
            rq = negotiation.build_request(
                make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
            )
            assert isinstance(await raw.request(rq), AAssociateAC)
            raw.send(pdv(ECHO_CONTEXT, ECHO, command=True, last=True))
            writer.transport.pause_reading()
            served = await asyncio.wait_for(association, 10)
            await asyncio.wait_for(served.wait_closed(), 20)
            assert isinstance(served.error, TimeoutExpired) and served.error.timer == "dimse"
            assert not server.active
        finally:
            writer.transport.abort()


async def test_reading_paused_for_a_slow_handler_stops_the_dimse_timer() -> None:
    # The handler does not read yet, so the backlog passes its high-water mark and
    # reading pauses: the peer cannot send, the wait is ours, the timer must not run.
    proceed = asyncio.Event()

    async def late_reader(request: IncomingRequest) -> int:
        await proceed.wait()
        assert request.data is not None
        return 0 if len(await request.data.read()) == 8 * 1024 * 1024 else 0xC000

    ae = AE(
        "SCP",
        scp_policy(dimse=0.3),
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=late_reader)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await associated(server)
        try:
            association = the_association(server)
            raw.send(pdv(STORE_CONTEXT, STORE, command=True, last=True))
            chunk = bytes(16000)
            for _ in range(8 * 1024 * 1024 // 16000):
                raw.send(pdv(STORE_CONTEXT, chunk, command=False, last=False))
            raw.send(pdv(STORE_CONTEXT, bytes(8 * 1024 * 1024 % 16000), command=False, last=True))
            flow = association.protocol.flow
            await until(lambda: flow.read_paused, "reading to pause")
            assert association.protocol.timers.deadline("dimse") is None
            proceed.set()
            response = await raw.receive(timeout=30)
            assert isinstance(response, PDataTF)
            assert association.is_established
        finally:
            await raw.close()


# ------------------------------------------------------------------ requestor: a slow reader


async def test_each_pdu_we_write_restarts_the_dimse_timer() -> None:
    # A requestor sending a large data set to a peer that reads slowly is making
    # progress: the timer is restarted as PDUs go out, not counted from the first one.
    may_read = asyncio.Event()

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rq = await read_pdu(reader)
        assert isinstance(rq, AAssociateRQ)
        outcome = negotiation.evaluate_request(scp_policy(), rq)
        assert isinstance(outcome, tuple)
        writer.write(encode_pdu(outcome[0]))
        await may_read.wait()
        while await reader.read(1 << 20):
            pass

    contexts = CONTEXTS[1:]
    ae = AE("SCU", make_policy("SCU", timers={"dimse": 30}))
    async with fake_acceptor(slow_reader) as port:
        assoc = await ae.associate("127.0.0.1", port, called_ae="SCP", contexts=contexts)
        try:
            request = CStoreRQ(
                message_id=1,
                affected_sop_class_uid=CT_IMAGE_STORAGE,
                affected_sop_instance_uid="1.2.826.0.1.3680043.99.8",
            )
            stream = assoc.send_request(request, bytes(64 * 1024 * 1024))
            flow = assoc.protocol.flow
            timers = assoc.protocol.timers
            await until(lambda: flow.write_paused, "the peer to stop taking data")
            blocked = timers.deadline("dimse")
            assert blocked is not None
            await asyncio.sleep(0.02)  # the loop clock moves before the peer reads again
            may_read.set()
            await until(lambda: timers.deadline("dimse") != blocked, "a restart")
            restarted = timers.deadline("dimse")
            assert restarted is not None and restarted > blocked
        finally:
            await assoc.abort()
        with pytest.raises(AssociationAborted):  # our abort ends the request
            await stream


# ------------------------------------------------------------------ held past the limit (QUEUE)


async def test_connection_held_for_a_slot_is_answered_after_the_associate_timer() -> None:
    # QUEUE mode holds a connection unread while every slot is taken; it is held at
    # most timers.associate, then its A-ASSOCIATE-RQ is answered as REJECT mode would.
    base = scp_policy(dimse=30)
    policy = replace(
        base,
        max_associations=1,
        on_association_limit=LimitMode.QUEUE,
        timers=replace(base.timers, associate=0.3),
    )
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, called_ae="SCP") as first:
            raw = await RawClient.connect("127.0.0.1", server.port)
            try:
                rq = negotiation.build_request(
                    make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
                )
                answer = await raw.request(rq)
                assert isinstance(answer, AAssociateRJ)
                assert (answer.result, answer.source, answer.reason) == (2, 3, 2)
                assert await raw.at_eof()
            finally:
                await raw.close()
            assert server.held == 0
            # The association that had the slot is untouched.
            assert (await first.echo()).is_success
