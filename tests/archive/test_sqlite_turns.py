"""Without fsync the SQLite index's writer runs as event loop callbacks, not a task.

A commit without fsync waits for nothing, so the group commit gathers a batch
one loop turn per callback and commits and answers it inside the last one: no
task and no coroutine per batch. Whatever has to wait goes on in the writer
task as before: jobs, a batch whose transaction did not commit (tried again,
failing entries alone), a checkpoint the commits wait for. Closing waits for a
turn still due.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from archive.test_sqlite_writers import _entry
from dicomnet.archive import SqliteIndex
from dicomnet.archive.backend import IndexUnavailable
from dicomnet.archive.entry import IndexEntry


async def test_batches_without_fsync_commit_in_loop_callbacks(tmp_path: Path) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        await index.put_many([_entry(f"1.2.20.{n}") for n in range(5)])
        await index.put(_entry("1.2.20.5"))
        assert index.commits == 2
        assert index._writer_task is None  # no task was needed
        assert not index._turning
        assert await index.count() == 6


async def test_with_fsync_the_writer_is_a_task(tmp_path: Path) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite") as index:
        await index.put(_entry("1.2.21.0"))
        assert index._writer_task is not None
        assert await index.count() == 1


async def test_closing_commits_a_batch_whose_turn_is_still_due(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = await SqliteIndex.open(path, fsync=False)
    future = index.put_shared(_entry("1.2.22.0"))
    assert index._turning and not future.done()
    await index.close()
    assert future.done() and future.result() is None
    async with await SqliteIndex.open(path, fsync=False) as again:
        assert await again.count() == 1


async def test_an_entry_queued_while_a_batch_is_answered_is_committed_next(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        later: list[asyncio.Future[object]] = []
        first = index.put_shared(_entry("1.2.23.0"))
        # A waiter woken by the answer stores again at once (inside the commit's turn).
        first.wakers.append(lambda: later.append(index.put_shared(_entry("1.2.23.1"))))
        await asyncio.wait_for(first, 10)
        assert len(later) == 1
        await asyncio.wait_for(later[0], 10)
        assert later[0].result() is None
        assert index.commits == 2
        assert not index._turning and index._writer_task is None
        assert await index.count() == 2


async def test_a_batch_failing_in_a_callback_is_tried_again_and_fails_alone(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:

        def hook(conn: sqlite3.Connection, entries: Sequence[IndexEntry]) -> None:
            if any(entry.sop_instance_uid == "1.2.24.2" for entry in entries):
                raise sqlite3.OperationalError("refused")

        index.row_hooks.append(hook)
        puts = [index.put(_entry(f"1.2.24.{n}")) for n in range(4)]
        results = await asyncio.wait_for(asyncio.gather(*puts, return_exceptions=True), 10)
        assert [r is None for r in results] == [True, True, False, True]
        assert isinstance(results[2], IndexUnavailable)
        assert index._writer_task is not None  # the task took the failed batch over
        assert await index.count() == 3


async def test_a_job_queued_before_the_turn_goes_with_the_batch_to_the_task(
    tmp_path: Path,
) -> None:
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        put = index.put(_entry("1.2.25.0"))
        journal = asyncio.ensure_future(index.journal("/y/other.dcm", "1.2.25.9"))
        await asyncio.wait_for(asyncio.gather(put, journal), 10)
        assert index._writer_task is not None
        assert await index.journaled() == [("/y/other.dcm", "1.2.25.9")]
        assert await index.count() == 1


@pytest.mark.parametrize("turns", [1, 3])
async def test_the_callbacks_gather_while_entries_keep_coming(tmp_path: Path, turns: int) -> None:
    # One store a loop turn: the batch waits while each turn adds one, up to
    # GATHER_ENOUGH, as the task's gathering does.
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        puts = []
        for n in range(turns):
            puts.append(index.put(_entry(f"1.2.26.{n}")))
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*puts), 10)
        assert index.commits == 1
        assert await index.count() == turns
