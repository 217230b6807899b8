"""decode_dataset refuses elements pydicom could only fail on later (PS3.5 §6.2, §7.1.2)."""

from __future__ import annotations

import struct

import pytest

from dicomnet.dimse.dataset import decode_dataset
from dicomnet.dimse.errors import DatasetError

EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


def element(tag: int, vr: bytes, value: bytes, *, big: bool = False) -> bytes:
    order = ">" if big else "<"
    head = struct.pack(f"{order}HH", tag >> 16, tag & 0xFFFF) + vr
    if vr in LONG_VRS:
        return head + b"\0\0" + struct.pack(f"{order}I", len(value)) + value
    return head + struct.pack(f"{order}H", len(value)) + value


def in_sequence(inner: bytes) -> bytes:
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
    return element(0x00400100, b"SQ", item)


@pytest.mark.parametrize("vr", [b"CR", b"\xc3\xa9", b"  ", b"\0\0", b"us"])
def test_unknown_explicit_vr_is_refused(vr: bytes) -> None:
    data = element(0x00080052, vr, b"PATIENT ")
    with pytest.raises(DatasetError, match="unknown VR"):
        decode_dataset(data, EXPLICIT_LE)
    with pytest.raises(DatasetError, match="unknown VR"):
        decode_dataset(in_sequence(data), EXPLICIT_LE)


@pytest.mark.parametrize(
    ("vr", "size"),
    [
        (b"US", 2),
        (b"SS", 2),
        (b"UL", 4),
        (b"SL", 4),
        (b"FL", 4),
        (b"FD", 8),
        (b"SV", 8),
        (b"UV", 8),
    ],
)
def test_binary_number_of_the_wrong_length_is_refused(vr: bytes, size: int) -> None:
    with pytest.raises(DatasetError, match=f"not a multiple of {size}"):
        decode_dataset(element(0x00091010, vr, b"\1" * (size + 1)), EXPLICIT_LE)
    with pytest.raises(DatasetError, match=f"not a multiple of {size}"):
        decode_dataset(element(0x00091010, vr, b"\1" * (size + 1), big=True), EXPLICIT_BE)
    with pytest.raises(DatasetError):
        decode_dataset(in_sequence(element(0x00091010, vr, b"\1" * (size - 1))), EXPLICIT_LE)


def test_every_value_of_a_valid_data_set_converts() -> None:
    data = (
        element(0x00080052, b"CS", b"STUDY ")
        + element(0x00181050, b"DS", b"1.5 ")
        + element(0x00280010, b"US", b"\x02\x00\x03\x00")
        + element(0x00280011, b"US", b"")
        + element(0x00400100 - 0x100, b"FD", b"\0" * 16)
    )
    ds = decode_dataset(data, EXPLICIT_LE)
    assert [element.value for element in ds] == ["STUDY", "1.5", [2, 3], None, [0.0, 0.0]]


def test_defined_length_sequences_are_walked() -> None:
    inner = element(0x00400001, b"AE", b"STATION1")
    ds = decode_dataset(in_sequence(inner) + element(0x00400200, b"SQ", b""), EXPLICIT_LE)
    assert ds[0x00400100].value[0].ScheduledStationAETitle == "STATION1"
    assert len(ds[0x00400200].value) == 0
    # An item longer than its sequence, and a sequence holding no item header.
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner) + 2) + inner
    for value in (item, inner):
        with pytest.raises(DatasetError, match="malformed"):
            decode_dataset(element(0x00400100, b"SQ", value), EXPLICIT_LE)
