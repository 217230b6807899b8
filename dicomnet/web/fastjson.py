"""DICOM JSON straight from a C-FIND response's bytes (the index's fast path).

The SQLite index can encode a response identifier without building a pydicom
Dataset (:meth:`dicomnet.query.query.Match.encoded`); :func:`identifier_json`
reads such bytes (Explicit VR Little Endian, short-length VRs, no sequences)
into the DICOM JSON object :mod:`.dicomjson` would give for the same
Dataset. It returns ``None`` for anything else (a long VR, a sequence, a
character set it does not map), and the caller builds the Dataset instead.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any, Final

__all__ = ["MEMO_SIZE", "Memo", "elements_json", "elements_json_text", "identifier_json"]

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
#: String VRs whose values are JSON strings as they are (no person name, number or text).
_PLAIN_VRS: Final = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "SH", "TM", "UI"})
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
    if vr in _PLAIN_VRS and "\\" not in text:  # the common case: one plain value
        return [text.strip(" \0") or None]
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
    written = elements_json_text(elements, charset, skip)
    if written is None:
        return None
    members, _ = written
    return {f"{tag:08X}": json.loads(text.partition(":")[2]) for tag, text in members}


def _json_value(value: Any) -> str:
    """One value as ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes it."""
    if value.__class__ is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f'"{k}":{encode_basestring(v)}' for k, v in value.items()) + "}"
    if isinstance(value, int):
        return int.__repr__(value)
    return float.__repr__(value)


#: A member no JSON can be written for (the whole answer is then ``None``).
_REFUSED: Final = ""
#: The most members one memo keeps (values seen again are found there).
MEMO_SIZE: Final = 8192
#: Member texts by (codec, tag, VR, value), shared by the results of one answer.
Memo = dict[tuple[str, int, str, Any], str | None]


def _member(
    tag: int, vr: str, value: str | list[str] | None, codec: str, skip: frozenset[int]
) -> tuple[str | None, list[Any] | None]:
    """(member text or ``None`` when skipped, or ``_REFUSED``; the JSON values)."""
    if vr not in _STRING_VRS:
        return _REFUSED, None
    if not value:
        return (None if tag in skip else f'"{tag:08X}":{{"vr":"{vr}"}}'), None
    text = "\\".join(value) if isinstance(value, list) else value
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode(codec if vr in _TEXT_VRS else "ascii"))
        except UnicodeEncodeError:
            return _REFUSED, None
    if size > _MAX_SHORT:
        return _REFUSED, None
    if tag in skip:
        return None, None
    values = _text_values(vr, text)
    if len(values) == 1:
        only = values[0]
        if only is None:
            return f'"{tag:08X}":{{"vr":"{vr}"}}', values
        return f'"{tag:08X}":{{"vr":"{vr}","Value":[{_json_value(only)}]}}', values
    if all(v is None for v in values):
        return f'"{tag:08X}":{{"vr":"{vr}"}}', values
    listed = ",".join([_json_value(v) for v in values])
    return f'"{tag:08X}":{{"vr":"{vr}","Value":[{listed}]}}', values


def elements_json_text(
    elements: Sequence[tuple[int, str, str | list[str] | None]],
    charset: str | list[str] | None,
    skip: frozenset[int] = frozenset(),
    keep: frozenset[int] = frozenset(),
    memo: Memo | None = None,
) -> tuple[list[tuple[int, str]], dict[int, list[Any]]] | None:
    """Plain elements as compact JSON members (``"TTTTTTTT":{...}``), in their order.

    Also the JSON values of the tags in ``keep``. ``None`` where
    :func:`elements_json` gives ``None``. ``memo`` (one dict for calls with
    the same ``skip`` and ``keep``) keeps members to be found again.
    """
    if isinstance(charset, list):
        return None
    codec = "ascii" if charset is None else _CODECS.get(charset.strip(" \0"))
    if codec is None:
        return None
    members: list[tuple[int, str]] = []
    kept: dict[int, list[Any]] = {}
    for tag, vr, value in elements:
        if tag in keep:
            member, values = _member(tag, vr, value, codec, skip)
            if values is not None:
                kept[tag] = values
        elif memo is None:
            member, _ = _member(tag, vr, value, codec, skip)
        else:
            key = (codec, tag, vr, tuple(value) if isinstance(value, list) else value)
            if key in memo:
                member = memo[key]
            else:
                member, _ = _member(tag, vr, value, codec, skip)
                if len(memo) < MEMO_SIZE:
                    memo[key] = member
        if member is None:
            continue
        if not member:  # _REFUSED
            return None
        members.append((tag, member))
    return members, kept
