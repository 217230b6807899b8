"""``dicomnet find``, ``move``, ``get`` and ``mwl`` against real SCPs.

DCMTK's dcmqrscp (Q/R over an indexed storage area) and wlmscpfs (worklist
files), a pynetdicom Q/R SCP (a C-FIND handler in this process), and
``dicomnet serve`` (the archive with its SQLite index). The commands run
in-process (their coroutines awaited), so their output is captured.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module
from examples.support import dcmqrscp_archive
from helpers.cli import run_cli
from helpers.peers import dcmtk_program, free_port, wait_port_open
from pydicom import dcmread
from pydicom.dataset import Dataset
from query.fixtures import STUDY_A, STUDY_B, STUDY_C, archive_datasets, write_archive
from query.worklist_items import items

from dicomnet.ae import AE
from dicomnet.cli.main import build_parser
from dicomnet.cli.serve import serve
from dicomnet.policy import AcceptedContext, Policy
from dicomnet.storage.scu import proposed_contexts_for, store
from dicomnet.storage.source import InstanceSource

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

pytestmark = pytest.mark.interop

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def archive_files(tmp_path: Path) -> list[Path]:
    return write_archive(tmp_path / "archive")


def uids_in(folder: Path) -> set[str]:
    return {str(dcmread(p).SOPInstanceUID) for p in folder.glob("*.dcm")}


def study_uids(study: str) -> set[str]:
    return {str(ds.SOPInstanceUID) for ds in archive_datasets() if ds.StudyInstanceUID == study}


# ---------------------------------------------------------------- DCMTK dcmqrscp


async def test_find_move_get_against_dcmqrscp(
    archive_files: list[Path], tmp_path: Path, capsys: Capsys
) -> None:
    listen = free_port()
    async with dcmqrscp_archive(tmp_path, archive_files, hosts={"MOVESCU": listen}) as archive:
        peer = ("127.0.0.1", str(archive.port), "-aec", archive.title)
        code, out, err = await run_cli(
            capsys, "find", *peer, "-k", "PatientID=P1", "-k", "0010,0010", "--csv"
        )
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out)))
        assert sorted(row["StudyInstanceUID"] for row in rows) == [STUDY_A, STUDY_B]
        assert {row["PatientName"] for row in rows} == {"DOE^JOHN"}
        assert "2 match(es); final status 0x0000" in err

        code, out, err = await run_cli(
            capsys, "find", *peer, "--model", "patient", "-k", "PatientName=ROE*", "--json"
        )
        assert code == 0, err
        (patient,) = json.loads(out)
        assert Dataset.from_json(patient).PatientID == "P2"

        received = tmp_path / "moved"
        code, out, err = await run_cli(
            capsys, "move", *peer, "--store-to", str(received), "--listen-host", "127.0.0.1",
            "--listen-port", str(listen),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}",
        )  # fmt: skip
        assert code == 0, err
        assert "move: 3 completed, 0 failed, 0 warning; final status 0x0000" in err
        assert uids_in(received) == study_uids(STUDY_A)

        got = tmp_path / "got"
        code, out, err = await run_cli(
            capsys, "get", *peer, "--output", str(got),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_B}\\{STUDY_C}",
        )  # fmt: skip
        assert code == 0, err
        assert uids_in(got) == study_uids(STUDY_B) | study_uids(STUDY_C)
        assert not (got / ".incoming").exists()

        # A destination dcmqrscp does not know: A801, exit 1.
        code, out, err = await run_cli(
            capsys, "move", *peer, "--dest", "NOWHERE", "-k", f"StudyInstanceUID={STUDY_A}"
        )
        assert code == 1, err
        assert "0xA801" in err


async def test_get_without_a_context_for_the_class_reports_failures(
    archive_files: list[Path], tmp_path: Path, capsys: Capsys
) -> None:
    async with dcmqrscp_archive(tmp_path, archive_files) as archive:
        code, _out, err = await run_cli(
            capsys, "get", "127.0.0.1", str(archive.port), "-aec", archive.title,
            "--output", str(tmp_path / "got"), "--sop-class", "1.2.840.10008.5.1.4.1.1.7",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_C}",
        )  # fmt: skip
    assert code == 1, err
    assert "0 completed, 1 failed" in err
    assert not list((tmp_path / "got").glob("*.dcm"))


# ---------------------------------------------------------------- DCMTK wlmscpfs


async def test_mwl_against_wlmscpfs(tmp_path: Path, capsys: Capsys) -> None:
    wlmscpfs = dcmtk_program("wlmscpfs")
    folder = tmp_path / "worklists" / "WORKLIST"
    folder.mkdir(parents=True)
    (folder / "lockfile").touch()
    for number, ds in enumerate(items(), 1):
        ds.SOPClassUID = "1.2.840.10008.5.1.4.31"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.91.{number}"
        ds.save_as(folder / f"item{number}.wl", implicit_vr=False, little_endian=True)
    port = free_port()
    with (tmp_path / "wlmscpfs.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            wlmscpfs, "-dfp", str(tmp_path / "worklists"), "-dfr", str(port), stdout=log, stderr=log
        )
    try:
        await wait_port_open("127.0.0.1", port)
        code, out, err = await run_cli(
            capsys, "mwl", "127.0.0.1", str(port), "-aec", "WORKLIST",
            "-k", "Modality=CT", "-k", "ScheduledProcedureStepStartDate=20240101-20240112",
            "--json",
        )  # fmt: skip
        table_code, table, _ = await run_cli(
            capsys, "mwl", "127.0.0.1", str(port), "-aec", "WORKLIST", "-k", "PatientName=ROE*"
        )
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
    assert code == 0, err
    (match,) = [Dataset.from_json(item) for item in json.loads(out)]
    assert match.PatientID == "WL1"
    step = match.ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", "CT1")
    assert table_code == 0
    lines = table.splitlines()
    assert len(lines) == 3 and "ROE^JANE" in lines[2] and "[Modality=MR" in lines[2]


# ---------------------------------------------------------------- pynetdicom


@pytest.fixture
def pynetdicom_qr() -> Iterator[tuple[int, list[Dataset]]]:
    """A pynetdicom Study Root FIND SCP answering two studies; the identifiers it received."""
    require_module("pynetdicom")
    from pynetdicom import AE as PynetdicomAE
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    received: list[Dataset] = []
    lock = threading.Lock()

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        with lock:
            received.append(identifier)
        for number, name in ((1, "DOE^JOHN"), (2, "DOE^JANE")):
            match = Dataset()
            match.QueryRetrieveLevel = "STUDY"
            match.PatientName = name
            match.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.92.{number}"
            match.StudyDate = "20240110"
            yield 0xFF00, match

    ae = PynetdicomAE(ae_title="PYQR")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()


async def test_find_against_a_pynetdicom_qr_scp(
    pynetdicom_qr: tuple[int, list[Dataset]], capsys: Capsys
) -> None:
    port, received = pynetdicom_qr
    code, out, err = await run_cli(
        capsys, "find", "127.0.0.1", str(port), "-aec", "PYQR", "--no-default-keys",
        "-k", "PatientName=DOE*", "-k", "StudyInstanceUID", "-k", "(0008,0020)",
    )  # fmt: skip
    assert code == 0, err
    (identifier,) = received
    assert identifier.QueryRetrieveLevel == "STUDY" and identifier.PatientName == "DOE*"
    assert {e.keyword for e in identifier} == {
        "QueryRetrieveLevel", "PatientName", "StudyInstanceUID", "StudyDate",
    }  # fmt: skip
    lines = out.splitlines()
    assert lines[0].split() == ["PatientName", "StudyInstanceUID", "StudyDate"]  # -k order
    assert [line.split()[0] for line in lines[2:]] == ["DOE^JOHN", "DOE^JANE"]
    # --limit 1: C-CANCEL after the first match, still exit 0.
    code, out, err = await run_cli(
        capsys, "find", "127.0.0.1", str(port), "-aec", "PYQR", "--limit", "1", "--csv"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and rows[0]["PatientName"] == "DOE^JOHN"
    # pynetdicom may have sent both matches before it read the C-CANCEL.
    assert "final status 0xFE00" in err or "2 match(es); final status 0x0000" in err, err


# ---------------------------------------------------------------- dicomnet serve


@pytest.fixture
async def dicomnet_serve(tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    """``dicomnet serve`` (in-process) holding the archive; (its port, MOVESCU's port)."""
    listen = free_port()
    args = build_parser().parse_args(
        ["serve", "--port", "0", "--host", "127.0.0.1", "--no-fsync",
         "--output", str(tmp_path / "store"), "--destination", f"MOVESCU=127.0.0.1:{listen}"]
    )  # fmt: skip
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(args, ready=lambda s: ready.set_result(s.port), stop=stop))
    port = await asyncio.wait_for(ready, 30)
    sources = [InstanceSource.from_path(p) for p in write_archive(tmp_path / "archive")]
    async with AE("STORESCU").associate(
        "127.0.0.1", port, called_ae="DICOMNET", contexts=proposed_contexts_for(sources)
    ) as assoc:
        for source in sources:
            assert (await store(assoc, source)).ok
    try:
        yield port, listen
    finally:
        stop.set()
        assert await task == 0


