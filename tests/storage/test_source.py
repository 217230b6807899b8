"""InstanceSource: hand-parsed File Meta Information against pydicom, lazy chunked reads."""

from __future__ import annotations

import builtins
import io
import struct
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.storage.source import InstanceSource, SourceError, parse_file_meta, read_file_meta
from dicomnet.storage.synthetic import make_image, write_part10

DEFLATED = "1.2.840.10008.1.2.1.99"

NATIVE_FILES = {
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",
    "MR_small.dcm": "1.2.840.10008.1.2.1",
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",
    "image_dfl.dcm": "1.2.840.10008.1.2.1.99",
    "SC_rgb_jpeg_dcmtk.dcm": "1.2.840.10008.1.2.4.50",
    "rtplan.dcm": "1.2.840.10008.1.2",
}


def data_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(path)


def pydicom_offset(path: Path) -> int:
    """Where pydicom's own reader finds the end of the File Meta Information."""
    with path.open("rb") as fh:
        pydicom.filereader.read_preamble(fh, False)
        pydicom.filereader._read_file_meta_info(fh)
        return fh.tell()


@pytest.mark.parametrize(("name", "syntax"), sorted(NATIVE_FILES.items()))
def test_meta_matches_pydicom(name: str, syntax: str) -> None:
    path = data_file(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    source = InstanceSource.from_path(path)
    assert source.transfer_syntax_uid == syntax == ds.file_meta.TransferSyntaxUID
    assert source.sop_class_uid == ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert source.sop_instance_uid == ds.file_meta.MediaStorageSOPInstanceUID
    assert source.offset == pydicom_offset(path)
    assert source.size == path.stat().st_size - source.offset + source.pad
    # Its deflate stream is followed by 8 stray bytes: odd, so padded (and refused by check()).
    assert source.pad == (name == "image_dfl.dcm")
    assert not source.in_memory
    assert source.label == str(path)


MR_FILES = ["MR_small_implicit.dcm", "MR_small.dcm", "MR_small_bigendian.dcm"]


@pytest.mark.parametrize("name", MR_FILES)
def test_chunks_are_the_file_data_set_and_decode_like_pydicom(name: str) -> None:
    path = data_file(name)
    source = InstanceSource.from_path(path)
    chunks = list(source.chunks(1000))
    assert all(len(c) == 1000 for c in chunks[:-1])
    data = b"".join(chunks)
    assert data == path.read_bytes()[source.offset :]
    decoded = decode_dataset(data, source.transfer_syntax_uid)
    reference = pydicom.dcmread(path)
    assert decoded.PatientName == reference.PatientName
    assert decoded.PixelData == reference.PixelData


def test_odd_deflated_data_set_is_padded_with_nul(tmp_path: Path) -> None:
    for seed in range(64):  # find an image whose deflate stream has an odd length
        ds = make_image(rows=8, columns=8, seed=seed, sop_instance_uid=f"1.2.3.{seed}")
        path = write_part10(tmp_path / f"{seed}.dcm", ds, DEFLATED, unpadded=True)
        source = InstanceSource.from_path(path)
        if (path.stat().st_size - source.offset) % 2:
            break
    else:
        pytest.fail("no odd-length deflate stream found")
    assert source.pad
    data = source.read()
    assert len(data) == source.size
    assert data == path.read_bytes()[source.offset :] + b"\0"
    assert decode_dataset(data, DEFLATED).PixelData == ds.PixelData


def test_chunks_read_lazily_never_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 1 MiB Pixel Data file; record every read() size made while chunking.
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PixelData = bytes(1 << 20)
    ds["PixelData"].VR = "OB"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "big.dcm"
    ds.save_as(path, enforce_file_format=True)
    source = InstanceSource.from_path(path)

    reads: list[int] = []
    real_open = builtins.open

    class Spy:
        """Delegates to the real file and records the size of each read."""

        def __init__(self, handle: io.BufferedReader) -> None:
            self.handle = handle

        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return self.handle.read(size)

        def seek(self, offset: int) -> int:
            return self.handle.seek(offset)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    def spy_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        if mode == "rb" and Path(file) == path:
            return Spy(handle)
        return handle

    monkeypatch.setattr(builtins, "open", spy_open)
    iterator = source.chunks(64 * 1024)
    assert reads == []  # nothing read before the first chunk is asked for
    first = next(iterator)
    assert len(first) == 64 * 1024
    assert reads == [64 * 1024]
    rest = list(iterator)
    assert len(first) + sum(map(len, rest)) == source.size
    assert len(reads) >= 16
    assert all(0 < r <= 64 * 1024 for r in reads)


def test_dataset_source_encodes_in_its_syntax_and_drops_meta() -> None:
    ds = pydicom.dcmread(data_file("MR_small_bigendian.dcm"))
    source = InstanceSource.from_dataset(ds)
    assert source.transfer_syntax_uid == "1.2.840.10008.1.2.2"
    assert source.in_memory
    assert source.sop_instance_uid == ds.SOPInstanceUID
    assert source.label == ds.SOPInstanceUID
    data = source.read()
    assert data == encode_dataset(ds, "1.2.840.10008.1.2.2")
    implicit = InstanceSource.from_dataset(ds, "1.2.840.10008.1.2")
    assert decode_dataset(implicit.read(), "1.2.840.10008.1.2").PatientName == ds.PatientName


def test_dataset_source_without_uids_is_refused() -> None:
    ds = Dataset()
    ds.PatientName = "NO^UID"
    with pytest.raises(SourceError, match="no SOP Class/Instance UID"):
        InstanceSource.from_dataset(ds, "1.2.840.10008.1.2")


def test_file_without_meta_falls_back_to_pydicom() -> None:
    path = data_file("ExplVR_BigEndNoMeta.dcm")
    assert read_file_meta(path) is None
    source = InstanceSource.from_path(path)
    assert source.transfer_syntax_uid == "1.2.840.10008.1.2.2"
    assert source.in_memory
    assert source.label == str(path)
    reference = pydicom.dcmread(path, force=True)
    assert source.sop_instance_uid == reference.SOPInstanceUID
    assert decode_dataset(source.read(), "1.2.840.10008.1.2.2").SOPClassUID == reference.SOPClassUID


def test_meta_with_group_length_and_no_preamble_data(tmp_path: Path) -> None:
    # A file that has only meta information: the data set is empty.
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.3"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "empty.dcm"
    ds.save_as(path, enforce_file_format=True)
    source = InstanceSource.from_path(path)
    assert (source.sop_class_uid, source.sop_instance_uid) == ("1.2.3", "1.2.3.4")
    assert source.size == 0
    assert list(source.chunks()) == []


def test_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.dcm"
    with pytest.raises(SourceError, match=r"missing\.dcm"):
        InstanceSource.from_path(missing)
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"this is not DICOM at all\n" * 10)
    with pytest.raises(SourceError, match=r"junk\.txt: not a DICOM file"):
        InstanceSource.from_path(junk)
    with pytest.raises(SourceError, match=r"no_meta\.dcm"):
        InstanceSource.from_path(data_file("no_meta.dcm"))


