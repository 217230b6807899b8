"""The rows the SQLite index writes: instances and their parents, replaced and pruned.

Called by :class:`~dicomnet.archive.sqlite.SqliteIndex` inside its write
transactions (on the event loop's thread or in its thread pool), with the
connection that writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Final, TypeVar

from .entry import IndexEntry
from .rows import INSTANCE_COLUMNS, instance_columns, instance_values, level_values
from .schema import LEVEL_TABLES
from .walked import WalkColumns

__all__ = [
    "RolledBack",
    "chunks",
    "delete_pending",
    "delete_rows",
    "has_side_rows",
    "insert_many",
]

_T = TypeVar("_T")
_R = TypeVar("_R")


def _upsert_level(
    conn: sqlite3.Connection,
    level: str,
    *,
    key: str,
    columns: dict[str, str],
    header: bytes,
    parent: tuple[str, int] | None = None,
) -> int:
    """The row of an entity (made from this instance if it is the first); its key."""
    table = LEVEL_TABLES[level]
    names, values = level_values(level, columns, header, parent)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        f" ON CONFLICT({key}) DO NOTHING",
        values,
    )
    row = conn.execute(f"SELECT pk FROM {table} WHERE {key} = ?", (columns.get(key, ""),))
    return int(row.fetchone()[0])


def _insert_one(conn: sqlite3.Connection, entry: IndexEntry, series_keys: dict[str, int]) -> None:
    """Add one instance (replacing an earlier row of its SOP Instance UID)."""
    columns = instance_columns(entry)
    old = conn.execute(
        "SELECT pk, series_fk FROM instance WHERE sop_uid = ?", (entry.sop_instance_uid,)
    ).fetchone()
    if old is not None:
        conn.execute("DELETE FROM instance WHERE pk = ?", (old[0],))
        _prune(conn, int(old[1]))
        series_keys.clear()
    series_key = series_keys.get(columns.get("series_uid", ""))
    if (
        series_key is not None
        and not conn.execute(
            # Another process (``dicomnet index delete``) may have removed it meanwhile.
            "SELECT 1 FROM series WHERE pk = ? AND series_uid = ?",
            (series_key, columns.get("series_uid", "")),
        ).fetchone()
    ):
        series_key = None
    if series_key is None:
        series_key = _upsert_parents(conn, entry, columns)
        series_keys[columns.get("series_uid", "")] = series_key
    _insert_rows(conn, [instance_values(entry, series_key)])


#: The start of a statement inserting instance rows, and the placeholders of one row.
_INSERT_INSTANCES: Final = f"INSERT INTO instance ({', '.join(INSTANCE_COLUMNS)}) VALUES "
_ROW: Final = f"({', '.join('?' * len(INSTANCE_COLUMNS))})"
#: Bound parameters per statement, at most (SQLite's historic limit is 999).
_MAX_PARAMS: Final = 999
#: Batches of up to this many rows are inserted by one statement of their own length.
EXACT_RUN: Final = 32
#: The longest run: the largest power of two whose parameters fit one statement.
_LONGEST_RUN: Final = 1 << ((_MAX_PARAMS // len(INSTANCE_COLUMNS)).bit_length() - 1)
#: The statements inserting runs of rows, by run length: every length up to
#: :data:`EXACT_RUN` (a batch is mostly an association's window: one statement, no
#: savepoint) and :data:`_LONGEST_RUN`. A longer batch is cut into runs of these
#: lengths (see _runs). Each is compiled once by the connection and then taken from its
#: statement cache (see sqlite.WRITER_STATEMENTS); a statement of every batch's own
#: length, whatever its size, was compiled again for each new length (about 2.4 us a
#: row here, a quarter of what inserting the row costs).
_RUNS: Final = {
    length: _INSERT_INSTANCES + ", ".join([_ROW] * length)
    for length in (*range(1, EXACT_RUN + 1), _LONGEST_RUN)
}


#: The instance columns a run of rows of one series, syntax and sender usually shares
#: (SOP Class UID, Content Date, series key, transfer syntax, sending AE), by position
#: in :data:`INSTANCE_COLUMNS`: bound once per statement (numbered parameters ``?1`` to
#: ``?5``) when every row of the run has the same values, and the other columns per row.
#: Each value bound is copied by SQLite; a run of 16 rows binds 101 values, not 176.
_SHARED_AT: Final = tuple(
    INSTANCE_COLUMNS.index(name)
    for name in ("sop_class", "content_date", "series_fk", "transfer_syntax", "source_ae")
)
#: The columns bound per row in a statement of :data:`_SHARED_RUNS`, in this order.
_OWN_AT: Final = tuple(n for n in range(len(INSTANCE_COLUMNS)) if n not in _SHARED_AT)


def _shared_row(row: int) -> str:
    own = len(_SHARED_AT) + row * len(_OWN_AT)
    marks = [
        f"?{_SHARED_AT.index(n) + 1}" if n in _SHARED_AT else f"?{own + _OWN_AT.index(n) + 1}"
        for n in range(len(INSTANCE_COLUMNS))
    ]
    return f"({', '.join(marks)})"


#: The statements of :data:`_RUNS` with the shared columns bound once (see _SHARED_AT).
_SHARED_RUNS: Final = {
    length: _INSERT_INSTANCES + ", ".join(_shared_row(row) for row in range(length))
    for length in _RUNS
}
#: The statements of :data:`_SHARED_RUNS` up to :data:`EXACT_RUN` rows whose conflict
#: (a UID indexed already, or twice in the batch) rolls the whole transaction back (see
#: :class:`RolledBack`): SQLite then keeps no statement journal for them (an ``INSERT``
#: of several rows that may abort copies each page it changes first, about 9k
#: instructions a batch here).
_ROLLBACK_RUNS: Final = {
    length: _SHARED_RUNS[length].replace("INSERT INTO", "INSERT OR ROLLBACK INTO", 1)
    for length in range(1, EXACT_RUN + 1)
}


class RolledBack(Exception):
    """:func:`insert_many` with ``rollback``: a row's conflict rolled the transaction back.

    Nothing of the transaction is left; its caller runs it again from its start,
    without ``rollback`` (then a UID indexed already is replaced as usual).
    """


def chunks(items: Sequence[_T], width: int) -> list[Sequence[_T]]:
    """``items`` cut into runs whose parameters (``width`` each) fit one statement."""
    step = max(1, _MAX_PARAMS // width)
    return [items[start : start + step] for start in range(0, len(items), step)]


def has_side_rows(conn: sqlite3.Connection) -> bool:
    """Whether the pending or the doomed table holds a row."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pending) OR EXISTS (SELECT 1 FROM doomed)"
    ).fetchone()
    return bool(row[0])


