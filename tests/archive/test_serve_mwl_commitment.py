"""``dicomnet serve``: Modality Worklist and Storage Commitment answered from the index.

findscu -W finds items added with ``dicomnet worklist add`` and through the
API while serve runs; a dicomnet commitment SCU gets stored instances
committed and unknown ones failed (0112H); a report that could not be
delivered is retried, kept, and delivered after a restart.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from examples.test_lifesys_worklist import STEP, patients, worklist_query
from helpers.peers import free_port
from helpers.programs import run_program
from query.worklist_items import item, write_items

from archive.test_serve_archive import Running
from dicomnet.ae import AE, Server
from dicomnet.archive import SqliteIndex
from dicomnet.archive.backends import open_index, open_journal
from dicomnet.archive.worklist_sqlite import SqliteWorklist
from dicomnet.association import Association
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentRequest,
    CommitmentResult,
    CommitmentSCU,
    FailedInstance,
    FailureReason,
    InstanceRef,
)
from dicomnet.services.commitment_durable import Recorded
from dicomnet.storage.scu import store_all
from dicomnet.storage.synthetic import SECONDARY_CAPTURE, make_image

SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
CT = "1.2.840.10008.5.1.4.1.1.2"
SCU_TITLE = "MODALITY"
SERVE = ["--port", "0", "--host", "127.0.0.1"]


def scu_ae(scu: CommitmentSCU) -> AE:
    """The modality: stores and asks for commitment; accepts the report's association."""
    policy = Policy(
        ae_title=SCU_TITLE,
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
                transfer_syntaxes=SYNTAXES,
                scu_role=True,
                scp_role=False,
            ),
        ),
    )
    return AE(SCU_TITLE, policy, handlers=[scu])


CONTEXTS = [
    ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=SYNTAXES),
    ProposedContext(abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=SYNTAXES),
]


def where(store: Path, index_location: object) -> tuple[list[str], object]:
    """serve's ``--index`` options and the index it uses (a PostgreSQL URL or its own file)."""
    if isinstance(index_location, str):
        return ["--index", index_location], index_location
    return [], store / ".index" / "index.sqlite"


async def outstanding(location: object) -> list[tuple[str, int]]:
    """(Transaction UID, failed attempts) of the reports serve keeps."""
    async with await open_index(location) as index:  # type: ignore[arg-type]
        journal = await open_journal(index)
        try:
            reports = await journal.outstanding()
        finally:
            await journal.close()
    return [(r.request.transaction_uid, r.attempts) for r in reports]


@pytest.mark.interop
async def test_findscu_worklist_from_items_added_by_cli_and_api(tmp_path: Path) -> None:
    write_items(tmp_path / "wl")  # WL1 CT 20240110, WL2 MR 20240110, WL3 CT 20240117
    store = tmp_path / "store"
    running = Running([*SERVE, "--output", str(store)])
    port = await running.port()
    try:
        code, out = await worklist_query(port, called="DICOMNET")
        assert code == 0 and patients(out) == [], out
        code, out = await run_program(
            sys.executable, "-m", "dicomnet.cli.main", "worklist", "add", "-o", str(store),
            str(tmp_path / "wl" / "item1.wl"), str(tmp_path / "wl" / "item3.json"),
        )  # fmt: skip
        assert code == 0, out
        code, out = await worklist_query(port, f"{STEP}.Modality=CT", called="DICOMNET")
        assert code == 0 and patients(out) == ["WL1", "WL3"], out
        # Added through the API (another connection to the same index): seen at once.
        async with await SqliteIndex.open(store / ".index" / "index.sqlite") as index:
            worklist = await SqliteWorklist.open(index)
            try:
                await worklist.add(
                    item(7, name="NEW^ITEM", modality="CT", station="CT9", date="20240201")
                )
            finally:
                await worklist.close()
        code, out = await worklist_query(
            port, f"{STEP}.Modality=CT", f"{STEP}.ScheduledProcedureStepStartDate=20240111-",
            called="DICOMNET",
        )  # fmt: skip
        assert code == 0 and patients(out) == ["WL3", "WL7"], out
        assert "(0040,0001) AE [CT9 ]" in out, out
        code, out = await run_program(
            sys.executable, "-m", "dicomnet.cli.main", "worklist", "list", "-o", str(store)
        )
        assert code == 0 and len(out.strip().splitlines()) == 4, out  # header + 3 items
        key = out.strip().splitlines()[1].split("\t")[0]
        code, out = await run_program(
            sys.executable, "-m", "dicomnet.cli.main", "worklist", "remove", "-o", str(store), key
        )
        assert code == 0, out
        code, out = await worklist_query(port, f"{STEP}.Modality=CT", called="DICOMNET")
        assert code == 0 and patients(out) == ["WL3", "WL7"], out
    finally:
        assert await running.stop() == 0