def test_file_removed_after_parsing_raises_when_read(tmp_path: Path) -> None:
    path = tmp_path / "gone.dcm"
    path.write_bytes(data_file("MR_small.dcm").read_bytes())
    source = InstanceSource.from_path(path)
    path.unlink()
    with pytest.raises(SourceError, match=r"gone\.dcm"):
        list(source.chunks())


UIDS = (
    st.lists(st.integers(min_value=0, max_value=10**12).map(str), min_size=2, max_size=8)
    .map(".".join)
    .filter(lambda uid: len(uid) <= 64)
)


@settings(max_examples=60, deadline=None)
@given(
    sop_class=UIDS,
    sop_instance=UIDS,
    syntax=st.sampled_from(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]),
    version=st.none() | st.text(alphabet="ABCDEFGHIJ0123456789_", min_size=1, max_size=16),
    private=st.none() | st.binary(max_size=300),
    body=st.binary(max_size=200),
)
def test_meta_parse_matches_pydicom_writer(
    *,
    sop_class: str,
    sop_instance: str,
    syntax: str,
    version: str | None,
    private: bytes | None,
    body: bytes,
) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = "1.2.3.4"
    if version is not None:
        meta.ImplementationVersionName = version
    if private is not None:
        meta.PrivateInformationCreatorUID = "1.2.3.5"
        meta.PrivateInformation = private
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    header = b"\0" * 128 + b"DICM" + fp.getvalue()
    # Data set bytes whose first element is not in group 0002.
    data = b"\x08\x00\x16\x00" + body
    parsed = parse_file_meta(io.BytesIO(header + data))
    assert parsed is not None
    assert parsed.sop_class_uid == sop_class
    assert parsed.sop_instance_uid == sop_instance
    assert parsed.transfer_syntax_uid == syntax
    assert parsed.dataset_offset == len(header)


