"""dicomnet to dicomnet over loopback TCP: establishment, timers, window, release, abort."""

from __future__ import annotations

import asyncio
import logging

import pytest
from helpers.peers import SilentPeer, read_until_eof
from helpers.policies import CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLICIT_LE, make_policy

from dicomnet.ae import AE, Server
from dicomnet.association import Association
from dicomnet.dimse.commands import CEchoRQ, CommandField
from dicomnet.errors import AssociationAborted, AssociationRejected, TimeoutExpired
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    AETitlePolicy,
    LimitMode,
    ProposedContext,
    WrongCalledAE,
)
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet_pdu.codes import AbortSource, RejectResult, RejectSource


async def test_echo_round_trip(scp: Server) -> None:
    ae = AE("SCU")
    async with ae.associate("127.0.0.1", scp.port, called_ae="SCP") as assoc:
        assert assoc.is_established
        assert assoc.peer_ae_title == "SCP" and assoc.local_ae_title == "SCU"
        assert [c.abstract_syntax for c in assoc.contexts] == [VERIFICATION_SOP_CLASS]
        status = await assoc.echo()
        assert status.is_success and status.code == 0
        status = await assoc.echo()
        assert status.code == 0
    assert not assoc.is_established and assoc.is_ended and assoc.error is None


async def test_echo_status_can_be_overridden() -> None:
    async def busy(request: IncomingRequest) -> int:
        assert isinstance(request.message, CEchoRQ)
        return 0x0110

    ae = AE("SCP", handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=busy)])
    async with await ae.serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            status = await assoc.echo()
    assert status.code == 0x0110 and status.is_failure


# ---------------------------------------------------------------------------- timers


async def test_artim_closes_a_connection_that_never_sends_a_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = make_policy("SCP", timers={"artim": 0.2})
    caplog.set_level(logging.INFO, logger="dicomnet")
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = await asyncio.wait_for(read_until_eof(reader), 5)
        writer.close()
        assert data == b""  # closed without any PDU (PS3.8 Sta2 + Evt18: AA-2)
    messages = [r.getMessage() for r in caplog.records]
    assert any("artim timer expired after 0.2 s" in m for m in messages), messages
    assert any("artim timeout expired after 0.2 s" in m for m in messages), messages


async def test_associate_timeout_on_a_peer_that_never_answers() -> None:
    ae = AE("SCU", make_policy("SCU", timers={"associate": 0.2}))
    async with SilentPeer() as peer:
        with pytest.raises(TimeoutExpired) as info:
            await ae.associate("127.0.0.1", peer.port)
        assert info.value.timer == "associate" and info.value.seconds == 0.2
        await asyncio.wait_for(peer.closed.wait(), 5)
    assert peer.received[0] == 0x01  # the A-ASSOCIATE-RQ went out
    # ...and the last PDU is the A-ABORT sent when the timer expired.
    assert peer.received[-10:-4] == b"\x07\x00\x00\x00\x00\x04"


async def test_connect_timeout_is_named() -> None:
    ae = AE("SCU", make_policy("SCU", timers={"connect": 0.0}))
    with pytest.raises(TimeoutExpired) as info:
        await ae.associate("127.0.0.1", 9)
    assert info.value.timer == "connect"


async def test_dimse_timeout_on_a_silent_handler() -> None:
    never = asyncio.Event()

    async def silent(request: IncomingRequest) -> int:
        await never.wait()
        return 0

    ae = AE("SCP", handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=silent)])
    async with await ae.serve("127.0.0.1", 0) as server:
        scu = AE("SCU", make_policy("SCU", timers={"dimse": 0.2}))
        assoc = await scu.associate("127.0.0.1", server.port)
        with pytest.raises(TimeoutExpired) as info:
            await assoc.echo()
        assert info.value.timer == "dimse"
        await assoc.wait_closed()
        assert assoc.is_ended and isinstance(assoc.error, TimeoutExpired)


async def test_idle_acceptor_aborts_after_dimse_timeout() -> None:
    policy = make_policy("SCP", timers={"dimse": 0.2})
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        assoc = await AE("SCU").associate("127.0.0.1", server.port)
        await asyncio.wait_for(assoc.wait_closed(), 5)
        assert isinstance(assoc.error, AssociationAborted)
        assert assoc.error.source == AbortSource.SERVICE_USER


# ---------------------------------------------------------------------------- rejection


