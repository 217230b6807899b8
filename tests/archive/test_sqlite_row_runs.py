"""The SQLite index inserts a batch's instance rows in runs of a few fixed lengths.

A statement of the batch's own length was compiled for every new length; the
runs (every length up to EXACT_RUN, and the longest) are compiled once each and
then come from the connection's statement cache. A batch of up to EXACT_RUN rows
(an association's window) is one statement. Several runs are one savepoint: a
UID indexed already in a later run undoes the earlier runs too, and the batch
takes the one-by-one way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from archive.test_sqlite_shared_runs import _entries as _walked_entries
from archive.test_sqlite_writers import _entry
from dicomnet.archive import SqliteIndex
from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.sqlite_rows import _RUNS, EXACT_RUN, _runs
from dicomnet.wakeup import SharedFuture


def test_runs_cover_the_count_longest_first() -> None:
    for count in range(0, 600):
        runs = _runs(count)
        assert sum(runs) == count
        assert all(length in _RUNS for length in runs)
        assert runs == sorted(runs, reverse=True)
        if count <= EXACT_RUN:
            assert runs == ([count] if count else [])
        else:
            assert len([length for length in runs if length != 64]) <= 2
    assert _runs(15) == [15]
    assert _runs(70) == [64, 6]
    assert _runs(100) == [64, 32, 4]


@pytest.mark.parametrize("walked", [True, False])
async def test_a_batch_of_a_window_is_one_insert_without_a_savepoint(
    tmp_path: Path, walked: bool
) -> None:
    def entry(n: int) -> IndexEntry:
        if walked:  # (the usual batch: one known series, its shared values bound once)
            return _walked_entries(f"1.2.3.{n}", n)[0]
        return _entry(f"1.2.3.{n}")

    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        await index.put(entry(0))
        statements: list[str] = []
        assert index._writer is not None
        index._writer.set_trace_callback(statements.append)
        await index.put_many([entry(n) for n in range(1, 16)])
        # (The usual batch's statement rolls the transaction back at a conflict.)
        start = ("INSERT INTO instance", "INSERT OR ROLLBACK INTO instance")
        inserts = [sql for sql in statements if sql.startswith(start)]
        assert len(inserts) == 1 and inserts[0].count("), (") == 14
        assert not [sql for sql in statements if "SAVEPOINT" in sql or "RELEASE" in sql]
        assert await index.count() == 16


async def test_batches_of_every_length_compile_one_statement_per_run_length(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        statements: set[str] = set()
        assert index._writer is not None
        index._writer.set_trace_callback(statements.add)
        count = 0
        for length in range(1, 101):
            await index.put_many([_entry(f"1.2.3.{count + n}") for n in range(length)])
            count += length
        inserts = {sql for sql in statements if sql.startswith("INSERT INTO instance")}
        # One text per run length (the trace shows bound values: count the shapes).
        shapes = {sql.count("), (") for sql in inserts}
        assert len(shapes) <= len(_RUNS)
        assert await index.count() == count


async def test_a_uid_indexed_already_in_a_later_run_undoes_the_earlier_runs(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        await index.put(_entry("1.2.3.69"))
        statements: list[str] = []
        assert index._writer is not None
        index._writer.set_trace_callback(statements.append)
        # 70 rows: runs of 64 and 6; the one indexed already is in the last run.
        batch = [_entry(f"1.2.3.{n}") for n in range(70)]
        await index.put_many(batch)
        # Only that one is replaced (the earlier runs' rows were undone, not kept and
        # then taken for rows indexed before the batch).
        assert sum(sql.startswith("DELETE FROM instance") for sql in statements) == 1
        assert await index.count() == 70
        rows = dict(await index.paths_since(0))
        assert sorted(rows) == sorted(f"1.2.3.{n}" for n in range(70))
        assert rows["1.2.3.0"] == "/x/1.2.3.0.dcm"
        # The replaced row's file is the same path here: nothing of the batch is doomed.
        assert await index.doomed() == []


async def test_the_group_commit_wakes_each_waiter_parked_on_its_run_once_committed(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        woken: list[tuple[int, bool, int]] = []
        futures = [index.put_shared(_entry(f"1.2.3.{n}")) for n in range(5)]
        shared = futures[0]
        # One future for the run of entries queued together, not one per entry.
        assert isinstance(shared, SharedFuture)
        assert all(future is shared for future in futures)
        for n in range(3):

            def wake(n: int = n) -> None:
                woken.append((n, shared.done(), index.commits))

            shared.wakers.append(wake)
        assert shared.cancel() is False  # one waiter cannot cancel it for the others
        assert await shared is None  # every entry is in
        # Each woken once, right after the rows were committed (one commit for all).
        assert woken == [(n, True, 1) for n in range(3)]
        assert shared.wakers == []
        assert await index.count() == 5


async def test_an_entry_that_fails_fails_alone_in_its_runs_result(tmp_path: Path) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        entries = [_entry(f"1.2.3.{n}") for n in range(4)]

        def refuse(conn: object, batch: Sequence[IndexEntry]) -> None:
            if any(entry.sop_instance_uid == "1.2.3.2" for entry in batch):
                raise ValueError("refused")

        index.row_hooks.append(refuse)
        futures = [index.put_shared(entry) for entry in entries[:3]]
        one = index.put(entries[3])  # a waiter of its own in the same run
        failures = await futures[0]
        assert failures is not None and set(failures) == {id(entries[2])}
        assert isinstance(failures[id(entries[2])], ValueError)
        assert await one is None
        rows = dict(await index.paths_since(0))
        assert sorted(rows) == ["1.2.3.0", "1.2.3.1", "1.2.3.3"]
        # Through put, the failure is the entry's own.
        with pytest.raises(ValueError):
            await index.put(entries[2])


async def test_runs_of_entries_are_never_split_between_batches(tmp_path: Path) -> None:
    async with await SqliteIndex.open(
        tmp_path / "index.sqlite", fsync=False, batch_limit=3
    ) as index:
        futures = [index.put_shared(_entry(f"1.2.3.{n}")) for n in range(7)]
        # Runs of at most the batch limit: 3, 3 and 1 entries.
        assert [len({id(f) for f in futures[i : i + 3]}) for i in (0, 3, 6)] == [1, 1, 1]
        assert len({id(f) for f in futures}) == 3
        done: list[int] = []
        for future in {id(f): f for f in futures}.values():
            future.wakers.append(lambda: done.append(index.commits))
        await asyncio.gather(*futures)
        # Each run answered right after the commit of its batch.
        assert index.commits == 3 and sorted(done) == [1, 2, 3]
        assert await index.count() == 7
