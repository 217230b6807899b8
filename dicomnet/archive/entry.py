"""What the index keeps of one instance: :class:`IndexEntry`, built from its header.

These functions parse with pydicom and silence its warnings about odd values
while they do: call them from the event loop's thread (not the index's
thread pool), where nothing else changes the warning filters meanwhile.

:func:`entry_from_header` takes the header (the data set before Pixel Data,
as pydicom reads it) and where the instance is; :func:`entry_from_file`
reads the header of a Part 10 file. The column values are normalized for
SQL (dates without dots, times without colons, folded person names); the
header itself is kept for everything that has no column: a file's own bytes
up to Pixel Data, or (for a header given as a Dataset, or a deflated file) the
header encoded in Explicit VR Little Endian (:func:`level_header`).
"""

from __future__ import annotations

import io
import logging
import struct
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from dicomnet.dimse.dataset import encode_dataset, transfer_syntax_encoding
from dicomnet.dimse.errors import DatasetError
from dicomnet.query.matching import element_strings
from dicomnet.query.models import LEVEL_ATTRIBUTES
from dicomnet.storage.headscan import scan_header
from dicomnet.storage.naming import PendingLink

from .schema import COLUMNS

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

__all__ = [
    "HEADER_SYNTAX",
    "IndexEntry",
    "column_values",
    "decode_header",
    "entry_from_data_set",
    "entry_from_file",
    "entry_from_header",
    "header_charset",
    "level_header",
]

_log = logging.getLogger("dicomnet.archive")
_T = TypeVar("_T")

#: The encoding of the headers kept in the index.
HEADER_SYNTAX: Final = "1.2.840.10008.1.2.1"
_LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_BULK_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Binary values larger than this are not kept in the index.
_BULK_LIMIT: Final = 1024
_PIXEL_DATA: Final = 0x7FE00010
_DEFLATED: Final = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1"})
_PIXEL_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
#: A kept header that is a data set's raw start: mark, a flag byte (1 implicit, 2 little), bytes.
_RAW_MARK: Final = b"DNH"
#: The mark with each flag byte.
_RAW_MARKS: Final = tuple(_RAW_MARK + bytes([flag]) for flag in range(4))
_COLUMN_TAGS: Final = frozenset(COLUMNS)
#: Series Instance UID (0020,000E).
_SERIES_UID: Final = 0x0020000E
#: Every column with its value for an attribute that is absent.
_EMPTY_COLUMNS: Final = {
    name: ""
    for column in COLUMNS.values()
    for name in (column.name, *([f"{column.name}_fold"] if column.kind == "pn" else []))
}
#: Per indexed tag: its column, the normalization its kind needs (date, time or
#: None) and the name of its folded column (person names) or None.
_COLUMN_SPECS: Final = {
    tag: (
        column.name,
        column.kind if column.kind in ("date", "time") else None,
        f"{column.name}_fold" if column.kind == "pn" else None,
    )
    for tag, column in COLUMNS.items()
}
_SPECIFIC_CHARACTER_SET: Final = 0x00080005
#: ESC, which starts an ISO 2022 escape sequence (a value that needs its character set).
_ESC: Final = 0x1B
#: Explicit VRs with a 4-byte length (after two reserved bytes).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)


@dataclass(slots=True)
class IndexEntry:
    """One instance for the index (a value: change it with :func:`dataclasses.replace`).

    ``columns`` maps column names (see :mod:`.schema`) to normalized values
    (a dict, or :class:`~.walked.WalkColumns` decoding each on first use);
    ``headers`` maps each level to its header bytes (Explicit VR LE).
    Not frozen: one is made per stored instance, and a frozen dataclass sets
    each field through ``object.__setattr__``. Give the fields by name; the
    ingest's hot path gives them in order (a class called with keywords
    gathers them into a dict first: about 3.5k instructions more per entry).
    """

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    path: str
    size: int
    source_ae_title: str = ""
    received: float = field(default_factory=time.time)
    columns: Mapping[str, str] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict)
    #: Folders whose new entries (the file's name) are synced before the row commits.
    sync_folders: tuple[str, ...] = ()
    #: Send-queue destinations: their jobs are written in the transaction of the row.
    forward_to: tuple[str, ...] = ()
    #: The unnamed file, still to be linked at ``path`` by the backend before the row
    #: commits (see :mod:`dicomnet.storage.naming`; backends with ``links_files``).
    link: PendingLink | None = None