@pytest.mark.parametrize(
    ("ae_titles", "calling", "called", "expected"),
    [
        (AETitlePolicy(called_ae_titles=("SCP",)), "SCU", "OTHER", (1, 1, 7)),
        (AETitlePolicy(calling_ae_titles=("FRIEND",)), "STRANGER", "SCP", (1, 1, 3)),
    ],
)
async def test_rejections_carry_exact_values(
    ae_titles: AETitlePolicy, calling: str, called: str, expected: tuple[int, int, int]
) -> None:
    policy = make_policy("SCP", ae_titles=ae_titles)
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        with pytest.raises(AssociationRejected) as info:
            await AE(calling).associate("127.0.0.1", server.port, called_ae=called)
    exc = info.value
    assert (int(exc.result), int(exc.source), exc.reason) == expected


async def test_limit_reject_mode() -> None:
    policy = make_policy("SCP", max_associations=1, on_association_limit=LimitMode.REJECT)
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port) as first:
            with pytest.raises(AssociationRejected) as info:
                await AE("SCU").associate("127.0.0.1", server.port)
            assert await first.echo() == await first.echo()
        exc = info.value
        assert exc.result == RejectResult.TRANSIENT
        assert exc.source == RejectSource.SERVICE_PROVIDER_PRESENTATION
        assert exc.reason == 2
        # The slot is free again once the first association is released.
        async with AE("SCU").associate("127.0.0.1", server.port) as again:
            assert (await again.echo()).is_success


async def test_limit_queue_mode_holds_until_a_slot_frees() -> None:
    policy = make_policy(
        "SCP",
        max_associations=1,
        on_association_limit=LimitMode.QUEUE,
        timers={"artim": 0.2},  # shorter than the wait: a held connection must survive it
    )
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        first = await AE("SCU").associate("127.0.0.1", server.port)
        second_call = asyncio.ensure_future(AE("SCU").associate("127.0.0.1", server.port))
        while server.held == 0:
            await asyncio.sleep(0.01)
        # Held for longer than ARTIM: still waiting, not closed.
        await asyncio.sleep(0.4)
        assert not second_call.done() and server.held == 1
        await first.release()
        second = await asyncio.wait_for(second_call, 5)
        assert (await second.echo()).is_success
        await second.release()


async def test_wrong_called_ae_gets_verification_only() -> None:
    policy = make_policy(
        "SCP",
        ae_titles=AETitlePolicy(
            called_ae_titles=("SCP",), wrong_called_ae=WrongCalledAE.VERIFICATION_ONLY
        ),
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    proposed = [
        ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
        ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
    ]
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        ae = AE("SCU")
        async with ae.associate(
            "127.0.0.1", server.port, called_ae="WRONG", contexts=proposed
        ) as assoc:
            assert [c.abstract_syntax for c in assoc.contexts] == [VERIFICATION_SOP_CLASS]
            assert (await assoc.echo()).is_success
        async with ae.associate(
            "127.0.0.1", server.port, called_ae="SCP", contexts=proposed
        ) as assoc:
            assert {c.abstract_syntax for c in assoc.contexts} == {
                VERIFICATION_SOP_CLASS,
                CT_IMAGE_STORAGE,
            }


async def test_role_selection_is_negotiated() -> None:
    policy = make_policy(
        "SCP",
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=CT_IMAGE_STORAGE,
                transfer_syntaxes=(EXPLICIT_LE,),
                scu_role=True,
                scp_role=True,
            ),
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
    )
    proposed = [
        # We propose to be SCP of CT storage (as a C-GET SCU does), and SCU of Verification.
        ProposedContext(
            abstract_syntax=CT_IMAGE_STORAGE,
            transfer_syntaxes=(EXPLICIT_LE,),
            scu_role=False,
            scp_role=True,
        ),
        ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
    ]
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, contexts=proposed) as assoc:
            ct = assoc.negotiated.context_for(CT_IMAGE_STORAGE, role="scp")
            assert ct is not None and ct.scp_role and not ct.scu_role
            assert assoc.negotiated.context_for(CT_IMAGE_STORAGE, role="scu") is None
            (peer,) = server.active
            theirs = peer.negotiated.context_by_id(ct.context_id)
            assert theirs is not None and theirs.scu_role and not theirs.scp_role


# ---------------------------------------------------------------------------- window


