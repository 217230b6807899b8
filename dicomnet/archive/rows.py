"""Index rows into answers, shared by the index backends (SQLite, PostgreSQL).

An entity row of a C-FIND plan (:mod:`.plan`) holds its key, its kept header,
the computed attributes the plan asked for, then the indexed columns;
:func:`row_lookup` turns it into the element lookup the query engine's
:func:`~dicomnet.query.query.respond` reads, decoding the header only when a
key is not in a column.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Query, computed_attributes, respond

from .entry import IndexEntry, decode_header, header_charset
from .plan import Plan
from .schema import COLUMNS
from .walked import WalkColumns

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = [
    "BATCH",
    "FIRST_BATCH",
    "LEVEL_COLUMNS",
    "column_positions",
    "delete_target",
    "instance_columns",
    "row_identifier",
    "row_lookup",
    "row_record",
]

#: Rows fetched for the first batch of a C-FIND (small: the first response goes out soon).
FIRST_BATCH: Final = 16
#: Rows fetched per later batch.
BATCH: Final = 256
SPECIFIC_CHARACTER_SET: Final = 0x00080005
#: The VR of each indexed attribute (what a response element built from its column has).
_VR: Final = {tag: column.vr for tag, column in COLUMNS.items()}
#: The columns of each level's table (the folded forms of person names last).
LEVEL_COLUMNS: Final = {
    level: [c.name for c in COLUMNS.values() if c.level == level]
    + [f"{c.name}_fold" for c in COLUMNS.values() if c.level == level and c.kind == "pn"]
    for level in ("PATIENT", "STUDY", "SERIES", "IMAGE")
}


#: The columns of an instance row, in the order :func:`instance_values` gives them.
INSTANCE_COLUMNS: Final = [
    *LEVEL_COLUMNS["IMAGE"],
    "series_fk",
    "transfer_syntax",
    "size",
    "path",
    "source_ae",
    "received",
    "attrs",
]
_IMAGE_COLUMNS: Final = LEVEL_COLUMNS["IMAGE"]
_SOP_UID_AT: Final = _IMAGE_COLUMNS.index("sop_uid")
_SOP_CLASS_AT: Final = _IMAGE_COLUMNS.index("sop_class")


def _same(value: object) -> object:
    return value


def instance_values(
    entry: IndexEntry, series_key: int, text: Callable[[object], object] = _same
) -> list[object]:
    """The instance row of ``entry`` (:data:`INSTANCE_COLUMNS`) under series row ``series_key``.

    Its columns as :func:`instance_columns` gives them (without copying them);
    ``text`` adapts each text value to what the backend stores.
    """
    columns = entry.columns
    values: list[object] = (
        list(columns.image)  # (decoded with the entry)
        if isinstance(columns, WalkColumns)
        else [columns.get(name, "") for name in _IMAGE_COLUMNS]
    )
    values[_SOP_UID_AT] = entry.sop_instance_uid
    if not values[_SOP_CLASS_AT]:
        values[_SOP_CLASS_AT] = entry.sop_class_uid
    path: object = entry.path
    if text is not _same:
        values = [text(value) for value in values]
        path = text(path)
    values += [series_key, entry.transfer_syntax_uid, entry.size, path]
    values += [entry.source_ae_title, entry.received, entry.headers.get("IMAGE", b"")]
    return values


def level_values(
    level: str,
    columns: dict[str, str],
    header: bytes,
    parent: tuple[str, int] | None,
    text: Callable[[object], object] = _same,
) -> tuple[list[str], list[object]]:
    """Column names and values of the row of a patient, study or series made from one of
    its instances (``columns``: :func:`instance_columns`), under ``parent`` (column, key)."""
    names = list(LEVEL_COLUMNS[level])
    values: list[object] = [text(columns.get(name, "")) for name in names]
    if parent is not None:
        names.append(parent[0])
        values.append(parent[1])
    names.append("attrs")
    values.append(header)
    return names, values


def delete_target(
    study_uid: str | None, series_uid: str | None, sop_instance_uid: str | None
) -> tuple[str, str]:
    """(kind, UID) of a deletion: exactly one of the three must be given."""
    given = [
        (kind, uid)
        for kind, uid in (
            ("study", study_uid),
            ("series", series_uid),
            ("instance", sop_instance_uid),
        )
        if uid is not None
    ]
    if len(given) != 1:
        raise ValueError("give exactly one of study_uid, series_uid, sop_instance_uid")
    return given[0]


def instance_columns(entry: IndexEntry) -> dict[str, str]:
    """The entry's columns, with its SOP Instance UID and (when its header has none) class."""
    columns = dict(entry.columns)
    if not columns.get("sop_class"):
        columns["sop_class"] = entry.sop_class_uid
    columns["sop_uid"] = entry.sop_instance_uid
    return columns


