"""LifeSys Q/R example: DCMTK findscu and movescu against it; relational queries when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from pydicom import dcmread
from pydicom.dataset import Dataset
from query.fixtures import SERIES_A2, STUDY_A, STUDY_B, archive_datasets, write_archive

from dicomnet.ae import AE
from dicomnet.policy import Policy, ProposedContext
from dicomnet.services.qr import FIND, find, sop_class_for

from .support import EXPLICIT_LE, make_dataset, run_program, server_example, write_instance

pytestmark = pytest.mark.interop


async def test_findscu_and_movescu_against_the_example(tmp_path: Path) -> None:
    findscu = dcmtk_program("findscu")
    movescu = dcmtk_program("movescu")
    archive = tmp_path / "archive"
    write_archive(archive)
    move_port = free_port()
    received = tmp_path / "received"
    received.mkdir()
    async with server_example(
        "lifesys_qr.py",
        "--archive",
        archive,
        "--destination",
        f"MOVESCU=127.0.0.1:{move_port}",
        log=tmp_path / "qr.log",
    ) as server:
        peer = ("127.0.0.1", str(server.port))
        code, out = await run_program(
            findscu, "-v", "-S", "-aec", "QR_SCP", "-k", "QueryRetrieveLevel=STUDY",
            "-k", "PatientID=P1", "-k", "StudyInstanceUID", "-k", "ModalitiesInStudy", *peer,
        )  # fmt: skip
        assert code == 0, out
        assert f"[{STUDY_A}]" in out and f"[{STUDY_B}]" in out and "[CT\\MR ]" in out
        # Hierarchical without extended negotiation: a series query needs the study UID ...
        series = ("-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID", "-k", "Modality=MR")
        code, out = await run_program(findscu, "-v", "-S", "-aec", "QR_SCP", *series, *peer)
        assert "DataSetDoesNotMatchSOPClass" in out, out
        # ... and relational once asked for in extended negotiation (the dicomnet helper).
        study_find = sop_class_for("study", FIND)
        policy = Policy(
            ae_title="RELATIONAL",
            proposed_contexts=(
                ProposedContext(abstract_syntax=study_find, transfer_syntaxes=(EXPLICIT_LE,)),
            ),
        )
        async with AE("RELATIONAL", policy).associate(
            *peer[:1], server.port, called_ae="QR_SCP", extended={study_find: b"\x01"}
        ) as assoc:
            assert assoc.extended == {study_find: b"\x01"}
            query = Dataset()
            query.QueryRetrieveLevel = "SERIES"
            query.SeriesInstanceUID = ""
            query.Modality = "MR"
            results = find(assoc, query)
            found = [str(ds.SeriesInstanceUID) async for ds in results]
        assert found == [SERIES_A2] and results.status == 0x0000
        code, out = await run_program(
            movescu, "-S", "-aet", "MOVESCU", "-aec", "QR_SCP", "--port", str(move_port),
            "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={STUDY_B}", *peer,
        )  # fmt: skip
        assert code == 0, out
    (moved,) = received.iterdir()
    original = archive_datasets()[3]
    got = dcmread(moved)
    assert got.SOPInstanceUID == original.SOPInstanceUID
    assert got.PixelData == original.PixelData
    assert "indexed 5 instance(s)" in (tmp_path / "qr.log").read_text()


async def test_a_folder_is_indexed_when_it_has_no_index_and_again_on_rebuild(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    write_archive(archive)
    runs = [(), (), ("--rebuild",)]
    counts = []
    for number, extra in enumerate(runs):
        log = tmp_path / f"qr{number}.log"
        async with server_example("lifesys_qr.py", "--archive", archive, *extra, log=log):
            pass
        counts.append(log.read_text())
        if number == 0:
            # Copied in by other means once the index exists: seen after --rebuild only.
            write_instance(make_dataset(), archive / "extra.dcm")
    assert "indexed 5 instance(s)" in counts[0]
    assert "indexed 5 instance(s)" in counts[1]
    assert "indexed 6 instance(s)" in counts[2]
    assert (archive / ".index" / "index.sqlite").is_file()