def _normal(kind: str, text: str) -> str:
    if kind == "date":
        return text.replace(".", "")
    if kind == "time":
        return text.replace(":", "")
    return text


def pn_fold(text: str) -> str:
    """A person name as the matcher compares it (case and trailing empty components ignored)."""
    return text.rstrip("^ =").casefold()


def _strings(header: Dataset, tag: int) -> list[str]:
    """An attribute's values as strings; plain ASCII raw values without pydicom's conversion."""
    raw = header.get_item(tag)
    if raw is None:
        return []
    value = raw.value
    if isinstance(value, bytes):
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            pass  # a character set to apply: pydicom's conversion below
        else:
            return [v for v in (part.strip(" \0") for part in text.split("\\")) if v]
    try:
        return element_strings(header[tag])
    except (ValueError, TypeError, KeyError):
        return []


def column_values(header: Dataset) -> dict[str, str]:
    """The column values of every indexed attribute of ``header`` (first value of each)."""
    values: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on odd values
        for tag, column in COLUMNS.items():
            strings = _strings(header, tag)
            text = _normal(column.kind, strings[0]) if strings else ""
            values[column.name] = text
            if column.kind == "pn":
                values[f"{column.name}_fold"] = pn_fold(text)
    return values


def _without_lower_levels(header: Dataset, level: str) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    below: set[int] = set()
    for lower in _LEVELS[_LEVELS.index(level) + 1 :]:
        below |= LEVEL_ATTRIBUTES[lower]
    out = Dataset()
    for element in header:
        tag = element.tag
        if tag in below or tag == _PIXEL_DATA or tag.group == 0x0002:
            continue
        bulky = element.VR in _BULK_VRS and element.value is not None
        if bulky and len(element.value) > _BULK_LIMIT:
            continue
        out.add(element)
    return out


def _encode(ds: Dataset) -> bytes:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    try:
        return encode_dataset(ds, HEADER_SYNTAX)
    except Exception:  # pydicom refuses some element: keep every other one
        kept = Dataset()
        for element in ds:
            single = Dataset()
            single.add(element)
            try:
                encode_dataset(single, HEADER_SYNTAX)
            except Exception as exc:
                _log.debug("header element %s not indexed: %s", element.tag, exc)
                continue
            kept.add(element)
        return encode_dataset(kept, HEADER_SYNTAX)


