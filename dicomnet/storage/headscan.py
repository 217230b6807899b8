"""A fast read of a data set's header: the raw values of a few top-level elements.

:func:`scan_header` walks the start of a data set as received (Explicit or
Implicit VR Little Endian) element by element up to Pixel Data, without
pydicom, and returns the raw bytes of the top-level elements asked for and
where the header ends. Sequences are skipped whole (defined length by their
length, undefined length by walking their items to the delimiter), values
are never decoded. It gives up (``None``) on anything it does not handle
plainly - big endian, an element cut by the end of the bytes, a length that
runs past them - and the caller reads the header with pydicom instead.

Used by the archive's ingest (the indexed columns of every stored instance)
and by the hierarchical folder layout (patient, study and series of an
instance).
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

__all__ = ["HeaderScan", "scan_header"]

_PIXEL_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# The VRs of PS3.5 Table 6.2-1 with a 2-byte length.
_SHORT_VRS: Final = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT",
        b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)  # fmt: skip
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD
_EXPLICIT: Final = struct.Struct("<HH2sH")
_IMPLICIT: Final = struct.Struct("<HHI")
_U32: Final = struct.Struct("<I")
#: Nesting of undefined-length sequences followed, at most.
_MAX_DEPTH: Final = 32


class _GiveUp(Exception):
    """The bytes are not plain enough for this reader."""


@dataclass(frozen=True, slots=True)
class HeaderScan:
    """What :func:`scan_header` found.

    ``values``: raw value bytes of the wanted top-level elements present;
    ``end``: offset of the first byte after the header (Pixel Data's element
    header, or the end of the data set when ``complete``).
    """

    values: dict[int, bytes]
    end: int


def scan_header(
    data: bytes | bytearray | memoryview,
    *,
    implicit: bool,
    wanted: Collection[int],
    complete: bool,
) -> HeaderScan | None:
    """Scan ``data`` (a Little Endian data set's first bytes; ``complete``: all of it)."""
    view = memoryview(data).cast("B")
    try:
        return _scan(view, implicit, wanted, complete)
    except (_GiveUp, struct.error):
        return None


def _scan(view: memoryview, implicit: bool, wanted: Collection[int], complete: bool) -> HeaderScan:
    n = len(view)
    pos = 0
    values: dict[int, bytes] = {}
    explicit_head = _EXPLICIT.unpack_from
    short_vrs = _SHORT_VRS
    while pos < n:
        if n - pos < 8:
            raise _GiveUp
        if not implicit:
            # Fast path: an ordinary Explicit VR element with a 2-byte length.
            group, element, vr, length = explicit_head(view, pos)
            if vr in short_vrs and group != 0xFFFE:
                tag = group << 16 | element
                pos += 8
                if pos + length > n:
                    raise _GiveUp
                if tag in wanted:
                    values[tag] = bytes(view[pos : pos + length])
                pos += length
                continue
        tag, length, size = _head(view, pos, implicit)
        if tag in _PIXEL_TAGS:
            return HeaderScan(values, pos)
        if tag >> 16 == 0xFFFE:
            raise _GiveUp  # a delimiter at the top level
        pos += size
        if length == _UNDEFINED:
            pos = _skip_items(view, pos, implicit, 0)
            continue
        if pos + length > n:
            raise _GiveUp
        if tag in wanted:
            values[tag] = bytes(view[pos : pos + length])
        pos += length
    if not complete:
        raise _GiveUp  # the header may go on past the bytes kept
    return HeaderScan(values, pos)


def _head(view: memoryview, pos: int, implicit: bool) -> tuple[int, int, int]:
    """(tag, length, header size) of the element or item at ``pos``."""
    if implicit:
        group, element, length = _IMPLICIT.unpack_from(view, pos)
        return group << 16 | element, length, 8
    group, element, vr, length = _EXPLICIT.unpack_from(view, pos)
    if group == 0xFFFE:
        return group << 16 | element, _U32.unpack_from(view, pos + 4)[0], 8
    if vr in _LONG_VRS:
        length = _U32.unpack_from(view, pos + 8)[0]
        if vr == b"UN" and length == _UNDEFINED:
            raise _GiveUp  # Implicit VR items inside (PS3.5 §6.2.2)
        return group << 16 | element, length, 12
    if not (vr[:1].isalpha() and vr[1:].isalpha() and vr.isupper()):
        raise _GiveUp
    return group << 16 | element, length, 8


def _skip_items(view: memoryview, pos: int, implicit: bool, depth: int) -> int:
    """Skip an undefined-length value (items up to its Sequence Delimitation Item)."""
    if depth > _MAX_DEPTH:
        raise _GiveUp
    n = len(view)
    while True:
        if n - pos < 8:
            raise _GiveUp
        group, element, length = _IMPLICIT.unpack_from(view, pos)
        tag = group << 16 | element
        pos += 8
        if tag == _SEQUENCE_END:
            return pos
        if group != 0xFFFE:
            raise _GiveUp
        if length != _UNDEFINED:
            pos += length
            continue
        # An undefined-length item: elements up to its Item Delimitation Item.
        while True:
            if n - pos < 8:
                raise _GiveUp
            tag, length, size = _head(view, pos, implicit)
            pos += size
            if tag == _ITEM_END:
                break
            if length == _UNDEFINED:
                pos = _skip_items(view, pos, implicit, depth + 1)
            else:
                pos += length