def test_meta_without_group_length_ends_at_first_other_group(tmp_path: Path) -> None:
    def element(number: int, vr: bytes, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\0"
        if vr in (b"OB",):
            return struct.pack("<HH2sHI", 2, number, vr, 0, len(value)) + value
        return struct.pack("<HH2sH", 2, number, vr, len(value)) + value

    meta = (
        element(0x0001, b"OB", b"\0\1")
        + element(0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7")
        + element(0x0003, b"UI", b"1.2.3.4.5")
        + element(0x0010, b"UI", b"1.2.840.10008.1.2")
    )
    body = b"\x08\x00\x60\x00\x02\x00\x00\x00OT"  # (0008,0060) Modality, Implicit VR LE
    path = tmp_path / "nolength.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + meta + body)
    source = InstanceSource.from_path(path)
    assert source.offset == 132 + len(meta)
    assert source.sop_instance_uid == "1.2.3.4.5"
    assert source.read() == body
    assert decode_dataset(source.read(), source.transfer_syntax_uid).Modality == "OT"


# ---------------------------------------------------------------- whole data sets only


@pytest.mark.parametrize("name", sorted(set(NATIVE_FILES) - {"image_dfl.dcm"}))
def test_check_passes_whole_files(name: str) -> None:
    InstanceSource.from_path(data_file(name)).check()


def cut_copy(path: Path, folder: Path, size: int) -> Path:
    """The first ``size`` bytes of ``path`` as a file of their own (``head -c``)."""
    target = folder / f"{path.stem}-{size}.dcm"
    target.write_bytes(path.read_bytes()[:size])
    return target


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_implicit.dcm",
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "rtplan.dcm",
    ],
)
@pytest.mark.parametrize("where", [0.3, 0.7, 1.0])
def test_check_refuses_a_file_cut_short_naming_the_byte(
    tmp_path: Path, name: str, where: float
) -> None:
    path = data_file(name)
    whole = InstanceSource.from_path(path)
    # An odd length of data set is never an element boundary: always a cut element.
    length = int((path.stat().st_size - whole.offset) * where) - 1
    length -= 1 - length % 2
    cut = cut_copy(path, tmp_path, whole.offset + length)
    source = InstanceSource.from_path(cut)
    assert source.size == length  # the File Meta Information alone says nothing
    with pytest.raises(SourceError, match=rf"truncated at byte {whole.offset + length}:") as info:
        source.check()
    assert info.value.path == str(cut)
    assert info.value.reason.startswith("truncated at byte")


def test_check_refuses_a_deflated_data_set_cut_short(tmp_path: Path) -> None:
    ds = make_image(rows=64, columns=64, seed=3)
    path = write_part10(tmp_path / "deflated.dcm", ds, DEFLATED)
    InstanceSource.from_path(path).check()
    cut = cut_copy(path, tmp_path, path.stat().st_size - 7)
    with pytest.raises(SourceError, match=r"truncated at byte \d+ of the inflated data set"):
        InstanceSource.from_path(cut).check()


def test_check_refuses_stray_bytes_after_a_deflate_stream() -> None:
    # pydicom's sample has 8 bytes after the end of its deflate stream.
    source = InstanceSource.from_path(data_file("image_dfl.dcm"))
    with pytest.raises(SourceError, match="followed by extra bytes"):
        source.check()


def test_check_refuses_pixel_data_encoded_against_the_syntax(tmp_path: Path) -> None:
    # A JPEG file whose File Meta claims Explicit VR Little Endian: encapsulated Pixel Data.
    jpeg = InstanceSource.from_path(data_file("SC_rgb_jpeg_dcmtk.dcm"))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = jpeg.sop_class_uid
    meta.MediaStorageSOPInstanceUID = jpeg.sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False
    write_file_meta_info(header, meta, enforce_standard=True)
    path = tmp_path / "mislabelled.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + header.getvalue() + jpeg.read())
    source = InstanceSource.from_path(path)
    with pytest.raises(SourceError, match="encapsulated Pixel Data on a native syntax at byte"):
        source.check()


def test_check_of_in_memory_sources() -> None:
    ds = make_image(rows=8, columns=8)
    data = encode_dataset(ds, "1.2.840.10008.1.2.1")
    uids = {"sop_class_uid": "1.2.3", "sop_instance_uid": "1.2.3.4"}
    whole = InstanceSource.from_bytes(data, transfer_syntax_uid="1.2.840.10008.1.2.1", **uids)
    whole.check()
    cut = InstanceSource.from_bytes(data[:-3], transfer_syntax_uid="1.2.840.10008.1.2.1", **uids)
    with pytest.raises(SourceError, match=f"1.2.3.4: truncated at byte {len(data) - 3}:"):
        cut.check()
    # A syntax unknown here cannot be walked: left to the peer.
    InstanceSource.from_bytes(data[:-3], transfer_syntax_uid="1.2.3.999", **uids).check()


