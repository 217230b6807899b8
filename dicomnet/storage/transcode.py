"""Re-encode a data set in another transfer syntax, for a peer that accepted a different one.

What can be done (checked by :func:`can_transcode`):

* native to native - Implicit VR Little Endian, Explicit VR Little Endian,
  Explicit VR Big Endian, Deflated Explicit VR Little Endian - always. When
  the byte order changes, values of the "other" VRs (OW, OF, OL, OD, OV),
  which pydicom writes as they are, are byte-swapped here;
* encapsulated (compressed) to native, by decompressing Pixel Data with
  pydicom's decoders (pylibjpeg and friends when installed);
* native (or decompressible) to encapsulated, when pydicom has an encoder for
  the target syntax available at run time (RLE Lossless always; JPEG
  syntaxes only if an encoding plugin is installed).

A data set without Pixel Data needs no pixel conversion: in an encapsulated
syntax it is simply Explicit VR Little Endian.

Anything else raises :class:`TranscodeError`, which names both syntaxes.
"""

from __future__ import annotations

import warnings
from copy import deepcopy
from typing import TYPE_CHECKING, Final

from dicomnet.dimse.dataset import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    encode_dataset,
    transfer_syntax_encoding,
)
from dicomnet.dimse.errors import DatasetError
from dicomnet.errors import LocalError

from .source import InstanceSource

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = [
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "NATIVE_SYNTAXES",
    "TranscodeError",
    "can_transcode",
    "is_native",
    "syntax_name",
    "transcode",
    "transcode_dataset",
]

DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1.99"

#: Syntaxes whose Pixel Data (if any) is not encapsulated, in order of preference.
NATIVE_SYNTAXES: Final = (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
)

_PIXEL_DATA: Final = 0x7FE00010
# Width of one value of each VR whose bytes pydicom copies unchanged.
_SWAP_WIDTH: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_AMBIGUOUS_PIXEL_VRS: Final = frozenset({"OB or OW", "US or SS or OW", "OB", "OW"})


class TranscodeError(LocalError):
    """A data set cannot be converted from one transfer syntax to another."""

    def __init__(self, source_syntax: str, target_syntax: str, why: str = "") -> None:
        self.source_syntax = source_syntax
        self.target_syntax = target_syntax
        text = (
            f"cannot transcode {syntax_name(source_syntax)} ({source_syntax})"
            f" to {syntax_name(target_syntax)} ({target_syntax})"
        )
        super().__init__(f"{text}: {why}" if why else text)


def syntax_name(transfer_syntax_uid: str) -> str:
    """The name pydicom knows ``transfer_syntax_uid`` by (the UID itself when unknown)."""
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    name = UID(transfer_syntax_uid).name
    return name or transfer_syntax_uid


def is_native(transfer_syntax_uid: str) -> bool:
    """Whether Pixel Data is native (not encapsulated) in this syntax."""
    return transfer_syntax_uid in NATIVE_SYNTAXES


def _known(transfer_syntax_uid: str) -> bool:
    try:
        transfer_syntax_encoding(transfer_syntax_uid)
    except DatasetError:
        return False
    return True


def _decoder_available(transfer_syntax_uid: str) -> bool:
    from pydicom.pixels.decoders.base import get_decoder  # noqa: PLC0415 (loaded on first use)
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    try:
        return bool(get_decoder(UID(transfer_syntax_uid)).is_available)
    except NotImplementedError:
        return False


def _encoder_available(transfer_syntax_uid: str) -> bool:
    from pydicom.pixels.encoders.base import get_encoder  # noqa: PLC0415 (loaded on first use)
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    try:
        return bool(get_encoder(UID(transfer_syntax_uid)).is_available)
    except NotImplementedError:
        return False


def _refusal(source_syntax: str, target_syntax: str, *, has_pixels: bool = True) -> str | None:
    """Why the conversion is impossible, or ``None`` when it can be done."""
    for syntax in (source_syntax, target_syntax):
        if not _known(syntax):
            return f"{syntax} is not a transfer syntax this program knows"
    if source_syntax == target_syntax or not has_pixels:
        return None
    if not is_native(source_syntax) and not _decoder_available(source_syntax):
        return "no pixel data decoder for the source syntax is installed"
    if not is_native(target_syntax) and not _encoder_available(target_syntax):
        return "no pixel data encoder for the target syntax is installed"
    return None


def can_transcode(source_syntax: str, target_syntax: str, *, has_pixels: bool = True) -> bool:
    """Whether a data set can be converted between the two syntaxes here and now.

    ``has_pixels=False`` (no Pixel Data) makes every pair of known syntaxes possible.
    """
    return _refusal(source_syntax, target_syntax, has_pixels=has_pixels) is None


# ---------------------------------------------------------------- byte order


