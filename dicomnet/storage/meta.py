"""The DICOM File Format header: preamble, prefix and File Meta Information (PS3.10 §7.1).

The header is written by hand (group 0002 is always Explicit VR Little
Endian, and small) so that a received data set can be streamed to disk right
behind it without pydicom ever holding the data set:

* a 128-byte preamble of zeros and the prefix ``DICM``;
* (0002,0000) File Meta Information Group Length, (0002,0001) File Meta
  Information Version 00H 01H, (0002,0002)/(0002,0003) Media Storage SOP
  Class/Instance UID, (0002,0010) Transfer Syntax UID, (0002,0012)
  Implementation Class UID, (0002,0013) Implementation Version Name and
  (0002,0016) Source Application Entity Title (the last two only when
  known).

Values are written as given (a peer's malformed UID is recorded, not
repaired), padded to even length: UI with NUL, SH and AE with a space.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Final

from .sinks import InstanceInfo, StorageError

__all__ = ["PREAMBLE_LENGTH", "HeaderTemplate", "encode_file_meta", "file_header"]

#: Length of the preamble that precedes ``DICM``.
PREAMBLE_LENGTH: Final = 128

_SHORT: Final = struct.Struct("<HH2sH")
_LONG: Final = struct.Struct("<HH2s2xI")
#: Bytes of (0002,0000) File Meta Information Group Length.
_GROUP_LENGTH: Final = struct.Struct("<HH2sHI")
_GROUP_LENGTH_SIZE: Final = _GROUP_LENGTH.size


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) > 0xFFFE:
        raise StorageError(f"value of (0002,{element:04X}) is too long for the file meta")
    if vr == b"OB":
        return _LONG.pack(0x0002, element, vr, len(value)) + value
    return _SHORT.pack(0x0002, element, vr, len(value)) + value


def _text(value: str, pad: bytes) -> bytes:
    raw = value.encode("ascii", "replace")
    return raw + pad if len(raw) & 1 else raw


def encode_file_meta(info: InstanceInfo) -> bytes:
    """Group 0002 for ``info``, starting with its group length element.

    Raises :class:`~dicomnet.storage.sinks.StorageError` for a value longer
    than a 16-bit length can hold.
    """
    body = b"".join(
        (
            _element(0x0001, b"OB", b"\x00\x01"),
            _element(0x0002, b"UI", _text(info.sop_class_uid, b"\0")),
            _element(0x0003, b"UI", _text(info.sop_instance_uid, b"\0")),
            _element(0x0010, b"UI", _text(info.transfer_syntax_uid, b"\0")),
            _element(0x0012, b"UI", _text(info.implementation_class_uid, b"\0")),
            (
                _element(0x0013, b"SH", _text(info.implementation_version_name[:16], b" "))
                if info.implementation_version_name
                else b""
            ),
            (
                _element(0x0016, b"AE", _text(info.source_ae_title.strip()[:16], b" "))
                if info.source_ae_title.strip()
                else b""
            ),
        )
    )
    return _element(0x0000, b"UL", struct.pack("<I", len(body))) + body


def file_header(info: InstanceInfo) -> bytes:
    """Everything a Part 10 file holds before its data set."""
    return bytes(PREAMBLE_LENGTH) + b"DICM" + encode_file_meta(info)


_INSTANCE_UID_PLACEHOLDER: Final = "1"  # odd length: padded to two bytes


class HeaderTemplate:
    """:func:`file_header` for instances that differ only in their SOP Instance UID.

    Everything but (0002,0000) and (0002,0003) is encoded once, from an
    :class:`InstanceInfo` with the same SOP class, transfer syntax, AE title
    and implementation; :meth:`header` puts the group length and an
    instance's UID between those bytes (the same bytes :func:`file_header`
    gives).
    """

    __slots__ = ("_after", "_before", "_fixed_length")

    def __init__(self, info: InstanceInfo) -> None:
        sample = file_header(replace(info, sop_instance_uid=_INSTANCE_UID_PLACEHOLDER))
        placeholder = _element(0x0003, b"UI", _text(_INSTANCE_UID_PLACEHOLDER, b"\0"))
        start = PREAMBLE_LENGTH + 4 + _GROUP_LENGTH_SIZE
        at = (
            start
            + len(_element(0x0001, b"OB", b"\x00\x01"))
            + len(_element(0x0002, b"UI", _text(info.sop_class_uid, b"\0")))
        )
        self._before = sample[: PREAMBLE_LENGTH + 4]
        # (0002,0001) and (0002,0002), then what follows (0002,0003).
        self._after = (sample[start:at], sample[at + len(placeholder) :])
        self._fixed_length = len(sample) - start - len(placeholder)

    @staticmethod
    def key(info: InstanceInfo) -> tuple[str, ...]:
        """What the header depends on besides the SOP Instance UID."""
        return (
            info.sop_class_uid,
            info.transfer_syntax_uid,
            info.source_ae_title,
            info.implementation_class_uid,
            info.implementation_version_name,
        )

    def header(self, sop_instance_uid: str) -> bytes:
        """The file header of the instance ``sop_instance_uid``."""
        instance = _element(0x0003, b"UI", _text(sop_instance_uid, b"\0"))
        middle, rest = self._after
        length = _GROUP_LENGTH.pack(2, 0, b"UL", 4, self._fixed_length + len(instance))
        return b"".join((self._before, length, middle, instance, rest))
