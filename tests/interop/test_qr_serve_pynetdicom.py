"""pynetdicom as C-STORE, C-FIND, C-MOVE and C-GET SCU against ``dicomnet serve``.

``serve()`` runs in-process with its default profile and SQLite index;
pynetdicom runs in a child process (its SCU blocks) and reports what it saw
as JSON. It stores the archive, then at once finds, moves (to a storage SCP
it runs itself) and gets it, in the Study Root and Patient Root models; a
move to a pynetdicom SCP that supports only Verification ends with A702 and
the Failed SOP Instance UID List; a C-CANCEL sent mid-C-FIND ends with FE00.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from archive.test_serve_archive import Running
from conftest import require_module
from helpers.peers import free_port
from pydicom.dataset import Dataset
from query.fixtures import (
    SERIES_A1,
    SERIES_A2,
    STUDY_A,
    STUDY_B,
    STUDY_C,
    archive_datasets,
    write_archive,
)

from dicomnet.archive import SqliteIndex, entry_from_header

pytestmark = pytest.mark.interop

EXPLICIT_LE = "1.2.840.10008.1.2.1"
STUDY_ROOT = {"find": "1.2.840.10008.5.1.4.1.2.2.1", "move": "1.2.840.10008.5.1.4.1.2.2.2",
              "get": "1.2.840.10008.5.1.4.1.2.2.3"}  # fmt: skip
PATIENT_ROOT = {"find": "1.2.840.10008.5.1.4.1.2.1.1", "move": "1.2.840.10008.5.1.4.1.2.1.2",
                "get": "1.2.840.10008.5.1.4.1.2.1.3"}  # fmt: skip

CHILD = r"""
import json, sys
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import AE, StoragePresentationContexts, build_role, evt

cfg = json.loads(sys.argv[1])
STORAGE = [cx.abstract_syntax for cx in StoragePresentationContexts]
received = []

def on_store(event):
    received.append(str(event.request.AffectedSOPInstanceUID))
    return 0x0000

def destination(title, port, classes):
    ae = AE(ae_title=title)
    for uid in classes:
        ae.add_supported_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    return ae.start_server(("127.0.0.1", port), block=False,
                           evt_handlers=[(evt.EVT_C_STORE, on_store)])

servers = [destination("PYDEST", cfg["dest_port"], STORAGE[:100]),
           destination("PYREFUSE", cfg["refuse_port"], ["1.2.840.10008.1.1"])]

def identifier(keys):
    ds = Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds

def plain(ds):
    out = {}
    for elem in ds or []:
        value = elem.value
        out[elem.keyword] = "\\".join(map(str, value)) if isinstance(value, MultiValue) else (
            "" if value is None else str(value))
    return out

def associate(contexts, roles=(), handlers=()):
    ae = AE(ae_title="PYSCU")
    for uid in contexts:
        ae.add_requested_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    ext = [build_role(uid, scp_role=True) for uid in roles]
    assoc = ae.associate("127.0.0.1", cfg["port"], ae_title="DICOMNET", ext_neg=ext,
                         evt_handlers=list(handlers))
    assert assoc.is_established, "association not established"
    return assoc

def responses(iterator):
    out = []
    for status, ds in iterator:
        entry = {"status": int(status.Status) if "Status" in status else None,
                 "identifier": plain(ds)}
        for name in ("NumberOfRemainingSuboperations", "NumberOfCompletedSuboperations",
                     "NumberOfFailedSuboperations", "NumberOfWarningSuboperations"):
            if name in status:
                entry[name] = status[name].value
        out.append(entry)
    return out

results = []
for op in cfg["ops"]:
    received.clear()
    kind = op["op"]
    if kind == "store":
        assoc = associate(op["classes"])
        result = [int(assoc.send_c_store(dcmread(p)).Status) for p in op["paths"]]
    elif kind == "find":
        assoc = associate([op["model"]])
        result = responses(assoc.send_c_find(identifier(op["keys"]), op["model"]))
    elif kind == "cancel":
        assoc = associate([op["model"]])
        result = []
        for status, _ in assoc.send_c_find(identifier(op["keys"]), op["model"], msg_id=7):
            result.append(int(status.Status))
            if len(result) == 1:
                assoc.send_c_cancel(7, query_model=op["model"])
    elif kind == "move":
        assoc = associate([op["model"]])
        result = responses(assoc.send_c_move(identifier(op["keys"]), op["dest"], op["model"]))
    elif kind == "get":
        assoc = associate([op["model"], *op["classes"]], roles=op.get("roles", op["classes"]),
                          handlers=[(evt.EVT_C_STORE, on_store)])
        result = responses(assoc.send_c_get(identifier(op["keys"]), op["model"]))
    assoc.release()
    results.append({"op": kind, "responses": result, "received": sorted(received)})
