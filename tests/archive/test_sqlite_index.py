"""The index (SQLite and PostgreSQL): put, query, retrieve selection, delete, group commit,
persistence."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import warnings
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.fixtures import SERIES_A1, STUDY_A, STUDY_B, STUDY_C, archive_datasets, write_archive

from dicomnet.archive import (
    IndexBackend,
    IndexUnavailable,
    SqliteIndex,
    entry_from_file,
    entry_from_header,
)
from dicomnet.archive import sqlite_group_commit as group_commit
from dicomnet.archive.backends import open_index
from dicomnet.archive.plan import POSTGRESQL, plan_query
from dicomnet.archive.sqlite_group_commit import CHECKPOINT_EVERY
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.query import InstanceIndex, find_matches, parse_query, select_instances
from dicomnet.query.models import PATIENT_ROOT, STUDY_ROOT

EXPLICIT_LE = "1.2.840.10008.1.2.1"


def ident(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


def canonical(datasets: list[Dataset]) -> list[bytes]:
    return sorted(encode_dataset(ds, EXPLICIT_LE) for ds in datasets)


async def sql_found(index: IndexBackend, identifier: Dataset, model=STUDY_ROOT) -> list[Dataset]:
    query = parse_query(identifier, model, relational=True)
    return [m.identifier async for m in index.matches(query)]


def memory_found(memory: InstanceIndex, identifier: Dataset, model=STUDY_ROOT) -> list[Dataset]:
    query = parse_query(identifier, model, relational=True)
    return [m.identifier for m in find_matches(memory, query)]


@pytest.fixture
async def loaded(tmp_path: Path, index_location):
    files = write_archive(tmp_path / "files")
    index = await open_index(index_location)
    await index.put_many([entry_from_file(path, source_ae_title="MODALITY") for path in files])
    memory = InstanceIndex.from_folder(tmp_path / "files")
    try:
        yield index, memory
    finally:
        await index.close()


async def test_study_level_answers_and_computed_attributes(loaded) -> None:
    index, memory = loaded
    identifier = ident(
        "STUDY",
        PatientName="doe*",
        StudyDate="20240101-20240131",
        StudyInstanceUID="",
        ModalitiesInStudy="",
        NumberOfStudyRelatedInstances="",
        NumberOfStudyRelatedSeries="",
        SOPClassesInStudy="",
    )
    answers = await sql_found(index, identifier)
    assert len(answers) == 1
    (study,) = answers
    assert study.StudyInstanceUID == STUDY_A
    assert list(study.ModalitiesInStudy) == ["CT", "MR"]
    assert study.NumberOfStudyRelatedInstances == 3
    assert study.NumberOfStudyRelatedSeries == 2
    assert canonical(answers) == canonical(memory_found(memory, identifier))


async def test_plan_translates_indexed_keys_and_leaves_the_rest(loaded) -> None:
    identifier = ident(
        "STUDY", PatientName="DOE*", StudyDate="20240101-", StudyID="S1", StudyInstanceUID=""
    )
    plan = plan_query(parse_query(identifier, STUDY_ROOT))
    assert set(plan.translated) == {0x00100010, 0x00080020, 0x00200010}
    assert "GLOB" in plan.sql and "JOIN patient" in plan.sql
    postgres = plan_query(parse_query(identifier, STUDY_ROOT), POSTGRESQL)
    assert "LIKE" in postgres.sql and "GLOB" not in postgres.sql
    assert postgres.params == [p.replace("*", "%") if p == "doe*" else p for p in plan.params]
    index, _ = loaded
    assert [a.StudyInstanceUID for a in await sql_found(index, identifier)] == [STUDY_A]


@pytest.mark.parametrize(
    ("level", "keys"),
    [
        ("PATIENT", {"PatientID": "", "NumberOfPatientRelatedStudies": ""}),
        ("PATIENT", {"PatientName": "ROE^JANE", "NumberOfPatientRelatedInstances": ""}),
        ("STUDY", {"StudyInstanceUID": f"{STUDY_A}\\{STUDY_C}", "AccessionNumber": ""}),
        ("STUDY", {"ModalitiesInStudy": "CT", "StudyDate": ""}),
        ("STUDY", {"StudyTime": "-1015", "StudyDate": "2024-"}),
        ("STUDY", {"StudyTime": "10", "PatientName": "DOE^JOHN^^"}),
        ("SERIES", {"StudyInstanceUID": STUDY_A, "Modality": "C?", "SeriesInstanceUID": ""}),
        ("SERIES", {"Modality": "CT\\US", "NumberOfSeriesRelatedInstances": ""}),
        ("IMAGE", {"SeriesInstanceUID": SERIES_A1, "SOPInstanceUID": "", "InstanceNumber": "2"}),
        ("IMAGE", {"SOPInstanceUID": "", "Rows": "4"}),
    ],
)
async def test_same_answers_as_the_in_memory_index(loaded, level: str, keys: dict) -> None:
    index, memory = loaded
    identifier = ident(level, **keys)
    sql = await sql_found(index, identifier, PATIENT_ROOT)
    assert sql, "each case finds something"
    assert canonical(sql) == canonical(memory_found(memory, identifier, PATIENT_ROOT))


async def test_retrieve_selection_gives_the_files(loaded) -> None:
    index, memory = loaded
    query = parse_query(ident("STUDY", StudyInstanceUID=STUDY_A), STUDY_ROOT, retrieve=True)
    records = await index.instances(query)
    expected = select_instances(memory, query)
    assert sorted(r.sop_instance_uid for r in records) == sorted(
        r.sop_instance_uid for r in expected
    )
    assert {r.path for r in records} == {r.path for r in expected}
    assert all(r.transfer_syntax_uid for r in records)
    assert await index.locate(records[0].sop_instance_uid) is not None
    assert await index.locate("1.2.3.4") is None


async def test_delete_by_study_series_instance_prunes_empty_parents(loaded) -> None:
    index, _ = loaded
    assert await index.count() == 5
    paths = await index.delete(study_uid=STUDY_B)
    assert len(paths) == 1 and Path(paths[0]).name == "i3.dcm"
    assert await index.count() == 4
    patients = await sql_found(
        index, ident("PATIENT", PatientID="P1", NumberOfPatientRelatedStudies=""), PATIENT_ROOT
    )
    assert patients[0].NumberOfPatientRelatedStudies == 1
    assert len(await index.delete(series_uid=SERIES_A1)) == 2
    uid = f"{STUDY_C}.1.5"
    assert await index.delete(sop_instance_uid=uid) == [str(Path(paths[0]).parent / "i4.dcm")]
    # Patient P2 had only that instance: nothing of it is left.
    assert await sql_found(index, ident("PATIENT", PatientID="P2"), PATIENT_ROOT) == []
    with pytest.raises(ValueError):
        await index.delete()


async def test_replacing_an_instance_moves_it(tmp_path: Path, index_location) -> None:
    first, *_ = archive_datasets()
    async with await open_index(index_location) as index:
        common = {
            "sop_instance_uid": str(first.SOPInstanceUID),
            "sop_class_uid": str(first.SOPClassUID),
            "transfer_syntax_uid": EXPLICIT_LE,
            "size": 10,
        }
        await index.put(entry_from_header(first, path="/a.dcm", **common))
        moved = Dataset(first)
        moved.StudyInstanceUID = "1.2.3"
        moved.SeriesInstanceUID = "1.2.3.4"
        await index.put(entry_from_header(moved, path="/b.dcm", **common))
        assert await index.count() == 1
        studies = await sql_found(index, ident("STUDY", StudyInstanceUID=""))
        assert [s.StudyInstanceUID for s in studies] == ["1.2.3"]
        record = await index.locate(common["sop_instance_uid"])
        assert record is not None and str(record.path) == "/b.dcm"


async def test_a_batch_with_a_replacement_and_a_uid_twice_keeps_the_last_of_each(
    tmp_path: Path, index_location
) -> None:
    first, second, *_ = archive_datasets()
    syntax = {"sop_class_uid": str(first.SOPClassUID), "transfer_syntax_uid": EXPLICIT_LE}
    async with await open_index(index_location, fsync=False) as index:
        await index.put(
            entry_from_header(
                first, sop_instance_uid=str(first.SOPInstanceUID), path="/a.dcm", size=1, **syntax
            )
        )
        moved = Dataset(first)
        moved.StudyInstanceUID = "1.2.3"
        moved.SeriesInstanceUID = "1.2.3.4"
        uid = str(second.SOPInstanceUID)
        # One transaction: a new instance, the first one replaced, the new one again.
        await index.put_many(
            [
                entry_from_header(second, sop_instance_uid=uid, path="/b1.dcm", size=1, **syntax),
                entry_from_header(
                    moved,
                    sop_instance_uid=str(first.SOPInstanceUID),
                    path="/a2.dcm",
                    size=1,
                    **syntax,
                ),
                entry_from_header(second, sop_instance_uid=uid, path="/b2.dcm", size=1, **syntax),
            ]
        )
        assert await index.count() == 2
        found = await index.locate(str(first.SOPInstanceUID))
        assert found is not None and str(found.path) == "/a2.dcm"
        found = await index.locate(uid)
        assert found is not None and str(found.path) == "/b2.dcm"
        series = await sql_found(index, ident("SERIES", SeriesInstanceUID="1.2.3.4"))
        assert [s.SeriesInstanceUID for s in series] == ["1.2.3.4"]


async def test_concurrent_puts_share_commits(tmp_path: Path, index_location) -> None:
    async with await open_index(index_location, fsync=False) as index:
        entries = _entries(40, "1.2.826.0.1.3680043.8.498.99")
        await asyncio.gather(*(index.put(entry) for entry in entries))
        assert await index.count() == 40
        assert index.commits < 40  # batched: 40 callers, fewer transactions


async def test_reopened_index_keeps_its_rows(tmp_path: Path, index_location) -> None:
    files = write_archive(tmp_path / "files")
    async with await open_index(index_location) as index:
        await index.put(entry_from_file(files[0]))
    async with await open_index(index_location) as index:
        assert await index.count() == 1


async def test_closed_index_refuses_work(tmp_path: Path, index_location) -> None:
    index = await open_index(index_location)
    await index.close()
    files = write_archive(tmp_path / "files")
    with pytest.raises(IndexUnavailable):
        await index.put(entry_from_file(files[0]))
    assert isinstance(IndexUnavailable("x"), OSError)


def _entries(count: int, prefix: str = "1.2.826.0.1.3680043.8.498.98") -> list:
    datasets = archive_datasets()
    entries = []
    for n in range(count):
        ds = Dataset(datasets[n % 5])
        ds.SOPInstanceUID = f"{prefix}.{n}"
        entries.append(
            entry_from_header(
                ds,
                sop_instance_uid=str(ds.SOPInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                transfer_syntax_uid=EXPLICIT_LE,
                path=f"/x/{n}.dcm",
                size=1,
            )
        )
    return entries


async def test_inline_writes_wait_for_another_writer_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "i.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        assert index.inline_writes  # the default without fsync
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing (index delete, a worker)
        put = asyncio.ensure_future(index.put(_entries(1)[0]))
        ticks = 0
        for _ in range(20):  # the event loop keeps running while the put waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not put.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(put, 10)
        assert ticks == 20
        assert await index.count() == 1
        # Back on the loop's thread afterwards: the writer does not wait for locks there.
        await index.put(_entries(2)[1])
        assert await index.count() == 2


async def _wal_after_many_batches(path: Path) -> int:
    async with await SqliteIndex.open(path, fsync=False) as index:
        entries = _entries(4 * 6 * CHECKPOINT_EVERY)
        for start in range(0, len(entries), 4):  # 6 x CHECKPOINT_EVERY commits
            await index.put_many(entries[start : start + 4])
        assert index.commits >= 6 * CHECKPOINT_EVERY
        assert await index.count() == len(entries)
        return path.with_name(path.name + "-wal").stat().st_size


async def test_inline_writes_keep_the_wal_checkpointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer's own automatic checkpoint is off (it could fsync on the loop's thread);
    # the index checkpoints in its thread pool instead. Once the WAL has grown past
    # WAL_FRAMES_LIMIT (here at once) a checkpoint holds the writer up until it has
    # copied every frame: the WAL starts again from its beginning and stays short.
    monkeypatch.setattr(group_commit, "WAL_FRAMES_LIMIT", 0)
    checkpointed = await _wal_after_many_batches(tmp_path / "a.sqlite")
    monkeypatch.setattr(group_commit, "CHECKPOINT_EVERY", 10**9)
    unchecked = await _wal_after_many_batches(tmp_path / "b.sqlite")
    assert checkpointed * 2 < unchecked


class _HeldCheckpoints:
    """Makes the index's checkpoint connection wait for :attr:`release` in its checkpoints."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        connect = SqliteIndex._connect
        held = self

        class Held:
            def __init__(self, conn: sqlite3.Connection) -> None:
                self.conn = conn

            def execute(self, sql: str) -> sqlite3.Cursor:
                if "wal_checkpoint" in sql:
                    held.started.set()
                    held.release.wait(10)
                return self.conn.execute(sql)

            def close(self) -> None:
                self.conn.close()

        monkeypatch.setattr(
            SqliteIndex,
            "_connect",
            lambda self, read_only: (
                connect(self, True) if read_only else Held(connect(self, False))
            ),
        )