def row_identifier(
    query: Query, lookup: Callable[[int], DataElement | None], retrieve_ae_title: str | None
) -> Dataset:
    match = respond(query, lookup, retrieve_ae_title=retrieve_ae_title)
    assert match is not None  # the row matched every key already
    return match.identifier


def row_record(uid: str, sop_class: str, syntax: str, path: str) -> InstanceRecord:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    return InstanceRecord(
        header=Dataset(),
        sop_class_uid=sop_class,
        sop_instance_uid=uid,
        transfer_syntax_uid=syntax,
        path=Path(path),
    )


def column_element(tag: int, value: object) -> DataElement | None:
    """The element of a key held in a column (``None``: empty, the same answer as absent)."""
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    if not value:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on odd column values
        return DataElement(tag, _VR[tag], value)


#: The computed attributes of every level (PS3.4 C.3.4), by tag.
_COMPUTED_TAGS: Final = frozenset(
    {0x00080061, 0x00080062, 0x00201200, 0x00201202, 0x00201204, 0x00201206, 0x00201208}
    | {0x00201209}
)


def column_positions(plan: Plan) -> dict[int, int]:
    """Tag -> position in the plan's rows of each column value (worked out once per query)."""
    offset = 2 + len(plan.computed)
    return {tag: offset + n for n, tag in enumerate(plan.columns)}


def row_lookup(
    level: str, plan: Plan, row: tuple[Any, ...], positions: dict[int, int] | None = None
) -> Callable[[int], DataElement | None]:
    """The element lookup of one entity row: columns, computed attributes, then its header.

    Keys held in columns (and Specific Character Set, read from the kept
    header's first bytes) need no decoding of the header; any other key
    decodes it once, on first use.
    """
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    computed: Dataset | None = None

    def computed_element(tag: int) -> DataElement | None:
        # Built on first use: a row the matcher or a paging client skips never needs it.
        nonlocal computed
        if computed is None:
            values = dict(zip(plan.computed, row[2:], strict=False))
            computed = computed_attributes(
                level,
                instances=int(values.get("instances") or 0),
                series=int(values.get("series") or 0),
                studies=int(values.get("studies") or 0),
                modalities=str(values.get("modalities") or "").split(","),
                sop_classes=str(values.get("sop_classes") or "").split(","),
            )
        element = computed.get(tag)
        return element if isinstance(element, DataElement) else None

    if positions is None:
        positions = column_positions(plan)
    columns: dict[int, DataElement | None] = {}
    header: Dataset | None = None

    def from_header(tag: int) -> DataElement | None:
        nonlocal header
        if header is None:
            header = decode_header(row[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on odd stored values
            found = header.get(tag)
        return found if isinstance(found, DataElement) else None

    def lookup(tag: int) -> DataElement | None:
        if tag in positions:
            if tag not in columns:
                try:
                    columns[tag] = column_element(tag, row[positions[tag]])
                except (ValueError, TypeError, OverflowError):
                    # pydicom refuses the column's value: the header has the last word
                    columns[tag] = from_header(tag)
            return columns[tag]
        if plan.computed and tag in _COMPUTED_TAGS:
            element = computed_element(tag)
            if element is not None:
                return element
        if tag == SPECIFIC_CHARACTER_SET and header is None:
            try:
                charset = header_charset(row[1])
            except ValueError:
                return from_header(tag)
            return None if charset is None else DataElement(tag, "CS", charset)
        return from_header(tag)

    return lookup