for server in servers:
    server.shutdown()
print(json.dumps(results), flush=True)
"""


async def run_child(config: dict[str, Any]) -> list[dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode(errors="replace")
    results: list[dict[str, Any]] = json.loads(out.decode().strip().splitlines()[-1])
    return results


class Archive:
    def __init__(self, running: Running, store: Path, port: int, dest: int, refuse: int):
        self.running, self.store, self.port = running, store, port
        self.dest_port, self.refuse_port = dest, refuse

    async def run(self, *ops: dict[str, Any]) -> list[dict[str, Any]]:
        config = {
            "port": self.port,
            "dest_port": self.dest_port,
            "refuse_port": self.refuse_port,
            "ops": list(ops),
        }
        return await run_child(config)


@pytest.fixture
async def archive(tmp_path: Path) -> AsyncIterator[Archive]:
    require_module("pynetdicom")
    store = tmp_path / "store"
    dest, refuse = free_port(), free_port()
    running = Running(
        ["--port", "0", "--host", "127.0.0.1", "--output", str(store), "--no-fsync",
         "--destination", f"PYDEST=127.0.0.1:{dest}",
         "--destination", f"PYREFUSE=127.0.0.1:{refuse}"]
    )  # fmt: skip
    port = await running.port()
    try:
        yield Archive(running, store, port, dest, refuse)
    finally:
        assert await running.stop() == 0


def uids(result: dict[str, Any], keyword: str) -> list[str]:
    return sorted(r["identifier"][keyword] for r in result["responses"][:-1])


def final(result: dict[str, Any]) -> dict[str, Any]:
    last: dict[str, Any] = result["responses"][-1]
    return last


async def test_pynetdicom_stores_then_finds_moves_and_gets_at_once(
    archive: Archive, tmp_path: Path
) -> None:
    files = [str(p) for p in write_archive(tmp_path / "files")]
    classes = sorted({"1.2.840.10008.5.1.4.1.1.2"})
    study, patient = STUDY_ROOT, PATIENT_ROOT
    results = await archive.run(
        {"op": "store", "classes": classes, "paths": files},
        # Study Root, right after the stores.
        {"op": "find", "model": study["find"],
         "keys": {"QueryRetrieveLevel": "STUDY", "PatientName": "DOE*", "StudyInstanceUID": "",
                  "ModalitiesInStudy": "", "NumberOfStudyRelatedInstances": ""}},
        {"op": "find", "model": study["find"],
         "keys": {"QueryRetrieveLevel": "IMAGE", "StudyInstanceUID": STUDY_A,
                  "SeriesInstanceUID": SERIES_A1, "SOPInstanceUID": ""}},
        {"op": "move", "model": study["move"], "dest": "PYDEST",
         "keys": {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY_A}},
        {"op": "get", "model": study["get"], "classes": classes,
         "keys": {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY_B}},
        # Patient Root.
        {"op": "find", "model": patient["find"],
         "keys": {"QueryRetrieveLevel": "PATIENT", "PatientID": "",
                  "PatientName": "", "NumberOfPatientRelatedStudies": ""}},
        {"op": "find", "model": patient["find"],
         "keys": {"QueryRetrieveLevel": "STUDY", "PatientID": "P1", "StudyInstanceUID": ""}},
        {"op": "move", "model": patient["move"], "dest": "PYDEST",
         "keys": {"QueryRetrieveLevel": "PATIENT", "PatientID": "P2"}},
        {"op": "get", "model": patient["get"], "classes": classes,
         "keys": {"QueryRetrieveLevel": "SERIES", "PatientID": "P1",
                  "StudyInstanceUID": STUDY_A, "SeriesInstanceUID": SERIES_A2}},
        # A destination that refuses every storage context.
        {"op": "move", "model": study["move"], "dest": "PYREFUSE",
         "keys": {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY_A}},
        # An unknown destination.
        {"op": "move", "model": study["move"], "dest": "NOWHERE",
         "keys": {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY_A}},
        # A C-GET whose requestor proposes the storage class without the SCP role.
        {"op": "get", "model": study["get"], "classes": classes, "roles": [],
         "keys": {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": STUDY_B}},
    )  # fmt: skip
    stored, s_find, i_find, s_move, s_get, p_find, ps_find, p_move, p_get = results[:9]
    refused, unknown, no_role = results[9:]
    assert stored["responses"] == [0, 0, 0, 0, 0]

    assert [r["status"] for r in s_find["responses"]] == [0xFF00, 0xFF00, 0]
    assert uids(s_find, "StudyInstanceUID") == [STUDY_A, STUDY_B]
    by_study = {
        r["identifier"]["StudyInstanceUID"]: r["identifier"] for r in s_find["responses"][:-1]
    }
    assert by_study[STUDY_A]["ModalitiesInStudy"] == "CT\\MR"
    assert by_study[STUDY_A]["NumberOfStudyRelatedInstances"] == "3"
    assert uids(i_find, "SOPInstanceUID") == [f"{SERIES_A1}.1", f"{SERIES_A1}.2"]

    assert final(s_move)["status"] == 0 and final(s_move)["NumberOfCompletedSuboperations"] == 3
    assert final(s_move)["NumberOfFailedSuboperations"] == 0
    assert s_move["received"] == [f"{SERIES_A1}.1", f"{SERIES_A1}.2", f"{SERIES_A2}.3"]
    assert final(s_get)["status"] == 0 and s_get["received"] == [f"{STUDY_B}.1.4"]

    patients = {r["identifier"]["PatientID"]: r["identifier"] for r in p_find["responses"][:-1]}
    assert sorted(patients) == ["P1", "P2"]
    assert patients["P1"]["NumberOfPatientRelatedStudies"] == "2"
    assert patients["P2"]["PatientName"] == "ROE^JANE"
    assert uids(ps_find, "StudyInstanceUID") == [STUDY_A, STUDY_B]
    assert final(p_move)["status"] == 0 and p_move["received"] == [f"{STUDY_C}.1.5"]
    assert final(p_get)["status"] == 0 and p_get["received"] == [f"{SERIES_A2}.3"]

    last = final(refused)
    assert last["status"] == 0xA702 and refused["received"] == []
    assert last["NumberOfFailedSuboperations"] == 3
    assert last["NumberOfCompletedSuboperations"] == 0
    failed = last["identifier"]["FailedSOPInstanceUIDList"].split("\\")
    assert sorted(failed) == [f"{SERIES_A1}.1", f"{SERIES_A1}.2", f"{SERIES_A2}.3"]
    assert [r["status"] for r in unknown["responses"]] == [0xA801]
    last = final(no_role)
    assert last["status"] == 0xA702 and no_role["received"] == []
    assert last["NumberOfFailedSuboperations"] == 1
    assert last["identifier"]["FailedSOPInstanceUIDList"] == f"{STUDY_B}.1.4"


async def test_pynetdicom_cancel_mid_find_ends_with_fe00(archive: Archive) -> None:
    base = archive_datasets()[4]
    entries = []
    total = 3000
    for n in range(total):
        ds = Dataset(base)
        ds.PatientID = "MANY"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.73.{n}.1.1"
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.73.{n}"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.73.{n}.1"
        entries.append(
            entry_from_header(
                ds,
                sop_instance_uid=str(ds.SOPInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                transfer_syntax_uid=EXPLICIT_LE,
                path=f"/nowhere/{n}.dcm",
                size=0,
            )
        )
    async with await SqliteIndex.open(archive.store / ".index" / "index.sqlite") as index:
        await index.put_many(entries)
    keys = {"QueryRetrieveLevel": "STUDY", "PatientID": "MANY", "StudyInstanceUID": ""}
    model = STUDY_ROOT["find"]
    cancelled, whole = await archive.run(
        {"op": "cancel", "model": model, "keys": keys},
        {"op": "find", "model": model, "keys": keys},
    )
    statuses = cancelled["responses"]
    assert statuses[-1] == 0xFE00
    assert set(statuses[:-1]) == {0xFF00} and 1 <= len(statuses) - 1 < total
    # The server goes on: the same query on a new association runs to the end.
    assert len(whole["responses"]) == total + 1 and final(whole)["status"] == 0
