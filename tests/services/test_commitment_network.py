"""Storage Commitment between two dicomnet AEs over loopback: same and new associations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from dicomnet.ae import AE, AssociateCall, Server
from dicomnet.association import Association
from dicomnet.dimse.commands import NActionRQ
from dicomnet.dimse.status import Status
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services import commitment
from dicomnet.services.base import Binding
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentError,
    CommitmentRequest,
    CommitmentResult,
    CommitmentSCP,
    CommitmentSCU,
    FailedInstance,
    FailureReason,
    InstanceRef,
    ReportMode,
    encode_action_information,
    store_verdict,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.scu import store_all
from dicomnet.storage.synthetic import SECONDARY_CAPTURE, make_image

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
SYNTAXES = (EXPLICIT_LE, IMPLICIT_LE)
CT = "1.2.840.10008.5.1.4.1.1.2"
SCP_TITLE = "ARCHIVE"
SCU_TITLE = "MODALITY"

SCU_CONTEXTS = [
    ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=SYNTAXES),
    ProposedContext(abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=SYNTAXES),
]


def scp_policy() -> Policy:
    return Policy(
        ae_title=SCP_TITLE,
        accepted_contexts=(
            AcceptedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=SYNTAXES),
            AcceptedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=SYNTAXES
            ),
        ),
    )


def scu_policy() -> Policy:
    """The SCU also accepts the association that carries the report (it is SCU on it)."""
    return Policy(
        ae_title=SCU_TITLE,
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
                transfer_syntaxes=(IMPLICIT_LE,),
                scu_role=True,
                scp_role=False,
            ),
        ),
    )


@dataclass
class Pair:
    archive: Server
    scp: CommitmentSCP
    store: MemoryStore
    scu_ae: AE
    scu: CommitmentSCU
    receiver: Server | None = None

    def associate(self) -> AssociateCall:
        return self.scu_ae.associate(
            "127.0.0.1", self.archive.port, called_ae=SCP_TITLE, contexts=SCU_CONTEXTS
        )


async def start(mode: ReportMode, *, receive: bool) -> Pair:
    store = MemoryStore()
    archive_ae = AE(SCP_TITLE, scp_policy())
    scu = CommitmentSCU()
    scu_ae = AE(SCU_TITLE, scu_policy(), handlers=[scu])
    receiver = await scu_ae.serve("127.0.0.1", 0) if receive else None
    destinations = {} if receiver is None else {SCU_TITLE: ("127.0.0.1", receiver.port)}
    scp = CommitmentSCP(store=store, mode=mode, destinations=destinations, requestor=archive_ae)
    archive_ae.add_handler(StorageService(store))
    archive_ae.add_handler(scp)
    archive = await archive_ae.serve("127.0.0.1", 0)
    return Pair(archive, scp, store, scu_ae, scu, receiver)


@pytest.fixture
async def pairs() -> AsyncIterator[list[Pair]]:
    made: list[Pair] = []
    yield made
    for pair in made:
        pair.scp.close()
        pair.archive.close()
        await pair.archive.wait_closed()
        if pair.receiver is not None:
            pair.receiver.close()
            await pair.receiver.wait_closed()


async def store_images(assoc: Association, count: int) -> list[InstanceRef]:
    images = [make_image(rows=4, columns=4, seed=n) for n in range(count)]
    results = await store_all(assoc, images)
    assert all(r.ok for r in results)
    return [InstanceRef(r.sop_class_uid, r.sop_instance_uid) for r in results]


async def test_same_association_all_committed(pairs: list[Pair]) -> None:
    pair = await start(ReportMode.SAME_OR_NEW, receive=False)
    pairs.append(pair)
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 3)
        uid = await pair.scu.request_commitment(assoc, refs)
        result = await pair.scu.wait_for_report(uid, timeout=10)
    assert result == CommitmentResult(uid, tuple(refs))
    assert result.event_type_id == 1
    await pair.scp.drain()
    assert list(pair.scp.reported) == [result]
    assert pair.scu.pending() == ()


async def test_same_association_partial_failure(pairs: list[Pair]) -> None:
    pair = await start(ReportMode.SAME, receive=False)
    pairs.append(pair)
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 2)
        missing = InstanceRef(SECONDARY_CAPTURE, "1.2.3.999")
        conflict = InstanceRef(CT, refs[1].sop_instance_uid)
        uid = await pair.scu.request_commitment(assoc, [refs[0], missing, conflict])
        result = await pair.scu.wait_for_report(uid, timeout=10)
    assert result.event_type_id == 2
    assert result.committed == (refs[0],)
    assert result.failed == (
        FailedInstance(SECONDARY_CAPTURE, "1.2.3.999", FailureReason.NO_SUCH_OBJECT_INSTANCE),
        FailedInstance(CT, refs[1].sop_instance_uid, FailureReason.CLASS_INSTANCE_CONFLICT),
    )


@pytest.mark.parametrize("partial", [False, True])
async def test_new_association_mode(pairs: list[Pair], partial: bool) -> None:
    pair = await start(ReportMode.NEW, receive=True)
    pairs.append(pair)
    reports_on: list[Association] = []
    pair.scu.on_report = lambda result, assoc: reports_on.append(assoc)
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 2)
        asked = [*refs, InstanceRef(SECONDARY_CAPTURE, "1.2.3.404")] if partial else refs
        uid = await pair.scu.request_commitment(assoc, asked)
        result = await pair.scu.wait_for_report(uid, timeout=10)
        assert reports_on and reports_on[0] is not assoc
    assert result.committed == tuple(refs)
    assert [f.sop_instance_uid for f in result.failed] == (["1.2.3.404"] if partial else [])
    carrier = reports_on[0]
    assert carrier.peer_ae_title == SCP_TITLE
    # On the carrying association the report's sender proposed, and got, the SCP role.
    (context,) = carrier.contexts
    assert (context.scu_role, context.scp_role) == (True, False)
    await pair.scp.drain()
    assert list(pair.scp.reported) == [result]


async def test_same_or_new_falls_back_when_the_requestor_released(pairs: list[Pair]) -> None:
    pair = await start(ReportMode.SAME_OR_NEW, receive=True)
    pairs.append(pair)
    gate = asyncio.Event()
    in_store = store_verdict(pair.store)

    async def slow_verdict(ref: InstanceRef) -> int | None:
        await gate.wait()
        return in_store(ref)  # type: ignore[return-value]

    pair.scp.verdict = slow_verdict
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 1)
        uid = await pair.scu.request_commitment(assoc, refs)
    gate.set()  # decided only after the requesting association was released
    result = await pair.scu.wait_for_report(uid, timeout=10)
    assert result.committed == tuple(refs)


async def test_report_without_destination_is_logged_not_raised(
    pairs: list[Pair], caplog: pytest.LogCaptureFixture
) -> None:
    pair = await start(ReportMode.NEW, receive=False)
    pairs.append(pair)
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 1)
        with caplog.at_level(logging.ERROR, "dicomnet.services.commitment"):
            uid = await pair.scu.request_commitment(assoc, refs)
            await pair.scp.drain()
    assert list(pair.scp.reported) == []
    assert any("no address known" in r.getMessage() for r in caplog.records)
    assert pair.scu.pending() == (uid,)


@pytest.mark.parametrize(
    ("action_type", "instance", "data", "status"),
    [
        (2, STORAGE_COMMITMENT_INSTANCE, True, Status.NO_SUCH_ACTION),
        (1, "1.2.3.4", True, Status.NO_SUCH_SOP_INSTANCE),
        (1, STORAGE_COMMITMENT_INSTANCE, False, Status.MISSING_ATTRIBUTE),
    ],
)
async def test_bad_requests_are_refused(
    pairs: list[Pair], action_type: int, instance: str, data: bool, status: int
) -> None:
    pair = await start(ReportMode.SAME, receive=False)
    pairs.append(pair)
    async with pair.associate() as assoc:
        context = assoc.context_for(STORAGE_COMMITMENT_PUSH_MODEL)
        body = encode_action_information(
            CommitmentRequest("1.2.3", (InstanceRef(CT, "1.2"),)), context.transfer_syntax
        )
        message = NActionRQ(
            message_id=1,
            has_dataset=data,
            requested_sop_class_uid=STORAGE_COMMITMENT_PUSH_MODEL,
            requested_sop_instance_uid=instance,
            action_type_id=action_type,
        )
        response = await assoc.send_request(message, body if data else None, context=context)
    assert response.status == status
    await pair.scp.drain()
    assert list(pair.scp.reported) == []


async def test_request_commitment_raises_on_failure_status(pairs: list[Pair]) -> None:
    pair = await start(ReportMode.SAME, receive=False)
    pairs.append(pair)

    async def refuse(request: object) -> int:
        return Status.RESOURCE_LIMITATION

    pair.archive.registry.add(
        Binding(
            command_field=NActionRQ.command_field,
            handler=refuse,
            sop_classes=frozenset({STORAGE_COMMITMENT_PUSH_MODEL}),
        )
    )
    async with pair.associate() as assoc:
        with pytest.raises(CommitmentError) as caught:
            await pair.scu.request_commitment(assoc, [(CT, "1.2")])
    assert caught.value.status == Status.RESOURCE_LIMITATION
    assert pair.scu.pending() == ()


async def test_a_failure_answer_to_the_report_is_logged(
    pairs: list[Pair], caplog: pytest.LogCaptureFixture
) -> None:
    pair = await start(ReportMode.SAME, receive=False)
    pairs.append(pair)

    def broken(result: CommitmentResult, assoc: Association) -> None:
        raise RuntimeError("cannot record the report")

    pair.scu.on_report = broken
    with caplog.at_level(logging.INFO):
        async with pair.associate() as assoc:
            refs = await store_images(assoc, 1)
            await pair.scu.request_commitment(assoc, refs)
            await pair.scp.drain()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("commitment report" in m and "status 0x0110" in m for m in warnings), warnings


async def test_new_association_to_the_requestors_address(pairs: list[Pair]) -> None:
    pair = await start(ReportMode.NEW, receive=True)
    pairs.append(pair)
    assert pair.receiver is not None
    pair.scp.destinations.clear()
    pair.scp.peer_port = pair.receiver.port
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 1)
        uid = await pair.scu.request_commitment(assoc, refs)
        result = await pair.scu.wait_for_report(uid, timeout=10)
    assert result.committed == tuple(refs)


async def test_reports_nobody_waited_for_are_kept_up_to_a_limit(
    pairs: list[Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commitment, "UNCLAIMED_KEPT", 1)
    pair = await start(ReportMode.SAME, receive=False)
    pairs.append(pair)
    async with pair.associate() as assoc:
        refs = await store_images(assoc, 1)
        # The module function does not register a waiter: the reports arrive unclaimed.
        first = await commitment.request_commitment(assoc, refs)
        await pair.scp.drain()
        second = await commitment.request_commitment(assoc, refs)
        await pair.scp.drain()
    assert (await pair.scu.wait_for_report(second, timeout=1)).committed == tuple(refs)
    with pytest.raises(TimeoutError):
        await pair.scu.wait_for_report(first, timeout=0.2)
