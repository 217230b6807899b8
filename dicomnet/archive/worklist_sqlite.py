"""Modality Worklist items kept in the archive's SQLite database.

Each item (a data set with a Scheduled Procedure Step Sequence, PS3.4 K.6.1)
is one row of ``worklist_item``, kept as DICOM JSON (PS3.18 F.2) with the
keys the LifeSys MWL table (1.45) matches on in columns: Patient ID and
Accession Number on the item, and per Scheduled Procedure Step a row of
``worklist_step`` with Modality, Scheduled Station AE Title and the Start
Date. A C-FIND turns the single values (and date ranges) of those keys into
SQL; every row it returns is then checked by the in-memory matcher
(:func:`dicomnet.query.worklist.match_worklist`), which decides, so the SQL
only has to never lose a match: a value the columns cannot hold exactly (a
multi-valued or odd date) is stored as NULL, and NULL always passes.

An item's *identity* is its Study Instance UID, Requested Procedure ID,
Accession Number and first Scheduled Procedure Step ID; adding an item with
the identity of one already kept replaces it (importing a folder twice keeps
one copy). Items without any of these are always added.

Writes are committed (synced like the index) before :meth:`add` returns, so
the next C-FIND sees them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from dicomnet.query.matching import MatchType, converted, element_strings, matching_type
from dicomnet.query.worklist import SCHEDULED_PROCEDURE_STEP_SEQUENCE, WorklistSource

from .migrations import WORKLIST_SQLITE
from .side import SideConnection
from .sqlite import SqliteIndex

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = ["SqliteWorklist", "WorklistEntry", "item_identity"]

SCHEMA: Final = WORKLIST_SQLITE

_PATIENT_ID: Final = 0x00100020
_ACCESSION: Final = 0x00080050
_MODALITY: Final = 0x00080060
_STATION: Final = 0x00400001
_START_DATE: Final = 0x00400002
_ITEM_COLUMNS: Final = {_PATIENT_ID: "w.patient_id", _ACCESSION: "w.accession"}
_STEP_COLUMNS: Final = {
    _MODALITY: "s.modality",
    _STATION: "s.station_ae",
    _START_DATE: "s.start_date",
}
_SELECT: Final = "SELECT w.pk, w.item FROM worklist_item w"


@dataclass(frozen=True, slots=True)
class WorklistEntry:
    """One kept item: its row key (what ``remove`` takes), when it was added, the item."""

    key: int
    added: float
    item: Dataset


def _single(element: object) -> str | None:
    """The element's value when it has exactly one (else ``None``: the SQL lets it pass)."""
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    values = element_strings(element if isinstance(element, DataElement) else None)
    return values[0] if len(values) == 1 else None


def _date(element: object) -> str | None:
    value = _single(element)
    if value is None:
        return None
    value = value.replace(".", "")
    return value if len(value) == 8 and value.isdigit() else None


def item_identity(item: Dataset) -> str | None:
    """The identity that makes a later add replace ``item`` (``None``: always added)."""
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    steps = item.get(SCHEDULED_PROCEDURE_STEP_SEQUENCE)
    first = (
        steps.value[0]
        if isinstance(steps, DataElement) and steps.VR == "SQ" and steps.value
        else Dataset()
    )
    parts = [
        _single(item.get(0x0020000D)),  # Study Instance UID
        _single(item.get(0x00401001)),  # Requested Procedure ID
        _single(item.get(_ACCESSION)),
        _single(first.get(0x00400009)),  # Scheduled Procedure Step ID
    ]
    if not any(parts):
        return None
    return json.dumps(parts)


def _checked(item: Dataset) -> tuple[str, list[Dataset]]:
    """The item as DICOM JSON and its steps; ``ValueError`` when it is no worklist item."""
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = item.get(SCHEDULED_PROCEDURE_STEP_SEQUENCE)
        if not isinstance(steps, DataElement) or steps.VR != "SQ" or not steps.value:
            raise ValueError("not a worklist item: no Scheduled Procedure Step Sequence item")
        try:
            text = item.to_json()
        except Exception as exc:  # pydicom raises many types for odd values
            raise ValueError(f"worklist item cannot be kept as DICOM JSON: {exc}") from exc
    return text, list(steps.value)


def _load(text: str) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on odd kept values
        return Dataset.from_json(text)


def _usable(key: DataElement, support: Mapping[int, frozenset[str]] | None) -> MatchType | None:
    """The key's matching type when SQL may narrow on it (as the matcher would match it)."""
    kind = matching_type(key.VR, key.value)
    if kind not in (MatchType.SINGLE, MatchType.RANGE):
        return None
    if support is not None:
        types = support.get(int(key.tag))
        if types is None or (types and kind.value not in types):
            return None
    return kind


def _condition(column: str, key: DataElement, kind: MatchType, params: list[object]) -> str | None:
    values = element_strings(key)
    if len(values) != 1 or "\\" in values[0]:
        return None  # alternatives: the matcher decides
    text = values[0]
    if column.endswith("start_date"):
        if kind is MatchType.SINGLE:
            text = text.replace(".", "")
            if not (len(text) == 8 and text.isdigit()):
                return None
            params.append(text)
            return f"({column} = ? OR {column} IS NULL)"
        low, _, high = (part.strip().replace(".", "") for part in text.partition("-"))
        if any(part and not (len(part) == 8 and part.isdigit()) for part in (low, high)):
            return None
        parts = []
        if low:
            parts.append(f"{column} >= ?")
            params.append(low)
        if high:
            parts.append(f"{column} <= ?")
            params.append(high)
        return f"(({' AND '.join(parts)}) OR {column} IS NULL)" if parts else None
    if kind is not MatchType.SINGLE:
        return None
    params.append(text)
    return f"({column} = ? OR {column} IS NULL)"