def delete_pending(conn: sqlite3.Connection, paths: Sequence[str]) -> None:
    for chunk in chunks(paths, 1):
        conn.execute(f"DELETE FROM pending WHERE path IN ({', '.join('?' * len(chunk))})", chunk)


def insert_many(
    conn: sqlite3.Connection,
    entries: Sequence[IndexEntry],
    series_keys: dict[str, int],
    *,
    rollback: bool = False,
) -> None:
    """Add instances: new ones with one statement per run of rows, others one by one.

    ``rollback``: the usual batch (see :func:`_insert_shared`), if it meets a UID
    indexed already or twice in it, rolls the whole transaction back and raises
    :class:`RolledBack` instead of going the way that replaces rows.
    """
    # The usual batch, all new: its rows in a few statements. A UID indexed already (or
    # twice in the batch) fails them as a whole (undone to the savepoint, when there are
    # several), and the batch goes the way below; the parents made stay (before the
    # savepoint), as that way makes them too.
    inserted = _insert_shared(conn, entries, series_keys, rollback)
    if inserted:
        return
    if inserted is None and _insert_new(conn, entries, series_keys):
        return
    uids = [entry.sop_instance_uid for entry in entries]
    known: set[str] = set()
    for chunk in chunks(uids, 1):
        sql = f"SELECT sop_uid FROM instance WHERE sop_uid IN ({', '.join('?' * len(chunk))})"
        known.update(str(row[0]) for row in conn.execute(sql, chunk))
    fresh: list[list[object]] = []
    for entry in entries:
        uid = entry.sop_instance_uid
        if uid in known:  # a replacement, or the same UID twice in this batch
            _insert_rows(conn, fresh)
            fresh = []
            _insert_one(conn, entry, series_keys)
            continue
        known.add(uid)
        fresh.append(_instance_values(conn, entry, series_keys))
    _insert_rows(conn, fresh)


def _insert_new(
    conn: sqlite3.Connection, entries: Sequence[IndexEntry], series_keys: dict[str, int]
) -> bool:
    """Insert new instances in runs of rows (their parents made when new); ``False``
    (nothing inserted) when a UID is indexed already or twice in ``entries``."""
    rows: list[list[object]] = []
    for entry in entries:
        columns = entry.columns
        # (A walked entry of a series the writer knows, the usual one: its row here,
        # without the call of _instance_values.)
        key = series_keys.get(columns.series_uid) if type(columns) is WalkColumns else None
        if key is None:
            rows.append(_instance_values(conn, entry, series_keys))
            continue
        rows.append(_walked_row(entry, columns, key))  # type: ignore[arg-type]
    return _undone_if_known(conn, _insert_rows, rows, len(rows))


