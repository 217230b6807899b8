"""Image Box pixel items (PS3.3 C.13.5.1) from numpy arrays and pydicom Datasets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.errors import LocalError
from dicomnet.services.print_scu import image_sequence_item

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def image(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    signed: bool = False,
) -> Dataset:
    """A minimal uncompressed image data set holding ``pixels``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    ds.PhotometricInterpretation = photometric
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = pixels.tobytes()
    return ds


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12))),
    st.sampled_from([EXPLICIT_LE, IMPLICIT_LE]),
)
def test_uint8_arrays_round_trip_through_the_item(pixels: np.ndarray, syntax: str) -> None:
    item = image_sequence_item(pixels)
    decoded = decode_dataset(encode_dataset(item, syntax), syntax)
    assert (decoded.Rows, decoded.Columns) == pixels.shape
    assert (decoded.BitsAllocated, decoded.BitsStored, decoded.HighBit) == (8, 8, 7)
    # Pixel Data is padded to even length on the wire; the rest is the image itself.
    assert bytes(decoded.PixelData)[: pixels.size] == pixels.tobytes()


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.uint16, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.integers(0, 4095)
    )
)
def test_uint16_arrays_print_with_12_bits(pixels: np.ndarray) -> None:
    item = image_sequence_item(pixels)
    assert (item.BitsAllocated, item.BitsStored, item.HighBit) == (16, 12, 11)
    assert np.frombuffer(item.PixelData, "<u2").reshape(pixels.shape).tolist() == pixels.tolist()


def test_printable_dataset_is_copied_as_is() -> None:
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4) * 300
    source = image(pixels, photometric="MONOCHROME1", bits_stored=12)
    source.PixelAspectRatio = [1, 2]
    item = image_sequence_item(source)
    assert item.PhotometricInterpretation == "MONOCHROME1"  # printers take both
    assert (item.BitsAllocated, item.BitsStored, item.PixelAspectRatio) == (16, 12, [1, 2])
    assert item.PixelData == source.PixelData


def test_signed_windowed_image_is_rendered_to_8_bits() -> None:
    pixels = np.array([[-1000, 0], [40, 3000]], dtype=np.int16)
    source = image(pixels, signed=True)
    source.WindowCenter = 40
    source.WindowWidth = 400
    item = image_sequence_item(source)
    assert (item.BitsAllocated, item.BitsStored, item.PhotometricInterpretation) == (
        8,
        8,
        "MONOCHROME2",
    )
    out = np.frombuffer(item.PixelData, np.uint8).reshape(2, 2)
    # Below the window is black, above it white, the centre mid-grey.
    assert out[0, 0] == 0 and out[1, 1] == 255
    assert 100 < out[1, 0] < 160


def test_monochrome1_image_needing_rendering_is_inverted() -> None:
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    source = image(pixels, photometric="MONOCHROME1", bits_stored=16)
    item = image_sequence_item(source)
    assert item.PhotometricInterpretation == "MONOCHROME2"
    out = np.frombuffer(item.PixelData, np.uint8).reshape(2, 2)
    assert out[0, 0] == 255 and out[1, 1] == 0


def test_rgb_dataset_and_array_for_color() -> None:
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[..., 2] = 7
    from_array = image_sequence_item(rgb, color=True)
    from_dataset = image_sequence_item(image(rgb, photometric="RGB"), color=True)
    for item in (from_array, from_dataset):
        assert (item.SamplesPerPixel, item.PhotometricInterpretation) == (3, "RGB")
        assert item.PlanarConfiguration == 0
        assert item.PixelData == rgb.tobytes()


@pytest.mark.parametrize(
    ("pixels", "color", "message"),
    [
        (np.zeros((2, 2), dtype=np.float32), False, "uint8 or uint16"),
        (np.zeros((2, 2, 2), dtype=np.uint8), False, "2-D"),
        (np.full((2, 2), 4096, dtype=np.uint16), False, "4095"),
        (np.zeros((2, 2), dtype=np.uint8), True, "rows x columns x 3"),
    ],
)
def test_unprintable_arrays_are_refused(pixels: np.ndarray, color: bool, message: str) -> None:
    with pytest.raises(LocalError, match=message):
        image_sequence_item(pixels, color=color)


def test_grayscale_dataset_cannot_print_in_color() -> None:
    with pytest.raises(LocalError, match="RGB only"):
        image_sequence_item(image(np.zeros((2, 2), dtype=np.uint8)), color=True)


def test_big_endian_16_bit_image_is_rendered_not_copied() -> None:
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    source = image(pixels, bits_stored=12)
    source.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    source.PixelData = pixels.astype(">u2").tobytes()
    item = image_sequence_item(source)
    assert item.BitsAllocated == 8
    out = np.frombuffer(item.PixelData, np.uint8).reshape(2, 2)
    assert out.tolist() == [[0, 64], [128, 255]]