def level_header(header: Dataset, level: str) -> bytes:
    """The header bytes kept at ``level``: its own and upper attributes, others unlisted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _encode(_without_lower_levels(header, level))


def _at_pixel_data(tag: BaseTag, vr: str | None, length: int) -> bool:
    return int(tag) in _PIXEL_TAGS


#: :func:`_raw_encoding` of the uncompressed native syntaxes (nearly every instance).
_NATIVE_ENCODINGS: Final = {
    "1.2.840.10008.1.2": (True, True),
    "1.2.840.10008.1.2.1": (False, True),
    "1.2.840.10008.1.2.2": (False, False),
}


#: The kept header's mark (see _RAW_MARKS) of each of the :data:`_NATIVE_ENCODINGS`.
_NATIVE_MARKS: Final = {
    syntax: _RAW_MARKS[(1 if implicit else 0) | (2 if little else 0)]
    for syntax, (implicit, little) in _NATIVE_ENCODINGS.items()
}


def _raw_encoding(transfer_syntax_uid: str) -> tuple[bool, bool] | None:
    """(implicit VR, little endian) of a syntax whose header is kept as received;
    ``None`` for a deflated or unknown one."""
    native = _NATIVE_ENCODINGS.get(transfer_syntax_uid)
    if native is not None:
        return native
    try:
        implicit, little, deflated = transfer_syntax_encoding(transfer_syntax_uid)
    except DatasetError:
        return None
    return None if deflated else (implicit, little)


def entry_from_data_set(
    prefix: bytes,
    *,
    complete: bool,
    sop_instance_uid: str,
    sop_class_uid: str,
    transfer_syntax_uid: str,
    path: str,
    size: int,
    source_ae_title: str = "",
) -> IndexEntry | None:
    """The entry of an instance from the start of its data set as received.

    ``prefix`` is the data set's first bytes in ``transfer_syntax_uid``
    (``complete``: all of it). ``None`` when the header runs past ``prefix``,
    the syntax is deflated or unknown, or the bytes do not parse: read the
    file instead (:func:`entry_from_file`).
    """
    encoding = _raw_encoding(transfer_syntax_uid)
    if encoding is None:
        return None
    implicit, little = encoding
    flag = (1 if implicit else 0) | (2 if little else 0)
    fast = _fast_entry(prefix, implicit=implicit, little=little, complete=complete)
    if fast is not None:
        columns, end = fast
        columns["sop_uid"] = sop_instance_uid
        header = _RAW_MARKS[flag] + prefix[:end]
        return IndexEntry(
            sop_instance_uid=sop_instance_uid,
            sop_class_uid=sop_class_uid,
            transfer_syntax_uid=transfer_syntax_uid,
            path=path,
            size=size,
            source_ae_title=source_ae_title,
            columns=columns,
            headers=dict.fromkeys(_LEVELS, header),
        )
    from pydicom.filereader import read_dataset  # noqa: PLC0415 (loaded on first use)

    fp = io.BytesIO(prefix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_dataset(fp, implicit, little, stop_when=_at_pixel_data)
    except Exception:  # whatever pydicom raises on bytes it cannot read: read the file
        return None
    end = fp.tell()
    if end >= len(prefix) and not complete:
        return None
    return entry_from_header(
        ds,
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sop_class_uid,
        transfer_syntax_uid=transfer_syntax_uid,
        path=path,
        size=size,
        source_ae_title=source_ae_title,
        header_bytes=_RAW_MARKS[flag] + prefix[:end],
    )


def _fast_entry(
    prefix: bytes, *, implicit: bool, little: bool, complete: bool
) -> tuple[dict[str, str], int] | None:
    """Column values and header end read without pydicom, when every value is plain ASCII.

    ``None`` (use pydicom) for big endian, a header :func:`scan_header` does
    not read, or a value that needs a character set (bytes over 0x7F, or
    ISO 2022 escapes).
    """
    if not little:
        return None
    scan = scan_header(prefix, implicit=implicit, wanted=_COLUMN_TAGS, complete=complete)
    if scan is None:
        return None
    values = _ascii_columns(scan.values)
    if values is None:
        return None
    return values, scan.end


def _ascii_columns(raw_values: Mapping[int, bytes]) -> dict[str, str] | None:
    """The column values from the raw values of the indexed elements present.

    ``None`` when a value needs a character set (bytes over 0x7F, or ISO
    2022 escapes): pydicom decodes it then. Other tags are ignored.
    """
    values = dict(_EMPTY_COLUMNS)
    specs = _COLUMN_SPECS
    for tag, raw in raw_values.items():
        spec = specs.get(tag)
        if spec is None:
            continue
        # (Tested on the str: ``bytes in bytes`` first tries the operand as an int, a
        # TypeError raised and cleared each time.)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return None
        if "\x1b" in text:
            return None
        name, kind, fold = spec
        text = _ascii_value(text, kind)
        values[name] = text
        if fold is not None:
            values[fold] = pn_fold(text)
    return values


def _ascii_value(text: str, kind: str | None) -> str:
    """A column value from an attribute's raw ASCII value: its first value, normalized."""
    if "\\" in text:  # several values: the first one not empty
        text = next((v for v in (p.strip(" \0") for p in text.split("\\")) if v), "")
    else:
        text = text.strip(" \0")
    if text and kind is not None:
        text = _normal(kind, text)
    return text


def decode_header(data: bytes) -> Dataset:
    """A kept header (elements converted when first used).

    Either the start of a Part 10 file up to its Pixel Data, as
    :func:`entry_from_file` keeps it, or a data set encoded by
    :func:`level_header`.
    """
    from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
    from pydicom.filereader import read_dataset  # noqa: PLC0415 (loaded on first use)

    if data[:3] == _RAW_MARK:
        flag = data[3]
        return read_dataset(io.BytesIO(data[4:]), bool(flag & 1), bool(flag & 2))
    if data[128:132] == b"DICM":
        return dcmread(io.BytesIO(data), stop_before_pixels=True)
    return read_dataset(io.BytesIO(data), False, True)


def _element_head(data: bytes, pos: int, implicit: bool, end: str) -> tuple[int, int, int]:
    """Tag, value length and header length of the element at ``pos``."""
    group, element = struct.unpack_from(end + "HH", data, pos)
    if implicit:
        return group << 16 | element, struct.unpack_from(end + "I", data, pos + 4)[0], 8
    if data[pos + 4 : pos + 6] in _LONG_VRS:
        return group << 16 | element, struct.unpack_from(end + "I", data, pos + 8)[0], 12
    return group << 16 | element, struct.unpack_from(end + "H", data, pos + 6)[0], 8


