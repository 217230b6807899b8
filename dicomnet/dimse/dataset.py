"""Data set I/O at the API edge: pydicom :class:`~pydicom.dataset.Dataset` <-> bytes.

A DIMSE data set is encoded in the transfer syntax of its presentation
context (PS3.7 §6.3.1, PS3.5 §10). Supported:

* Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian;
* deflated syntaxes - Explicit VR Little Endian, then raw RFC 1951 deflate
  with no zlib header (PS3.5 Annex A.5), padded to even length with a NUL;
* every encapsulated (compressed pixel data) syntax pydicom knows: the data
  set is Explicit VR Little Endian and Pixel Data must already hold the
  encapsulated fragments (PS3.5 Annex A.4). No pixel transcoding happens here.

Decoding first walks the element framing (nested sequences and items
included), so a truncated or overrunning data set raises instead of being
quietly cut short, then hands the bytes to :func:`pydicom.filereader.read_dataset`.
The walk also refuses an Explicit VR that PS3.5 §6.2 does not define and a
binary number (US, SS, UL, SL, FL, FD, SV, UV) whose length is not a multiple
of its size: pydicom would accept both here and fail only when the value is
first used. Values stay raw until accessed (an Implicit VR or UN element can
still hold a value its dictionary VR cannot convert: code reading untrusted
data sets converts them under its own error handling), and
:func:`encode_dataset` writes untouched raw elements back unchanged, so for
an uncompressed or encapsulated syntax
``encode_dataset(decode_dataset(b, ts), ts) == b``. For deflated syntaxes the
inflated bytes round-trip; the compressed bytes depend on the compressor.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import Final

from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.uid import UID

from .errors import DatasetError

__all__ = ["decode_dataset", "encode_dataset", "transfer_syntax_encoding"]

IMPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"

# Syntaxes whose whole data set is deflated (PS3.5 A.5 and the JPIP
# Referenced Deflate syntaxes of PS3.5 §10.8, which reuse it).
_DEFLATED: Final = frozenset(
    {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.205"}
)

# Explicit VRs whose length field is 4 bytes after 2 reserved ones (PS3.5 §7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# Every VR of PS3.5 §6.2 (Table 6.2-1).
_VRS: Final = _LONG_VRS | frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT",
        b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)  # fmt: skip
# Binary numbers: the size of one value, which the value length must be a multiple of.
_NUMBER_SIZES: Final = {
    b"US": 2, b"SS": 2, b"UL": 4, b"SL": 4, b"FL": 4, b"FD": 8, b"SV": 8, b"UV": 8,
}  # fmt: skip
_UNDEFINED: Final = 0xFFFFFFFF
_MAX_DEPTH: Final = 64

# Everything pydicom is known to raise for bad input or values it cannot encode.
_PYDICOM_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    NotImplementedError,
    EOFError,
    struct.error,
    InvalidDicomError,
    UserWarning,
)


def transfer_syntax_encoding(transfer_syntax_uid: str) -> tuple[bool, bool, bool]:
    """``(implicit_vr, little_endian, deflated)`` for a transfer syntax UID.

    Raises :class:`~dicomnet.dimse.errors.DatasetError` for a UID that is not a
    transfer syntax pydicom knows (private syntaxes cannot be told apart).
    """
    if transfer_syntax_uid == IMPLICIT_VR_LITTLE_ENDIAN:
        return True, True, False
    if transfer_syntax_uid == EXPLICIT_VR_LITTLE_ENDIAN:
        return False, True, False
    if transfer_syntax_uid == EXPLICIT_VR_BIG_ENDIAN:
        return False, False, False
    if transfer_syntax_uid in _DEFLATED:
        return False, True, True
    uid = UID(transfer_syntax_uid)
    if not uid.is_private and uid.is_transfer_syntax and uid.is_compressed:
        return False, True, False
    raise DatasetError("unknown transfer syntax", transfer_syntax_uid=transfer_syntax_uid)


def encode_dataset(ds: Dataset, transfer_syntax_uid: str) -> bytes:
    """Encode ``ds`` for a DIMSE message in ``transfer_syntax_uid``.

    File meta information (group 0002) does not belong in a message data set
    and is refused. Raises :class:`~dicomnet.dimse.errors.DatasetError`.
    """
    implicit, little, deflated = transfer_syntax_encoding(transfer_syntax_uid)
    # keys(), not iteration: iterating a Dataset decodes every raw element.
    if any(tag.group == 0x0002 for tag in ds.keys()):  # noqa: SIM118
        raise DatasetError(
            "data set holds file meta elements (group 0002)",
            transfer_syntax_uid=transfer_syntax_uid,
        )
    fp = DicomBytesIO()
    fp.is_implicit_VR = implicit
    fp.is_little_endian = little
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            write_dataset(fp, ds)
    except _PYDICOM_ERRORS as exc:
        raise DatasetError(
            f"cannot encode data set: {exc}", transfer_syntax_uid=transfer_syntax_uid
        ) from exc
    body = fp.getvalue()
    if not deflated:
        return body
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    packed = compressor.compress(body) + compressor.flush()
    return packed + b"\0" if len(packed) & 1 else packed


def decode_dataset(data: bytes | bytearray | memoryview, transfer_syntax_uid: str) -> Dataset:
    """Decode a DIMSE message data set encoded in ``transfer_syntax_uid``.

    Raises :class:`~dicomnet.dimse.errors.DatasetError` if the data set is
    truncated, its framing is inconsistent, an Explicit VR is unknown or a
    binary number has a length that is not a multiple of its size, it is not
    in the stated transfer syntax, or pydicom rejects it.
    """
    implicit, little, deflated = transfer_syntax_encoding(transfer_syntax_uid)
    body = _inflate(data, transfer_syntax_uid) if deflated else bytes(data)
    try:
        _check_framing(body, implicit, little)
    except _FramingError as exc:
        raise DatasetError(
            f"malformed data set: {exc}", transfer_syntax_uid=transfer_syntax_uid
        ) from None
    try:
        # pydicom warns and guesses when the bytes do not match the stated
        # syntax; a mislabelled data set must not be accepted and stored.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return read_dataset(io.BytesIO(body), implicit, little)
    except _PYDICOM_ERRORS as exc:
        raise DatasetError(
            f"cannot decode data set: {exc}", transfer_syntax_uid=transfer_syntax_uid
        ) from exc


def _inflate(data: bytes | bytearray | memoryview, transfer_syntax_uid: str) -> bytes:
    inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data) + inflater.flush()
    except zlib.error as exc:
        raise DatasetError(
            f"bad deflate stream: {exc}", transfer_syntax_uid=transfer_syntax_uid
        ) from None
    # One trailing NUL is the even-length padding; anything more is not ours.
    if not inflater.eof or inflater.unused_data not in (b"", b"\0"):
        raise DatasetError(
            "deflate stream truncated or followed by extra bytes",
            transfer_syntax_uid=transfer_syntax_uid,
        )
    return body


class _FramingError(Exception):
    pass


def _check_framing(buf: bytes, implicit: bool, little: bool) -> None:
    """Walk every element and item header; raise :class:`_FramingError` on overrun."""
    _Walker(buf, explicit=not implicit, little=little).elements(0, len(buf), 0, in_item=False)


class _Walker:
    """Skips over elements and items, checking each length against the bytes left."""

    def __init__(self, buf: bytes, *, explicit: bool, little: bool) -> None:
        self.buf = buf
        self.explicit = explicit
        self.header = struct.Struct("<HHI" if little else ">HHI")
        self.short = struct.Struct("<H" if little else ">H")

    def elements(self, offset: int, end: int, depth: int, *, in_item: bool) -> int:
        """Skip elements from ``offset`` to ``end``; return where they stop.

        With ``in_item`` they belong to an undefined-length item and the walk
        stops after its Item Delimitation Item.
        """
        if depth > _MAX_DEPTH:
            raise _FramingError(f"sequences nested deeper than {_MAX_DEPTH}")
        buf = self.buf
        while offset < end:
            if end - offset < 8:
                raise _FramingError(f"truncated element header at offset {offset}")
            group, element, length = self.header.unpack_from(buf, offset)
            if group == 0xFFFE:
                if in_item and element == 0xE00D:
                    return offset + 8
                raise _FramingError(f"unexpected ({group:04X},{element:04X}) at offset {offset}")
            walker, fragments, vr = self, False, b""
            if self.explicit:
                vr = buf[offset + 4 : offset + 6]
                if vr not in _VRS:
                    raise _FramingError(f"unknown VR {vr!r} in ({group:04X},{element:04X})")
                if vr in _LONG_VRS:
                    if end - offset < 12:
                        raise _FramingError(f"truncated element header at offset {offset}")
                    length = self.header.unpack_from(buf, offset + 4)[2]
                    offset += 12
                else:
                    length = self.short.unpack_from(buf, offset + 6)[0]
                    offset += 8
                # Undefined-length OB/OW hold encapsulated fragments, not data
                # sets; undefined-length UN holds an Implicit VR LE sequence.
                fragments = vr in (b"OB", b"OW")
                if vr == b"UN":
                    walker = _Walker(buf, explicit=False, little=True)
                size = _NUMBER_SIZES.get(vr)
                if size is not None and length % size:
                    raise _FramingError(
                        f"element ({group:04X},{element:04X}) {vr.decode()} length {length}"
                        f" is not a multiple of {size}"
                    )
            else:
                offset += 8
            if length == _UNDEFINED:
                offset = walker.items(offset, end, depth, fragments=fragments)
            elif offset + length > end:
                raise _FramingError(
                    f"element ({group:04X},{element:04X}) length {length} runs past the end"
                )
            else:
                if vr == b"SQ":
                    self.defined_items(offset, offset + length, depth)
                offset += length
        if in_item:
            raise _FramingError("item has no Item Delimitation Item")
        return offset

    def defined_items(self, offset: int, end: int, depth: int) -> None:
        """Walk the items of a defined-length sequence value, which fill ``offset`` to ``end``."""
        while offset < end:
            if end - offset < 8:
                raise _FramingError(f"truncated item header at offset {offset}")
            group, element, length = self.header.unpack_from(self.buf, offset)
            offset += 8
            if group != 0xFFFE or element != 0xE000:
                raise _FramingError(f"expected an item, found ({group:04X},{element:04X})")
            if length == _UNDEFINED:
                offset = self.elements(offset, end, depth + 1, in_item=True)
            elif offset + length > end:
                raise _FramingError(f"item length {length} runs past its sequence")
            else:
                self.elements(offset, offset + length, depth + 1, in_item=False)
                offset += length

    def items(self, offset: int, end: int, depth: int, *, fragments: bool) -> int:
        """Skip the items of an undefined-length value and its Sequence Delimitation Item."""
        while True:
            if end - offset < 8:
                raise _FramingError("sequence has no Sequence Delimitation Item")
            group, element, length = self.header.unpack_from(self.buf, offset)
            offset += 8
            if group == 0xFFFE and element == 0xE0DD:
                return offset
            if group != 0xFFFE or element != 0xE000:
                raise _FramingError(f"expected an item, found ({group:04X},{element:04X})")
            if length == _UNDEFINED:
                if fragments:
                    raise _FramingError("encapsulated fragment of undefined length")
                offset = self.elements(offset, end, depth + 1, in_item=True)
            elif offset + length > end:
                raise _FramingError(f"item length {length} runs past the end")
            elif fragments:
                offset += length
            else:
                self.elements(offset, offset + length, depth + 1, in_item=False)
                offset += length