def _undone_if_known(
    conn: sqlite3.Connection,
    insert: Callable[[sqlite3.Connection, _R], None],
    rows: _R,
    count: int,
) -> bool:
    """``insert(conn, rows)`` (``count`` rows); ``False`` when a UID was indexed already
    (or twice among them): then no row of them stays (several runs: to a savepoint)."""
    several = len(_runs(count)) > 1
    if several:
        conn.execute("SAVEPOINT new_rows")
    try:
        insert(conn, rows)
    except sqlite3.IntegrityError:
        if several:
            conn.execute("ROLLBACK TO new_rows")
            conn.execute("RELEASE new_rows")
        return False
    if several:
        conn.execute("RELEASE new_rows")
    return True


def _insert_shared(
    conn: sqlite3.Connection,
    entries: Sequence[IndexEntry],
    series_keys: dict[str, int],
    rollback: bool = False,
) -> bool | None:
    """Insert the usual batch (walked entries of one known series, syntax, sender, SOP
    class and content date) with the shared columns bound once per run (see _SHARED_AT).

    ``None`` (nothing done) for any other batch; ``False`` (nothing inserted) when a
    UID is indexed already or twice in the batch (with ``rollback``, and up to
    :data:`EXACT_RUN` rows: :class:`RolledBack`, the transaction rolled back).
    """
    columns = entries[0].columns
    if type(columns) is not WalkColumns:
        return None
    series_uid = columns.series_uid
    key = series_keys.get(series_uid)
    if key is None:
        return None
    image = columns.image
    syntax = entries[0].transfer_syntax_uid
    sender = entries[0].source_ae_title
    shared = [image[1], image[3], key, syntax, sender]
    # What every entry must share with the first, compared as one tuple (element by
    # element in C, each the same object as a rule: a memo series' values are shared).
    same = (series_uid, image[1], image[3], syntax, sender)
    own: list[object] = []
    for entry in entries:
        columns = entry.columns
        if type(columns) is not WalkColumns:
            return None
        image = columns.image
        if (
            columns.series_uid,
            image[1],
            image[3],
            entry.transfer_syntax_uid,
            entry.source_ae_title,
        ) != same:
            return None
        # (The header as a bytearray: see _walked_row.)
        own += (
            image[0],
            image[2],
            entry.size,
            entry.path,
            entry.received,
            bytearray(entry.headers.get("IMAGE", b"")),
        )
    if len(entries) <= EXACT_RUN:
        # (The usual batch: one statement, all or nothing, so no savepoint around it.)
        if rollback:
            try:
                conn.execute(_ROLLBACK_RUNS[len(entries)], shared + own)
            except sqlite3.IntegrityError as exc:
                if conn.in_transaction:  # (not rolled back: a failure of another kind)
                    raise
                raise RolledBack(str(exc)) from exc
            return True
        try:
            conn.execute(_SHARED_RUNS[len(entries)], shared + own)
        except sqlite3.IntegrityError:
            return False
        return True
    return _undone_if_known(conn, _insert_shared_runs, (shared, own), len(entries))


