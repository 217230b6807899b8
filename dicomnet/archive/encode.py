"""C-FIND response identifiers encoded straight to bytes from index values.

Building a pydicom Dataset and writing it costs far more than the database
read of a response; :func:`encode_identifier` writes the few elements of a
response (strings from index columns and computed attributes) itself, in
Implicit or Explicit VR Little Endian. It returns ``None`` whenever it would
have to guess (another transfer syntax, a character set it does not map, a
long-length VR, an oversized value): the caller then encodes the Dataset
with pydicom as before, so the bytes are always those pydicom would write.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

__all__ = ["Element", "encode_identifier"]

#: (tag, VR, value): ``None`` or ``""`` is an empty value, a list is multi-valued.
Element = tuple[int, str, str | list[str] | None]

_IMPLICIT_LE: Final = "1.2.840.10008.1.2"
_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
_SHORT_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI"}
)
#: VRs whose values are written in the Specific Character Set.
_TEXT_VRS: Final = frozenset({"LO", "LT", "PN", "SH", "ST"})
_CODECS: Final = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8"}
_PACK_EXPLICIT: Final = struct.Struct("<HH2sH")
_PACK_IMPLICIT: Final = struct.Struct("<HHI")


def _codec(charset: str | list[str] | None) -> str | None:
    if charset is None:
        return "ascii"
    if isinstance(charset, list):
        return None
    return _CODECS.get(charset.strip())


def encode_identifier(
    elements: Sequence[Element], transfer_syntax_uid: str, charset: str | list[str] | None
) -> bytes | None:
    """``elements`` (in ascending tag order) encoded, or ``None`` (encode with pydicom)."""
    explicit = transfer_syntax_uid == _EXPLICIT_LE
    if not explicit and transfer_syntax_uid != _IMPLICIT_LE:
        return None
    codec = _codec(charset)
    out = bytearray()
    for tag, vr, value in elements:
        if vr not in _SHORT_VRS:
            return None
        if not value:
            data = b""
        else:
            text = "\\".join(value) if isinstance(value, list) else value
            if vr in _TEXT_VRS:
                if codec is None:
                    return None
                try:
                    data = text.encode(codec)
                except UnicodeEncodeError:
                    return None
            else:
                try:
                    data = text.encode("ascii")
                except UnicodeEncodeError:
                    return None
            if len(data) & 1:
                data += b"\0" if vr == "UI" else b" "
        if explicit:
            if len(data) > 0xFFFF:
                return None
            out += _PACK_EXPLICIT.pack(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(data))
        else:
            out += _PACK_IMPLICIT.pack(tag >> 16, tag & 0xFFFF, len(data))
        out += data
    return bytes(out)
