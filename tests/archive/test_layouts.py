"""Ingest, deletion, rebuild and recovery in both folder layouts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from pydicom.dataset import Dataset
from query.fixtures import SERIES_A1, STUDY_A, STUDY_B, archive_datasets, write_archive

import dicomnet.archive.sqlite_group_commit as group_commit
import dicomnet.storage.folder as folder_module
from dicomnet.archive import SqliteIndex
from dicomnet.archive.ingest import IndexedStore
from dicomnet.archive.rebuild import delete_from_archive, rebuild_index
from dicomnet.archive.recover import reconcile
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.layout import Layout
from dicomnet.storage.sinks import Duplicate, DuplicateRefused, InstanceInfo

from .test_serve_archive import Running

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
LAYOUTS = [Layout.FLAT, Layout.HIERARCHICAL]


def _info(ds: Dataset) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=CT, sop_instance_uid=str(ds.SOPInstanceUID), transfer_syntax_uid=EXPLICIT_LE
    )


async def _store(store: IndexedStore, ds: Dataset) -> Path | None:
    info = _info(ds)
    sink = await store.open_sink(info)
    await sink.write(encode_dataset(ds, EXPLICIT_LE))
    stored = await sink.commit(info)
    return stored.path


def _files(root: Path) -> list[Path]:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(directory, f) for f in files if not f.startswith(".")]
    return sorted(found)


async def _archive(
    root: Path, layout: Layout, **options: object
) -> tuple[IndexedStore, SqliteIndex]:
    index = await SqliteIndex.open(root / ".index" / "index.sqlite", fsync=False)
    store = FolderStore(root, fsync=False, layout=layout, **options)  # type: ignore[arg-type]
    indexed = IndexedStore(store, index)
    for ds in archive_datasets():
        await _store(indexed, ds)
    return indexed, index


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_ingest_delete_and_rebuild_in_each_layout(tmp_path: Path, layout: Layout) -> None:
    root = tmp_path / "store"
    indexed, index = await _archive(root, layout)
    try:
        assert await index.count() == 5
        assert list((root / ".incoming").iterdir()) == []  # no temporary name left
        # (Flat: the names were noted in the intent log, every line settled.)
        assert isinstance(indexed.store, FolderStore)
        assert all(segment.open == 0 for segment in indexed.store.intents.segments())
        files = _files(root)
        assert len(files) == 5
        first = archive_datasets()[0]
        found = await index.locate(str(first.SOPInstanceUID))
        assert found is not None and found.path is not None and found.path.is_file()
        if layout is Layout.HIERARCHICAL:
            assert found.path.relative_to(root).parts[:3] == (
                "P1",
                STUDY_A,
                SERIES_A1,
            )
        else:
            assert found.path.parent == root

        # Delete one instance, then a whole study: rows and files together.
        gone = await delete_from_archive(
            index, sop_instance_uid=str(first.SOPInstanceUID), root=root
        )
        assert gone == [found.path] and not found.path.exists()
        assert await index.locate(str(first.SOPInstanceUID)) is None
        removed = await delete_from_archive(index, study_uid=STUDY_A, root=root)
        assert len(removed) == 2 and not any(p.exists() for p in removed)
        assert await index.count() == 2
        assert await index.doomed() == []
        if layout is Layout.HIERARCHICAL:
            # The study's folders went with its last file; the patient's stays (study B).
            assert not (root / "P1" / STUDY_A).exists()
            assert (root / "P1" / STUDY_B).is_dir()
            await delete_from_archive(index, study_uid=STUDY_B, root=root)
            assert not (root / "P1").exists()
            assert (root / "P2").is_dir()
        assert root.is_dir() and (root / ".index").is_dir()

        # Rebuild from the folder gives the same rows.
        before = sorted(str(p) for p in _files(root))
        report = await rebuild_index(root, index)
        assert report.indexed == len(before) == await index.count()
        assert report.skipped == []  # the layout file is not taken for an instance
    finally:
        await index.close()


async def test_interrupted_deletion_is_finished_at_start_up(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store, index = await _archive(root, Layout.HIERARCHICAL)
    try:
        # The rows go, then the process dies before the files are removed.
        paths = await index.delete(study_uid=STUDY_A)
        assert len(paths) == 3 and all(Path(p).is_file() for p in paths)
    finally:
        await index.close()
    index = await SqliteIndex.open(root / ".index" / "index.sqlite", fsync=False)
    try:
        assert sorted(await index.doomed()) == sorted(paths)
        store = FolderStore(root, fsync=False, layout=Layout.HIERARCHICAL, clean_incoming=False)
        report = await reconcile(index, store)
        assert sorted(report.removed) == sorted(paths)
        assert not any(Path(p).exists() for p in paths)
        assert not (root / "P1" / STUDY_A).exists()
        assert await index.doomed() == []
        # A rebuild does not bring them back.
        assert (await rebuild_index(root, index)).indexed == 2
        assert not (root / "P1" / STUDY_A).exists()
    finally:
        await index.close()


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_file_moved_in_but_not_indexed_is_recovered_from_incoming(
    tmp_path: Path, layout: Layout
) -> None:
    root = tmp_path / "store"
    index = await SqliteIndex.open(root / ".index" / "index.sqlite", fsync=False)
    # Named temporary files: an unnamed one (O_TMPFILE) would leave nothing after a crash.
    store = FolderStore(root, fsync=False, layout=layout, unnamed=False)
    try:
        placed, unplaced = archive_datasets()[:2]
        # Crash after the link into place, before the row: the .part name is still there.
        sink = await store.open_sink(_info(placed))
        await sink.write(encode_dataset(placed, EXPLICIT_LE))
        stored = sink.commit_linked(_info(placed))  # type: ignore[attr-defined]
        # Crash while receiving another: a .part file with one link.
        other = await store.open_sink(_info(unplaced))
        await other.write(encode_dataset(unplaced, EXPLICIT_LE)[:100])
        assert len(store.leftovers()) == 2
        report = await reconcile(index, FolderStore(root, layout=layout, clean_incoming=False))
        assert report.indexed == [str(stored.path)]
        assert report.unfinished == 2
        assert store.leftovers() == []
        found = await index.locate(str(placed.SOPInstanceUID))
        assert found is not None and found.path == stored.path
        assert await index.locate(str(unplaced.SOPInstanceUID)) is None
    finally:
        await index.close()


async def test_hierarchical_duplicates_are_found_by_uid(tmp_path: Path) -> None:
    ds = archive_datasets()[0]
    moved = Dataset(ds)
    moved.PatientID = "ELSEWHERE"
    for policy in Duplicate:
        root = tmp_path / policy.value
        store, index = await _archive(root, Layout.HIERARCHICAL, duplicates=policy)
        try:
            first = await index.locate(str(ds.SOPInstanceUID))
            assert first is not None and first.path is not None
            if policy is Duplicate.REFUSE:
                with pytest.raises(DuplicateRefused):
                    await store.open_sink(_info(moved))
                continue
            path = await _store(store, moved)
            found = await index.locate(str(ds.SOPInstanceUID))
            assert found is not None
            if policy is Duplicate.KEEP_FIRST:
                assert path == first.path == found.path and first.path.is_file()
                assert not (root / "ELSEWHERE").exists()
            else:  # replaced: the new copy is indexed, the old one and its folders gone
                assert found.path == path and path is not None
                assert path.relative_to(root).parts[0] == "ELSEWHERE"
                assert not first.path.exists()
            assert len(_files(root)) == 5
        finally:
            await index.close()


async def test_serve_keeps_its_layout_across_restarts(tmp_path: Path) -> None:
    storescu = dcmtk_program("storescu")
    files = write_archive(tmp_path / "files")
    root = tmp_path / "store"
    base = ["--port", "0", "--host", "127.0.0.1", "--output", str(root), "--no-fsync"]
    running = Running([*base, "--layout", "hierarchical"])
    port = str(await running.port())
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", port, str(files[0])
        )
        assert code == 0, out
    finally:
        assert await running.stop() == 0
    first = archive_datasets()[0]
    assert (root / "P1" / STUDY_A / SERIES_A1 / f"{first.SOPInstanceUID}.dcm").is_file()
    # A restart without --layout keeps the folder's; asking for another one is refused.
    running = Running(base)
    port = str(await running.port())
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", port, str(files[3])
        )
        assert code == 0, out
    finally:
        assert await running.stop() == 0
    assert len(list(root.glob("P1/*/*/*.dcm"))) == 2
    assert list(root.glob("*.dcm")) == []
    running = Running([*base, "--layout", "flat"])
    assert await running.task == 2


class _StuckIndex:
    """An index whose put never returns (a commit cut short by cancellation)."""

    def __getattr__(self, name: str) -> object:
        raise AttributeError(name)

    async def put(self, entry: object) -> None:
        await asyncio.Event().wait()


async def test_store_cancelled_while_indexing_is_settled_at_start_up(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = FolderStore(root, fsync=False)
    ds = archive_datasets()[0]
    indexed = IndexedStore(store, _StuckIndex())  # type: ignore[arg-type]
    sink = await indexed.open_sink(_info(ds))
    await sink.write(encode_dataset(ds, EXPLICIT_LE))
    task = asyncio.ensure_future(sink.commit(_info(ds)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sink.discard()  # what the Storage SCP does on the way out
    final = store.path_for(str(ds.SOPInstanceUID))
    if store.unnamed:  # in place, its line in the intent log not settled
        assert store.leftovers() == []
        assert [paths for _, paths in store.intents_left()] == [[final]]
    else:
        (part,) = store.leftovers()
        assert part.stat().st_nlink == 2  # in place, its temporary name kept
    index = await SqliteIndex.open(root / ".index" / "index.sqlite", fsync=False)
    try:
        report = await reconcile(index, FolderStore(root, clean_incoming=False))
        assert report.indexed == [str(final)]
        assert store.leftovers() == [] and store.intents_left() == []
        assert await index.count() == 1
    finally:
        await index.close()


@pytest.mark.parametrize("inline_writes", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
async def test_folders_are_synced_once_per_batch_by_the_index_writer(
    tmp_path: Path, layout: Layout, inline_writes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The index syncs the folders of a batch's files once, in its thread pool, before
    # the batch's rows are committed (inline on the loop's thread or in the pool): for
    # unnamed files (flat) the folder store's link_pending, called by the index with
    # the batch, for named ones (hierarchical) the index itself. The folder store's
    # commit threads sync only the files.
    root = tmp_path / "store"
    path = root / ".index" / "index.sqlite"
    index = await SqliteIndex.open(path, inline_writes=inline_writes)
    syncs: list[tuple[str, list[str], int]] = []  # thread, folders, rows then

    def rows_now() -> int:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute("SELECT count(*) FROM instance").fetchone()[0])

    def noting(folders: Iterable[str]) -> None:
        folders = sorted(str(f) for f in folders)
        if folders:
            syncs.append((threading.current_thread().name, folders, rows_now()))

    monkeypatch.setattr(group_commit, "fsync_folders", noting)
    monkeypatch.setattr(folder_module, "fsync_folders", noting)
    try:
        assert index.syncs_folders
        folder = FolderStore(root, fsync=True, layout=layout)
        store = IndexedStore(folder, index)
        datasets = archive_datasets()
        paths = await asyncio.gather(*(_store(store, ds) for ds in datasets))
        # Each file's folder (and new folders' parents) synced by the writer, before the rows.
        assert syncs and all(thread.startswith("dicomnet-index") for thread, _, _ in syncs)
        synced = {folder for _, call, _ in syncs for folder in call}
        assert {str(p.parent) for p in paths if p is not None} <= synced
        if layout is Layout.HIERARCHICAL:
            assert str(root) in synced and str(root / "P1") in synced
        assert index.commits < len(datasets)  # grouped
        # At most one sync of the folders per batch, each before the batch's rows.
        assert 1 <= len(syncs) <= index.commits
        assert syncs[-1][2] < len(datasets)
    finally:
        await index.close()


async def test_a_path_stored_again_is_not_removed_by_an_older_deletion(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store, index = await _archive(root, Layout.FLAT)
    try:
        ds = archive_datasets()[0]
        # A deletion's rows went, its file not yet; then the instance is stored again.
        (path,) = await index.delete(sop_instance_uid=str(ds.SOPInstanceUID))
        Path(path).unlink()
        again = await _store(store, ds)
        assert str(again) == path
        assert await index.doomed() == []
        report = await reconcile(index, FolderStore(root, clean_incoming=False))
        assert report.removed == [] and Path(path).is_file()
    finally:
        await index.close()


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_a_deletion_syncs_the_folders_of_its_files_before_it_forgets_them(
    tmp_path: Path, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The note of a deleted instance's file goes only once its removal is durable: a
    # power loss must not bring back a file that nothing names as deleted (an intent
    # log segment naming it would index it again at the next start).
    import dicomnet.archive.rebuild as rebuild_module

    root = tmp_path / "store"
    _indexed, index = await _archive(root, layout)
    try:
        index.fsync = True  # (the archive was filled without syncs)
        events: list[tuple[str, object]] = []
        monkeypatch.setattr(
            rebuild_module, "fsync_folders", lambda folders: events.append(("sync", set(folders)))
        )
        forget = index.forget_doomed

        async def forgetting(paths: Sequence[str]) -> None:
            events.append(("forget", [Path(p).exists() for p in paths]))
            await forget(paths)

        monkeypatch.setattr(index, "forget_doomed", forgetting)
        removed = await delete_from_archive(index, study_uid=STUDY_A, root=root)
        assert removed
        assert events == [("sync", {p.parent for p in removed}), ("forget", [False] * len(removed))]
        assert await index.doomed() == []
    finally:
        await index.close()
