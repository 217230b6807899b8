"""Several writers of one SQLite index: turns under the write lock (archive/opening.py).

Worker processes (``serve --workers N``) share one index file; every write
transaction holds an advisory ``flock`` on ``<index>-lock``, so writers queue on
the kernel's lock instead of SQLite's sleeping busy handler, and none fails
with ``database is locked``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dicomnet.archive import SqliteIndex, entry_from_header
from dicomnet.archive import sqlite_group_commit as group_commit
from dicomnet.archive.backends import open_worklist
from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.opening import WriteLock, lock_file

EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"


#: Series Instance UIDs of the two-writer tests (``_entry(series=N)``'s).
_SERIES = "1.2.826.0.1.3680043.8.498.61.{}"


def _in_series(numbers: dict[str, int]) -> dict[str, str]:
    """SOP Instance UID -> the Series Instance UID of ``_entry(series=number)``."""
    return {uid: _SERIES.format(number) for uid, number in numbers.items()}


async def _series_2_freed(
    mine: SqliteIndex, other: SqliteIndex, prefix: str, *, forget: bool
) -> None:
    """``mine`` indexes PREFIX.1 (series 1) and PREFIX.2 (series 2), so it keeps both keys;
    ``other`` deletes series 2 (``forget``: its files too) and indexes PREFIX.3 in series
    3, which may take series 2's freed row key."""
    await mine.put(_entry(f"{prefix}.1", series=1))
    await mine.put(_entry(f"{prefix}.2", series=2))
    doomed = await other.delete(series_uid=_SERIES.format(2))
    if forget:
        await other.forget_doomed(doomed)
    await other.put(_entry(f"{prefix}.3", series=3))


@contextlib.asynccontextmanager
async def _two_writers(path: Path) -> AsyncIterator[tuple[SqliteIndex, SqliteIndex]]:
    """Two indexes on one file, as two workers' (no fsync)."""
    async with (
        await SqliteIndex.open(path, fsync=False) as mine,
        await SqliteIndex.open(path, fsync=False) as other,
    ):
        yield mine, other


def _entry(uid: str, series: int = 0):
    ds = Dataset()
    ds.PatientID = "P1"
    ds.PatientName = "WRITERS^TEST"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.61"
    ds.SeriesInstanceUID = _SERIES.format(series)
    ds.SOPInstanceUID = uid
    ds.SOPClassUID = CT
    ds.Modality = "CT"
    return entry_from_header(
        ds,
        sop_instance_uid=uid,
        sop_class_uid=CT,
        transfer_syntax_uid=EXPLICIT_LE,
        path=f"/x/{uid}.dcm",
        size=1,
    )


def _key_checks(statements: list[str]) -> list[str]:
    """The statements among ``statements`` that check kept series keys (series by key)."""
    return [s for s in statements if re.search(r"\bpk IN \(", s) and "series_uid" in s]


def _item(patient: str, accession: str) -> Dataset:
    step = Dataset()
    step.Modality = "CT"
    step.ScheduledStationAETitle = "CT1"
    step.ScheduledProcedureStepStartDate = "20260101"
    item = Dataset()
    item.PatientID = patient
    item.AccessionNumber = accession
    item.ScheduledProcedureStepSequence = [step]
    return item


def _series_of_instances(path: Path) -> dict[str, str]:
    """Each indexed instance's series UID, read straight from the index file."""
    with sqlite3.connect(path) as conn:
        query = "SELECT i.sop_uid, s.series_uid FROM instance i JOIN series s ON i.series_fk = s.pk"
        return dict(conn.execute(query).fetchall())


