"""Index entries from the Storage SCP's walk of a data set (no header scan, no pydicom).

The walk captures the raw values of the elements :data:`WALK_TAGS` names (or, for a
later instance of a series the association sent walked whole, :data:`SERIES_WALK_TAGS`
with the association's memo); :func:`walked_entry` makes the :class:`~.entry.IndexEntry`
from them and the data set's first bytes, its columns a :class:`WalkColumns` that
decodes each value on first use.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Final, TypeVar, overload

from dicomnet.storage.headscan import scan_header
from dicomnet.storage.sinks import InstanceInfo, SeriesMemo, WalkedHeader

from .entry import (
    _COLUMN_SPECS,
    _COLUMN_TAGS,
    _EMPTY_COLUMNS,
    _ESC,
    _NATIVE_MARKS,
    _RAW_MARKS,
    _SERIES_UID,
    IndexEntry,
    _ascii_columns,
    _ascii_value,
    _raw_encoding,
    pn_fold,
)
from .schema import COLUMNS

__all__ = [
    "MEMO_SERIES",
    "SERIES_WALK_TAGS",
    "WALK_TAGS",
    "WalkColumns",
    "entry_from_walk",
    "walked_entry",
]

_T = TypeVar("_T")


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


#: An instance of a class made without its ``__init__`` (walked_entry's entries and the
#: columns of a memo series' instance, whose every slot it sets: tests check that none is
#: left unset).
_bare: Final = object.__new__

#: Methods of imported tables, bound once: a method called on an imported name is looked
#: up as a module's attribute would be (a bound method made at each call), not as a method.
_mark_of: Final = _NATIVE_MARKS.get
_columns_apart: Final = _COLUMN_TAGS.isdisjoint

#: (tag, normalization) of each instance column after the SOP Instance UID, in the
#: order of the instance table's columns (see :attr:`WalkColumns.image`).
_IMAGE_COLUMN_SPECS: Final = [
    (tag, kind) for tag, (_, kind, _) in _COLUMN_SPECS.items() if COLUMNS[tag].level == "IMAGE"
]
#: The tags of the instance columns after the SOP Instance UID (see entry_from_walk).
_IMAGE_TAGS: Final = tuple(tag for tag, _ in _IMAGE_COLUMN_SPECS[1:])
#: SOP Instance UID, SOP Class UID, Instance Number, Content Date (the instance columns).
_SOP_INSTANCE, _SOP_CLASS, _INSTANCE_NUMBER, _CONTENT_DATE = (tag for tag, _ in _IMAGE_COLUMN_SPECS)
assert [(COLUMNS[tag].name, kind) for tag, kind in _IMAGE_COLUMN_SPECS] == [
    ("sop_uid", None),
    ("sop_class", None),
    ("instance_number", None),
    ("content_date", "date"),
], "entry_from_walk decodes the instance columns in this order"


class _SeriesValues(dict[int, bytes]):
    """What an association's memo keeps of a series (see walked_entry): the raw patient,
    study and series values of its first instance walked whole (checked as plain ASCII),
    and what its later instances share, decoded once: the Series Instance UID column
    and the SOP Class UID and Content Date columns of the last raw values seen."""

    __slots__ = ("date", "date_text", "decoded", "series_uid", "sop_class", "sop_class_text")

    def __init__(self, values: Mapping[int, bytes], series_uid: str) -> None:
        super().__init__(values)
        #: The Series Instance UID column (the memo's key, decoded).
        self.series_uid = series_uid
        #: The series' columns decoded so far, shared by the WalkColumns of its later
        #: instances: the Series Instance UID and those decoded from these raw values.
        self.decoded = {"series_uid": series_uid}
        #: The last raw SOP Class UID and Content Date seen, and their columns (``None``:
        #: a value that needs its character set, or none seen yet).
        self.sop_class: bytes | None = None
        self.sop_class_text: str | None = None
        self.date: bytes | None = None
        self.date_text: str | None = None

    def learn(self, sop_class: bytes | None, date: bytes | None) -> None:
        """Decode the raw SOP Class UID and Content Date of an instance (each when it
        differs from the last one seen)."""
        if sop_class is not None and sop_class != self.sop_class:
            self.sop_class = sop_class
            self.sop_class_text = _plain(sop_class, None)
        if date is not None and date != self.date:
            self.date = date
            self.date_text = _plain(date, "date")


def _plain(value: bytes, kind: str | None) -> str | None:
    """The column of one raw value (its first value, normalized); ``None`` when it is not
    plain ASCII (bytes over 0x7F or an ISO 2022 escape: its character set applies)."""
    if not value.isascii() or _ESC in value:
        return None
    return _ascii_value(value.decode("ascii"), kind)


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
        #: Values decoded so far, and values given. With ``upper``, possibly the series'
        #: dict, shared by its instances (see _SeriesValues.decoded): only values of
        #: ``upper`` are kept there. The SOP Instance UID is ``image[0]``.
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
                if name == "sop_uid":
                    values.append(self.image[0])
                    continue
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
        if name == "sop_uid":
            return self.image[0]  # type: ignore[return-value] # (the str given)
        tag, kind, folded = _BY_NAME[name]
        upper = self._upper
        own = upper is None or tag not in _UPPER_TAGS
        raw = self._raw.get(tag) if own else upper.get(tag)  # type: ignore[union-attr]
        value = "" if raw is None else _ascii_value(raw.decode("ascii"), kind)
        if folded:
            value = pn_fold(value)
        if upper is None or not own:  # (an instance's own value: not in a series' dict)
            self._decoded[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(_EMPTY_COLUMNS)

    def __len__(self) -> int:
        return len(_EMPTY_COLUMNS)


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


def walked_entry(  # noqa: PLR0917 (the ingest calls it by position: see below)
    prefix: bytes | bytearray,
    walk: WalkedHeader,
    info: InstanceInfo,
    path: str,
    size: int,
    memo: SeriesMemo | None = None,
    partial: bool = False,
) -> IndexEntry | None:
    """:func:`entry_from_walk` of the instance ``info`` (its UIDs, syntax and sender).

    The ingest's way (a call by position, ``memo`` and ``partial`` too: a call with
    keywords is not specialized by the interpreter; the instance's values read here).

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
    mark = _mark_of(transfer_syntax_uid)
    if mark is None:
        encoding = _raw_encoding(transfer_syntax_uid)
        if encoding is None:
            return None
        mark = _RAW_MARKS[(1 if encoding[0] else 0) | (2 if encoding[1] else 0)]
    if uncaptured and not _columns_apart(uncaptured):
        return None
    end = walked if pixel_offset is None else pixel_offset
    if walked > len(prefix) and end + 8 > len(prefix):
        return None  # the header may run past the bytes kept (read as entry_from_data_set does)
    series = raw.get(_SERIES_UID)
    upper: Mapping[int, bytes] | None = None
    columns: Mapping[str, str] | None = None
    if partial:
        assert memo is not None
        upper = None if series is None else memo.get(series)
        if type(upper) is _SeriesValues:
            # The usual instance: a later one of a series the memo holds. Its own columns
            # are decoded here (the SOP Class UID and Content Date once per series, as a
            # rule), each checked as plain ASCII on its own; the memo's were checked when
            # kept. (Written out here: a call more costs about what it saves.)
            own = raw.get(_SOP_INSTANCE)
            sop_class = raw.get(_SOP_CLASS)
            number = raw.get(_INSTANCE_NUMBER)
            date = raw.get(_CONTENT_DATE)
            if (sop_class is not None and sop_class != upper.sop_class) or (
                date is not None and date != upper.date
            ):
                upper.learn(sop_class, date)
            class_text = sop_class_uid if sop_class is None else upper.sop_class_text
            date_text = "" if date is None else upper.date_text
            if (
                class_text is not None
                and date_text is not None
                and (own is None or (own.isascii() and _ESC not in own))
                and (number is None or (number.isascii() and _ESC not in number))
            ):
                number_text = ""
                if number is not None:
                    text = number.decode("ascii")
                    number_text = (
                        text.strip(" \0") if "\\" not in text else _ascii_value(text, None)
                    )
                # (WalkColumns(raw, upper.decoded, image, upper.series_uid, upper), its
                # slots stored here: the class's call costs about 0.7k instructions more.)
                walked_columns: WalkColumns = _bare(WalkColumns)
                walked_columns._raw = raw
                walked_columns._upper = upper
                # (The series': its own values are not kept there.)
                walked_columns._decoded = upper.decoded
                # (An empty SOP Class UID in the header: the one given.)
                walked_columns.image = [
                    sop_instance_uid,
                    class_text or sop_class_uid,
                    number_text,
                    date_text,
                ]
                walked_columns.series_uid = upper.series_uid
                columns = walked_columns
        elif upper is None:
            if series is None or series in memo:
                return None  # its values need the header read (entry_from_data_set)
            # A series new to the association after others: its values read from the bytes.
            whole = _scanned(prefix, mark, walked)
            if whole is None:
                return None
            raw = {**whole, **raw}
            partial = False
    if columns is None:  # (not the usual instance of a memo series)
        joined = b"".join(raw.values())
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
                _remember(memo, series, raw, mark, series_uid)
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
                    _remember(memo, series, raw, mark, checked["series_uid"])
            if checked is None:
                return None
            checked["sop_uid"] = sop_instance_uid
            columns = checked
    header = mark + prefix[:end]
    # The entry's slots stored here, every field of it, without the class's call: the
    # dataclass's generated __init__, its default checks and the call cost about 1.4k
    # instructions more than the stores.
    entry: IndexEntry = _bare(IndexEntry)
    entry.sop_instance_uid = sop_instance_uid
    entry.sop_class_uid = sop_class_uid
    entry.transfer_syntax_uid = transfer_syntax_uid
    entry.path = path
    entry.size = size
    entry.source_ae_title = info.source_ae_title
    entry.received = time.time()
    entry.columns = columns
    # (dict.fromkeys(_LEVELS, header), built as one literal: no call)
    entry.headers = {"PATIENT": header, "STUDY": header, "SERIES": header, "IMAGE": header}
    entry.sync_folders = ()
    entry.forward_to = ()
    entry.link = None
    return entry


def _remember(
    memo: SeriesMemo, series: bytes, raw: Mapping[int, bytes], mark: bytes, series_uid: str
) -> None:
    """Keep the patient, study and series values of ``series`` (its first instance's;
    ``series_uid``: its column).

    Not for a big endian header (``mark``): the memo of its syntax stays empty, so the
    Storage SCP walks every such instance whole, as a series new to the association
    after others could not be read from the bytes without pydicom (see _scanned).
    """
    if not mark[3] & 2:
        return
    if len(memo) >= MEMO_SERIES:
        del memo[next(iter(memo))]
    memo[series] = _SeriesValues(
        {tag: value for tag, value in raw.items() if tag in _UPPER_TAGS}, series_uid
    )


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
