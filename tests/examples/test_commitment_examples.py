"""Storage Commitment SCP of the MedDream and LifeSys storage server examples.

Each server runs as a child process. Instances are stored with DCMTK's
``storescu`` or the MedDream Storage Client example; commitment is requested
either by that example (``--commit``) or by a dicomnet AE in the test's event
loop, which records on which association each report arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from pydicom.uid import generate_uid

from dicomnet.ae import AE, Server
from dicomnet.association import Association
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentResult,
    CommitmentSCU,
    FailedInstance,
    FailureReason,
    InstanceRef,
)

from .support import (
    CT_IMAGE,
    IMPLICIT_LE,
    SECONDARY_CAPTURE,
    TIMEOUT,
    make_dataset,
    run_example,
    run_program,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop

REQUESTOR = "MODALITY"
MEDDREAM = "meddream_storage_server.py"
LIFESYS = "lifesys_storage.py"


def requestor_policy() -> Policy:
    """Proposes the commitment class (SCU); accepts the report association as SCU of it."""
    return Policy(
        ae_title=REQUESTOR,
        proposed_contexts=(
            ProposedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
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
class Requestor:
    """A dicomnet commitment SCU listening for report associations on ``listener``."""

    ae: AE
    scu: CommitmentSCU
    listener: Server
    #: Every report received, with the association it came on.
    reports: list[tuple[CommitmentResult, Association]] = field(default_factory=list)

    async def commit(
        self, port: int, called_ae: str, refs: list[InstanceRef]
    ) -> tuple[CommitmentResult, Association, Association]:
        """Request commitment of ``refs``: the report, the requesting and reporting associations."""
        async with self.ae.associate("127.0.0.1", port, called_ae=called_ae) as assoc:
            uid = await self.scu.request_commitment(assoc, refs)
            # Kept open until the report is in: it may come on this association.
            result = await self.scu.wait_for_report(uid, timeout=TIMEOUT)
        (reporting,) = [a for r, a in self.reports if r.transaction_uid == uid]
        return result, assoc, reporting


@pytest.fixture
async def requestor() -> AsyncIterator[Requestor]:
    reports: list[tuple[CommitmentResult, Association]] = []

    def on_report(result: CommitmentResult, assoc: Association) -> None:
        reports.append((result, assoc))

    scu = CommitmentSCU(on_report)
    ae = AE(REQUESTOR, requestor_policy(), handlers=[scu])
    async with await ae.serve("127.0.0.1", 0) as listener:
        yield Requestor(ae, scu, listener, reports)


async def storescu(port: int, called_ae: str, path: Path) -> None:
    """DCMTK's storescu sends ``path``; it must succeed."""
    code, out = await run_program(
        dcmtk_program("storescu"), "-aec", called_ae, "127.0.0.1", str(port), path
    )
    assert code == 0, out


def instance(folder: Path, number: int = 1) -> tuple[Path, InstanceRef]:
    """A Secondary Capture file to store, and its reference."""
    ds = make_dataset(instance_number=number)
    path = write_instance(ds, folder / f"{number}.dcm")
    return path, InstanceRef(SECONDARY_CAPTURE, str(ds.SOPInstanceUID))


def expected_failures(stored: InstanceRef) -> tuple[list[InstanceRef], list[FailedInstance]]:
    """References to an unknown instance and to ``stored`` under another class, and
    the failures the report must give for them (PS3.3 C.14.1.1)."""
    unknown = InstanceRef(SECONDARY_CAPTURE, generate_uid())
    wrong_class = InstanceRef(CT_IMAGE, stored.sop_instance_uid)
    failed = [
        FailedInstance(
            SECONDARY_CAPTURE, unknown.sop_instance_uid, FailureReason.NO_SUCH_OBJECT_INSTANCE
        ),
        FailedInstance(CT_IMAGE, stored.sop_instance_uid, FailureReason.CLASS_INSTANCE_CONFLICT),
    ]
    return [unknown, wrong_class], failed