async def test_async_window_of_eight_with_out_of_order_answers() -> None:
    window = 8
    arrived: list[IncomingRequest] = []
    all_in = asyncio.Event()
    turn: dict[int, asyncio.Event] = {}
    peak = 0
    running = 0

    async def handler(request: IncomingRequest) -> Reply:
        nonlocal peak, running
        running += 1
        peak = max(peak, running)
        mid = request.message.message_id
        turn[mid] = asyncio.Event()
        arrived.append(request)
        if len(arrived) == window:
            all_in.set()
        await all_in.wait()
        await turn[mid].wait()
        running -= 1
        # A status that names the request, to check the response matching.
        return Reply(status=0xB000 + mid)

    async def conductor() -> list[int]:
        # Answer the first eight in reverse order of arrival.
        await all_in.wait()
        order = [r.message.message_id for r in reversed(arrived[:window])]
        for mid in order:
            turn[mid].set()
            await asyncio.sleep(0)
        return order

    policy = make_policy("SCP", max_operations_invoked=window, max_operations_performed=window)
    ae = AE(
        "SCP", policy, handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=handler)]
    )
    scu = AE("SCU", make_policy("SCU", max_operations_invoked=window, max_operations_performed=1))
    async with await ae.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            assert assoc.negotiated.max_operations_invoked == window
            request = CEchoRQ(message_id=0, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
            streams = [assoc.send_request(request) for _ in range(window + 2)]
            finished: list[int] = []

            async def collect(index: int) -> None:
                response = await streams[index]
                assert response.message.message_id_being_responded_to == streams[index].message_id
                assert response.status == 0xB000 + streams[index].message_id
                finished.append(streams[index].message_id)

            order_task = asyncio.ensure_future(conductor())
            collectors = [asyncio.ensure_future(collect(i)) for i in range(window)]
            order = await order_task
            await asyncio.gather(*collectors)
            assert finished == order  # delivered in the peer's (reversed) order
            # The two beyond the window were sent only after slots freed.
            for extra in streams[window:]:
                turn_ready = asyncio.ensure_future(extra)
                while extra.message_id not in turn:
                    await asyncio.sleep(0.01)
                turn[extra.message_id].set()
                await turn_ready
    assert peak == window
    assert len({s.message_id for s in streams}) == window + 2


# ---------------------------------------------------------------------------- release/abort


async def test_release_collision() -> None:
    seen: list[Association] = []

    async def remember(request: IncomingRequest) -> int:
        seen.append(request.association)
        return 0

    ae = AE("SCP", handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=remember)])
    async with await ae.serve("127.0.0.1", 0) as server:
        assoc = await AE("SCU").associate("127.0.0.1", server.port)
        await assoc.echo()
        (theirs,) = seen
        await asyncio.wait_for(asyncio.gather(assoc.release(), theirs.release()), 5)
        assert assoc.is_ended and assoc.error is None
        assert theirs.is_ended and theirs.error is None


async def test_abort_by_requestor_is_seen_by_acceptor() -> None:
    seen: list[Association] = []

    async def remember(request: IncomingRequest) -> int:
        seen.append(request.association)
        return 0

    ae = AE("SCP", handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=remember)])
    async with await ae.serve("127.0.0.1", 0) as server:
        assoc = await AE("SCU").associate("127.0.0.1", server.port)
        await assoc.echo()
        await assoc.abort()
        (theirs,) = seen
        await asyncio.wait_for(theirs.wait_closed(), 5)
        assert isinstance(theirs.error, AssociationAborted)
        assert theirs.error.source == AbortSource.SERVICE_USER


async def test_abort_by_acceptor_fails_pending_requests() -> None:
    async def abort_instead(request: IncomingRequest) -> int:
        await request.association.abort()
        return 0

    ae = AE("SCP", handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=abort_instead)])
    async with await ae.serve("127.0.0.1", 0) as server:
        assoc = await AE("SCU").associate("127.0.0.1", server.port)
        with pytest.raises(AssociationAborted) as info:
            await assoc.echo()
        assert info.value.source == AbortSource.SERVICE_USER
        assert assoc.is_ended


async def test_exception_in_block_aborts() -> None:
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        with pytest.raises(RuntimeError):
            async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
                raise RuntimeError("boom")
        assert isinstance(assoc.error, AssociationAborted)


# ---------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff" * 12,  # unknown PDU type
        b"\x01\x00\x00\x00\x00\x04\x00\x01\x00\x00",  # truncated A-ASSOCIATE-RQ
        b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x01\x03",  # P-DATA before association
    ],
)
async def test_malformed_bytes_get_abort_and_server_keeps_serving(garbage: bytes) -> None:
    # After the A-ABORT the acceptor waits in Sta13 for the peer to close, at most ARTIM
    # (PS3.8 AA-1/AA-8); a short ARTIM makes the close come quickly.
    policy = make_policy("SCP", timers={"artim": 0.3})
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(garbage)
        data = await asyncio.wait_for(read_until_eof(reader), 5)
        writer.close()
        assert data[:1] == b"\x07" and len(data) == 10  # one A-ABORT PDU
        assert data[8] in (AbortSource.SERVICE_USER, AbortSource.SERVICE_PROVIDER)
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            assert (await assoc.echo()).is_success
