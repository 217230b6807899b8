"""Storage Commitment interop with pynetdicom, both ways.

* pynetdicom SCU (a child process) -> dicomnet :class:`CommitmentSCP`: pynetdicom sends the
  N-ACTION and handles the N-EVENT-REPORT with ``evt.EVT_N_EVENT_REPORT``, on the same
  association, or on a new one it accepts (dicomnet proposes the SCP role).
* dicomnet :class:`CommitmentSCU` -> pynetdicom SCP (a child process) whose N-ACTION
  handler sends the report with ``send_n_event_report`` on the same association before
  it answers the N-ACTION.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import require_module

from dicomnet.ae import AE, Server
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentSCP,
    CommitmentSCU,
    FailedInstance,
    FailureReason,
    InstanceRef,
    ReportMode,
)
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo

pytestmark = pytest.mark.interop

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
SCP_TITLE = "DICOMNET"

SCU_SCRIPT = r"""
import json, sys, threading, time
from pydicom.dataset import Dataset
from pynetdicom import AE, evt

SCPM, INSTANCE = "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.1.1"
cfg = json.loads(sys.argv[1])
done = threading.Event()
replied = threading.Event()
reports = []
holder = []

def on_report(event):
    ds = event.event_information
    reports.append({
        "same": bool(holder) and event.assoc is holder[0],
        "event": event.event_type,
        "transaction": str(ds.TransactionUID),
        "committed": [str(i.ReferencedSOPInstanceUID) for i in ds.get("ReferencedSOPSequence", [])],
        "failed": [[str(i.ReferencedSOPInstanceUID), int(i.FailureReason)]
                   for i in ds.get("FailedSOPSequence", [])],
    })
    done.set()
    return 0x0000, None

def on_sent(event):
    if type(event.message).__name__ == "N_EVENT_REPORT_RSP":
        replied.set()

handlers = [(evt.EVT_N_EVENT_REPORT, on_report), (evt.EVT_DIMSE_SENT, on_sent)]
ae = AE(ae_title="PYNETDICOM")
ae.add_requested_context(SCPM, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
server = None
if cfg["listen"]:
    ae.add_supported_context(SCPM, ["1.2.840.10008.1.2"], scu_role=True, scp_role=True)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    print("LISTENING", server.server_address[1], flush=True)
    sys.stdin.readline()
assoc = ae.associate("127.0.0.1", cfg["port"], ae_title=cfg["called"], evt_handlers=handlers)
holder.append(assoc)
if not assoc.is_established:
    print(json.dumps({"error": "not established"}))
    sys.exit(2)
ds = Dataset()
ds.TransactionUID = cfg["transaction"]
items = []
for sop_class, sop_instance in cfg["instances"]:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    items.append(item)
ds.ReferencedSOPSequence = items
status, _ = assoc.send_n_action(ds, 1, SCPM, INSTANCE)
# The handler runs before its response is sent: release only once the response is out.
if done.wait(20):
    replied.wait(20)
assoc.release()
if server is not None:
    # The report association ends when dicomnet releases it, after the N-EVENT-REPORT-RSP.
    for _ in range(200):
        if not server.active_associations:
            break
        time.sleep(0.05)
    server.shutdown()
print(json.dumps({"status": status.Status if status else None, "reports": reports}), flush=True)
"""

SCP_SCRIPT = r"""
import sys
from pydicom.dataset import Dataset
from pynetdicom import AE, evt

SCPM, INSTANCE = "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.1.1"
known = set(sys.argv[1:])

def on_action(event):
    request = event.action_information
    ok, bad = [], []
    for item in request.ReferencedSOPSequence:
        entry = Dataset()
        entry.ReferencedSOPClassUID = item.ReferencedSOPClassUID
        entry.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
        if str(item.ReferencedSOPInstanceUID) in known:
            ok.append(entry)
        else:
            entry.FailureReason = 0x0112
            bad.append(entry)
    report = Dataset()
    report.TransactionUID = request.TransactionUID
    if ok:
        report.ReferencedSOPSequence = ok
    if bad:
        report.FailedSOPSequence = bad
    event.assoc.send_n_event_report(report, 2 if bad else 1, SCPM, INSTANCE)
    return 0x0000, None

ae = AE(ae_title="PYNETDICOM")
ae.add_supported_context(SCPM, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
server = ae.start_server(("127.0.0.1", 0), block=False,
                         evt_handlers=[(evt.EVT_N_ACTION, on_action)])
print("READY", server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""


def _policy() -> Policy:
    return Policy(
        ae_title=SCP_TITLE,
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
                transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE),
            ),
        ),
    )