async def test_find_move_get_against_dicomnet_serve(
    dicomnet_serve: tuple[int, int], tmp_path: Path, capsys: Capsys
) -> None:
    port, listen = dicomnet_serve
    peer = ("127.0.0.1", str(port), "-aec", "DICOMNET")
    code, out, err = await run_cli(capsys, "find", *peer, "-k", "PatientName=DOE*", "--json")
    assert code == 0, err
    studies = [Dataset.from_json(item) for item in json.loads(out)]
    assert sorted(str(ds.StudyInstanceUID) for ds in studies) == [STUDY_A, STUDY_B]
    by_uid = {str(ds.StudyInstanceUID): ds for ds in studies}
    assert by_uid[STUDY_A].ModalitiesInStudy == ["CT", "MR"]
    assert int(by_uid[STUDY_A].NumberOfStudyRelatedInstances) == 3

    code, out, err = await run_cli(
        capsys, "find", *peer, "--model", "patient", "--level", "IMAGE",
        "-k", "PatientID=P1", "-k", f"StudyInstanceUID={STUDY_A}",
        "-k", f"SeriesInstanceUID={STUDY_A}.1", "--csv",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(row["SOPInstanceUID"] for row in rows) == [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2"]

    received = tmp_path / "moved"
    code, out, err = await run_cli(
        capsys, "move", *peer, "--store-to", str(received), "--listen-host", "127.0.0.1",
        "--listen-port", str(listen),
        "-k", f"StudyInstanceUID={STUDY_A}",
    )  # fmt: skip
    assert code == 0, err
    assert uids_in(received) == study_uids(STUDY_A)

    got = tmp_path / "got"
    code, out, err = await run_cli(
        capsys, "get", *peer, "-od", str(got), "--model", "patient", "--level", "PATIENT",
        "-k", "PatientID=P2",
    )  # fmt: skip
    assert code == 0, err
    assert uids_in(got) == study_uids(STUDY_C)
    assert "get: 1 completed, 0 failed, 0 warning; final status 0x0000" in err

    code, out, err = await run_cli(
        capsys, "move", *peer, "--dest", "NOWHERE", "-k", f"StudyInstanceUID={STUDY_A}"
    )
    assert code == 1 and "0xA801" in err

    # A wrong level for the model: the SCP's failure status, exit 1.
    code, out, err = await run_cli(
        capsys, "find", *peer, "--level", "SERIES", "--no-default-keys", "-k", "Modality=CT"
    )
    assert code == 1 and "0xA900" in err, err


async def test_a_refused_association_and_no_peer_have_their_exit_codes(
    dicomnet_serve: tuple[int, int], capsys: Capsys
) -> None:
    port, _ = dicomnet_serve
    # serve answers MWL from its (empty) worklist: no match, exit 0.
    code, _, err = await run_cli(capsys, "mwl", "127.0.0.1", str(port), "-aec", "DICOMNET")
    assert code == 0, err
    # A peer that accepts Verification only refuses the MWL context, which the command
    # reports as a negotiation failure (exit 6).
    echo_only = Policy(
        ae_title="ECHOONLY",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    async with await AE("ECHOONLY", echo_only).serve("127.0.0.1", 0) as refusing:
        code, _, err = await run_cli(
            capsys, "mwl", "127.0.0.1", str(refusing.port), "-aec", "ECHOONLY"
        )
    assert code == 6 and "no accepted presentation context for 1.2.840.10008.5.1.4.31" in err
    code, _, err = await run_cli(capsys, "find", "127.0.0.1", str(free_port()))
    assert code == 6 and "Association Request Failed" in err
