"""What DCMTK's echoscu sees from a dicomnet SCP: each rejection, limits, Verification only.

echoscu prints the A-ASSOCIATE-RJ it got as result, source and reason text
(PS3.8 Table 9-21), so each rejection is checked from a real peer's side.
"""

from __future__ import annotations

import asyncio

import pytest
from helpers.peers import dcmtk_program
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy
from helpers.programs import finish_program, run_program, start_program

from dicomnet.ae import AE, Server
from dicomnet.dimse.commands import CommandField
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    AETitlePolicy,
    LimitMode,
    WrongCalledAE,
)
from dicomnet.services.base import Binding, IncomingRequest

pytestmark = pytest.mark.interop


async def test_calling_ae_not_in_the_allow_list() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy("DICOMNET", ae_titles=AETitlePolicy(calling_ae_titles=("FRIEND",)))
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        port = str(server.port)
        code, out = await run_program(echoscu, "-aet", "STRANGER", "127.0.0.1", port)
        ok_code, ok_out = await run_program(echoscu, "-v", "-aet", "FRIEND", "127.0.0.1", port)
    assert code != 0
    assert "Rejected Permanent, Source: Service User" in out, out
    assert "Reason: Calling AE Title Not Recognized" in out, out
    assert ok_code == 0 and "Received Echo Response (Success)" in ok_out, ok_out


async def test_local_limit_exceeded_is_transient() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy("DICOMNET", max_associations=1, on_association_limit=LimitMode.REJECT)
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        port = str(server.port)
        async with AE("HOLDER").associate("127.0.0.1", server.port) as holder:
            code, out = await run_program(echoscu, "127.0.0.1", port)
            assert (await holder.echo()).is_success  # the held association is unharmed
        # The slot is free again once the holder released.
        ok_code, ok_out = await run_program(echoscu, "-v", "127.0.0.1", port)
    assert code != 0
    assert "Rejected Transient, Source: Service Provider (Presentation Related)" in out, out
    assert "Reason: Local Limit Exceeded" in out, out
    assert ok_code == 0 and "Received Echo Response (Success)" in ok_out, ok_out


async def test_queue_mode_serves_echoscu_once_the_slot_frees() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy(
        "DICOMNET",
        max_associations=1,
        on_association_limit=LimitMode.QUEUE,
        timers={"artim": 0.2},  # a held connection must outlive ARTIM
    )
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        holder = await AE("HOLDER").associate("127.0.0.1", server.port)
        process = await start_program(echoscu, "-v", "127.0.0.1", str(server.port))
        try:
            while server.held == 0:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            assert process.returncode is None and server.held == 1  # still waiting
            await holder.release()
        finally:
            code, out = await finish_program(process)
    assert code == 0, out
    assert "Received Echo Response (Success)" in out, out


async def test_two_echoscu_against_a_queue_of_one() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy("DICOMNET", max_associations=1, on_association_limit=LimitMode.QUEUE)
    servers: list[Server] = []
    most_held = 0

    async def echo_once_the_other_waits(request: IncomingRequest) -> int:
        # The first association does not finish before the second echoscu is held.
        nonlocal most_held
        (server,) = servers
        while server.held == 0 and most_held == 0:
            await asyncio.sleep(0.01)
        most_held = max(most_held, server.held)
        return 0

    ae = AE(
        "DICOMNET",
        policy,
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=echo_once_the_other_waits)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        servers.append(server)
        port = str(server.port)
        results = await asyncio.gather(
            *(run_program(echoscu, "-v", "--repeat", "3", "127.0.0.1", port) for _ in range(2))
        )
    assert most_held == 1
    for code, out in results:
        assert code == 0, out
        assert out.count("Received Echo Response (Success)") == 3, out


async def test_wrong_called_ae_in_verification_only_mode() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy(
        "DICOMNET",
        ae_titles=AETitlePolicy(
            called_ae_titles=("DICOMNET",), wrong_called_ae=WrongCalledAE.VERIFICATION_ONLY
        ),
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        code, out = await run_program(
            echoscu, "-v", "-aec", "NOBODY", "127.0.0.1", str(server.port)
        )
    assert code == 0, out
    assert "Association Accepted" in out, out
    assert "Received Echo Response (Success)" in out, out