def _stored(*uids: str) -> MemoryStore:
    store = MemoryStore()
    for uid in uids:
        info = InstanceInfo(sop_class_uid=CT, sop_instance_uid=uid, transfer_syntax_uid=IMPLICIT_LE)
        store.install(info, b"")
    return store


@pytest.fixture
async def archive() -> AsyncIterator[tuple[Server, CommitmentSCP]]:
    require_module("pynetdicom")
    ae = AE(SCP_TITLE, _policy())
    scp = CommitmentSCP(store=_stored("1.2.1", "1.2.2"), requestor=ae)
    ae.add_handler(scp)
    async with await ae.serve("127.0.0.1", 0) as server:
        yield server, scp
        scp.close()


async def _run_scu(
    port: int, instances: list[list[str]], *, listen: bool, scp: CommitmentSCP
) -> dict[str, Any]:
    cfg = {
        "port": port,
        "called": SCP_TITLE,
        "transaction": "1.2.826.0.1.3680043.9.7433.1",
        "instances": instances,
        "listen": listen,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCU_SCRIPT,
        json.dumps(cfg),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        if listen:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line.startswith(b"LISTENING"), line
            scp.destinations["PYNETDICOM"] = ("127.0.0.1", int(line.split()[1]))
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, out
    answer: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return answer


async def test_pynetdicom_scu_gets_the_report_on_the_same_association(
    archive: tuple[Server, CommitmentSCP],
) -> None:
    server, scp = archive
    answer = await _run_scu(server.port, [[CT, "1.2.1"], [CT, "1.2.2"]], listen=False, scp=scp)
    assert answer["status"] == 0
    (report,) = answer["reports"]
    assert report == {
        "same": True,
        "event": 1,
        "transaction": "1.2.826.0.1.3680043.9.7433.1",
        "committed": ["1.2.1", "1.2.2"],
        "failed": [],
    }
    await scp.drain()
    assert len(scp.reported) == 1


async def test_pynetdicom_scu_accepts_the_report_association_partial_failure(
    archive: tuple[Server, CommitmentSCP],
) -> None:
    server, scp = archive
    scp.mode = ReportMode.NEW
    instances = [[CT, "1.2.1"], [CT, "1.2.404"], ["1.2.840.10008.5.1.4.1.1.4", "1.2.2"]]
    answer = await _run_scu(server.port, instances, listen=True, scp=scp)
    assert answer["status"] == 0
    (report,) = answer["reports"]
    assert report["same"] is False
    assert report["event"] == 2
    assert report["committed"] == ["1.2.1"]
    assert report["failed"] == [["1.2.404", 0x0112], ["1.2.2", 0x0119]]
    await scp.drain()
    assert len(scp.reported) == 1


@pytest.fixture(scope="module")
def pynetdicom_scp() -> Iterator[int]:
    """A pynetdicom commitment SCP that knows instances 1.3.1 and 1.3.2."""
    require_module("pynetdicom")
    process = subprocess.Popen(
        [sys.executable, "-c", SCP_SCRIPT, "1.3.1", "1.3.2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(b"READY"), line
        yield int(line.split()[1])
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("partial", [False, True])
async def test_dicomnet_scu_with_pynetdicom_scp(pynetdicom_scp: int, partial: bool) -> None:
    scu = CommitmentSCU()
    ae = AE("DICOMNET-SCU", handlers=[scu])
    context = ProposedContext(
        abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=(EXPLICIT_LE,)
    )
    asked = [InstanceRef(CT, "1.3.1"), InstanceRef(CT, "1.3.2")]
    if partial:
        asked.append(InstanceRef(CT, "1.3.404"))
    async with ae.associate(
        "127.0.0.1", pynetdicom_scp, called_ae="PYNETDICOM", contexts=[context]
    ) as assoc:
        uid = await scu.request_commitment(assoc, asked)
        result = await scu.wait_for_report(uid, timeout=20)
    assert result.transaction_uid == uid
    assert result.committed == tuple(asked[:2])
    expected = (FailedInstance(CT, "1.3.404", FailureReason.NO_SUCH_OBJECT_INSTANCE),)
    assert result.failed == (expected if partial else ())
    assert result.event_type_id == (2 if partial else 1)
