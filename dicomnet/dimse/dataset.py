"""Data set I/O at the API edge: pydicom :class:`~pydicom.dataset.Dataset` <-> bytes.

A DIMSE data set is encoded in the transfer syntax of its presentation
context (PS3.7 §6.3.1, PS3.5 §10). Supported:

* Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian;
* deflated syntaxes - Explicit VR Little Endian, then raw RFC 1951 deflate
  with no zlib header (PS3.5 Annex A.5), padded to even length with a NUL;
* every encapsulated (compressed pixel data) syntax pydicom knows: the data
  set is Explicit VR Little Endian and Pixel Data must already hold the
  encapsulated fragments (PS3.5 Annex A.4). No pixel transcoding happens here.

Decoding first walks the element framing with
:class:`~dicomnet.dimse.walker.DatasetWalker` (nested sequences and items
included), so a truncated or overrunning data set raises instead of being
quietly cut short, then hands the bytes to :func:`pydicom.filereader.read_dataset`.
The walk also refuses elements out of order, an Explicit VR that PS3.5 §6.2
does not define, a binary number (US, SS, UL, SL, FL, FD, SV, UV) whose
length is not a multiple of its size (pydicom would accept those here and
fail only when the value is first used), and Pixel Data whose encoding
contradicts the transfer syntax. :func:`dataset_walker` gives the same walk
to code that receives a data set in pieces.

Values stay raw until accessed (an Implicit VR or UN element can still hold
a value its dictionary VR cannot convert: code reading untrusted data sets
converts them under its own error handling), and
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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from .errors import DatasetError
from .walker import DatasetWalker, FramingError, InflatingWalker, Walker

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "dataset_walker",
    "decode_dataset",
    "encode_dataset",
    "is_encapsulated",
    "transfer_syntax_encoding",
]

IMPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"

_NATIVE: Final = frozenset(
    {IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN}
)
# Syntaxes whose whole data set is deflated (PS3.5 A.5 and the JPIP
# Referenced Deflate syntaxes of PS3.5 §10.8, which reuse it).
_DEFLATED: Final = frozenset(
    {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.205"}
)


# Everything pydicom is known to raise for bad input or values it cannot encode
# (with pydicom's InvalidDicomError, added where pydicom is loaded).
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
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    uid = UID(transfer_syntax_uid)
    if not uid.is_private and uid.is_transfer_syntax and uid.is_compressed:
        return False, True, False
    raise DatasetError("unknown transfer syntax", transfer_syntax_uid=transfer_syntax_uid)


def is_encapsulated(transfer_syntax_uid: str) -> bool:
    """Whether Pixel Data is encapsulated (in fragments) in ``transfer_syntax_uid``.

    Raises :class:`~dicomnet.dimse.errors.DatasetError` for an unknown syntax.
    """
    transfer_syntax_encoding(transfer_syntax_uid)
    return transfer_syntax_uid not in _NATIVE and transfer_syntax_uid not in _DEFLATED


def dataset_walker(
    transfer_syntax_uid: str, *, capture: Iterable[int] = (), record: bool = False
) -> Walker:
    """A walker (:mod:`dicomnet.dimse.walker`) for a data set in ``transfer_syntax_uid``.

    Deflated syntaxes get an :class:`~dicomnet.dimse.walker.InflatingWalker`
    (which records no headers). Raises :class:`~dicomnet.dimse.errors.DatasetError`
    for an unknown syntax.
    """
    implicit, little, deflated = transfer_syntax_encoding(transfer_syntax_uid)
    walker = DatasetWalker(
        implicit=implicit,
        little=little,
        encapsulated=is_encapsulated(transfer_syntax_uid),
        capture=capture,
        record=record and not deflated,
    )
    return InflatingWalker(walker) if deflated else walker


def encode_dataset(ds: Dataset, transfer_syntax_uid: str) -> bytes:
    """Encode ``ds`` for a DIMSE message in ``transfer_syntax_uid``.

    File meta information (group 0002) does not belong in a message data set
    and is refused. Raises :class:`~dicomnet.dimse.errors.DatasetError`.
    """
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)
    from pydicom.filebase import DicomBytesIO  # noqa: PLC0415 (loaded on first use)
    from pydicom.filewriter import write_dataset  # noqa: PLC0415 (loaded on first use)

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
    except (*_PYDICOM_ERRORS, InvalidDicomError) as exc:
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
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)
    from pydicom.filereader import read_dataset  # noqa: PLC0415 (loaded on first use)

    implicit, little, deflated = transfer_syntax_encoding(transfer_syntax_uid)
    body = _inflate(data, transfer_syntax_uid) if deflated else bytes(data)
    walker = DatasetWalker(
        implicit=implicit, little=little, encapsulated=is_encapsulated(transfer_syntax_uid)
    )
    try:
        walker.feed(body)
        walker.finish()
    except FramingError as exc:
        raise DatasetError(
            f"malformed data set: {exc}", transfer_syntax_uid=transfer_syntax_uid
        ) from None
    try:
        # pydicom warns and guesses when the bytes do not match the stated
        # syntax; a mislabelled data set must not be accepted and stored.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return read_dataset(io.BytesIO(body), implicit, little)
    except (*_PYDICOM_ERRORS, InvalidDicomError) as exc:
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
