"""Flux Find SCU and Kodak Memory-Manager/Memory-Server examples against DCMTK dcmqrscp."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers.peers import dcmtk_program, free_port, wait_port_open
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .support import (
    EXAMPLES,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    TIMEOUT,
    Archive,
    dcmqrscp_archive,
    make_dataset,
    run_example,
    run_program,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop

STUDY = "1.2.826.0.1.3680043.8.498.1001"
SERIES = "1.2.826.0.1.3680043.8.498.1001.1"
OTHER_STUDY = "1.2.826.0.1.3680043.8.498.2002"


def archive_files(tmp_path: Path) -> tuple[list[Path], list[str]]:
    """Two images of one study of PID-7 and one image of another patient's study."""
    datasets = [
        make_dataset(patient_id="PID-7", study_uid=STUDY, series_uid=SERIES, instance_number=1),
        make_dataset(patient_id="PID-7", study_uid=STUDY, series_uid=SERIES, instance_number=2),
        make_dataset(patient_id="PID-8", patient_name="Roe^Rick", study_uid=OTHER_STUDY),
    ]
    syntaxes = (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_LE)
    files = [
        write_instance(ds, tmp_path / "source" / f"{n}.dcm", ts)
        for n, (ds, ts) in enumerate(zip(datasets, syntaxes, strict=True))
    ]
    return files, [str(ds.SOPInstanceUID) for ds in datasets]


async def run_against(archive: Archive, program: str, *args: str) -> tuple[int, str]:
    """Run example ``program`` with the archive as its peer (``--port``, ``--called-ae``)."""
    return await run_example(
        program, "--port", str(archive.port), "--called-ae", archive.title, *args
    )


async def test_flux_find_scu_at_each_level(tmp_path: Path) -> None:
    files, uids = archive_files(tmp_path)
    async with dcmqrscp_archive(tmp_path, files) as archive:

        async def find(*args: str) -> list[str]:
            code, out = await run_against(archive, "flux_find_scu.py", *args)
            assert code == 0, out + archive.log.read_text(errors="replace")
            return out.splitlines()

        patients = await find("--level", "PATIENT")
        studies = await find("-k", "PatientID=PID-7")  # STUDY, the statement's default level
        series = await find(
            "--level", "SERIES", "-k", "PatientID=PID-7", "-k", f"StudyInstanceUID={STUDY}"
        )
        images = await find(
            "--level",
            "IMAGE",
            "-k",
            "PatientID=PID-7",
            "-k",
            f"StudyInstanceUID={STUDY}",
            "-k",
            f"SeriesInstanceUID={SERIES}",
        )
        nothing = await find("-k", "PatientID=PID-7", "-k", "AccessionNumber=NO-SUCH")

    assert patients[-1] == "2 match(es), status 0x0000"
    assert any("PatientName=Doe^Jane" in line and "PatientID=PID-7" in line for line in patients)
    assert any("PatientName=Roe^Rick" in line for line in patients)
    assert studies[-1] == "1 match(es), status 0x0000"
    assert f"StudyInstanceUID={STUDY}" in studies[0]
    assert "QueryRetrieveLevel=STUDY" in studies[0]
    assert series[-1] == "1 match(es), status 0x0000"
    assert f"SeriesInstanceUID={SERIES}" in series[0]
    assert "Modality=OT" in series[0]
    assert images[-1] == "2 match(es), status 0x0000"
    found = {
        part.split("=", 1)[1]
        for line in images[:-1]
        for part in line.split()
        if part.startswith("SOPInstanceUID=")
    }
    assert found == set(uids[:2])
    assert nothing == ["0 match(es), status 0x0000"]


async def test_kodak_memory_manager_moves_studies_into_the_memory_server(tmp_path: Path) -> None:
    files, uids = archive_files(tmp_path)
    async with server_example("kodak_memory_server.py", log=tmp_path / "memory.log") as memory:
        async with dcmqrscp_archive(
            tmp_path, files, hosts={"MEMORY_SERVER": memory.port}
        ) as archive:
            code, out = await run_against(
                archive, "kodak_memory_manager.py", "--study", STUDY, "--study", OTHER_STUDY
            )
            assert code == 0, out + archive.log.read_text(errors="replace")
    assert f"{STUDY}: status 0x0000, remaining 0, completed 2, failed 0, warning 0" in out
    assert f"{OTHER_STUDY}: status 0x0000, remaining 0, completed 1, failed 0, warning 0" in out
    assert memory.exit_code == 0
    held = memory.output.splitlines()
    assert held[0] == "holding 3 instance(s)"
    by_uid = {line.split()[0]: line.split()[1:] for line in held[1:]}
    assert set(by_uid) == set(uids)
    for sop_class, syntax, _size in by_uid.values():
        assert sop_class == "1.2.840.10008.5.1.4.1.1.7"
        # The Memory-Server profile prefers Explicit VR Big Endian over what DCMTK lists first.
        assert syntax == EXPLICIT_BE


