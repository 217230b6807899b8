"""The SQLite index inserts a batch's instance rows in runs of a few fixed lengths.

A statement of the batch's own length was compiled for every new length; the
runs (powers of two) are compiled once each and then come from the connection's
statement cache. Several runs are one savepoint: a UID indexed already in a later
run undoes the earlier runs too, and the batch takes the one-by-one way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from archive.test_sqlite_writers import _entry
from dicomnet.archive import SqliteIndex
from dicomnet.archive.sqlite_rows import _RUNS, _runs
from dicomnet.wakeup import WakingFuture


def test_runs_cover_the_count_longest_first() -> None:
    for count in range(0, 600):
        runs = _runs(count)
        assert sum(runs) == count
        assert all(length in _RUNS for length in runs)
        assert runs == sorted(runs, reverse=True)
    assert _runs(70) == [64, 4, 2]


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
        # 70 rows: runs of 64, 4 and 2; the one indexed already is in the last run.
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


async def test_the_group_commit_wakes_each_put_parked_on_it_once_committed(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        woken: list[tuple[str, bool, int]] = []
        futures = [index.put(_entry(f"1.2.3.{n}")) for n in range(5)]
        for n, future in enumerate(futures):
            assert isinstance(future, WakingFuture)
            if n != 2:  # one waits as a task would: no waker

                def wake(n: int = n, future: WakingFuture = future) -> None:
                    woken.append((f"1.2.3.{n}", future.done(), index.commits))

                future.waker = wake
        await asyncio.gather(*futures)
        # Each woken right after its row was committed (one commit for all), in order.
        assert woken == [(f"1.2.3.{n}", True, 1) for n in (0, 1, 3, 4)]
        assert await index.count() == 5