def header_charset(data: bytes) -> str | list[str] | None:
    """The Specific Character Set of a kept header, read without decoding the header.

    Walks the element headers up to (0008,0005): its value (a list when it
    has several), ``None`` when it is absent. Raises ``ValueError`` when the
    bytes cannot be walked that way (deflated, undefined lengths, truncated):
    decode the header instead (:func:`decode_header`).
    """
    implicit, little, pos = False, True, 0
    try:
        if data[:3] == _RAW_MARK:
            implicit, little, pos = bool(data[3] & 1), bool(data[3] & 2), 4
        elif data[128:132] == b"DICM":
            pos, syntax = 132, "1.2.840.10008.1.2"
            while pos + 8 <= len(data) and data[pos : pos + 2] == b"\x02\x00":
                tag, length, head = _element_head(data, pos, False, "<")
                if tag == 0x00020010:
                    syntax = data[pos + head : pos + head + length].decode("ascii").strip(" \0")
                pos += head + length
            implicit, little, deflated = transfer_syntax_encoding(syntax)
            if deflated:
                raise ValueError("deflated header")
        end = "<" if little else ">"
        while pos + 8 <= len(data):
            tag, length, head = _element_head(data, pos, implicit, end)
            if tag > _SPECIFIC_CHARACTER_SET:
                return None
            if length == 0xFFFFFFFF:
                raise ValueError("element of undefined length before (0008,0005)")
            if tag == _SPECIFIC_CHARACTER_SET:
                text = data[pos + head : pos + head + length].decode("ascii")
                values = [value.strip(" \0") for value in text.split("\\")]
                return values[0] if len(values) == 1 else values
            pos += head + length
    except (struct.error, UnicodeDecodeError, DatasetError) as exc:
        raise ValueError(f"header not walkable: {exc}") from exc
    return None


def entry_from_header(
    header: Dataset,
    *,
    sop_instance_uid: str,
    sop_class_uid: str,
    transfer_syntax_uid: str,
    path: str,
    size: int,
    source_ae_title: str = "",
    received: float | None = None,
    header_bytes: bytes | None = None,
) -> IndexEntry:
    """The entry of an instance whose header is ``header``.

    ``header_bytes`` (a Part 10 file's start up to Pixel Data) is kept as the
    header instead of encoding ``header`` anew.
    """
    columns = column_values(header)
    # The identity of the instance is what it was stored as, not what its header says.
    columns["sop_uid"] = sop_instance_uid
    return IndexEntry(
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sop_class_uid,
        transfer_syntax_uid=transfer_syntax_uid,
        path=path,
        size=size,
        source_ae_title=source_ae_title,
        received=time.time() if received is None else received,
        columns=columns,
        # One encoding serves every level: an attribute listed at a lower level can
        # never be asked at an upper one (parse_query refuses it), so leaving it in
        # changes no answer and saves three encodings per instance.
        headers=dict.fromkeys(
            _LEVELS, header_bytes if header_bytes is not None else level_header(header, "IMAGE")
        ),
    )


def entry_from_file(
    path: str | Path,
    *,
    source_ae_title: str = "",
    received: float | None = None,
    size: int | None = None,
) -> IndexEntry:
    """The entry of a Part 10 file; raises ``OSError`` or ``ValueError``."""
    from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)

    file = Path(path)
    try:
        with warnings.catch_warnings(), file.open("rb") as fp:
            warnings.simplefilter("ignore")
            ds = dcmread(fp, stop_before_pixels=True)
            # The file's own bytes up to Pixel Data are the header kept (no re-encoding).
            end = fp.tell()
            fp.seek(0)
            head = fp.read(end)
    except InvalidDicomError as exc:
        raise ValueError(f"{file}: not a DICOM file: {exc}") from exc
    meta = ds.file_meta
    sop_class = str(meta.get("MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", ""))
    sop_instance = str(meta.get("MediaStorageSOPInstanceUID", "") or ds.get("SOPInstanceUID", ""))
    syntax = str(meta.get("TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    if not sop_class or not sop_instance:
        raise ValueError(f"{file}: no SOP Class/Instance UID")
    keep = head if syntax not in _DEFLATED and head[128:132] == b"DICM" else None
    return entry_from_header(
        Dataset(ds),
        sop_instance_uid=sop_instance,
        sop_class_uid=sop_class,
        transfer_syntax_uid=syntax,
        path=str(file),
        size=file.stat().st_size if size is None else size,
        source_ae_title=source_ae_title,
        received=received,
        header_bytes=keep,
    )
