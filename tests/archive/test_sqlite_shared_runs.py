"""The SQLite index binds the columns a batch's rows share once per statement.

A batch of walked entries of one known series, syntax, sender, SOP class and
content date (the usual one) is inserted with those five values bound once
per run (numbered parameters); any other batch binds every value of every
row. Either way each row must hold its own instance's values, and a UID
indexed already (or twice in the batch) must still be replaced, not doubled.
"""

from __future__ import annotations

import asyncio
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from archive.test_entry_from_walk import walked
from dicomnet.archive.entry import IndexEntry, entry_from_data_set
from dicomnet.archive.migrations import migrate_sqlite
from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.archive.sqlite_group_commit import _Job
from dicomnet.archive.sqlite_rows import RolledBack, _insert_shared, insert_many
from dicomnet.archive.walked import WalkColumns, entry_from_walk
from dicomnet.dimse.dataset import encode_dataset

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
SERIES = "1.2.826.0.1.3680043.8.498.71.1"
_ROW = (
    "SELECT sop_uid, sop_class, instance_number, content_date, series_fk, transfer_syntax,"
    " size, path, source_ae, attrs FROM instance ORDER BY sop_uid"
)


def _data_set(uid: str, number: int, *, sop_class: str, date: str, series: str) -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = uid
        ds.ContentDate = date
        ds.Modality = "CT"
        ds.PatientName = "SHARED^RUNS"
        ds.PatientID = "P71"
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.71"
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = number
    return ds


def _entries(
    uid: str,
    number: int,
    *,
    sop_class: str = CT,
    date: str = "20240102",
    syntax: str = EXPLICIT,
    sender: str = "SCU",
    series: str = SERIES,
) -> tuple[IndexEntry, IndexEntry]:
    """(the walked entry, the reference entry read from the bytes) of one instance."""
    data = encode_dataset(
        _data_set(uid, number, sop_class=sop_class, date=date, series=series), syntax
    )
    where = {
        "sop_instance_uid": uid,
        "sop_class_uid": sop_class,
        "transfer_syntax_uid": syntax,
        "path": f"/x/{uid}.dcm",
        "size": 1000 + number,
        "source_ae_title": sender,
    }
    walked_entry = entry_from_walk(data, walked(data, syntax), **where)  # type: ignore[arg-type]
    reference = entry_from_data_set(data, complete=True, **where)  # type: ignore[arg-type]
    assert walked_entry is not None and reference is not None
    assert isinstance(walked_entry.columns, WalkColumns)
    assert not isinstance(reference.columns, WalkColumns)
    return walked_entry, reference


@pytest.fixture
def conns() -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """Two empty indexes: one for walked entries, one for the reference entries."""
    pair = []
    for _ in range(2):
        conn = sqlite3.connect(":memory:", isolation_level=None)
        migrate_sqlite(conn)
        pair.append(conn)
    yield pair[0], pair[1]
    for conn in pair:
        conn.close()


def _both(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
    pairs: list[tuple[IndexEntry, IndexEntry]],
    keys: tuple[dict[str, int], dict[str, int]],
) -> None:
    for conn, entries, series_keys in zip(
        conns, ([w for w, _ in pairs], [r for _, r in pairs]), keys, strict=True
    ):
        conn.execute("BEGIN")
        insert_many(conn, entries, series_keys)
        conn.execute("COMMIT")


def _same_rows(conns: tuple[sqlite3.Connection, sqlite3.Connection]) -> list[tuple[object, ...]]:
    walked_rows = conns[0].execute(_ROW).fetchall()
    assert walked_rows == conns[1].execute(_ROW).fetchall()
    return walked_rows


