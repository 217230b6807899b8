"""The benchmarks' scratch folders: new subfolders spread out over the file system."""

from __future__ import annotations

import array
import fcntl
import os
from pathlib import Path

import pytest

from benchmarks import scratch


def _file_system(path: Path) -> str:
    """The type of the file system ``path`` is on (the longest mount point above it)."""
    best, kind = "", ""
    for line in Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        point = fields[1]
        if str(path.resolve()).startswith(point.rstrip("/") + "/") and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def _flags(folder: Path) -> int:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, scratch._FS_IOC_GETFLAGS, flags, True)
        return flags[0]
    finally:
        os.close(fd)


def test_a_flagged_folder_carries_the_top_directory_flag(tmp_path: Path) -> None:
    if not Path("/proc/self/mounts").exists() or _file_system(tmp_path) not in {"ext4", "ext3"}:
        pytest.skip("the top-directory flag is ext4's (and ext3's)")
    folder = tmp_path / "work"
    folder.mkdir()
    assert not _flags(folder) & scratch._FS_TOPDIR_FL
    assert scratch.spread_subfolders(folder)
    assert _flags(folder) & scratch._FS_TOPDIR_FL
    # Flagging it again changes nothing and still says it is done.
    assert scratch.spread_subfolders(folder)
    assert _flags(folder) & scratch._FS_TOPDIR_FL


def test_scratch_folder_is_a_new_empty_folder() -> None:
    first = scratch.scratch_folder("dicomnet-test-")
    second = scratch.scratch_folder("dicomnet-test-")
    try:
        assert first != second
        assert first.is_dir() and not any(first.iterdir())
    finally:
        first.rmdir()
        second.rmdir()


def test_a_missing_folder_is_not_flagged(tmp_path: Path) -> None:
    assert not scratch.spread_subfolders(tmp_path / "missing")


def test_retire_empties_the_files_of_a_run_and_keeps_their_inodes(tmp_path: Path) -> None:
    # Deleting them would free their inodes, which ext4 without a journal skips for
    # a minute or more on every later file creation (the next rows' openat).
    hidden = tmp_path / ".index"
    hidden.mkdir()
    files = [tmp_path / "a.dcm", hidden / "index.sqlite"]
    for path in files:
        path.write_bytes(b"x" * 5000)
    inodes = [path.stat().st_ino for path in files]
    scratch.retire_files(tmp_path)
    assert [path.stat().st_size for path in files] == [0, 0]
    assert [path.stat().st_ino for path in files] == inodes