async def test_commitment_from_the_index(tmp_path: Path, index_location) -> None:
    store = tmp_path / "store"
    options, location = where(store, index_location)
    running = Running([*SERVE, "--output", str(store), *options])
    port = await running.port()
    scu = CommitmentSCU()
    try:
        async with scu_ae(scu).associate(
            "127.0.0.1", port, called_ae="DICOMNET", contexts=CONTEXTS
        ) as assoc:
            results = await store_all(
                assoc, [make_image(rows=4, columns=4, seed=n) for n in (1, 2)]
            )
            stored = [InstanceRef(r.sop_class_uid, r.sop_instance_uid) for r in results]
            unknown = InstanceRef(SECONDARY_CAPTURE, "1.2.826.0.1.3680043.8.498.404")
            conflict = InstanceRef(CT, stored[1].sop_instance_uid)
            uid = await scu.request_commitment(assoc, [stored[0], unknown, conflict])
            result = await scu.wait_for_report(uid, timeout=20)
        assert result.committed == (stored[0],)
        assert result.failed == (
            FailedInstance(SECONDARY_CAPTURE, unknown.sop_instance_uid, 0x0112),
            FailedInstance(CT, conflict.sop_instance_uid, FailureReason.CLASS_INSTANCE_CONFLICT),
        )
        await nothing_outstanding(location)  # delivered: nothing kept
    finally:
        assert await running.stop() == 0


async def nothing_outstanding(location: object) -> None:
    """Wait until serve has forgotten every delivered report."""
    async with asyncio.timeout(10):
        while await outstanding(location):
            await asyncio.sleep(0.05)


async def wait_for_attempts(location: object, count: int) -> None:
    async with asyncio.timeout(20):
        while not any(attempts >= count for _, attempts in await outstanding(location)):
            await asyncio.sleep(0.05)


async def request(port: int, scu: CommitmentSCU) -> tuple[str, list[InstanceRef]]:
    async with scu_ae(scu).associate(
        "127.0.0.1", port, called_ae="DICOMNET", contexts=CONTEXTS
    ) as assoc:
        results = await store_all(assoc, [make_image(rows=4, columns=4, seed=3)])
        refs = [InstanceRef(r.sop_class_uid, r.sop_instance_uid) for r in results]
        return await scu.request_commitment(assoc, refs), refs


async def test_undelivered_report_is_delivered_after_a_restart(
    tmp_path: Path, index_location
) -> None:
    store = tmp_path / "store"
    options, location = where(store, index_location)
    receiver_port = free_port()
    argv = [
        *SERVE, "--output", str(store), "--commitment-report", "new",
        "--destination", f"{SCU_TITLE}=127.0.0.1:{receiver_port}", "--commitment-retry", "0.05",
        *options,
    ]  # fmt: skip
    running = Running(argv)
    scu = CommitmentSCU()
    try:
        uid, refs = await request(await running.port(), scu)
        await wait_for_attempts(location, 2)  # nobody listens: tried, kept, tried again
    finally:
        assert await running.stop() == 0
    assert [u for u, _ in await outstanding(location)] == [uid]
    receiver: Server = await scu_ae(scu).serve("127.0.0.1", receiver_port)
    running = Running(argv)
    try:
        await running.port()
        result = await scu.wait_for_report(uid, timeout=20)
        assert result.committed == tuple(refs) and not result.failed
        await nothing_outstanding(location)
    finally:
        assert await running.stop() == 0
        receiver.close()
        await receiver.wait_closed()


