"""Conformance with the DICOMweb community's client (``dicomweb-client``) and DCMTK.

``dicomnet serve --http`` runs in-process; the client (synchronous, on
``requests``) runs in a worker thread of the test. What it stores through
STOW-RS is then found by DCMTK ``findscu`` and retrieved by ``movescu``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from dicomweb_client.api import DICOMwebClient
from helpers.peers import dcmtk_program, free_port
from helpers.programs import run_program
from pydicom import dcmread
from pydicom.uid import generate_uid
from query.fixtures import STUDY_A, STUDY_B, write_archive

from dicomnet.storage.synthetic import make_image, write_part10

from .serving import HttpServing

EXPLICIT_LE = "1.2.840.10008.1.2.1"


@pytest.mark.interop
async def test_search_retrieve_and_store_with_dicomweb_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storescu = dcmtk_program("storescu")
    files = write_archive(tmp_path / "files")
    move_port = free_port()
    running = HttpServing(
        ["--output", str(tmp_path / "store"), "--destination", f"MOVESCU=127.0.0.1:{move_port}"],
        capsys,
    )
    port, http_port = await running.start()
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", str(port), *map(str, files)
        )
        assert code == 0, out
        client = DICOMwebClient(f"http://127.0.0.1:{http_port}/dicomweb")

        studies = await asyncio.to_thread(
            client.search_for_studies, search_filters={"PatientID": "P1"}
        )
        assert {s["0020000D"]["Value"][0] for s in studies} == {STUDY_A, STUDY_B}
        series = await asyncio.to_thread(client.search_for_series, STUDY_A)
        assert len(series) == 2
        instances = await asyncio.to_thread(
            client.search_for_instances, STUDY_A, search_filters={"InstanceNumber": "1"}
        )
        assert len(instances) == 1
        limited = await asyncio.to_thread(client.search_for_instances, limit=2, offset=1)
        assert len(limited) == 2

        retrieved = await asyncio.to_thread(client.retrieve_study, STUDY_A)
        assert sorted(ds.SOPInstanceUID for ds in retrieved) == sorted(
            dcmread(f).SOPInstanceUID for f in files[:3]
        )
        assert all(ds.file_meta.TransferSyntaxUID == EXPLICIT_LE for ds in retrieved)
        one = dcmread(files[0])
        instance = await asyncio.to_thread(
            client.retrieve_instance, STUDY_A, one.SeriesInstanceUID, one.SOPInstanceUID
        )
        assert instance.PixelData == one.PixelData
        metadata = await asyncio.to_thread(client.retrieve_study_metadata, STUDY_A)
        assert len(metadata) == 3
        frames = await asyncio.to_thread(
            client.retrieve_instance_frames,
            STUDY_A,
            one.SeriesInstanceUID,
            one.SOPInstanceUID,
            frame_numbers=[1],
        )
        assert frames == [one.PixelData]

        new = make_image(rows=16, columns=16, sop_instance_uid=generate_uid())
        new.PatientID = "STOWED"
        new_path = write_part10(tmp_path / "new.dcm", new, EXPLICIT_LE)
        answer = await asyncio.to_thread(client.store_instances, [dcmread(new_path)])
        assert answer.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == new.SOPInstanceUID
        assert "FailedSOPSequence" not in answer

        findscu, movescu = dcmtk_program("findscu"), dcmtk_program("movescu")
        code, out = await run_program(
            findscu, "-S", "-aec", "DICOMNET", "127.0.0.1", str(port),
            "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=STOWED", "-k", "StudyInstanceUID",
        )  # fmt: skip
        assert code == 0, out
        assert str(new.StudyInstanceUID) in out
        received = tmp_path / "moved"
        received.mkdir()
        code, out = await run_program(
            movescu, "-S", "-aet", "MOVESCU", "-aec", "DICOMNET", "--port", str(move_port),
            "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={new.StudyInstanceUID}", "127.0.0.1", str(port),
        )  # fmt: skip
        assert code == 0, out
        [moved] = list(received.iterdir())
        assert dcmread(moved).SOPInstanceUID == new.SOPInstanceUID
    finally:
        assert await running.stop() == 0
