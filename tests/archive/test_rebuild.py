"""``dicomnet index rebuild DIR``: the index made anew from the folder's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from query.fixtures import write_archive

from dicomnet.archive import SqliteIndex
from dicomnet.archive.rebuild import rebuild_index
from dicomnet.cli.main import main
from dicomnet.storage.sinks import Duplicate

INDEX = Path(".index") / "index.sqlite"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    files = write_archive(root)
    (root / "notes.txt").write_text("not dicom")
    (root / "sub").mkdir()
    shutil.copy(files[0], root / "sub" / "copy-of-i0.dcm")  # a duplicate, found later
    (root / ".incoming").mkdir()
    shutil.copy(files[1], root / ".incoming" / "x.part")  # hidden: not indexed
    return root


def test_rebuild_command_indexes_every_file_once(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", "rebuild", str(folder), "--no-fsync"]) == 0
    out = capsys.readouterr().out
    assert "indexed 5 instance(s) from 7 file(s); 1 not DICOM, 1 duplicate(s)" in out


async def test_rebuild_replaces_stale_rows_and_applies_the_duplicates_policy(
    folder: Path,
) -> None:
    async with await SqliteIndex.open(folder / INDEX) as index:
        report = await rebuild_index(folder, index)
        assert (report.indexed, len(report.skipped), len(report.duplicates)) == (5, 1, 1)
        first = str(next(iter(sorted(folder.glob("i0.dcm")))))
        record = await index.locate("1.2.826.0.1.3680043.8.498.71.1.1.1")
        assert record is not None and str(record.path) == first
        (folder / "i4.dcm").unlink()
        report = await rebuild_index(folder, index, duplicates=Duplicate.REPLACE)
        assert report.indexed == 4 and await index.count() == 4
        record = await index.locate("1.2.826.0.1.3680043.8.498.71.1.1.1")
        assert record is not None and record.path == folder / "sub" / "copy-of-i0.dcm"


def test_refused_duplicates_exit_1(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "rebuild", str(folder), "--duplicates", "refuse", "--no-fsync"]) == 1
    assert "refused: " in capsys.readouterr().err
    assert main(["index", "rebuild", str(folder / "missing")]) == 2


def test_delete_command_removes_rows_then_files(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from query.fixtures import STUDY_A

    assert main(["index", "rebuild", str(folder), "--no-fsync"]) == 0
    assert main(["index", "delete", str(folder), "--study", STUDY_A, "--no-fsync"]) == 0
    assert "deleted 3 instance(s)" in capsys.readouterr().out
    assert sorted(p.name for p in folder.glob("*.dcm")) == ["i3.dcm", "i4.dcm"]
    assert (folder / "sub" / "copy-of-i0.dcm").is_file()  # a duplicate no row names stays
    # Nothing left to delete: exit 1.
    assert main(["index", "delete", str(folder), "--study", STUDY_A, "--no-fsync"]) == 1
    assert main(["index", "delete", str(folder), "--instance", f"{STUDY_A}.2.3"]) == 1
