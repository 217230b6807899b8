"""Query/Retrieve and Modality Worklist interop with DCMTK.

DCMTK's findscu, movescu and getscu against the dicomnet SCPs (the LifeSys
Q/R profile for FIND/MOVE), findscu -W against the worklist SCP, and the
dicomnet find/move/get helpers against DCMTK's dcmqrscp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from examples.support import dcmqrscp_archive
from helpers.peers import dcmtk_program, free_port
from helpers.programs import run_program
from pydicom import dcmread
from pydicom.dataset import Dataset
from query.fixtures import CT, STUDY_A, STUDY_B, STUDY_C, archive_datasets, write_archive
from query.worklist_items import write_items

from dicomnet.ae import AE, Server
from dicomnet.conformance.profile import load_profile
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.query import InstanceIndex
from dicomnet.query.worklist import WorklistSource
from dicomnet.services.mwl import WorklistService, support_from_profile
from dicomnet.services.qr import (
    FIND,
    GET,
    MOVE,
    QueryRetrieveService,
    find,
    get,
    get_contexts,
    move,
    retrieve_accepted_contexts,
    sop_class_for,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore

pytestmark = pytest.mark.interop

SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
STEP = "ScheduledProcedureStepSequence[0]"


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    write_archive(tmp_path / "archive")
    return tmp_path / "archive"


async def lifesys_server(archive_dir: Path, destinations: dict[str, tuple[str, int]]) -> Server:
    profile = load_profile("lifesys-qr")
    service = QueryRetrieveService(
        InstanceIndex.from_folder(archive_dir),
        destinations=destinations,
        support=QueryRetrieveService.support_from_profile(profile.query_keys),
    )
    return await AE("QR_SCP", profile.policy(), handlers=[service]).serve("127.0.0.1", 0)


async def test_findscu_study_root_and_patient_root(archive_dir: Path) -> None:
    findscu = dcmtk_program("findscu")
    async with await lifesys_server(archive_dir, {}) as server:
        base = (findscu, "-v", "-aec", "QR_SCP", "127.0.0.1", str(server.port))
        code, out = await run_program(
            *base, "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=DOE*",
            "-k", "StudyInstanceUID", "-k", "StudyDate=20240101-20240201",
        )  # fmt: skip
        assert code == 0, out
        assert f"[{STUDY_A}]" in out
        assert STUDY_B not in out and STUDY_C not in out
        code, out = await run_program(
            *base, "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID", "-k", "PatientName",
        )  # fmt: skip
        assert code == 0, out
        assert "[DOE^JOHN]" in out and "[ROE^JANE]" in out
        assert out.count("Find Response: ") == 2, out  # two patients
        # A series query without the study's unique key: A900 at the hierarchical SCP.
        code, out = await run_program(
            *base, "-S", "-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID"
        )
        assert "Final Find Response (Error: DataSetDoesNotMatchSOPClass)" in out, out


async def test_movescu_moves_a_study_into_its_own_storage_scp(
    archive_dir: Path, tmp_path: Path
) -> None:
    movescu = dcmtk_program("movescu")
    port = free_port()
    received = tmp_path / "received"
    received.mkdir()
    async with await lifesys_server(archive_dir, {"MOVESCU": ("127.0.0.1", port)}) as server:
        code, out = await run_program(
            movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "QR_SCP", "--port", str(port),
            "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={STUDY_A}", "127.0.0.1", str(server.port),
        )  # fmt: skip
    assert code == 0, out
    files = {str(dcmread(p).SOPInstanceUID): p for p in received.iterdir()}
    originals = {str(ds.SOPInstanceUID): ds for ds in archive_datasets()[:3]}
    assert set(files) == set(originals)
    for uid, path in files.items():
        got = dcmread(path)
        assert got.PixelData == originals[uid].PixelData
        assert got.StudyInstanceUID == STUDY_A


async def test_getscu_against_the_get_scp(archive_dir: Path, tmp_path: Path) -> None:
    getscu = dcmtk_program("getscu")
    classes = [sop_class_for(m, op) for m in ("patient", "study") for op in (FIND, MOVE, GET)]
    accepted = [AcceptedContext(abstract_syntax=uid, transfer_syntaxes=SYNTAXES) for uid in classes]
    accepted.extend(retrieve_accepted_contexts([CT], SYNTAXES))
    policy = Policy(ae_title="QR_SCP", accepted_contexts=tuple(accepted))
    service = QueryRetrieveService(InstanceIndex.from_folder(archive_dir))
    received = tmp_path / "got"
    received.mkdir()
    async with await AE("QR_SCP", policy, handlers=[service]).serve("127.0.0.1", 0) as server:
        code, out = await run_program(
            getscu, "-v", "-S", "-aec", "QR_SCP", "-od", str(received),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_B}\\{STUDY_C}",
            "127.0.0.1", str(server.port),
        )  # fmt: skip
    assert code == 0, out
    got = sorted(str(dcmread(p).SOPInstanceUID) for p in received.iterdir())
    assert got == [STUDY_B + ".1.4", STUDY_C + ".1.5"]


async def test_findscu_worklist(tmp_path: Path) -> None:
    findscu = dcmtk_program("findscu")
    write_items(tmp_path / "wl")
    profile = load_profile("lifesys-mwl")
    service = WorklistService(
        WorklistSource.from_folder(tmp_path / "wl"),
        support=support_from_profile(profile.query_keys),
    )
    async with await AE("MWL_SCP", profile.policy(), handlers=[service]).serve(
        "127.0.0.1", 0
    ) as server:
        code, out = await run_program(
            findscu, "-v", "-W", "-aec", "MWL_SCP", "-k", "PatientName", "-k", "PatientID",
            "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
            "-k", f"{STEP}.ScheduledProcedureStepStartDate=20240101-20240112",
            "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
            "127.0.0.1", str(server.port),
        )  # fmt: skip
    assert code == 0, out
    assert "[WL1 ]" in out and "[DOE^JOHN]" in out
    assert "WL2" not in out and "WL3" not in out


@pytest.fixture
async def destination() -> AsyncIterator[tuple[Server, MemoryStore]]:
    store = MemoryStore()
    policy = Policy(
        ae_title="DEST",
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=SYNTAXES),),
    )
    async with await AE("DEST", policy, handlers=[StorageService(store)]).serve(
        "127.0.0.1", 0
    ) as server:
        yield server, store


async def test_find_and_move_helpers_against_dcmqrscp(
    archive_dir: Path, tmp_path: Path, destination: tuple[Server, MemoryStore]
) -> None:
    files = sorted(archive_dir.iterdir())
    server, store = destination
    classes = [sop_class_for("study", FIND), sop_class_for("study", MOVE)]
    policy = Policy(
        ae_title="HELPER",
        proposed_contexts=tuple(
            ProposedContext(abstract_syntax=uid, transfer_syntaxes=SYNTAXES) for uid in classes
        ),
    )
    async with dcmqrscp_archive(tmp_path, files, hosts={"DEST": server.port}) as archive:
        async with AE("HELPER", policy).associate(
            "127.0.0.1", archive.port, called_ae=archive.title
        ) as assoc:
            query = Dataset()
            query.QueryRetrieveLevel = "STUDY"
            query.PatientID = "P1"
            query.StudyInstanceUID = ""
            results = find(assoc, query)
            studies = sorted([str(ds.StudyInstanceUID) async for ds in results])
            assert results.status == 0x0000 and studies == [STUDY_A, STUDY_B]
            wanted = Dataset()
            wanted.QueryRetrieveLevel = "STUDY"
            wanted.StudyInstanceUID = STUDY_A
            progress = [p async for p in move(assoc, wanted, "DEST")]
    assert progress[-1].status == 0x0000 and progress[-1].completed == 3
    assert sorted(store.instances) == sorted(
        str(ds.SOPInstanceUID) for ds in archive_datasets()[:3]
    )


async def test_get_helper_against_dcmqrscp(archive_dir: Path, tmp_path: Path) -> None:
    files = sorted(archive_dir.iterdir())
    policy = Policy(ae_title="HELPER")
    received = MemoryStore()
    contexts = get_contexts([CT], model="study", transfer_syntaxes=SYNTAXES)
    async with dcmqrscp_archive(tmp_path, files) as archive:
        async with AE("HELPER", policy).associate(
            "127.0.0.1", archive.port, called_ae=archive.title, contexts=contexts
        ) as assoc:
            wanted = Dataset()
            wanted.QueryRetrieveLevel = "STUDY"
            wanted.StudyInstanceUID = STUDY_C
            results = get(assoc, wanted, received)
            progress = [p async for p in results]
    assert progress[-1].status == 0x0000 and progress[-1].completed == 1
    assert list(received.instances) == [STUDY_C + ".1.5"]
