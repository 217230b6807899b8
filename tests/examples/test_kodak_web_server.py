"""Kodak Web Software-Server example: Study Root C-FIND of dcmqrscp and the Disk-Server example."""

from __future__ import annotations

from pathlib import Path

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

STUDY = "1.2.826.0.1.3680043.8.498.5001"
SERIES = "1.2.826.0.1.3680043.8.498.5001.1"


def images(tmp_path: Path) -> tuple[list[Path], list[str]]:
    """Two images of one series, and one image of another patient's study."""
    datasets = [
        make_dataset(patient_id="PID-6", study_uid=STUDY, series_uid=SERIES, instance_number=1),
        make_dataset(patient_id="PID-6", study_uid=STUDY, series_uid=SERIES, instance_number=2),
        make_dataset(patient_id="PID-9", patient_name="Roe^Rick"),
    ]
    files = [
        write_instance(ds, tmp_path / "source" / f"{n}.dcm", EXPLICIT_LE)
        for n, ds in enumerate(datasets)
    ]
    return files, [str(ds.SOPInstanceUID) for ds in datasets]


async def test_queries_two_scps_at_each_level(tmp_path: Path) -> None:
    files, uids = images(tmp_path)
    async with (
        dcmqrscp_archive(tmp_path, files) as archive,
        server_example(
            "kodak_disk_server.py", "--output", tmp_path / "disk", log=tmp_path / "disk.log"
        ) as disk,
    ):
        code, out = await run_program(
            dcmtk_program("storescu"), "-aec", "DISK_SERVER", "127.0.0.1", str(disk.port), *files
        )
        assert code == 0, out
        scps = (
            "--scp", f"ARCHIVE=127.0.0.1:{archive.port}",
            "--scp", f"DISK_SERVER=127.0.0.1:{disk.port}",
        )  # fmt: skip

        async def query(*args: str) -> list[str]:
            code, out = await run_example("kodak_web_server.py", *scps, *args)
            assert code == 0, out
            return out.splitlines()

        studies = await query("-k", "PatientID=PID-6")
        series = await query("--level", "SERIES", "-k", f"StudyInstanceUID={STUDY}")
        image_lines = await query(
            "--level",
            "IMAGE",
            "-k",
            f"StudyInstanceUID={STUDY}",
            "-k",
            f"SeriesInstanceUID={SERIES}",
        )
        unreachable = await run_example(
            "kodak_web_server.py", *scps, "--scp", f"GONE=127.0.0.1:{free_port()}"
        )
    for title in ("ARCHIVE", "DISK_SERVER"):
        assert f"{title}: 1 match(es), status 0x0000" in studies
        assert any(
            line.startswith(f"{title} STUDY ") and f"StudyInstanceUID={STUDY}" in line
            for line in studies
        )
        assert f"{title}: 1 match(es), status 0x0000" in series
        assert any(
            line.startswith(f"{title} SERIES ") and f"SeriesInstanceUID={SERIES}" in line
            for line in series
        )
        assert f"{title}: 2 match(es), status 0x0000" in image_lines
        found = {
            line.split("SOPInstanceUID=")[1].split()[0]
            for line in image_lines
            if line.startswith(f"{title} IMAGE ")
        }
        assert found == set(uids[:2])
    code, out = unreachable
    assert code == 1
    assert "GONE: association failed" in out
    assert "ARCHIVE: 2 match(es), status 0x0000" in out  # the others still answer