async def test_meddream_reports_on_the_requesting_association(
    tmp_path: Path, requestor: Requestor
) -> None:
    path, stored = instance(tmp_path)
    others, failed = expected_failures(stored)
    async with server_example(
        MEDDREAM, "--output", tmp_path / "store", log=tmp_path / "server.log"
    ) as server:
        await storescu(server.port, "DCMRCV", path)
        result, requesting, reporting = await requestor.commit(
            server.port, "DCMRCV", [stored, *others]
        )
    assert result.committed == (stored,)
    assert sorted(result.failed, key=lambda f: f.reason) == failed
    # Still open when the report was ready: it came on the association of the N-ACTION.
    assert reporting is requesting
    assert requestor.reports == [(result, requesting)]


async def test_meddream_storage_client_gets_its_instances_committed(tmp_path: Path) -> None:
    paths = [instance(tmp_path, number)[0] for number in range(2)]
    store = tmp_path / "store"
    async with server_example(MEDDREAM, "--output", store, log=tmp_path / "server.log") as server:
        code, out = await run_example(
            "meddream_storage_client.py",
            "--port",
            str(server.port),
            "--commit",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "0",
            *paths,
        )
    assert code == 0, out
    assert "committed 2, failed 0" in out
    assert len(list(store.glob("*.dcm"))) == 2


async def test_lifesys_reports_on_a_new_association_to_the_destination(
    tmp_path: Path, requestor: Requestor
) -> None:
    path, stored = instance(tmp_path)
    others, failed = expected_failures(stored)
    destination = f"{REQUESTOR}=127.0.0.1:{requestor.listener.port}"
    async with server_example(
        LIFESYS,
        "--output",
        tmp_path / "archive",
        "--commitment-destination",
        "ELSEWHERE=127.0.0.1:1",
        "--commitment-destination",
        destination,
        log=tmp_path / "server.log",
    ) as server:
        await storescu(server.port, "STORE_SCP", path)
        result, requesting, reporting = await requestor.commit(
            server.port, "STORE_SCP", [stored, *others]
        )
    assert result.committed == (stored,)
    assert sorted(result.failed, key=lambda f: f.reason) == failed
    # Not the association of the N-ACTION: one LifeSys requested to our listener.
    assert reporting is not requesting
    assert not reporting.is_requestor
    assert reporting.peer_ae_title == "STORE_SCP"
    assert requestor.reports == [(result, reporting)]


async def test_lifesys_commits_for_the_meddream_storage_client(tmp_path: Path) -> None:
    paths = [instance(tmp_path, number)[0] for number in range(2)]
    listen_port = free_port()
    async with server_example(
        LIFESYS,
        "--output",
        tmp_path / "archive",
        "--commitment-destination",
        f"DCMSND=127.0.0.1:{listen_port}",
        log=tmp_path / "server.log",
    ) as server:
        code, out = await run_example(
            "meddream_storage_client.py",
            "--port",
            str(server.port),
            "--called-ae",
            "STORE_SCP",
            "--commit",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(listen_port),
            *paths,
        )
    assert code == 0, out
    assert "committed 2, failed 0" in out


async def test_lifesys_without_a_destination_logs_the_undelivered_report(
    tmp_path: Path, requestor: Requestor
) -> None:
    path, stored = instance(tmp_path)
    log = tmp_path / "server.log"
    async with server_example(LIFESYS, "--output", tmp_path / "archive", log=log) as server:
        await storescu(server.port, "STORE_SCP", path)
        async with requestor.ae.associate("127.0.0.1", server.port, called_ae="STORE_SCP") as assoc:
            uid = await requestor.scu.request_commitment(assoc, [stored])
        # The report is kept in the index and retried; wait for the first attempt's log.
        async with asyncio.timeout(20):
            while f"commitment report {uid} to {REQUESTOR} not delivered" not in log.read_text():
                await asyncio.sleep(0.05)
    assert server.exit_code == 0
    text = log.read_text()
    assert "no address known" in text
    assert requestor.reports == []


@pytest.mark.parametrize("program", [MEDDREAM, LIFESYS])
async def test_commitment_destination_must_be_aet_host_port(program: str) -> None:
    code, out = await run_example(program, "--commitment-destination", "MODALITY:104")
    assert code == 2
    assert "not AET=HOST:PORT" in out
