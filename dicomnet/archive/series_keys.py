"""The SQLite writer's memory of series row keys, checked after another writer's commits.

Most instances join a series the index holds; the writer remembers each series'
row key (series UID -> ``pk``) and skips the patient, study and series upserts
for it. Another worker adding rows leaves those keys right; a deletion (``index
delete``, a replaced instance's pruned series) may remove a series, and a new
series may then get its key. So after another connection has committed, the
keys a batch needs are kept only if their rows still carry the same UID.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

__all__ = ["KEYS_AT_ONCE", "checked_keys_and_side_rows", "checked_series_keys"]

#: Keys per ``IN (...)`` (SQLite's historic limit of bound parameters is 999).
_CHUNK: Final = 999
#: Keys :func:`checked_keys_and_side_rows` checks, at most.
KEYS_AT_ONCE: Final = _CHUNK


def checked_series_keys(
    conn: sqlite3.Connection, known: dict[str, int], series_uids: Iterable[str]
) -> dict[str, int]:
    """The entries of ``known`` for ``series_uids`` whose rows still match (in a transaction)."""
    wanted = sorted({known[uid] for uid in series_uids if uid in known})
    kept: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        sql = f"SELECT pk, series_uid FROM series WHERE pk IN ({', '.join('?' * len(chunk))})"
        kept.update({uid: pk for pk, uid in conn.execute(sql, chunk) if known.get(uid) == pk})
    return kept


def _keys_and_side_rows(count: int) -> str:
    """The statement of :func:`checked_keys_and_side_rows` for ``count`` keys: one row per
    series found (at least one, its columns ``NULL`` if none is), each with the side flag."""
    return (
        "SELECT EXISTS (SELECT 1 FROM pending) OR EXISTS (SELECT 1 FROM doomed),"
        " series.pk, series.series_uid FROM (SELECT 1) LEFT JOIN series"
        f" ON series.pk IN ({', '.join('?' * count)})"
    )


#: The statements of :func:`checked_keys_and_side_rows` for a few keys, made once (their
#: texts and hashes: the connection's statement cache looks each up by its text).
_KEYS_AND_SIDE_ROWS: Final = {count: _keys_and_side_rows(count) for count in range(1, 17)}


def checked_keys_and_side_rows(
    conn: sqlite3.Connection, known: dict[str, int]
) -> tuple[dict[str, int], bool]:
    """The entries of ``known`` (at most :data:`KEYS_AT_ONCE`) whose rows still match, and
    whether the ``pending`` or ``doomed`` table holds a row: one statement (in a
    transaction), where two would cost the second's run and its pages read again."""
    keys = list(known.values())
    sql = _KEYS_AND_SIDE_ROWS.get(len(keys)) or _keys_and_side_rows(len(keys))
    kept: dict[str, int] = {}
    side_rows = True
    for side, pk, uid in conn.execute(sql, keys):
        side_rows = side  # (every row carries the flag)
        if pk is not None and known.get(uid) == pk:
            kept[uid] = pk
    return kept, bool(side_rows)