async def test_the_shipped_dcmqrscp_configuration_runs_the_kodak_walkthrough(
    tmp_path: Path,
) -> None:
    """examples/README.md's Kodak walkthrough with examples/dcmqrscp.cfg: fill the archive with
    storescu, then move a study into the memory server. Only the ports differ (they are
    ephemeral here); the archive runs in its own folder, as the file's relative path expects."""
    files, uids = archive_files(tmp_path)
    shipped = (EXAMPLES / "dcmqrscp.cfg").read_text()
    assert "(MEMORY_SERVER, 127.0.0.1, 11113)" in shipped
    assert "NetworkTCPPort  = 11112" in shipped
    folder = tmp_path / "archive"
    (folder / "archive-db").mkdir(parents=True)
    port = free_port()
    async with server_example("kodak_memory_server.py", log=tmp_path / "memory.log") as memory:
        (folder / "dcmqrscp.cfg").write_text(
            shipped.replace("11113", str(memory.port)).replace("11112", str(port))
        )
        log = tmp_path / "dcmqrscp.log"
        with log.open("wb") as log_file:
            archive = await asyncio.create_subprocess_exec(
                dcmtk_program("dcmqrscp"), "-c", "dcmqrscp.cfg", "-v",
                cwd=folder, stdout=log_file, stderr=log_file,
            )  # fmt: skip
        try:
            await wait_port_open("127.0.0.1", port)
            code, out = await run_program(
                dcmtk_program("storescu"), "-aec", "ARCHIVE", "127.0.0.1", str(port), *files
            )
            assert code == 0, out
            code, out = await run_example(
                "kodak_memory_manager.py", "--port", str(port), "--called-ae", "ARCHIVE",
                "--study", STUDY,
            )  # fmt: skip
            assert code == 0, out + log.read_text(errors="replace")
        finally:
            archive.terminate()
            await asyncio.wait_for(archive.wait(), TIMEOUT)
    assert f"{STUDY}: status 0x0000, remaining 0, completed 2, failed 0, warning 0" in out
    held = memory.output.splitlines()
    assert held[0] == "holding 2 instance(s)"
    assert {line.split()[0] for line in held[1:]} == set(uids[:2])


class Failure(NamedTuple):
    """An example run against dcmqrscp that fails, and how the failure shows."""

    program: str
    args: tuple[str, ...]
    exit_code: int
    expected: tuple[str, ...]
    archive_options: tuple[str, ...] = ()


FAILURES = {
    # dcmqrscp has no Modality Worklist: the context is refused and nothing is sent.
    "find-model-not-accepted": Failure(
        "flux_find_scu.py",
        ("--worklist",),
        3,
        ("no accepted presentation context for 1.2.840.10008.5.1.4.31",),
    ),
    # dcmqrscp does not know UNKNOWN_AE: Move Destination unknown (A801).
    "move-destination-unknown": Failure(
        "kodak_memory_manager.py",
        ("--destination", "UNKNOWN_AE", "--study", STUDY),
        1,
        (f"{STUDY}: status 0xA801",),
    ),
    # dcmqrscp --check-find refuses a SERIES query whose Study Instance UID is universal
    # (A900); the Flux statement says a failure status aborts the association.
    "find-failure-aborts": Failure(
        "flux_find_scu.py",
        ("-v", "--level", "SERIES"),
        1,
        ("0 match(es), status 0xA900", "association aborted: source=service_user"),
        archive_options=("--check-find",),
    ),
}


@pytest.mark.parametrize("case", FAILURES.values(), ids=FAILURES.keys())
async def test_failures_are_reported(tmp_path: Path, case: Failure) -> None:
    files, _ = archive_files(tmp_path)
    async with dcmqrscp_archive(tmp_path, files, options=case.archive_options) as archive:
        code, out = await run_against(archive, case.program, *case.args)
    assert code == case.exit_code, out
    for text in case.expected:
        assert text in out


def worklist_item(path: Path, modality: str, patient: str, number: int) -> None:
    """A worklist file for wlmscpfs (a data set with one Scheduled Procedure Step)."""
    item = Dataset()
    item.SpecificCharacterSet = "ISO_IR 100"
    item.PatientName = patient
    item.PatientID = f"PID-{number}"
    item.AccessionNumber = f"ACC-{number}"
    item.RequestedProcedureID = f"RP-{number}"
    item.StudyInstanceUID = generate_uid()
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = "FLUX"
    step.ScheduledProcedureStepStartDate = "20240102"
    step.ScheduledProcedureStepStartTime = "1000"
    step.ScheduledProcedureStepID = f"SPS-{number}"
    item.ScheduledProcedureStepSequence = [step]
    item.SOPClassUID = "1.2.840.10008.5.1.4.31"
    item.SOPInstanceUID = generate_uid()
    write_instance(item, path, EXPLICIT_LE)


async def test_flux_find_scu_queries_a_worklist(tmp_path: Path) -> None:
    wlmscpfs = dcmtk_program("wlmscpfs")
    folder = tmp_path / "worklists" / "WORKLIST"
    folder.mkdir(parents=True)
    (folder / "lockfile").touch()
    worklist_item(folder / "ct.wl", "CT", "Doe^Jane", 1)
    worklist_item(folder / "mr.wl", "MR", "Roe^Rick", 2)
    port = free_port()
    with (tmp_path / "wlmscpfs.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            wlmscpfs, "-dfp", str(tmp_path / "worklists"), "-dfr", str(port), stdout=log, stderr=log
        )
    try:
        await wait_port_open("127.0.0.1", port)
        code, out = await run_example(
            "flux_find_scu.py",
            "--port",
            str(port),
            "--called-ae",
            "WORKLIST",
            "--worklist",
            "-k",
            "Modality=CT",
        )
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), TIMEOUT)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "1 match(es), status 0x0000"
    assert "PatientName=Doe^Jane" in lines[0]
    assert "ScheduledProcedureStepSequence=[Modality=CT" in lines[0]
    assert "ScheduledProcedureStepID=SPS-1" in lines[0]
