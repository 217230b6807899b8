"""The streamed ZIP: a valid archive, every member intact, written chunk by chunk."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from dicomnet.web.zipstream import zip_chunks


def test_members_come_back_intact(tmp_path: Path) -> None:
    files = []
    for i, size in enumerate([0, 1, 1000, 3 * 1024 + 7]):
        path = tmp_path / f"f{i}.dcm"
        path.write_bytes(os.urandom(size))
        files.append((f"series/{i}.dcm", path))
    pieces = list(zip_chunks(files, chunk_size=1024))
    assert all(pieces)  # no empty pieces
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [name for name, _ in files]
        for name, path in files:
            assert archive.read(name) == path.read_bytes()


def test_pieces_stay_near_the_chunk_size(tmp_path: Path) -> None:
    """A big member is not gathered whole: no piece is much larger than one chunk."""
    path = tmp_path / "big.dcm"
    path.write_bytes(os.urandom(5 * 1024 * 1024))
    sizes = [len(p) for p in zip_chunks([("big.dcm", path)], chunk_size=64 * 1024)]
    assert max(sizes) <= 64 * 1024 + 512
    assert sum(sizes) > 5 * 1024 * 1024


def test_a_vanished_file_is_left_out(tmp_path: Path) -> None:
    kept = tmp_path / "a.dcm"
    kept.write_bytes(b"abc")
    data = b"".join(zip_chunks([("gone.dcm", tmp_path / "gone.dcm"), ("a.dcm", kept)]))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["a.dcm"]
