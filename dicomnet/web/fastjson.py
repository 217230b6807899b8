"""DICOM JSON straight from a C-FIND response's bytes (the index's fast path).

The SQLite index can encode a response identifier without building a pydicom
Dataset (:meth:`dicomnet.query.query.Match.encoded`); :func:`identifier_json`
reads such bytes (Explicit VR Little Endian, short-length VRs, no sequences)
into the DICOM JSON object :mod:`.dicomjson` would give for the same
Dataset. It returns ``None`` for anything else (a long VR, a sequence, a
character set it does not map), and the caller builds the Dataset instead.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["elements_json", "identifier_json"]

_HEADER: Final = struct.Struct("<HH2sH")
_SHORT_VRS: Final = frozenset(
    {
        b"AE", b"AS", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"LT", b"PN", b"SH",
        b"ST", b"TM", b"UI", b"US", b"SS", b"UL", b"SL", b"FL", b"FD", b"AT",
    }
)  # fmt: skip
#: The string VRs the index's encoder writes (short length).
_STRING_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI"}
)
_MAX_SHORT: Final = 0xFFFE
_CODECS: Final = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8"}
_TEXT_VRS: Final = frozenset({"LO", "LT", "PN", "SH", "ST"})
_PN_GROUPS: Final = ("Alphabetic", "Ideographic", "Phonetic")
_SPECIFIC_CHARACTER_SET: Final = 0x00080005
_BINARY: Final = {"US": "<H", "SS": "<h", "UL": "<L", "SL": "<l", "FL": "<f", "FD": "<d"}


def _number(text: str, integral: bool) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if value.is_integer() and (integral or abs(value) < 2**53):
        return int(value)
    return value


def _values(vr: str, data: bytes, codec: str) -> list[Any] | None:
    if vr in _BINARY:
        fmt = _BINARY[vr]
        size = struct.calcsize(fmt)
        if len(data) % size:
            return None
        return [v[0] for v in struct.iter_unpack(fmt, data)]
    if vr == "AT":
        if len(data) % 4:
            return None
        return [f"{g:04X}{e:04X}" for g, e in struct.iter_unpack("<HH", data)]
    try:
        text = data.decode(codec if vr in _TEXT_VRS else "ascii")
    except UnicodeDecodeError:
        return None
    return _text_values(vr, text)


def _text_values(vr: str, text: str) -> list[Any]:
    """The JSON values of a string VR's text (as decoded, padding included or not)."""
    text = text.rstrip("\0 ") if vr != "UI" else text.rstrip("\0")
    if not text:
        return []
    parts = [text] if vr in ("LT", "ST") else text.split("\\")
    out: list[Any] = []
    for part in parts:
        item = part.strip(" \0") if vr != "LT" else part.rstrip(" ")
        if not item:
            out.append(None)
        elif vr == "PN":
            groups = item.split("=")
            out.append({name: g for name, g in zip(_PN_GROUPS, groups, strict=False) if g})
        elif vr in ("IS", "DS"):
            out.append(_number(item, vr == "IS"))
        else:
            out.append(item)
    return out


def identifier_json(data: bytes, skip: frozenset[int] = frozenset()) -> dict[str, Any] | None:
    """The DICOM JSON object of an encoded identifier (tags in ``skip`` left out)."""
    result: dict[str, Any] = {}
    codec = "ascii"
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < 8:
            return None
        group, element, raw_vr, length = _HEADER.unpack_from(data, pos)
        if raw_vr not in _SHORT_VRS:
            return None
        pos += 8
        value = data[pos : pos + length]
        pos += length
        tag = group << 16 | element
        vr = raw_vr.decode("ascii")
        if tag == _SPECIFIC_CHARACTER_SET:
            name = value.decode("ascii", "replace").strip(" \0")
            found = _CODECS.get(name)
            if found is None:
                return None
            codec = found
        if tag in skip:
            continue
        values = _values(vr, value, codec)
        if values is None:
            return None
        entry: dict[str, Any] = {"vr": vr}
        if any(v is not None for v in values):
            entry["Value"] = values
        result[f"{tag:08X}"] = entry
    return result


def elements_json(
    elements: Sequence[tuple[int, str, str | list[str] | None]],
    charset: str | list[str] | None,
    skip: frozenset[int] = frozenset(),
) -> dict[str, Any] | None:
    """The DICOM JSON object of plain elements (what the index's encoder would write).

    The same object :func:`identifier_json` gives for the bytes
    :func:`~dicomnet.archive.encode.encode_identifier` writes from them, and
    ``None`` where either of those gives ``None`` (a long value, a character
    set not mapped, a value the character set cannot hold).
    """
    if isinstance(charset, list):
        return None
    codec = "ascii" if charset is None else _CODECS.get(charset.strip(" \0"))
    if codec is None:
        return None
    result: dict[str, Any] = {}
    for tag, vr, value in elements:
        if vr not in _STRING_VRS:
            return None
        if not value:
            if tag not in skip:
                result[f"{tag:08X}"] = {"vr": vr}
            continue
        text = "\\".join(value) if isinstance(value, list) else value
        if text.isascii():
            size = len(text)
        else:
            try:
                size = len(text.encode(codec if vr in _TEXT_VRS else "ascii"))
            except UnicodeEncodeError:
                return None
        if size > _MAX_SHORT:
            return None
        if tag in skip:
            continue
        values = _text_values(vr, text)
        entry: dict[str, Any] = {"vr": vr}
        if any(v is not None for v in values):
            entry["Value"] = values
        result[f"{tag:08X}"] = entry
    return result