async def test_commits_go_on_while_a_checkpoint_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "CHECKPOINT_EVERY", 2)
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False) as index:
        entries = _entries(6)
        await index.put(entries[0])
        held = _HeldCheckpoints(monkeypatch)
        await index.put(entries[1])  # the second batch: a checkpoint starts
        assert await asyncio.to_thread(held.started.wait, 10)
        for entry in entries[2:]:  # committed while it waits
            await asyncio.wait_for(index.put(entry), 10)
        held.release.set()
        assert await index.count() == 6


async def test_past_the_wal_limit_a_checkpoint_holds_the_commits_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(group_commit, "WAL_FRAMES_LIMIT", 0)
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False) as index:
        entries = _entries(3)
        held = _HeldCheckpoints(monkeypatch)
        first = asyncio.ensure_future(index.put(entries[0]))  # then a checkpoint
        assert await asyncio.to_thread(held.started.wait, 10)
        await asyncio.wait_for(first, 10)
        second = asyncio.ensure_future(index.put(entries[1]))
        await asyncio.sleep(0.1)
        assert not second.done()  # waits for the checkpoint
        held.release.set()
        await asyncio.wait_for(second, 10)
        assert await index.count() == 2


async def test_fsync_index_answers_a_put_once_the_wal_holding_its_row_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "i.sqlite"
    async with await SqliteIndex.open(path) as index:
        assert index.fsync and index.inline_writes and index.syncs_folders
        synced, release = threading.Event(), threading.Event()
        wal_sizes: list[int] = []
        sync_wal = index._sync_wal

        def held_sync() -> None:
            wal_sizes.append(path.with_name(path.name + "-wal").stat().st_size)
            synced.set()
            release.wait(10)
            sync_wal()

        monkeypatch.setattr(index, "_sync_wal", held_sync)
        put = asyncio.ensure_future(index.put_many(_entries(3)))
        assert await asyncio.to_thread(synced.wait, 10)
        await asyncio.sleep(0.05)
        assert not put.done()  # committed (written to the WAL), not answered before the sync
        assert wal_sizes[0] > 0
        release.set()
        await asyncio.wait_for(put, 10)
        assert await index.count() == 3
        # Deletions are not followed by a WAL sync: they commit in synchronous=FULL.
        await index.delete(sop_instance_uid="1.2.826.0.1.3680043.8.498.98.0")
        assert index._writer is not None
        assert index._writer.execute("PRAGMA synchronous").fetchone()[0] == 2


