"""Transcoding: native round trips, decompression, refusals that name both syntaxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset

from dicomnet.dimse.dataset import decode_dataset
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.transcode import (
    NATIVE_SYNTAXES,
    TranscodeError,
    can_transcode,
    transcode,
    transcode_dataset,
)

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
RLE = "1.2.840.10008.1.2.5"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
MR_FILES = {
    IMPLICIT_LE: "MR_small_implicit.dcm",
    EXPLICIT_LE: "MR_small.dcm",
    EXPLICIT_BE: "MR_small_bigendian.dcm",
}


def data_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(path)


def decoded(data: bytes, syntax: str) -> Dataset:
    ds = decode_dataset(data, syntax)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


def comparable(ds: Dataset) -> dict[str, object]:
    """Every non-pixel element's value by keyword, decoded (byte order no longer visible)."""
    return {
        elem.keyword or str(elem.tag): elem.value
        for elem in ds
        if elem.tag != 0x7FE00010 and elem.VR not in ("OB", "OW", "UN", "OB or OW")
    }


@pytest.mark.parametrize("target", NATIVE_SYNTAXES)
@pytest.mark.parametrize("origin", sorted(MR_FILES))
def test_native_to_native_round_trip(origin: str, target: str) -> None:
    reference = pydicom.dcmread(data_file("MR_small.dcm"))
    source = InstanceSource.from_path(data_file(MR_FILES[origin]))
    there = transcode(source, target)
    ds = decoded(there, target)
    assert np.array_equal(ds.pixel_array, reference.pixel_array)
    assert comparable(ds) == comparable(reference)
    # ... and back to the original syntax: the same data set as the original file.
    back_source = InstanceSource.from_bytes(
        there,
        sop_class_uid=source.sop_class_uid,
        sop_instance_uid=source.sop_instance_uid,
        transfer_syntax_uid=target,
    )
    back = decoded(transcode(back_source, origin), origin)
    original = decoded(source.read(), origin)
    assert comparable(back) == comparable(original)
    assert back.PixelData == original.PixelData


def test_same_syntax_is_the_bytes_as_read() -> None:
    source = InstanceSource.from_path(data_file("MR_small_bigendian.dcm"))
    assert transcode(source, EXPLICIT_BE) == source.read()


def test_big_endian_words_are_swapped_for_little_endian() -> None:
    source = InstanceSource.from_path(data_file("MR_small_bigendian.dcm"))
    raw = decode_dataset(source.read(), EXPLICIT_BE).PixelData
    little = decode_dataset(transcode(source, EXPLICIT_LE), EXPLICIT_LE).PixelData
    assert little != raw
    assert little[0::2] == raw[1::2]
    assert little[1::2] == raw[0::2]


@pytest.mark.parametrize("target", [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED])
def test_jpeg_baseline_to_native_decompresses(target: str) -> None:
    path = data_file("SC_rgb_jpeg_dcmtk.dcm")
    reference = pydicom.dcmread(path)
    source = InstanceSource.from_path(path)
    assert source.transfer_syntax_uid == JPEG_BASELINE
    ds = decoded(transcode(source, target), target)
    assert np.array_equal(ds.pixel_array, reference.pixel_array)
    assert ds.SOPInstanceUID == reference.SOPInstanceUID
    assert ds.PhotometricInterpretation == "RGB"
    assert len(ds.PixelData) == ds.Rows * ds.Columns * ds.SamplesPerPixel


def test_native_to_rle_lossless() -> None:
    source = InstanceSource.from_path(data_file("MR_small.dcm"))
    ds = decoded(transcode(source, RLE), RLE)
    reference = pydicom.dcmread(data_file("MR_small.dcm"))
    assert np.array_equal(ds.pixel_array, reference.pixel_array)


def test_refusal_names_both_syntaxes() -> None:
    assert not can_transcode(EXPLICIT_LE, JPEG_BASELINE)
    source = InstanceSource.from_path(data_file("MR_small.dcm"))
    with pytest.raises(TranscodeError) as info:
        transcode(source, JPEG_BASELINE)
    message = str(info.value)
    assert "Explicit VR Little Endian (1.2.840.10008.1.2.1)" in message
    assert "JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50)" in message
    assert info.value.source_syntax == EXPLICIT_LE
    assert info.value.target_syntax == JPEG_BASELINE


def test_unknown_syntax_is_refused() -> None:
    with pytest.raises(TranscodeError, match=r"1\.2\.3\.4"):
        transcode_dataset(Dataset(), EXPLICIT_LE, "1.2.3.4")


def test_data_set_without_pixels_goes_to_any_known_syntax() -> None:
    source = InstanceSource.from_path(data_file("rtplan.dcm"))
    assert can_transcode(IMPLICIT_LE, JPEG_BASELINE, has_pixels=False)
    ds = decode_dataset(transcode(source, JPEG_BASELINE), JPEG_BASELINE)
    reference = pydicom.dcmread(data_file("rtplan.dcm"))
    assert comparable(ds) == comparable(reference)


def test_caller_dataset_is_not_modified() -> None:
    ds = pydicom.dcmread(data_file("MR_small_bigendian.dcm"))
    ds.PixelData = bytes(ds.PixelData)  # a decoded (not raw) element
    before = ds.PixelData
    out = transcode_dataset(ds, EXPLICIT_BE, EXPLICIT_LE)
    assert ds.PixelData == before
    assert out.PixelData != before