def _held_elsewhere(path: Path) -> bool:
    """True if another open file holds the write lock of ``path`` now."""
    fd = os.open(lock_file(path), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def test_every_write_transaction_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    seen: list[bool] = []
    async with await SqliteIndex.open(path, fsync=False) as index:
        index.row_hooks.append(lambda conn, entries: seen.append(_held_elsewhere(path)))
        await index.put(_entry("1.2.3.1"))  # inline, on the loop's thread
        await index.put_many([_entry(f"1.2.3.{n}") for n in range(2, 6)])
    async with await SqliteIndex.open(path, fsync=True, inline_writes=False) as index:
        index.row_hooks.append(lambda conn, entries: seen.append(_held_elsewhere(path)))
        await index.put(_entry("1.2.3.9"))  # in the thread pool
        assert await index.count() == 6
    assert seen == [True, True, True]
    assert not _held_elsewhere(path)  # released after each transaction


async def test_the_worklist_connection_writes_under_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        worklist = await open_worklist(index)
        try:
            fd = os.open(lock_file(path), os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process writing
            add = asyncio.ensure_future(worklist.add(_item("W1", "A1")))
            await asyncio.sleep(0.2)
            assert not add.done()
            os.close(fd)
            await asyncio.wait_for(add, 10)
            assert await worklist.count() == 1
        finally:
            await worklist.close()


async def test_a_put_waits_for_another_writer_holding_the_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        assert index.inline_writes and index.write_lock is not None
        fd = os.open(lock_file(path), os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker's transaction
        put = asyncio.ensure_future(index.put(_entry("1.2.4.1")))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not put.done()
        # Entries that come while the first waits join the next batch.
        more = asyncio.ensure_future(index.put_many([_entry(f"1.2.4.{n}") for n in range(2, 9)]))
        await asyncio.sleep(0.05)
        os.close(fd)
        await asyncio.wait_for(asyncio.gather(put, more), 10)
        assert await index.count() == 8
        assert index.write_lock.waits >= 1
        assert index.commits == 2  # the waiting one, then the seven queued meanwhile


async def test_writes_queued_while_another_writer_commits_join_the_waiting_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another worker's commit holds the lock for a moment: the batch waits on the loop,
    # and what is queued meanwhile is committed with it, in one transaction.
    monkeypatch.setattr(group_commit, "LOCK_PATIENCE", 60.0)  # never the thread pool here
    path = tmp_path / "index.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        assert index.write_lock is not None
        fd = os.open(lock_file(path), os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        put = asyncio.ensure_future(index.put(_entry("1.2.6.1")))
        while index.write_lock.waits == 0:
            await asyncio.sleep(0.001)
        more = asyncio.ensure_future(index.put_many([_entry(f"1.2.6.{n}") for n in range(2, 9)]))
        while index.write_lock.waits < 2:
            await asyncio.sleep(0.001)
        assert not put.done()
        os.close(fd)
        await asyncio.wait_for(asyncio.gather(put, more), 10)
        assert await index.count() == 8
        assert index.commits == 1


async def test_closing_logs_the_write_transactions_and_the_lock_found_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What a worker of several tells at the end (with -v): how often it committed, and how
    # often another writer's commit was in its way.
    path = tmp_path / "index.sqlite"
    index = await SqliteIndex.open(path, fsync=False)
    try:
        await index.put(_entry("1.2.7.1"))
        fd = os.open(lock_file(path), os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker's transaction
        put = asyncio.ensure_future(index.put(_entry("1.2.7.2")))
        assert index.write_lock is not None
        while index.write_lock.waits == 0:
            await asyncio.sleep(0.001)
        os.close(fd)
        await asyncio.wait_for(put, 10)
        waits = index.write_lock.waits
    finally:
        with caplog.at_level(logging.DEBUG, logger="dicomnet.archive"):
            await index.close()
    closing = [r.getMessage() for r in caplog.records if " closed: " in r.getMessage()]
    assert closing == [
        f"index {path} closed: 2 write transactions, the write lock found taken {waits} times"
    ]
    assert waits >= 1


def test_write_lock_without_waiting_reports_a_lock_taken_in_this_process(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    first, second = WriteLock(path), WriteLock(path)
    try:
        assert first.acquire(wait=False)
        assert not first.acquire(wait=False)  # another thread of this process holds it
        assert not second.acquire(wait=False)  # another open file (another process) holds it
        first.release()
        assert second.acquire(wait=False)
        second.release()
        assert first.waits == 1 and second.waits == 1
    finally:
        first.close()
        second.close()


_WRITER = """
import asyncio, sys
sys.path.insert(0, sys.argv[3])
from test_sqlite_writers import _entry, _item
from dicomnet.archive import SqliteIndex
from dicomnet.archive.backends import open_worklist

async def main(path, me):
    async with await SqliteIndex.open(path, fsync=False) as index:
        worklist = await open_worklist(index)
        async def one(n):
            await index.put(_entry(f"1.2.5.{me}.{n}", series=n % 3))
        for start in range(0, 300, 30):  # waves of 30 concurrent puts
            await asyncio.gather(*(one(n) for n in range(start, start + 30)))
            await worklist.add(_item(f"W{me}", f"{me}-{start}"))
        await worklist.close()
        print(index.commits, index.write_lock.waits)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_worker_processes_writing_one_index_lose_nothing_and_never_fail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index" / "index.sqlite"
    here = str(Path(__file__).parent)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WRITER,
            str(path),
            str(me),
            here,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for me in range(4)
    ]
    results = [await proc.communicate() for proc in procs]
    errors = [err.decode()[-600:] for _, err in results]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert not any("database is locked" in e for e in errors)
    with sqlite3.connect(path) as conn:
        uids = {row[0] for row in conn.execute("SELECT sop_uid FROM instance")}
        items = conn.execute("SELECT COUNT(*) FROM worklist_item").fetchone()[0]
    assert uids == {f"1.2.5.{me}.{n}" for me in range(4) for n in range(300)}
    assert items == 40
    # Group commit still groups: each process used far fewer transactions than puts.
    commits = [int(out.split()[0]) for out, _ in results]
    assert all(c < 300 for c in commits), commits


async def test_a_series_another_writer_deleted_is_made_again_not_joined_by_its_old_key(
    tmp_path: Path,
) -> None:
    """The writer remembers series keys; another worker's deletion (and a new series that
    may take the freed key) must not leave an instance joined to the wrong series."""
    path = tmp_path / "index.sqlite"
    async with _two_writers(path) as (mine, other):
        await mine.put(_entry("1.2.6.1", series=1))  # series 1's key remembered
        await other.put(_entry("1.2.6.2", series=2))  # another worker adds: keys stay right
        await mine.put(_entry("1.2.6.3", series=1))
        await other.delete(series_uid=_SERIES.format(1))
        await other.put(_entry("1.2.6.4", series=3))  # may take series 1's freed key
        await mine.put(_entry("1.2.6.5", series=1))
    rows = _series_of_instances(path)
    assert rows == _in_series({"1.2.6.2": 2, "1.2.6.4": 3, "1.2.6.5": 1})


async def test_a_walked_entry_joins_its_kept_series_after_another_writers_commit(
    tmp_path: Path,
) -> None:
    """After another worker's commit, the kept key of a walked entry's series (its Series
    Instance UID read as an attribute) is checked and used: no parent upserts."""
    from archive.test_sqlite_shared_runs import _entries as _walked

    path = tmp_path / "index.sqlite"
    series = "1.2.826.0.1.3680043.8.498.72.{}".format

    def walked(uid: str, number: int) -> IndexEntry:
        return _walked(uid, number, series=series(number % 10))[0]

    async with _two_writers(path) as (mine, other):
        await mine.put(walked("1.2.16.11", 11))  # series 1's key remembered
        await other.put(walked("1.2.16.12", 12))  # another worker commits
        statements: list[str] = []
        assert mine._writer is not None
        mine._writer.set_trace_callback(statements.append)
        await mine.put_many([walked("1.2.16.21", 21), walked("1.2.16.31", 31)])
        mine._writer.set_trace_callback(None)
    upserts = [s for s in statements if s.startswith(("INSERT INTO patient", "INSERT INTO series"))]
    assert upserts == []
    assert _key_checks(statements)
    rows = _series_of_instances(path)
    assert rows["1.2.16.21"] == rows["1.2.16.31"] == series(1)


async def test_series_keys_outside_a_batch_survive_another_writers_commit(
    tmp_path: Path,
) -> None:
    """After another worker's commit only the keys a batch needs are checked; the others
    are kept (checked when needed), so a later batch of another series upserts no parents."""
    path = tmp_path / "index.sqlite"
    async with _two_writers(path) as (mine, other):
        await mine.put(_entry("1.2.7.1", series=1))
        await mine.put(_entry("1.2.7.2", series=2))  # both keys remembered
        await other.put(_entry("1.2.7.3", series=3))  # another worker commits
        await mine.put(_entry("1.2.7.4", series=1))  # checks series 1's key only
        statements: list[str] = []
        assert mine._writer is not None
        mine._writer.set_trace_callback(statements.append)
        await mine.put(_entry("1.2.7.5", series=2))
        mine._writer.set_trace_callback(None)
    upserts = [s for s in statements if s.startswith(("INSERT INTO patient", "INSERT INTO series"))]
    assert upserts == []
    assert _key_checks(statements)


async def test_a_kept_series_key_another_writer_freed_is_not_joined(tmp_path: Path) -> None:
    """A key kept unchecked through another worker's commits, whose series that worker
    deleted (and whose row key a new series may take), is checked before it is used."""
    path = tmp_path / "index.sqlite"
    async with _two_writers(path) as (mine, other):
        await _series_2_freed(mine, other, "1.2.8", forget=False)
        await mine.put(_entry("1.2.8.4", series=1))  # series 2's key kept, unchecked
        await other.put(_entry("1.2.8.5", series=4))
        await mine.put(_entry("1.2.8.6", series=2))
    assert _series_of_instances(path) == _in_series(
        {"1.2.8.1": 1, "1.2.8.3": 3, "1.2.8.4": 1, "1.2.8.5": 4, "1.2.8.6": 2}
    )


async def test_kept_keys_no_more_than_a_batch_are_all_checked_in_its_one_statement(
    tmp_path: Path,
) -> None:
    """After another worker's commit, a batch with at least as many entries as there are
    kept keys checks them all at once: a key whose series that worker deleted (and whose
    row key a new series may take) is dropped, the others are used without upserts."""
    path = tmp_path / "index.sqlite"
    async with _two_writers(path) as (mine, other):
        await _series_2_freed(mine, other, "1.2.9", forget=True)
        statements: list[str] = []
        assert mine._writer is not None
        mine._writer.set_trace_callback(statements.append)
        await mine.put_many([_entry("1.2.9.4", series=1), _entry("1.2.9.5", series=1)])
        checks = _key_checks(statements)
        upserts = [s for s in statements if s.startswith(("INSERT INTO series", "INSERT INTO pat"))]
        assert len(checks) == 1
        assert re.findall(r"pk IN \(([^)]*)\)", checks[0])[0].count(",") == 1  # both keys
        # The side tables are looked at in the same statement, not in one of their own.
        assert [s for s in statements if "FROM pending" in s] == checks
        assert upserts == []
        statements.clear()
        await mine.put(_entry("1.2.9.6", series=2))  # its key was dropped: made again
        assert [s for s in statements if s.startswith("INSERT INTO series")]
        mine._writer.set_trace_callback(None)
    assert _series_of_instances(path) == _in_series(
        {"1.2.9.1": 1, "1.2.9.3": 3, "1.2.9.4": 1, "1.2.9.5": 1, "1.2.9.6": 2}
    )


async def test_a_row_another_writer_journaled_is_seen_with_the_kept_keys_checked(
    tmp_path: Path,
) -> None:
    """The statement that checks all kept keys after another worker's commit also finds
    the journal row that worker wrote: the batch indexing that path removes it."""
    path = tmp_path / "index.sqlite"
    async with _two_writers(path) as (mine, other):
        await mine.put(_entry("1.2.10.1", series=1))
        await mine.put(_entry("1.2.10.2", series=1))  # no side rows: none looked for
        await other.journal("/x/1.2.10.4.dcm", "1.2.10.4")
        statements: list[str] = []
        assert mine._writer is not None
        mine._writer.set_trace_callback(statements.append)
        await mine.put_many([_entry("1.2.10.3", series=1), _entry("1.2.10.4", series=1)])
        mine._writer.set_trace_callback(None)
        assert _key_checks(statements)
        assert await mine.journaled() == []
        assert await other.journaled() == []


async def test_a_cancelled_call_holds_its_connection_until_the_thread_is_done(
    tmp_path: Path,
) -> None:
    """Cancelling a caller must not free a connection a pool thread still uses.

    The send queue's reader was cancelled at shutdown while its query ran; the
    connection was then closed under the running query and the process crashed.
    """
    index = await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False)
    started, release = threading.Event(), threading.Event()

    def blocking() -> int:
        started.set()
        release.wait(10)
        return 1

    call = asyncio.ensure_future(index.run(blocking))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    call.cancel()
    await asyncio.sleep(0.05)
    assert not call.done()  # still waiting for the thread, not handed back
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    assert call.cancelled()
    assert await index.count() == 0  # the index goes on working
    await index.close()


@pytest.mark.parametrize(("fsync", "commits"), [(False, 2), (True, 1)])
async def test_a_batch_waits_for_entries_that_keep_coming_only_with_fsync(
    tmp_path: Path, fsync: bool, commits: int
) -> None:
    # One store completes per loop turn (an association's window arriving). With fsync a
    # commit costs a sync, so the batch waits while entries keep coming; without it the
    # batch commits once GATHER_ENOUGH are queued and the rest form the next one.
    assert group_commit.GATHER_ENOUGH == 4 < group_commit.GATHER_TURNS == 8
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=fsync) as index:
        puts = []
        for n in range(8):
            puts.append(index.put(_entry(f"1.2.9.{n}")))
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*puts), 10)
        assert await index.count() == 8
        assert index.commits == commits


async def test_after_a_large_batch_the_next_one_waits_for_half_as_many(tmp_path: Path) -> None:
    # Under load (many associations) batches are large: the next one keeps gathering until
    # half as many are queued (here: for every turn that adds one), not only GATHER_ENOUGH.
    async with await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False) as index:
        await index.put_many([_entry(f"1.2.10.{n}") for n in range(20)])
        assert index.commits == 1
        puts = []
        for n in range(8):
            puts.append(index.put(_entry(f"1.2.11.{n}")))
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*puts), 10)
        assert index.commits == 2
        assert await index.count() == 28