async def test_a_batch_whose_wal_sync_fails_fails_and_leaves_no_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await SqliteIndex.open(tmp_path / "i.sqlite") as index:
        await index.put(_entries(1)[0])

        def broken() -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(index, "_sync_wal", broken)
        with pytest.raises(IndexUnavailable):
            await index.put_many(_entries(4)[1:])
        assert await index.count() == 1  # the rows of the failed batch are removed again
        assert await sql_found(index, ident("SERIES", SeriesInstanceUID="")) != []


async def test_fsync_index_in_the_thread_pool_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    async with await SqliteIndex.open(path, inline_writes=False) as index:
        assert index.fsync and index.syncs_folders
        await index.put_many(_entries(3))
        assert await index.count() == 3


UNIQUE = {"STUDY": 0x0020000D, "SERIES": 0x0020000E, "IMAGE": 0x00080018}


async def test_paged_matches_follow_on_from_each_other(loaded) -> None:
    """offset/limit (QIDO-RS): pages in key order, together the unpaged answer, both ways.

    Without keys to finish in memory the database pages (LIMIT/OFFSET); with
    a wildcard the matcher still has the last word and the index skips matches.
    """
    index, _ = loaded
    for identifier in (
        ident("IMAGE", SOPInstanceUID="", InstanceNumber=""),
        ident("IMAGE", SOPInstanceUID="", PatientName="*o*"),
        ident("SERIES", SeriesInstanceUID="", Modality="CT\\MR"),
    ):
        query = parse_query(identifier, STUDY_ROOT, relational=True)
        unpaged = [str(m.identifier[UNIQUE[query.level]].value) async for m in index.matches(query)]
        assert len(unpaged) >= 2, identifier
        for size in (1, 2, len(unpaged)):
            pages: list[str] = []
            for offset in range(0, len(unpaged) + 1, size):
                page = [
                    str(m.identifier[UNIQUE[query.level]].value)
                    async for m in index.matches(query, offset=offset, limit=size)
                ]
                assert len(page) == min(size, len(unpaged) - offset)
                pages.extend(page)
            assert sorted(pages) == sorted(unpaged)  # no gap, no repeat
            assert pages == [
                str(m.identifier[UNIQUE[query.level]].value)
                async for m in index.matches(query, offset=0, limit=len(unpaged) + 5)
            ]  # one order for every page
        assert [m async for m in index.matches(query, limit=0)] == []
        assert [m async for m in index.matches(query, offset=len(unpaged))] == []