def _insert_shared_runs(
    conn: sqlite3.Connection, values: tuple[list[object], list[object]]
) -> None:
    """Insert rows given as (the shared values, every row's own values one after another)."""
    shared, own = values
    width = len(_OWN_AT)
    start = 0
    for length in _runs(len(own) // width):
        end = start + length * width
        conn.execute(_SHARED_RUNS[length], shared + own[start:end])
        start = end


def _instance_values(
    conn: sqlite3.Connection, entry: IndexEntry, series_keys: dict[str, int]
) -> list[object]:
    """The instance row of a new entry (:data:`INSTANCE_COLUMNS`), its parents made if new."""
    columns = entry.columns
    if type(columns) is not WalkColumns:
        series_uid = columns.get("series_uid", "")
        series_key = series_keys.get(series_uid)
        if series_key is None:
            series_key = _upsert_parents(conn, entry, instance_columns(entry))
            series_keys[series_uid] = series_key
        values = instance_values(entry, series_key)
        values[-1] = bytearray(entry.headers.get("IMAGE", b""))
        return values
    # A walked entry: its instance columns were decoded with the entry (WalkColumns.image).
    series_key = series_keys.get(columns.series_uid)
    if series_key is None:
        series_key = _upsert_parents(conn, entry, instance_columns(entry))
        series_keys[columns.series_uid] = series_key
    return _walked_row(entry, columns, series_key)


def _walked_row(entry: IndexEntry, columns: WalkColumns, series_key: int) -> list[object]:
    """The instance row of a walked entry whose series row is ``series_key``."""
    # The header as a bytearray: the sqlite3 module binds it as the same BLOB, and
    # looks up no adapter for it (it does for every bytes value: about 3k
    # instructions per row, more than the copy).
    return [
        *columns.image,
        series_key,
        entry.transfer_syntax_uid,
        entry.size,
        entry.path,
        entry.source_ae_title,
        entry.received,
        bytearray(entry.headers.get("IMAGE", b"")),
    ]


def _runs(count: int) -> list[int]:
    """The lengths of the runs of ``count`` rows: the longest first, each in :data:`_RUNS`
    (one run up to :data:`EXACT_RUN` rows)."""
    if count <= EXACT_RUN:
        return [count] if count else []
    out = [_LONGEST_RUN] * (count // _LONGEST_RUN)
    rest = count % _LONGEST_RUN
    if rest > EXACT_RUN:
        out.append(EXACT_RUN)
        rest -= EXACT_RUN
    if rest:
        out.append(rest)
    return out


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[Sequence[object]]) -> None:
    """Insert instance rows (values in :data:`INSTANCE_COLUMNS` order), many per statement."""
    start = 0
    for length in _runs(len(rows)):
        conn.execute(_RUNS[length], list(chain.from_iterable(rows[start : start + length])))
        start += length


def _upsert_parents(conn: sqlite3.Connection, entry: IndexEntry, columns: dict[str, str]) -> int:
    """The patient, study and series rows of an instance (made when new); the series key."""
    headers = entry.headers
    patient = _upsert_level(
        conn, "PATIENT", key="patient_id", columns=columns, header=headers.get("PATIENT", b"")
    )
    study = _upsert_level(
        conn,
        "STUDY",
        key="study_uid",
        columns=columns,
        header=headers.get("STUDY", b""),
        parent=("patient_fk", patient),
    )
    return _upsert_level(
        conn,
        "SERIES",
        key="series_uid",
        columns=columns,
        header=headers.get("SERIES", b""),
        parent=("study_fk", study),
    )


def _prune(conn: sqlite3.Connection, series_pk: int) -> None:
    """Remove the series, study and patient above a removed instance when left empty."""
    if conn.execute("SELECT 1 FROM instance WHERE series_fk = ? LIMIT 1", (series_pk,)).fetchone():
        return
    row = conn.execute("SELECT study_fk FROM series WHERE pk = ?", (series_pk,)).fetchone()
    conn.execute("DELETE FROM series WHERE pk = ?", (series_pk,))
    if row is None:
        return
    study_pk = int(row[0])
    if conn.execute("SELECT 1 FROM series WHERE study_fk = ? LIMIT 1", (study_pk,)).fetchone():
        return
    row = conn.execute("SELECT patient_fk FROM study WHERE pk = ?", (study_pk,)).fetchone()
    conn.execute("DELETE FROM study WHERE pk = ?", (study_pk,))
    if row is None:
        return
    patient_pk = int(row[0])
    if conn.execute("SELECT 1 FROM study WHERE patient_fk = ? LIMIT 1", (patient_pk,)).fetchone():
        return
    conn.execute("DELETE FROM patient WHERE pk = ?", (patient_pk,))


def delete_rows(conn: sqlite3.Connection, kind: str, uid: str) -> list[str]:
    if kind == "instance":
        where = "i.sop_uid = ?"
        join = ""
    elif kind == "series":
        where, join = "se.series_uid = ?", " JOIN series se ON i.series_fk = se.pk"
    else:
        where = "st.study_uid = ?"
        join = " JOIN series se ON i.series_fk = se.pk JOIN study st ON se.study_fk = st.pk"
    rows = conn.execute(
        f"SELECT i.pk, i.series_fk, i.path FROM instance i{join} WHERE {where}", (uid,)
    ).fetchall()
    series = set()
    for pk, series_fk, _path in rows:
        conn.execute("DELETE FROM instance WHERE pk = ?", (pk,))
        series.add(int(series_fk))
    for series_pk in series:
        _prune(conn, series_pk)
    return [str(row[2]) for row in rows]
