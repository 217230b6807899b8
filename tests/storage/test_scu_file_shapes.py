"""The Storage SCU's check of files walked piece by piece (larger than SMALL_FILE).

A file whose first piece read has the same header bytes (and length) as the first
piece of a file walked before is not walked up to there: the walk goes on from a
copy of that walk's state (CheckedShapes.resumed). The verdict must be the full
walk's whatever the file holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomnet.dimse.walker import DatasetWalker
from dicomnet.storage.shapes import CheckedShapes
from dicomnet.storage.source import SMALL_FILE, InstanceSource, SourceError

CT = "1.2.840.10008.5.1.4.1.1.2"
PIXELS = SMALL_FILE + 64 * 1024  # walked piece by piece, not read whole


def write_slice(path: Path, uid: str, *, syntax: str = ExplicitVRLittleEndian) -> Path:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = uid
    ds.PatientID = "ID-1"
    ds.Rows = 8
    ds.PixelData = bytes(PIXELS)
    ds["PixelData"].VR = "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)
    return path


def verdict(path: Path, shapes: CheckedShapes | None, *, preload: int = 0) -> str | None:
    try:
        InstanceSource.from_path(path, preload=preload).check(shapes=shapes)
    except SourceError as exc:
        return str(exc)
    return None


def count_walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    walks = [0]
    real = DatasetWalker._walk

    def counting(walker: DatasetWalker, view: memoryview) -> None:
        walks[0] += 1
        real(walker, view)

    monkeypatch.setattr(DatasetWalker, "_walk", counting)
    return walks


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_a_look_alike_file_is_walked_on_from_its_first_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syntax: str
) -> None:
    shapes = CheckedShapes()
    assert verdict(write_slice(tmp_path / "a.dcm", "1.2.3.10", syntax=syntax), shapes) is None
    second = write_slice(tmp_path / "b.dcm", "1.2.3.11", syntax=syntax)
    walks = count_walks(monkeypatch)
    assert verdict(second, shapes) is None
    assert walks[0] == 0
    # Cut short, or with bytes past its Pixel Data: refused as a full walk refuses it.
    raw = second.read_bytes()
    short = tmp_path / "short.dcm"
    short.write_bytes(raw[:-2])
    long = tmp_path / "long.dcm"
    long.write_bytes(raw + b"\0\0\0\0")
    for path in (short, long):
        found = verdict(path, shapes)
        assert found is not None
        assert found == verdict(path, None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4))
def test_a_damaged_first_piece_gets_the_verdict_of_a_full_walk(
    tmp_path_factory: pytest.TempPathFactory, damage: list[tuple[int, int]]
) -> None:
    folder = tmp_path_factory.mktemp("slices")
    shapes = CheckedShapes()
    assert verdict(write_slice(folder / "a.dcm", "1.2.3.10"), shapes) is None
    second = write_slice(folder / "b.dcm", "1.2.3.11")
    source = InstanceSource.from_path(second)
    raw = bytearray(second.read_bytes())
    for where, value in damage:  # in the data set's header (the meta group is left alone)
        raw[source.offset + where] = value
    second.write_bytes(bytes(raw))
    expected = verdict(second, None)
    assert verdict(second, shapes) == expected
    # Walked from the bytes read with the meta group (as store_many's sources are).
    assert verdict(second, None, preload=SMALL_FILE) == expected
    primed = CheckedShapes()
    assert verdict(folder / "a.dcm", primed, preload=SMALL_FILE) is None
    assert verdict(second, primed, preload=SMALL_FILE) == expected


# ------------------------------------------- the first bytes read with the meta group


def opens_during_check(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, int]:
    source = InstanceSource.from_path(path, preload=SMALL_FILE)  # as store_many makes them
    opened = [0]
    real_open = open

    def counting_open(*args: object, **kwargs: object) -> object:
        opened[0] += 1
        return real_open(*args, **kwargs)  # type: ignore[call-overload]

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", counting_open)
        try:
            source.check()
        except SourceError as exc:
            return str(exc), opened[0]
    return None, opened[0]


def test_a_slice_is_checked_from_the_bytes_read_with_its_meta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_slice(tmp_path / "a.dcm", "1.2.3.10")
    assert opens_during_check(path, monkeypatch) == (None, 0)
    # Cut short or too long (before it was listed): refused, as the file walk refuses it;
    # bytes past the Pixel Data are read from the file.
    raw = path.read_bytes()
    for name, content, opens in (("short", raw[:-2], 0), ("long", raw + b"\0\0\0\0", 1)):
        changed = tmp_path / f"{name}.dcm"
        changed.write_bytes(content)
        found, opened = opens_during_check(changed, monkeypatch)
        assert found is not None and opened == opens
        assert found == verdict(changed, None)


def test_a_header_longer_than_the_first_read_is_walked_on_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.3.10"
    ds.add_new(0x00091010, "OB", bytes(40 * 1024))  # a private value past the first read
    ds.add_new(0x00091011, "LO", "after it")
    ds.PixelData = bytes(PIXELS)
    ds["PixelData"].VR = "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "a.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert opens_during_check(path, monkeypatch) == (None, 1)
    raw = path.read_bytes()
    bad = tmp_path / "bad.dcm"
    at = raw.index(b"LO\x08\x00after it")
    bad.write_bytes(raw[:at] + b"L?" + raw[at + 2 :])  # a bad VR after the first read
    found, opened = opens_during_check(bad, monkeypatch)
    assert found is not None and "VR" in found and opened == 1
