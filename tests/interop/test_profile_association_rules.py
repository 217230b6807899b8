"""Association rules from the profile, against pynetdicom (in a child process).

Expected behaviour from the seed documents (not from the profiles under test):

* LifeSys Q/R and MWL (003): "If none of the requested Presentation Contexts are
  accepted then the Association Request itself is rejected"; the Storage AE has
  no such rule.
* LifeSys Q/R Table 1.30: relational queries and retrieve (granted in SOP class
  extended negotiation); Kodak Disk-Server (004) "does not support Relational
  Search" nor "relational C-MOVE requests".
* LifeSys Q/R, "Specific Conformance for Query SOP Classes": a Patient Root
  PATIENT-level query needs a (partial) Patient ID unless Patient's Name is in
  it; a Study Root query without a study attribute value needs Patient ID or
  Patient's Name.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from typing import Any

import pytest

from dicomnet.ae import AE, Server
from dicomnet.conformance import load_profile
from dicomnet.policy import AETitlePolicy
from dicomnet.query.index import InstanceIndex
from dicomnet.services.qr import QueryRetrieveService

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
MWL_FIND = "1.2.840.10008.5.1.4.31"

CHILD = r"""
import json, sys
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
cfg = json.loads(sys.argv[1])
ae = AE(ae_title="PYNETDICOM")
ae.acse_timeout = ae.network_timeout = ae.dimse_timeout = 20
for uid in cfg["contexts"]:
    ae.add_requested_context(uid)
ext = []
for uid in cfg.get("relational", []):
    item = SOPClassExtendedNegotiation()
    item.sop_class_uid = uid
    item.service_class_application_information = b"\x01"
    ext.append(item)
assoc = ae.associate(cfg["host"], cfg["port"], ae_title="ANY-SCP", ext_neg=ext or None)
report = {"established": assoc.is_established, "rejected": None, "extended": {}, "statuses": []}
if assoc.is_rejected:
    p = assoc.acceptor.primitive if hasattr(assoc.acceptor, "primitive") else None
if assoc.is_established:
    for uid, info in (assoc.acceptor.sop_class_extended or {}).items():
        report["extended"][str(uid)] = info.hex()
    for op in cfg.get("ops", []):
        query = Dataset()
        for key, value in op["identifier"].items():
            setattr(query, key, value)
        if op["kind"] == "find":
            responses = assoc.send_c_find(query, op["sop_class"])
        else:
            responses = assoc.send_c_move(query, op["destination"], op["sop_class"])
        last = None
        for status, _ in responses:
            if "Status" in status:
                last = int(status.Status)
        report["statuses"].append(last)
    assoc.release()
print(json.dumps(report))
"""


async def _run(server: Server, **cfg: Any) -> dict[str, Any]:
    cfg.update(host="127.0.0.1", port=server.port)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        json.dumps(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = out.decode().strip().splitlines()
    assert process.returncode == 0 and lines, err.decode(errors="replace")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


async def _serve(profile: str, *, qr: bool = False) -> Server:
    loaded = load_profile(profile)
    policy = replace(loaded.policy(), ae_titles=AETitlePolicy(called_ae_titles=("*",)))
    handlers = []
    if qr:
        handlers.append(
            QueryRetrieveService(
                InstanceIndex(),
                destinations={"NOWHERE": ("127.0.0.1", 9)},
                constraints=loaded.query_constraints,
            )
        )
    return await AE(policy.ae_title, policy, handlers=handlers).serve("127.0.0.1", 0)


async def _close(server: Server) -> None:
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("profile", "rejected"),
    [("lifesys-qr", [1, 1, 1]), ("lifesys-mwl", [1, 1, 1]), ("lifesys-storage", None)],
)
async def test_lifesys_rejects_when_no_context_is_accepted(
    profile: str, rejected: list[int] | None
) -> None:
    """A-ASSOCIATE-RJ (1 permanent, 1 service-user, 1 no reason given: the document gives
    none) when every context is refused; the Storage AE accepts (pynetdicom then aborts)."""
    from helpers.pynetdicom_scu import run_pynetdicom_scus

    server = await _serve(profile)
    base = {"host": "127.0.0.1", "port": server.port, "called": "ANY-SCP"}
    try:
        # A class none of them accepts as SCP (Print Job): every context refused.
        nothing, some = await run_pynetdicom_scus(
            [
                {**base, "contexts": ["1.2.840.10008.5.1.1.14"]},
                {**base, "contexts": ["1.2.840.10008.1.1", "1.2.840.10008.5.1.1.14"]},
            ]
        )
    finally:
        await _close(server)
    assert nothing["rejected"] == rejected
    assert some["established"] and some["echo"] == 0  # Verification accepted


@pytest.mark.parametrize(
    ("profile", "granted"), [("lifesys-qr", "01"), ("kodak-disk-server", "00")]
)
async def test_relational_queries_granted_as_the_profile_says(profile: str, granted: str) -> None:
    server = await _serve(profile)
    try:
        report = await _run(server, contexts=[STUDY_FIND], relational=[STUDY_FIND])
    finally:
        await _close(server)
    assert report["extended"] == {STUDY_FIND: granted}


@pytest.mark.parametrize(
    ("profile", "expected"), [("lifesys-qr", 0x0000), ("kodak-disk-server", 0xC000)]
)
async def test_kodak_refuses_a_relational_move(profile: str, expected: int) -> None:
    """A SERIES-level C-MOVE without the Study Instance UID is relational: Kodak refuses it
    (its general failure C000, §3.1.3.3.2), LifeSys performs it (nothing matches here)."""
    server = await _serve(profile, qr=True)
    move = {
        "kind": "move",
        "sop_class": STUDY_MOVE,
        "destination": "NOWHERE",
        "identifier": {"QueryRetrieveLevel": "SERIES", "SeriesInstanceUID": "1.2.3.4"},
    }
    try:
        report = await _run(server, contexts=[STUDY_MOVE], ops=[move])
    finally:
        await _close(server)
    assert report["statuses"] == [expected]


async def test_lifesys_query_constraints() -> None:
    server = await _serve("lifesys-qr", qr=True)

    def find(sop_class: str, **identifier: str) -> dict[str, Any]:
        return {"kind": "find", "sop_class": sop_class, "identifier": identifier}

    ops = [
        find(PATIENT_FIND, QueryRetrieveLevel="PATIENT", PatientID=""),  # refused
        find(PATIENT_FIND, QueryRetrieveLevel="PATIENT", PatientID="*"),  # universal: refused
        find(PATIENT_FIND, QueryRetrieveLevel="PATIENT", PatientID="12*"),
        find(PATIENT_FIND, QueryRetrieveLevel="PATIENT", PatientID="", PatientName=""),
        find(STUDY_FIND, QueryRetrieveLevel="STUDY", StudyInstanceUID="", PatientID=""),  # refused
        find(STUDY_FIND, QueryRetrieveLevel="STUDY", StudyDate="20240101", PatientID=""),
        find(STUDY_FIND, QueryRetrieveLevel="STUDY", StudyInstanceUID="", PatientName="DOE*"),
    ]
    try:
        report = await _run(server, contexts=[PATIENT_FIND, STUDY_FIND], ops=ops)
    finally:
        await _close(server)
    assert report["statuses"] == [0xA900, 0xA900, 0x0000, 0x0000, 0xA900, 0x0000, 0x0000]