def test_paging_goes_to_the_database_only_when_every_row_matches() -> None:
    from dicomnet.archive.finding import paged_sql
    from dicomnet.archive.plan import SQLITE

    plan = plan_query(parse_query(ident("STUDY", StudyInstanceUID=""), STUDY_ROOT))
    sql, params = paged_sql(plan, SQLITE, offset=3, limit=None, exact=True)
    assert sql.endswith(" ORDER BY t.pk LIMIT ? OFFSET ?") and params[-2:] == [-1, 3]
    sql, params = paged_sql(plan, POSTGRESQL, offset=0, limit=7, exact=True)
    assert params[-2:] == [7, 0]
    sql, params = paged_sql(plan, SQLITE, offset=3, limit=5, exact=False)
    assert sql.endswith(" ORDER BY t.pk") and params == plan.params


async def test_entries_arriving_over_consecutive_loop_turns_share_one_commit(
    tmp_path: Path,
) -> None:
    """Stores ending one loop turn apart (a process serving few connections at a time)
    are committed together, up to GATHER_ENOUGH of them without fsync (see
    test_sqlite_writers); a lone store is committed after one quiet turn."""
    stores = group_commit.GATHER_ENOUGH - 1
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False) as index:
        entries = _entries(stores + 1, "1.2.826.0.1.3680043.8.498.97")
        loop = asyncio.get_running_loop()
        puts: list[asyncio.Future[None]] = []

        def put(n: int) -> None:
            puts.append(asyncio.ensure_future(index.put(entries[n])))
            if n + 1 < stores:
                loop.call_soon(put, n + 1)  # the next one a loop turn later

        put(0)
        while len(puts) < stores:
            await asyncio.sleep(0)
        await asyncio.gather(*puts)
        assert index.commits == 1
        await index.put(entries[stores])
        assert index.commits == 2
        assert await index.count() == stores + 1
