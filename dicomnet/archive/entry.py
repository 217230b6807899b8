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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar, overload

from dicomnet.dimse.dataset import encode_dataset, transfer_syntax_encoding
from dicomnet.dimse.errors import DatasetError
from dicomnet.query.matching import element_strings
from dicomnet.query.models import LEVEL_ATTRIBUTES
from dicomnet.storage.headscan import scan_header
from dicomnet.storage.naming import PendingLink
from dicomnet.storage.sinks import InstanceInfo, SeriesMemo, WalkedHeader

from .schema import COLUMNS

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

__all__ = [
    "HEADER_SYNTAX",
    "SERIES_WALK_TAGS",
    "WALK_TAGS",
    "IndexEntry",
    "WalkColumns",
    "column_values",
    "decode_header",
    "entry_from_data_set",
    "entry_from_file",
    "entry_from_header",
    "entry_from_walk",
    "header_charset",
    "level_header",
    "walked_entry",
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
    (a dict, or :class:`WalkColumns` decoding each on first use);
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


#: The elements whose values :func:`entry_from_walk` needs from the walk of a data set.
WALK_TAGS: Final = tuple(COLUMNS)
#: What :func:`walked_entry` needs walked of an instance of a series its association sent
#: before (see its ``memo``): the Series Instance UID and the instance's own columns.
SERIES_WALK_TAGS: Final = (
    _SERIES_UID,
    *(tag for tag, column in COLUMNS.items() if column.level == "IMAGE"),
)
#: The columns such an instance takes from the series' first instance: patient, study and
#: series columns but the Series Instance UID.
_UPPER_TAGS: Final = frozenset(COLUMNS) - frozenset(SERIES_WALK_TAGS)
#: Series an association's memo holds at most (the oldest goes first).
MEMO_SERIES: Final = 16
#: Column name -> (its tag, the normalization its kind needs, whether it is a folded name).
_BY_NAME: Final = {
    **{name: (tag, kind, False) for tag, (name, kind, _) in _COLUMN_SPECS.items()},
    **{fold: (tag, None, True) for tag, (_, _, fold) in _COLUMN_SPECS.items() if fold},
}


#: (tag, normalization) of each instance column after the SOP Instance UID, in the
#: order of the instance table's columns (see :attr:`WalkColumns.image`).
_IMAGE_COLUMN_SPECS: Final = [
    (tag, kind) for tag, (_, kind, _) in _COLUMN_SPECS.items() if COLUMNS[tag].level == "IMAGE"
]
#: The tags of the instance columns after the SOP Instance UID (see entry_from_walk).
_IMAGE_TAGS: Final = tuple(tag for tag, _ in _IMAGE_COLUMN_SPECS[1:])
assert [(COLUMNS[tag].name, kind) for tag, kind in _IMAGE_COLUMN_SPECS] == [
    ("sop_uid", None),
    ("sop_class", None),
    ("instance_number", None),
    ("content_date", "date"),
], "entry_from_walk decodes the instance columns in this order"


class WalkColumns(Mapping[str, str]):
    """The column values of a walked header, each decoded from its raw value on first use.

    Made only when every raw value is plain ASCII (no character set to
    apply). An instance joining a series the index already has needs its own
    columns and its Series Instance UID only: the patient, study and series
    columns are decoded when the series is new (or when someone asks).
    """

    __slots__ = ("_decoded", "_raw", "_upper", "image", "series_uid")

    def __init__(
        self,
        raw: Mapping[int, bytes],
        decoded: dict[str, str],
        image: list[object],
        series_uid: str,
        upper: Mapping[int, bytes] | None = None,
    ) -> None:
        self._raw = raw
        #: The raw patient, study and series values of the series' first instance in the
        #: association, when they come from there (see walked_entry); else ``None``.
        self._upper = upper
        #: Values decoded so far, and values given (the SOP Instance UID).
        self._decoded = decoded
        #: The instance columns (``LEVEL_COLUMNS["IMAGE"]`` order: SOP Instance UID first, the
        #: SOP Class UID given when the header has none), decoded when the entry was made:
        #: the start of its instance row, copied by the writer without a call.
        self.image = image
        #: The Series Instance UID column (the series key of the row is looked up by it).
        self.series_uid = series_uid

    def row(self, names: Sequence[str]) -> list[object]:
        """The values of columns ``names`` (all column names), in that order.

        Values not decoded yet are decoded here and not kept (a row is made once).
        """
        decoded = self._decoded
        raw = self._raw
        upper = self._upper
        values: list[object] = []
        for name in names:
            value = decoded.get(name)
            if value is None:
                tag, kind, folded = _BY_NAME[name]
                found = raw.get(tag) if upper is None or tag not in _UPPER_TAGS else upper.get(tag)
                if found is None:
                    value = ""
                elif kind is None and not folded and 0x5C not in found:
                    value = found.decode("ascii").strip(" \0")  # one value, kept as it is
                else:
                    value = _ascii_value(found.decode("ascii"), kind)
                    if folded:
                        value = pn_fold(value)
            values.append(value)
        return values

    def __getitem__(self, name: str) -> str:
        value = self._decoded.get(name)
        return self._decode(name) if value is None else value

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The value of column ``name`` (``default`` for a name that is not a column)."""
        value = self._decoded.get(name)
        if value is not None:
            return value
        return self._decode(name) if name in _BY_NAME else default

    def _decode(self, name: str) -> str:
        tag, kind, folded = _BY_NAME[name]
        upper = self._upper
        raw = self._raw.get(tag) if upper is None or tag not in _UPPER_TAGS else upper.get(tag)
        value = "" if raw is None else _ascii_value(raw.decode("ascii"), kind)
        if folded:
            value = pn_fold(value)
        self._decoded[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(_EMPTY_COLUMNS)

    def __len__(self) -> int:
        return len(_EMPTY_COLUMNS)


def _ascii_value(text: str, kind: str | None) -> str:
    """A column value from an attribute's raw ASCII value: its first value, normalized."""
    if "\\" in text:  # several values: the first one not empty
        text = next((v for v in (p.strip(" \0") for p in text.split("\\")) if v), "")
    else:
        text = text.strip(" \0")
    if text and kind is not None:
        text = _normal(kind, text)
    return text


def entry_from_walk(
    prefix: bytes | bytearray,
    walk: WalkedHeader,
    *,
    sop_instance_uid: str,
    sop_class_uid: str,
    transfer_syntax_uid: str,
    path: str,
    size: int,
    source_ae_title: str = "",
) -> IndexEntry | None:
    """The entry of an instance from what the Storage SCP's walk captured of its header.

    ``walk`` holds the raw values of :data:`WALK_TAGS` and where the header
    ends; ``prefix`` is the data set's first bytes (the header kept is cut
    from them). Gives the same entry as :func:`entry_from_data_set` without
    reading the header again. ``None`` when the walk cannot tell (a value not
    captured or needing a character set, a deflated or unknown syntax, a
    header longer than ``prefix``): use :func:`entry_from_data_set` then.
    """
    info = InstanceInfo(
        sop_class_uid=sop_class_uid,
        sop_instance_uid=sop_instance_uid,
        transfer_syntax_uid=transfer_syntax_uid,
        source_ae_title=source_ae_title,
    )
    return walked_entry(prefix, walk, info, path, size)


def walked_entry(
    prefix: bytes | bytearray,
    walk: WalkedHeader,
    info: InstanceInfo,
    path: str,
    size: int,
    *,
    memo: SeriesMemo | None = None,
    partial: bool = False,
) -> IndexEntry | None:
    """:func:`entry_from_walk` of the instance ``info`` (its UIDs, syntax and sender).

    The ingest's way (a call by position, the instance's values read here).

    ``memo``: the association's memo of the series it sent (see
    :mod:`dicomnet.storage.sinks`). A walk of every column (not ``partial``)
    whose values are plain ASCII puts its series' patient, study and series
    values there, unless the series is there already. A ``partial`` walk
    (:data:`SERIES_WALK_TAGS` only) takes them from there, by reference (checked
    and kept raw, decoded only when the writer makes the series' rows); a series
    not there yet is read from ``prefix`` (and put there). For a sender whose
    instances of one series agree (as the standard asks) the entry is the same
    as from a whole walk. One whose instances of a series disagree on patient,
    study or series values gets those of the series' first instance walked whole
    in that association, where the writer makes the series anew (it was deleted
    meanwhile, or is not in its cache), as it already does for a series it knows;
    the header kept is each instance's own.
    """
    sop_instance_uid = info.sop_instance_uid
    sop_class_uid = info.sop_class_uid
    transfer_syntax_uid = info.transfer_syntax_uid
    raw, uncaptured, pixel_offset, walked = walk  # (one unpacking: no attribute loads)
    mark = _NATIVE_MARKS.get(transfer_syntax_uid)
    if mark is None:
        encoding = _raw_encoding(transfer_syntax_uid)
        if encoding is None:
            return None
        mark = _RAW_MARKS[(1 if encoding[0] else 0) | (2 if encoding[1] else 0)]
    if uncaptured and not _COLUMN_TAGS.isdisjoint(uncaptured):
        return None
    end = walked if pixel_offset is None else pixel_offset
    if walked > len(prefix) and end + 8 > len(prefix):
        return None  # the header may run past the bytes kept (read as entry_from_data_set does)
    series = raw.get(_SERIES_UID)
    upper: Mapping[int, bytes] | None = None
    if partial:
        assert memo is not None
        upper = None if series is None else memo.get(series)
        if upper is None:
            if series is None or series in memo:
                return None  # its values need the header read (entry_from_data_set)
            # A series new to the association after others: its values read from the bytes.
            whole = _scanned(prefix, mark, walked)
            if whole is None:
                return None
            raw = {**whole, **raw}
            partial = False
    joined = b"".join(raw.values())
    columns: Mapping[str, str]
    if joined.isascii() and _ESC not in joined:  # (an int: no bytes operand tried as one)
        decoded = {"sop_uid": sop_instance_uid}
        series_uid = ""
        if series is not None:
            # Every row needs it (the series key), most rows nothing else of the levels above.
            text = series.decode("ascii")
            series_uid = text.strip(" \0") if "\\" not in text else _ascii_value(text, None)
            decoded["series_uid"] = series_uid
        # The instance's own columns now (WalkColumns.image: no call per row later).
        sop_class, number, date = map(raw.get, _IMAGE_TAGS)
        image: list[object] = [sop_instance_uid, sop_class_uid, "", ""]
        if sop_class is not None:
            text = sop_class.decode("ascii")
            text = text.strip(" \0") if "\\" not in text else _ascii_value(text, None)
            if text:  # (else the SOP Class UID given)
                image[1] = text
        if number is not None:
            text = number.decode("ascii")
            image[2] = text.strip(" \0") if "\\" not in text else _ascii_value(text, None)
        if date is not None:
            text = date.decode("ascii")
            # (One value, normalized as _ascii_value does, without its call.)
            image[3] = (
                text.strip(" \0").replace(".", "")
                if "\\" not in text
                else _ascii_value(text, "date")
            )
        columns = WalkColumns(raw, decoded, image, series_uid, upper)
        if memo is not None and not partial and series is not None and series not in memo:
            _remember(memo, series, raw, mark)
    else:  # a value may need a character set (or an element not a column is binary)
        # (The first instance's values win over the instance's own, as in WalkColumns.)
        checked = _ascii_columns(raw if upper is None else {**raw, **upper})
        if memo is not None and not partial and series is not None and series not in memo:
            if checked is None:
                if mark[3] & 2:  # (little endian: see _remember)
                    if len(memo) >= MEMO_SERIES:
                        del memo[next(iter(memo))]
                    memo[series] = None  # its later instances read as this one
            else:
                _remember(memo, series, raw, mark)
        if checked is None:
            return None
        checked["sop_uid"] = sop_instance_uid
        columns = checked
    header = mark + prefix[:end]
    # In field order (see IndexEntry).
    return IndexEntry(
        sop_instance_uid,
        sop_class_uid,
        transfer_syntax_uid,
        path,
        size,
        info.source_ae_title,
        time.time(),
        columns,
        # (dict.fromkeys(_LEVELS, header), built as one literal: no call)
        {"PATIENT": header, "STUDY": header, "SERIES": header, "IMAGE": header},
    )


def _remember(memo: SeriesMemo, series: bytes, raw: Mapping[int, bytes], mark: bytes) -> None:
    """Keep the patient, study and series values of ``series`` (its first instance's).

    Not for a big endian header (``mark``): the memo of its syntax stays empty, so the
    Storage SCP walks every such instance whole, as a series new to the association
    after others could not be read from the bytes without pydicom (see _scanned).
    """
    if not mark[3] & 2:
        return
    if len(memo) >= MEMO_SERIES:
        del memo[next(iter(memo))]
    memo[series] = {tag: value for tag, value in raw.items() if tag in _UPPER_TAGS}


def _scanned(prefix: bytes | bytearray, mark: bytes, walked: int) -> dict[int, bytes] | None:
    """The raw values of every column in the header at the start of ``prefix`` (a data set
    of ``walked`` bytes whose kept header starts with ``mark``); ``None``: not read so."""
    flag = mark[3]
    if not flag & 2:
        return None  # big endian: read by pydicom (entry_from_data_set)
    scan = scan_header(
        prefix, implicit=bool(flag & 1), wanted=_COLUMN_TAGS, complete=walked <= len(prefix)
    )
    return None if scan is None else scan.values


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
