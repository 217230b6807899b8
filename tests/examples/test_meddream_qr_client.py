"""MedDream Q/R Client example: against the Kodak Disk-Server example and DCMTK dcmqrscp,
moving studies into the MedDream Storage Server example."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from helpers.peers import dcmtk_program, free_port

from .support import (
    EXPLICIT_LE,
    dcmqrscp_archive,
    make_dataset,
    run_example,
    run_program,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop

STUDY_A = "1.2.826.0.1.3680043.8.498.4001"
STUDY_B = "1.2.826.0.1.3680043.8.498.4002"
SERIES_A = "1.2.826.0.1.3680043.8.498.4001.1"


def images(tmp_path: Path) -> tuple[list[Path], list[str]]:
    """Two images of study A and one of study B (patient PID-4), one of another patient.

    The second image of study A has no Rows and Columns, so an SCP returns them empty.
    """
    datasets = [
        make_dataset(patient_id="PID-4", study_uid=STUDY_A, series_uid=SERIES_A, instance_number=1),
        make_dataset(patient_id="PID-4", study_uid=STUDY_A, series_uid=SERIES_A, instance_number=2),
        make_dataset(patient_id="PID-4", study_uid=STUDY_B),
        make_dataset(patient_id="PID-5", patient_name="Roe^Rick"),
    ]
    del datasets[1].Rows, datasets[1].Columns
    files = [
        write_instance(ds, tmp_path / "source" / f"{n}.dcm", EXPLICIT_LE)
        for n, ds in enumerate(datasets)
    ]
    return files, [str(ds.SOPInstanceUID) for ds in datasets]


def assert_clean(out: str) -> None:
    """No warning (pydicom warns when a return key gets a value of the wrong type, e.g. "" for
    the US of Rows) and no empty value printed as ``None``."""
    assert "warning" not in out.lower().replace("warning 0", ""), out
    assert "=None" not in out, out


def received(folder: Path) -> set[str]:
    """SOP Instance UIDs of the files the storage server filed."""
    return {str(pydicom.dcmread(path).SOPInstanceUID) for path in folder.glob("*.dcm")}


async def test_search_details_and_move_with_the_kodak_disk_server(tmp_path: Path) -> None:
    files, uids = images(tmp_path)
    inbox = tmp_path / "meddream"
    async with server_example(
        "meddream_storage_server.py", "--output", inbox, log=tmp_path / "store.log"
    ) as storage:
        async with server_example(
            "kodak_disk_server.py", "--output", tmp_path / "disk",
            "--destination", f"DCMRCV=127.0.0.1:{storage.port}", log=tmp_path / "disk.log",
        ) as archive:  # fmt: skip
            code, out = await run_program(
                dcmtk_program("storescu"), "-aec", "DISK_SERVER", "127.0.0.1", str(archive.port),
                *files,
            )  # fmt: skip
            assert code == 0, out
            code, out = await run_example(
                "meddream_qr_client.py", "--port", str(archive.port),
                "--called-ae", "DISK_SERVER", "-k", "PatientID=PID-4",
                "-k", f"StudyInstanceUID={STUDY_A}", "--details", "--move",
            )  # fmt: skip
    assert code == 0, out
    assert_clean(out)
    lines = out.splitlines()
    studies = [line for line in lines if line.startswith("STUDY ")]
    assert len(studies) == 1 and f"StudyInstanceUID={STUDY_A}" in studies[0]
    assert "PatientName=Doe^Jane" in studies[0]
    series = [line for line in lines if line.startswith("  SERIES ")]
    assert len(series) == 1 and f"SeriesInstanceUID={SERIES_A}" in series[0]
    image_lines = [line for line in lines if line.startswith("    IMAGE ")]
    assert {line.split("SOPInstanceUID=")[1].split()[0] for line in image_lines} == set(uids[:2])
    sizes = {
        line.split("SOPInstanceUID=")[1].split()[0]: line.split("Rows=")[1] for line in image_lines
    }
    assert sizes == {uids[0]: "8 Columns=8", uids[1]: " Columns="}
    assert f"MOVE {STUDY_A}: status 0x0000, completed 2, failed 0, warning 0" in lines
    assert lines[-1] == "1 study(ies)"
    assert received(inbox) == set(uids[:2])


async def test_patient_root_against_dcmqrscp(tmp_path: Path) -> None:
    files, uids = images(tmp_path)
    inbox = tmp_path / "meddream"
    async with server_example(
        "meddream_storage_server.py", "--output", inbox, log=tmp_path / "store.log"
    ) as storage:
        async with dcmqrscp_archive(tmp_path, files, hosts={"DCMRCV": storage.port}) as archive:
            code, out = await run_example(
                "meddream_qr_client.py", "--port", str(archive.port), "--called-ae", archive.title,
                "--model", "patient", "-k", "PatientID=PID-4", "--details", "--move",
            )  # fmt: skip
            assert code == 0, out + archive.log.read_text(errors="replace")
    assert_clean(out)
    lines = out.splitlines()
    assert lines[-1] == "2 study(ies)"
    assert sum(line.startswith("    IMAGE ") for line in lines) == 3
    assert f"MOVE {STUDY_A}: status 0x0000, completed 2, failed 0, warning 0" in lines
    assert f"MOVE {STUDY_B}: status 0x0000, completed 1, failed 0, warning 0" in lines
    assert received(inbox) == set(uids[:3])


async def test_unreachable_peer() -> None:
    code, out = await run_example("meddream_qr_client.py", "--port", str(free_port()))
    assert code == 3
    assert "association with 127.0.0.1" in out