async def test_undelivered_report_is_retried_until_the_peer_listens(tmp_path: Path) -> None:
    store = tmp_path / "store"
    receiver_port = free_port()
    running = Running([
        *SERVE, "--output", str(store), "--commitment-report", "new",
        "--destination", f"{SCU_TITLE}=127.0.0.1:{receiver_port}", "--commitment-retry", "0.05",
    ])  # fmt: skip
    scu = CommitmentSCU()
    try:
        uid, refs = await request(await running.port(), scu)
        await wait_for_attempts(store / ".index" / "index.sqlite", 1)
        receiver = await scu_ae(scu).serve("127.0.0.1", receiver_port)
        try:
            result = await scu.wait_for_report(uid, timeout=20)
        finally:
            receiver.close()
            await receiver.wait_closed()
        assert result.committed == tuple(refs)
        await nothing_outstanding(store / ".index" / "index.sqlite")
    finally:
        assert await running.stop() == 0


async def test_journal_keeps_requests_and_tells_repeats_from_conflicts(index_location) -> None:
    one = InstanceRef(CT, "1.2.3.1")
    two = InstanceRef(CT, "1.2.3.2")
    path = index_location
    async with await open_index(path) as index:
        journal = await open_journal(index)
        try:
            request = CommitmentRequest("2.25.1", (one, two))
            assert await journal.record(request, SCU_TITLE, "127.0.0.1") is Recorded.NEW
            assert await journal.record(request, SCU_TITLE, "127.0.0.1") is Recorded.REPEAT
            other = CommitmentRequest("2.25.1", (one,))
            assert await journal.record(other, SCU_TITLE, None) is Recorded.CONFLICT
            result = CommitmentResult("2.25.1", (one,), (FailedInstance(CT, "1.2.3.2", 0x0112),))
            await journal.resolve(result)
            assert await journal.attempted("2.25.1", "refused") == 1
        finally:
            await journal.close()
    async with await open_index(path) as index:  # as after a restart
        journal = await open_journal(index)
        try:
            (kept,) = await journal.outstanding()
            assert kept.request == request and kept.result == result and kept.attempts == 1
            assert (kept.peer_ae_title, kept.peer_host) == (SCU_TITLE, "127.0.0.1")
            await journal.delivered("2.25.1")
            assert await journal.outstanding() == []
        finally:
            await journal.close()


async def test_a_transaction_uid_in_use_fails_with_0131(tmp_path: Path) -> None:
    store = tmp_path / "store"
    gate = asyncio.Event()
    reports: list[CommitmentResult] = []

    async def hold_first(result: CommitmentResult, assoc: Association) -> None:
        reports.append(result)
        if len(reports) == 1:
            await gate.wait()  # the first report stays outstanding meanwhile

    scu = CommitmentSCU(on_report=hold_first)
    receiver = await scu_ae(scu).serve("127.0.0.1", 0)
    running = Running([
        *SERVE, "--output", str(store), "--commitment-report", "new",
        "--destination", f"{SCU_TITLE}=127.0.0.1:{receiver.port}",
    ])  # fmt: skip
    try:
        port = await running.port()
        uid, refs = await request(port, scu)
        async with asyncio.timeout(20):
            while not reports:
                await asyncio.sleep(0.02)
        other = InstanceRef(SECONDARY_CAPTURE, "1.2.826.0.1.3680043.8.498.77")
        async with scu_ae(scu).associate(
            "127.0.0.1", port, called_ae="DICOMNET", contexts=CONTEXTS
        ) as assoc:
            await scu.request_commitment(assoc, [other], transaction_uid=uid)
        async with asyncio.timeout(20):
            while len(reports) < 2:
                await asyncio.sleep(0.02)
        assert reports[1].transaction_uid == uid and not reports[1].committed
        assert reports[1].failed == (
            FailedInstance(SECONDARY_CAPTURE, other.sop_instance_uid, 0x0131),
        )
        gate.set()
        assert reports[0].committed == tuple(refs)
        await nothing_outstanding(store / ".index" / "index.sqlite")
    finally:
        gate.set()
        assert await running.stop() == 0
        receiver.close()
        await receiver.wait_closed()
