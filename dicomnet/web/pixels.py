"""Where an instance's Pixel Data is in its file, and its frames, read without loading it.

:func:`read_header` reads a stored file up to its Pixel Data (pydicom,
``stop_before_pixels``) and notes where the Pixel Data element starts;
:func:`frame_ranges` gives the byte ranges of the frames: fixed-size slices
of native Pixel Data, or the fragments of encapsulated Pixel Data (one
fragment per frame, a single frame of any number of fragments, or grouped by
the Basic or Extended Offset Table). Only item headers are read to find the
fragments. Deflated data sets cannot be read in place (:class:`PixelError`).
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

__all__ = ["Header", "PixelError", "PixelLocation", "frame_ranges", "read_header"]

PIXEL_DATA: Final = 0x7FE00010
_ITEM: Final = 0xFFFEE000
_SEQUENCE_END: Final = 0xFFFEE0DD
_DEFLATED: Final = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1"})
_IMPLICIT: Final = "1.2.840.10008.1.2"
_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"
_LONG_VRS: Final = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UC"})
_UNDEFINED: Final = 0xFFFFFFFF


class PixelError(ValueError):
    """The file's Pixel Data cannot be read in place (or is malformed)."""


@dataclass(frozen=True, slots=True)
class PixelLocation:
    """Where the Pixel Data value is: its first byte, its length (None: encapsulated), its VR."""

    offset: int
    length: int | None
    vr: str
    little_endian: bool


@dataclass(frozen=True, slots=True)
class Header:
    """A stored instance's attributes before Pixel Data, its transfer syntax and pixels."""

    dataset: Dataset
    transfer_syntax_uid: str
    pixels: PixelLocation | None


def _pixel_location(fh: BinaryIO, syntax: str) -> PixelLocation | None:
    start = fh.tell()
    head = fh.read(8)
    if len(head) < 8:
        return None
    little = syntax != _BIG_ENDIAN
    order = "<" if little else ">"
    group, element = struct.unpack(order + "HH", head[:4])
    if (group << 16 | element) != PIXEL_DATA:
        return None
    if syntax == _IMPLICIT:
        (length,) = struct.unpack("<L", head[4:8])
        return PixelLocation(start + 8, None if length == _UNDEFINED else length, "OW", True)
    vr = head[4:6]
    if vr in _LONG_VRS:
        more = fh.read(4)
        if len(more) < 4:
            raise PixelError("Pixel Data header cut short")
        (length,) = struct.unpack(order + "L", more)
        offset = start + 12
    else:
        (length,) = struct.unpack(order + "H", head[6:8])
        offset = start + 8
    return PixelLocation(
        offset, None if length == _UNDEFINED else length, vr.decode("ascii", "replace"), little
    )


def read_header(path: Path) -> Header:
    """The header of the file at ``path`` and where its Pixel Data is (``OSError``, PixelError)."""
    with path.open("rb") as fh:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(fh, stop_before_pixels=True)
        except (InvalidDicomError, ValueError, TypeError, KeyError, EOFError, struct.error) as exc:
            raise PixelError(f"unreadable file: {exc}") from exc
        syntax = str(ds.file_meta.get("TransferSyntaxUID", "") or "1.2.840.10008.1.2.1")
        pixels = None if syntax in _DEFLATED else _pixel_location(fh, syntax)
    return Header(ds, syntax, pixels)


def _frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _native_frame_size(ds: Dataset) -> int:
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError) as exc:
        raise PixelError(f"image pixel attributes missing: {exc}") from exc
    total_bits = rows * columns * samples * bits
    if bits == 1:
        raise PixelError("1-bit frames are not byte aligned")
    return total_bits // 8


def _fragments(fh: BinaryIO, offset: int, little: bool) -> tuple[bytes, list[tuple[int, int]]]:
    """The Basic Offset Table and the (offset, length) of every fragment."""
    order = "<" if little else ">"
    fh.seek(offset)
    table = b""
    fragments: list[tuple[int, int]] = []
    first = True
    while True:
        head = fh.read(8)
        if len(head) < 8:
            raise PixelError("encapsulated Pixel Data cut short")
        group, element, length = struct.unpack(order + "HHL", head)
        tag = group << 16 | element
        if tag == _SEQUENCE_END:
            return table, fragments
        if tag != _ITEM or length == _UNDEFINED:
            raise PixelError(f"unexpected tag {tag:08X} in encapsulated Pixel Data")
        if first:
            table = fh.read(length)
            first = False
        else:
            fragments.append((fh.tell(), length))
            fh.seek(length, 1)


def _offset_table(header: Header, table: bytes) -> list[int]:
    extended = header.dataset.get(0x7FE00001)
    if extended is not None and extended.value:
        data = bytes(extended.value)
        return list(struct.unpack(f"<{len(data) // 8}Q", data))
    if table:
        return list(struct.unpack(f"<{len(table) // 4}L", table))
    return []


def frame_ranges(path: Path, header: Header) -> list[list[tuple[int, int]]]:
    """For each frame, the (offset, length) byte ranges holding it, in order."""
    pixels = header.pixels
    if pixels is None:
        raise PixelError("no Pixel Data that can be read in place")
    frames = _frame_count(header.dataset)
    if pixels.length is not None:
        size = _native_frame_size(header.dataset)
        if size * frames > pixels.length:
            raise PixelError("Pixel Data shorter than its frames")
        return [[(pixels.offset + n * size, size)] for n in range(frames)]
    with path.open("rb") as fh:
        table, fragments = _fragments(fh, pixels.offset, pixels.little_endian)
    if not fragments:
        raise PixelError("encapsulated Pixel Data without fragments")
    if frames == 1:
        return [fragments]
    if len(fragments) == frames:
        return [[fragment] for fragment in fragments]
    starts = _offset_table(header, table)
    if len(starts) != frames:
        raise PixelError("cannot tell which fragments make each frame")
    # Offsets count from the first fragment's item tag; each item has an 8-byte header.
    base = fragments[0][0] - 8
    grouped: list[list[tuple[int, int]]] = [[] for _ in range(frames)]
    frame = -1
    for fragment in fragments:
        while frame + 1 < frames and fragment[0] - 8 - base >= starts[frame + 1]:
            frame += 1
        if frame < 0:
            raise PixelError("offset table does not start at the first fragment")
        grouped[frame].append(fragment)
    return grouped