def _swapped(value: bytes, width: int) -> bytes:
    """``value`` with every ``width``-byte word reversed (a trailing odd part is kept)."""
    whole = len(value) - len(value) % width
    out = bytearray(value)
    for i in range(width):
        out[i:whole:width] = value[width - 1 - i : whole : width]
    return bytes(out)


def _pixel_vr(ds: Dataset, elem: DataElement) -> str:
    """OB or OW for Pixel Data whose VR is ambiguous (PS3.5 §8.1.2)."""
    if elem.VR in ("OB or OW", "US or SS or OW"):
        bits = ds.get("BitsAllocated", 16)
        return "OW" if (bits or 16) > 8 else "OB"
    return str(elem.VR)


def _swap_byte_order(ds: Dataset) -> None:
    """Byte-swap the values of OW/OF/OL/OD/OV elements of ``ds`` and its sequences."""
    from pydicom.valuerep import VR  # noqa: PLC0415 (loaded on first use)

    for tag in list(ds.keys()):
        elem = ds[tag]  # converts a raw element with its own byte order
        vr = _pixel_vr(ds, elem) if elem.VR in _AMBIGUOUS_PIXEL_VRS else str(elem.VR)
        if elem.VR == VR.SQ:
            for item in elem.value:
                _swap_byte_order(item)
            continue
        width = _SWAP_WIDTH.get(vr)
        if width is None or not isinstance(elem.value, bytes | bytearray):
            continue
        if vr != elem.VR:
            elem.VR = VR(vr)
        elem.value = _swapped(bytes(elem.value), width)


# ---------------------------------------------------------------- conversions


def _copy(ds: Dataset) -> Dataset:
    """A copy that can be changed without touching ``ds``.

    Raw (not yet decoded) elements are immutable and shared; decoded ones are
    deep-copied, since converting changes element values in place.
    """
    from pydicom.dataelem import RawDataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    copy = Dataset()
    for tag in ds.keys():  # noqa: SIM118
        elem = ds.get_item(tag)
        copy[tag] = elem if isinstance(elem, RawDataElement) else deepcopy(elem)
    implicit, little = ds.original_encoding
    copy.set_original_encoding(implicit, little, ds.original_character_set)
    return copy


def _little_endian(syntax: str) -> bool:
    return transfer_syntax_encoding(syntax)[1]


def transcode_dataset(ds: Dataset, source_syntax: str, target_syntax: str) -> Dataset:
    """A data set ready to be encoded in ``target_syntax``, from ``ds`` read in ``source_syntax``.

    ``ds`` itself is not modified. Raises :class:`TranscodeError`.
    """
    from pydicom.dataset import FileMetaDataset  # noqa: PLC0415 (loaded on first use)
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    has_pixels = _PIXEL_DATA in ds
    why = _refusal(source_syntax, target_syntax, has_pixels=has_pixels)
    if why is not None:
        raise TranscodeError(source_syntax, target_syntax, why)
    out = _copy(ds)
    if source_syntax == target_syntax:
        return out
    source_native = is_native(source_syntax) or not has_pixels
    target_native = is_native(target_syntax) or not has_pixels
    # Byte order of the native form we hold: the source's, or little endian once decoded.
    little = _little_endian(source_syntax)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not source_native:
                out.file_meta = FileMetaDataset()
                out.file_meta.TransferSyntaxUID = UID(source_syntax)
                out.decompress(generate_instance_uid=False)
                little = True
            if target_native:
                if little != _little_endian(target_syntax):
                    _swap_byte_order(out)
            else:
                if not little:
                    _swap_byte_order(out)
                out.file_meta = FileMetaDataset()
                out.file_meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
                out.compress(UID(target_syntax), generate_instance_uid=False)
    except TranscodeError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        NotImplementedError,
        RuntimeError,
        ImportError,
    ) as exc:
        raise TranscodeError(source_syntax, target_syntax, str(exc)) from exc
    return out


def transcode(source: InstanceSource, target_syntax: str) -> bytes:
    """The data set of ``source`` encoded in ``target_syntax`` (decoded and re-encoded).

    Raises :class:`TranscodeError` (impossible conversion or encoding failure)
    or :class:`~dicomnet.storage.source.SourceError` (unreadable data set).
    """
    source_syntax = source.transfer_syntax_uid
    if source_syntax == target_syntax:
        return source.read()
    why = _refusal(source_syntax, target_syntax, has_pixels=False)
    if why is not None:
        raise TranscodeError(source_syntax, target_syntax, why)
    ds = source.dataset()
    converted = transcode_dataset(ds, source_syntax, target_syntax)
    try:
        return encode_dataset(converted, target_syntax)
    except DatasetError as exc:
        raise TranscodeError(source_syntax, target_syntax, str(exc)) from exc