def plan_worklist(
    identifier: Dataset, support: Mapping[int, frozenset[str]] | None = None
) -> tuple[str, list[object]]:
    """SQL (and its parameters) for the rows that may match ``identifier``."""
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    keys = converted(identifier)
    where: list[str] = []
    params: list[object] = []
    for tag, column in _ITEM_COLUMNS.items():
        key = keys.get(tag)
        kind = _usable(key, support) if isinstance(key, DataElement) else None
        if kind is not None and isinstance(key, DataElement):
            condition = _condition(column, key, kind, params)
            if condition:
                where.append(condition)
    sequence = keys.get(SCHEDULED_PROCEDURE_STEP_SEQUENCE)
    if isinstance(sequence, DataElement) and sequence.VR == "SQ" and sequence.value:
        step_keys = sequence.value[0]
        step_where: list[str] = []
        for tag, column in _STEP_COLUMNS.items():
            key = step_keys.get(tag)
            kind = _usable(key, support) if isinstance(key, DataElement) else None
            if kind is not None and isinstance(key, DataElement):
                condition = _condition(column, key, kind, params)
                if condition:
                    step_where.append(condition)
        if step_where:
            where.append(
                "EXISTS (SELECT 1 FROM worklist_step s WHERE s.item_fk = w.pk AND "
                + " AND ".join(step_where)
                + ")"
            )
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY w.pk"
    return sql, params


class SqliteWorklist:
    """Worklist items in the archive's database; a source for the MWL SCP.

    Open it with :meth:`open` on an open :class:`~.sqlite.SqliteIndex` and
    close it before the index. :meth:`candidates` is what
    :class:`~dicomnet.services.mwl.WorklistService` asks for each C-FIND.
    """

    def __init__(self, side: SideConnection) -> None:
        self._side = side

    @classmethod
    async def open(cls, index: SqliteIndex) -> SqliteWorklist:
        """The worklist tables of ``index``'s database (made when missing)."""
        return cls(await SideConnection.open(index, SCHEMA))

    async def close(self) -> None:
        """Release the connection."""
        await self._side.close()

    async def add(self, item: Dataset) -> int:
        """Keep ``item`` (replacing one with its identity); its row key, once committed.

        Raises ``ValueError`` when ``item`` has no Scheduled Procedure Step.
        """
        text, steps = _checked(item)
        identity = item_identity(item)
        patient_id, accession = _single(item.get(_PATIENT_ID)), _single(item.get(_ACCESSION))
        step_rows = [
            (_single(s.get(_MODALITY)), _single(s.get(_STATION)), _date(s.get(_START_DATE)))
            for s in steps
        ]

        def work(conn: sqlite3.Connection) -> int:
            if identity is not None:
                conn.execute("DELETE FROM worklist_item WHERE identity = ?", (identity,))
            cursor = conn.execute(
                "INSERT INTO worklist_item (identity, patient_id, accession, added, item)"
                " VALUES (?, ?, ?, ?, ?)",
                (identity, patient_id, accession, time.time(), text),
            )
            key = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO worklist_step (item_fk, modality, station_ae, start_date)"
                " VALUES (?, ?, ?, ?)",
                [(key, *row) for row in step_rows],
            )
            return key

        return await self._side.write(work)

    async def add_file(self, path: str | os.PathLike[str]) -> int:
        """Keep the item in a DICOM (``.wl``) or DICOM JSON (``.json``) file; its row key."""
        return await self.add(WorklistSource().add_file(path))

    async def remove(self, key: int) -> bool:
        """Remove the item with row key ``key``; whether there was one."""

        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM worklist_item WHERE pk = ?", (key,)).rowcount > 0

        return await self._side.write(work)

    async def clear(self) -> int:
        """Remove every item; how many there were."""
        return await self._side.write(
            lambda conn: conn.execute("DELETE FROM worklist_item").rowcount
        )

    async def entries(self) -> list[WorklistEntry]:
        """Every kept item, oldest first."""

        def work(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute("SELECT pk, added, item FROM worklist_item ORDER BY pk").fetchall()

        return [
            WorklistEntry(int(k), float(a), _load(t)) for k, a, t in await self._side.read(work)
        ]

    async def count(self) -> int:
        """How many items are kept."""
        rows = await self._side.read(
            lambda conn: conn.execute("SELECT count(*) FROM worklist_item").fetchall()
        )
        return int(rows[0][0])

    async def candidates(
        self, identifier: Dataset, support: Mapping[int, frozenset[str]] | None = None
    ) -> AsyncIterator[Dataset]:
        """The items that may match ``identifier`` (a superset; the matcher decides)."""
        sql, params = plan_worklist(identifier, support)
        rows = await self._side.read(lambda conn: conn.execute(sql, params).fetchall())
        for _key, text in rows:
            yield _load(text)