def test_check_walks_a_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_part10(tmp_path / "x.dcm", make_image(rows=8, columns=8), "1.2.840.10008.1.2.1")
    source = InstanceSource.from_path(path)
    opened: list[object] = []
    real_open = builtins.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    source.check()
    source.check()
    assert opened == [path]


@pytest.mark.parametrize("name", ["MR_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm"])
def test_file_without_meta_cut_short_is_refused(tmp_path: Path, name: str) -> None:
    # pydicom reads such a file up to where it ends; the file itself is walked.
    data = InstanceSource.from_path(data_file(name)).read()
    whole = tmp_path / "whole.raw"
    whole.write_bytes(data)
    assert InstanceSource.from_path(whole).in_memory
    cut = tmp_path / "cut.raw"
    cut.write_bytes(data[: len(data) // 2 + 1])
    with pytest.raises(SourceError, match=rf"cut\.raw: truncated at byte {len(data) // 2 + 1}:"):
        InstanceSource.from_path(cut)


def test_check_seeks_over_large_values_instead_of_reading_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PixelData = bytes(1 << 20)
    ds["PixelData"].VR = "OB"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "big.dcm"
    ds.save_as(path, enforce_file_format=True)
    read: list[int] = []
    real_open = builtins.open

    def spying_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, *args, **kwargs)
        real_read = handle.read

        def counted(size: int = -1) -> bytes:
            data: bytes = real_read(size)
            read.append(len(data))
            return data

        handle.read = counted
        return handle

    source = InstanceSource.from_path(path)
    monkeypatch.setattr(builtins, "open", spying_open)
    source.check()
    assert 0 < sum(read) < 64 * 1024  # the headers, not the 1 MiB value
    # The same file cut inside the value is still refused, at the same byte.
    monkeypatch.setattr(builtins, "open", real_open)
    cut = cut_copy(path, tmp_path, path.stat().st_size - 1001)
    with pytest.raises(SourceError, match=rf"truncated at byte {cut.stat().st_size}:"):
        InstanceSource.from_path(cut).check()


def test_take_whole_gives_what_chunks_give_and_lets_a_read_ahead_copy_go(
    tmp_path: Path,
) -> None:
    for seed in range(64):  # an odd deflate stream: sent with a NUL pad byte
        ds = make_image(rows=8, columns=8, seed=seed, sop_instance_uid=f"1.2.3.{seed}")
        path = write_part10(tmp_path / f"{seed}.dcm", ds, DEFLATED, unpadded=True)
        if InstanceSource.from_path(path).pad:
            break
    else:
        pytest.fail("no odd-length deflate stream found")
    for file in (path, data_file("CT_small.dcm")):
        expected = b"".join(InstanceSource.from_path(file).chunks())
        source = InstanceSource.from_path(file, preload=1 << 20)
        assert source.in_memory
        assert source.take_whole() == expected
        assert not source.in_memory  # read again from the file if sent again
        assert source.take_whole() is None
        assert b"".join(source.chunks()) == expected
    held = InstanceSource.from_bytes(
        b"\x10\x00\x10\x00PN\x02\x00AB", sop_class_uid="1.2", sop_instance_uid="1.3",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
    )  # fmt: skip
    assert held.take_whole() == held.take_whole() == b"\x10\x00\x10\x00PN\x02\x00AB"


_PRELOADS = {"none": 0, "32K": 32 * 1024, "256K": 256 * 1024}


@pytest.mark.parametrize("preload", ["none", "size-1", "size", "size+1", "32K", "256K"])
@pytest.mark.parametrize("total", [1000, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 100_000])
def test_a_file_is_read_ahead_exactly_when_it_fits_preload(
    tmp_path: Path, total: int, preload: str
) -> None:
    # Files around the first read's size (32 KB), preloads around each file's size:
    # read ahead whole when at most preload bytes, else only their meta; the same
    # source either way.
    limit = _PRELOADS.get(preload, total + {"size-1": -1, "size": 0, "size+1": 1}.get(preload, 0))
    path = write_part10(
        tmp_path / "x.dcm", make_image(rows=4, columns=4, sop_instance_uid="1.2.3.4"),
        "1.2.840.10008.1.2.1",
    )  # fmt: skip
    content = path.read_bytes()
    path.write_bytes(content + b"\0" * (total - len(content)))  # trailing bytes: not walked here
    assert path.stat().st_size == total
    lazy = InstanceSource.from_path(path)
    source = InstanceSource.from_path(path, preload=limit)
    assert source.in_memory is (total <= limit)
    assert (source.offset, source.size, source.sop_instance_uid) == (
        lazy.offset,
        lazy.size,
        lazy.sop_instance_uid,
    )
    assert source.size == total - source.offset
    assert b"".join(source.chunks()) == path.read_bytes()[lazy.offset :]
