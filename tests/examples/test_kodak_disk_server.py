"""Kodak Disk-Server example: DCMTK storescu, echoscu, findscu and movescu against it."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from helpers.peers import dcmtk_program, free_port

from dicomnet.ae import AE
from dicomnet.policy import Policy, ProposedContext
from dicomnet.storage.filenames import instance_filename
from dicomnet.storage.scu import store as c_store

from .support import (
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    SECONDARY_CAPTURE,
    make_dataset,
    run_program,
    server_example,
)

pytestmark = pytest.mark.interop

STUDY_A = "1.2.826.0.1.3680043.8.498.3001"
STUDY_B = "1.2.826.0.1.3680043.8.498.3002"
SERIES_A = "1.2.826.0.1.3680043.8.498.3001.1"
SERIES_B = "1.2.826.0.1.3680043.8.498.3002.1"
PIXELS = 64 * 64  # large beside the file header, so the files are all about the same size


def images(tmp_path: Path) -> list[tuple[Path, str]]:
    """Three same-sized images (Implicit VR LE files): two of study A, one of study B."""
    made = []
    for number, (study, series) in enumerate(
        [(STUDY_A, SERIES_A), (STUDY_A, SERIES_A), (STUDY_B, SERIES_B)], start=1
    ):
        ds = make_dataset(patient_id="PID-3", study_uid=study, series_uid=series)
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.3000.{number}"
        ds.InstanceNumber = number
        ds.Rows = ds.Columns = 64
        ds.PixelData = bytes(PIXELS)
        path = tmp_path / "source" / f"{number}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = IMPLICIT_LE
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path, enforce_file_format=True)
        made.append((path, str(ds.SOPInstanceUID)))
    return made


def aet_args(port: int) -> tuple[str, ...]:
    return ("-aec", "DISK_SERVER", "127.0.0.1", str(port))


async def store(port: int, *files: Path, refused: bool = False) -> str:
    """storescu the files (one association); its output (exit code 0 unless ``refused``)."""
    code, out = await run_program(dcmtk_program("storescu"), "-v", *aet_args(port), *files)
    assert (code != 0) is refused, out
    return out


async def find_images(port: int) -> set[str]:
    """The SOP Instance UIDs an IMAGE level Study Root C-FIND of both studies returns."""
    found: set[str] = set()
    for study, series in ((STUDY_A, SERIES_A), (STUDY_B, SERIES_B)):
        code, out = await run_program(
            dcmtk_program("findscu"), "-v", "-S", "-k", "QueryRetrieveLevel=IMAGE",
            "-k", f"StudyInstanceUID={study}", "-k", f"SeriesInstanceUID={series}",
            "-k", "SOPInstanceUID", *aet_args(port),
        )  # fmt: skip
        assert code == 0, out
        assert "Final Find Response (Success)" in out, out
        for line in out.partition("Find Response")[2].splitlines():
            if "(0008,0018)" in line:
                found.add(line.split("[", 1)[1].split("]", 1)[0].rstrip("\0 "))
    return found


async def test_store_find_and_move(tmp_path: Path) -> None:
    (one, uid1), (two, uid2), (three, uid3) = images(tmp_path)
    output = tmp_path / "disk"
    move_port = free_port()
    received = tmp_path / "received"
    received.mkdir()
    async with server_example(
        "kodak_disk_server.py",
        "--output",
        output,
        "--destination",
        f"MOVESCU=127.0.0.1:{move_port}",
        log=tmp_path / "server.log",
    ) as server:
        code, out = await run_program(dcmtk_program("echoscu"), *aet_args(server.port))
        assert code == 0, out
        await store(server.port, one, two)
        # One context listing Implicit, Explicit LE, Explicit BE: the server picks Explicit BE.
        proposed = ProposedContext(
            abstract_syntax=SECONDARY_CAPTURE,
            transfer_syntaxes=(IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE),
        )
        policy = Policy(ae_title="SENDER", proposed_contexts=(proposed,))
        async with AE("SENDER", policy).associate(
            "127.0.0.1", server.port, called_ae="DISK_SERVER"
        ) as assoc:
            assert str(assoc.context_for(SECONDARY_CAPTURE).transfer_syntax) == EXPLICIT_BE
            # 8-bit Pixel Data sent as OW is kept as OB: B000 (§3.1.3.2.2.1).
            assert (await c_store(assoc, three)).status == 0xB000
        # The index follows the store: the studies are found at once.
        code, out = await run_program(
            dcmtk_program("findscu"), "-v", "-S", "-k", "QueryRetrieveLevel=STUDY",
            "-k", "PatientID=PID-3", "-k", "StudyInstanceUID", "-k", "StudyDescription",
            "-k", "InstitutionName", *aet_args(server.port),
        )  # fmt: skip
        assert code == 0, out
        answers = out.split("Find Response", 1)[1]  # the request echoed before is left out
        assert f"[{STUDY_A}]" in answers and f"[{STUDY_B}]" in answers
        assert "(0008,1030)" in answers  # an optional key of the statement: returned
        assert "(0008,0080)" not in answers  # not among the statement's keys: left out
        assert await find_images(server.port) == {uid1, uid2, uid3}
        code, out = await run_program(
            dcmtk_program("movescu"), "-v", "-S", "-aet", "MOVESCU", "--port", str(move_port),
            "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={STUDY_A}", *aet_args(server.port),
        )  # fmt: skip
        assert code == 0, out
    assert server.exit_code == 0
    # Filed as received: in Explicit VR LE (storescu's own first choice), and Explicit VR BE.
    for uid, syntax in ((uid1, EXPLICIT_LE), (uid2, EXPLICIT_LE), (uid3, EXPLICIT_BE)):
        kept = pydicom.dcmread(output / instance_filename(uid))
        assert kept.file_meta.TransferSyntaxUID == syntax
        assert kept.PixelData == bytes(PIXELS)
    moved = {str(pydicom.dcmread(path).SOPInstanceUID) for path in received.iterdir()}
    assert moved == {uid1, uid2}
    assert "indexed 0 instance(s)" in (tmp_path / "server.log").read_text()


async def test_quota_refuses_with_a700_and_files_are_indexed_at_start(tmp_path: Path) -> None:
    (one, uid1), (two, uid2), (three, _uid3) = images(tmp_path)
    quota = one.stat().st_size * 5 // 2  # room for two of the images, not three
    output = tmp_path / "disk"
    args = ("--output", output, "--max-bytes", str(quota))
    async with server_example("kodak_disk_server.py", *args, log=tmp_path / "a.log") as server:
        out = await store(server.port, one, two, three, refused=True)
    # Stored, their 8-bit OW Pixel Data kept as OB (§3.1.3.2.2.1): the coercion warning B000.
    assert out.count("Received Store Response (Warning: CoercionOfDataElements)") == 2, out
    assert "Received Store Response (Refused: OutOfResources)" in out, out
    assert sorted(p.name for p in output.glob("*.dcm")) == sorted(
        instance_filename(uid) for uid in (uid1, uid2)
    )
    assert not list((output / ".incoming").iterdir())  # the refused one left nothing behind
    # A restart indexes what is on disk.
    async with server_example("kodak_disk_server.py", *args, log=tmp_path / "b.log") as server:
        assert await find_images(server.port) == {uid1, uid2}
    assert "indexed 2 instance(s)" in (tmp_path / "b.log").read_text()


async def test_auto_delete_removes_the_least_recently_used(tmp_path: Path) -> None:
    (one, uid1), (two, _uid2), (three, uid3) = images(tmp_path)
    limit = one.stat().st_size * 5 // 2
    output = tmp_path / "disk"
    move_port = free_port()
    async with server_example(
        "kodak_disk_server.py", "--output", output, "--auto-delete-over", str(limit),
        "--destination", f"MOVESCU=127.0.0.1:{move_port}", log=tmp_path / "server.log",
    ) as server:  # fmt: skip
        await store(server.port, one)
        await store(server.port, two)
        # Retrieving image 1 makes it the most recently used; image 2 is now the oldest.
        code, out = await run_program(
            dcmtk_program("movescu"), "-S", "-aet", "MOVESCU", "--port", str(move_port),
            "-od", str(tmp_path), "-k", "QueryRetrieveLevel=IMAGE",
            "-k", f"StudyInstanceUID={STUDY_A}", "-k", f"SeriesInstanceUID={SERIES_A}",
            "-k", f"SOPInstanceUID={uid1}", *aet_args(server.port),
        )  # fmt: skip
        assert code == 0, out
        await store(server.port, three)
        assert await find_images(server.port) == {uid1, uid3}
    assert sorted(p.name for p in output.glob("*.dcm")) == sorted(
        instance_filename(uid) for uid in (uid1, uid3)
    )