def test_a_batch_of_one_series_binds_its_shared_values_once_and_rows_stay_whole(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    keys: tuple[dict[str, int], dict[str, int]] = ({}, {})
    _both(conns, [_entries("1.2.3.100", 100)], keys)  # the series made (its key known)
    # 20 rows: runs of 16 and 4, each with its shared values.
    pairs = [_entries(f"1.2.3.{n}", n) for n in range(20)]
    conn = conns[0]
    conn.execute("BEGIN")
    assert _insert_shared(conn, [w for w, _ in pairs], keys[0]) is True
    conn.execute("COMMIT")
    conns[1].execute("BEGIN")
    insert_many(conns[1], [r for _, r in pairs], keys[1])
    conns[1].execute("COMMIT")
    rows = _same_rows(conns)
    assert len(rows) == 21
    assert {row[2] for row in rows} == {str(n) for n in (*range(20), 100)}
    assert {row[6] for row in rows} == {1000 + n for n in (*range(20), 100)}


@pytest.mark.parametrize(
    "odd",
    [
        {"sop_class": MR},
        {"date": "20240103"},
        {"syntax": IMPLICIT},
        {"sender": "OTHER"},
        {"series": SERIES + ".2"},
    ],
    ids=["sop class", "content date", "syntax", "sender", "series"],
)
def test_a_row_that_differs_in_a_shared_column_keeps_its_own_value(
    conns: tuple[sqlite3.Connection, sqlite3.Connection], odd: dict[str, str]
) -> None:
    keys: tuple[dict[str, int], dict[str, int]] = ({}, {})
    _both(conns, [_entries("1.2.3.100", 100)], keys)
    pairs = [_entries(f"1.2.3.{n}", n, **(odd if n == 5 else {})) for n in range(9)]
    assert _insert_shared(conns[0], [w for w, _ in pairs], keys[0]) is None  # nothing done
    assert conns[0].execute("SELECT count(*) FROM instance").fetchone()[0] == 1
    _both(conns, pairs, keys)
    rows = _same_rows(conns)
    assert len(rows) == 10
    # The odd one holds its own value, the others the common ones.
    assert len({(row[1], row[3], row[4], row[5], row[8]) for row in rows}) == 2


def test_a_uid_indexed_already_or_twice_in_the_batch_is_replaced_not_doubled(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    keys: tuple[dict[str, int], dict[str, int]] = ({}, {})
    _both(conns, [_entries("1.2.3.100", 100), _entries("1.2.3.7", 7)], keys)
    # 1.2.3.7 is indexed already (a later run of the batch), 1.2.3.3 comes twice.
    pairs = [_entries(f"1.2.3.{n}", n) for n in range(9)] + [_entries("1.2.3.3", 33)]
    conn = conns[0]
    conn.execute("BEGIN")
    assert _insert_shared(conn, [w for w, _ in pairs], keys[0]) is False
    assert conn.execute("SELECT count(*) FROM instance").fetchone()[0] == 2  # undone
    conn.execute("COMMIT")
    _both(conns, pairs, keys)
    rows = _same_rows(conns)
    assert [row[0] for row in rows] == ["1.2.3.0", "1.2.3.1", "1.2.3.100"] + [
        f"1.2.3.{n}" for n in range(2, 9)
    ]
    numbers = {row[0]: row[2] for row in rows}
    assert numbers["1.2.3.3"] == "33"  # the later one of the batch
    assert numbers["1.2.3.7"] == "7"


def test_with_rollback_a_uid_indexed_already_rolls_the_transaction_back(
    conns: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    keys: dict[str, int] = {}
    conn = conns[0]
    conn.execute("BEGIN")
    insert_many(conn, [_entries("1.2.3.100", 100)[0], _entries("1.2.3.7", 7)[0]], keys)
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO pending (path, uid) VALUES ('/x/p.dcm', '1.2.3.50')")
    new = [_entries(f"1.2.3.{n}", n)[0] for n in range(3)]
    insert_many(conn, new, keys, rollback=True)  # new UIDs: inserted as without rollback
    batch = [_entries(f"1.2.3.{n}", n)[0] for n in range(4, 9)]  # 1.2.3.7 indexed already
    with pytest.raises(RolledBack):
        insert_many(conn, batch, keys, rollback=True)
    # The whole transaction is gone: its journal row and its first rows too.
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    uids = [row[0] for row in conn.execute("SELECT sop_uid FROM instance ORDER BY sop_uid")]
    assert uids == ["1.2.3.100", "1.2.3.7"]
    # Without rollback the same batch replaces the row, in the transaction.
    conn.execute("BEGIN")
    insert_many(conn, batch, keys)
    conn.execute("COMMIT")
    uids = [row[0] for row in conn.execute("SELECT sop_uid FROM instance ORDER BY sop_uid")]
    assert uids == ["1.2.3.100", *(f"1.2.3.{n}" for n in range(4, 9))]


async def test_a_batch_meeting_a_uid_indexed_already_commits_once_with_all_its_writes(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        await index.put_many([_entries(f"1.2.3.{n}", n)[0] for n in (100, 7)])
        await index.journal("/x/p.dcm", "1.2.3.50")
        commits = index.commits
        # One batch: a journal row forgotten, and the usual rows of the known series, one
        # of them indexed already (the transaction is rolled back and runs again).
        forgotten = index._submit(
            _Job(asyncio.get_running_loop().create_future(), forget="/x/p.dcm")
        )
        replacement = _entries("1.2.3.7", 77)[0]
        await index.put_many([*(_entries(f"1.2.3.{n}", n)[0] for n in range(4, 7)), replacement])
        await forgotten
        assert index.commits == commits + 1
        assert await index.journaled() == []
        assert await index.count() == 5
    conn = sqlite3.connect(tmp_path / "index.sqlite")
    try:
        rows = conn.execute("SELECT instance_number, size FROM instance WHERE sop_uid = '1.2.3.7'")
        assert rows.fetchall() == [("77", 1077)]  # replaced
    finally:
        conn.close()
