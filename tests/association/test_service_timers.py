"""Timers per service and phase: response timeouts per DIMSE service, the closing timeout.

MedDream (001, Table 22) waits 60 s for a C-FIND-RSP and 600 s for a C-MOVE-RSP;
Kodak's Disk-Server has "no timeouts" in its C-MOVE sub-operations (004,
§3.1.2.1.2.1); LifeSys closes 16 s (003, Table 1.49) and MedDream 500 ms after
sending A-RELEASE-RP or A-ABORT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace

import pytest
from fsm.pair import make_rq
from helpers.policies import make_policy
from helpers.raw_ul import RawClient
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.association.dimse_timer import DimseTimer
from dicomnet.conformance import load_profile
from dicomnet.dimse.commands import CommandField
from dicomnet.errors import TimeoutExpired
from dicomnet.policy import AcceptedContext, ProposedContext, Timers
from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Match, Query
from dicomnet.services.qr import QueryRetrieveService, find
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.fsm import State
from dicomnet_pdu.pdus import AAssociateAC, AReleaseRP, AReleaseRQ

STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
IVR = "1.2.840.10008.1.2"


@dataclass
class Waiting:
    command_field: int


def test_response_timeout_follows_the_outstanding_requests() -> None:
    timers = Timers(dimse=1.0, responses=(("C-FIND", 60.0), ("C-MOVE", None)))
    outstanding: dict[int, Waiting] = {}
    timer = DimseTimer(timers, lambda: "a response", outstanding=outstanding)
    assert timer.current() == 1.0  # nothing outstanding: the general DIMSE timeout
    outstanding[1] = Waiting(CommandField.C_FIND_RQ)
    assert timer.current() == 60.0
    outstanding[2] = Waiting(CommandField.C_STORE_RQ)
    assert timer.current() == 60.0  # the longest of the outstanding ones
    outstanding[3] = Waiting(CommandField.C_MOVE_RQ)
    assert timer.current() is None  # C-MOVE has none
    del outstanding[1], outstanding[3]
    assert timer.current() == 1.0


def test_profiles_state_the_response_and_closing_timeouts() -> None:
    meddream = load_profile("meddream-qr-client").policy().timers
    assert meddream.response("C-FIND") == 60.0
    assert meddream.response("C-MOVE") == 600.0
    assert meddream.response("C-ECHO") == meddream.dimse
    kodak = load_profile("kodak-disk-server").policy().timers
    assert kodak.response("C-STORE") is None  # the C-MOVE sub-operations
    assert load_profile("lifesys-qr").policy().timers.closing == 16.0
    assert load_profile("meddream-storage-server").policy().timers.closing == 0.5
    assert load_profile("dicomnet-serve").policy().timers.closing is None


@pytest.mark.parametrize("sent", ["release", "abort"])
def test_closing_timeout_is_the_artim_after_rp_or_abort(sent: str) -> None:
    from dicomnet_pdu.pdus import AAbort

    acc = ULConnection(Role.ACCEPTOR, artim_timeout=5.0, closing_timeout=0.5)
    acc.connection_made(0.0)
    assert acc.get_timer() == 5.0  # waiting for A-ASSOCIATE-RQ: ARTIM
    req = ULConnection(Role.REQUESTOR, artim_timeout=5.0)
    req.connect(make_rq())
    req.connection_made(0.0)
    acc.receive_data(b"".join(req.data_to_send()), 1.0)
    while acc.next_event() is not None:
        pass
    ac = AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(),
        user_information=make_rq().user_information,
    )
    acc.send(ac, 1.0)
    if sent == "release":
        req.receive_data(b"".join(acc.data_to_send()), 2.0)
        req.send(AReleaseRQ(), 2.0)
        acc.receive_data(b"".join(req.data_to_send()), 2.0)
        acc.send(AReleaseRP(), 3.0)
    else:
        acc.send(AAbort(), 3.0)
    assert acc.state is State.STA13
    assert acc.get_timer() == 3.5


async def test_acceptor_closes_after_its_closing_timeout() -> None:
    """The requestor keeps the connection open after A-RELEASE-RP: closed after 0.3 s, not
    after the 30 s ARTIM."""
    policy = make_policy("SCP", timers={"artim": 30.0, "closing": 0.3})
    server = await AE("SCP", policy).serve("127.0.0.1", 0)
    try:
        client = await RawClient.connect("127.0.0.1", server.port)
        assert isinstance(await client.request(make_rq()), AAssociateAC)
        client.send(AReleaseRQ())
        assert isinstance(await client.receive(), AReleaseRP)
        assert await client.at_eof(timeout=10)  # the acceptor closed, well before ARTIM
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


class SlowSource:
    """A query source that takes ``delay`` seconds before its one match."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def matches(
        self, query: Query, *, retrieve_ae_title: str | None = None
    ) -> AsyncGenerator[Match, None]:
        await asyncio.sleep(self.delay)
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = "1.2.3"
        yield Match(identifier)

    async def instances(self, query: Query) -> list[InstanceRecord]:
        return []


@pytest.mark.parametrize("per_service", [True, False])
async def test_c_find_waits_for_its_own_response_timeout(per_service: bool) -> None:
    """A DIMSE timeout of 0.2 s, a C-FIND response timeout of 30 s, an SCP taking 0.6 s."""
    scp_policy = make_policy(
        "QR",
        accepted_contexts=(AcceptedContext(abstract_syntax=STUDY_FIND, transfer_syntaxes=(IVR,)),),
    )
    server = await AE("QR", scp_policy, handlers=[QueryRetrieveService(SlowSource(0.6))]).serve(
        "127.0.0.1", 0
    )
    responses = (("C-FIND", 30.0),) if per_service else ()
    scu_policy = make_policy(
        "SCU",
        proposed_contexts=(ProposedContext(abstract_syntax=STUDY_FIND, transfer_syntaxes=(IVR,)),),
    )
    scu_policy = replace(
        scu_policy, timers=replace(scu_policy.timers, dimse=0.2, responses=responses)
    )
    try:
        assoc = await AE("SCU", scu_policy).associate("127.0.0.1", server.port, called_ae="QR")
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        if per_service:
            results = find(assoc, query)
            matches = [m async for m in results]
            assert [m.StudyInstanceUID for m in matches] == ["1.2.3"]
            assert results.status == 0x0000
            await assoc.release()
        else:
            with pytest.raises(TimeoutExpired) as info:
                async for _ in find(assoc, query):
                    pass
            assert info.value.timer == "dimse"
    finally:
        server.close()
        await server.wait_closed()
