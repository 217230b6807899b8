"""The SQLite index names a batch's unnamed files before committing their rows (naming)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

import dicomnet.archive.ingest as ingest_module
import dicomnet.archive.sqlite_group_commit as group_commit
from dicomnet.archive import IndexUnavailable, SqliteIndex
from dicomnet.archive.ingest import IndexedFileSink, IndexedStore
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.storage import intents as intents_module
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import (
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    Outcome,
    StorageSink,
    StoredInstance,
    WalkedHeader,
)
from dicomnet.storage.unnamed import FolderHandle, can_link_unnamed

pytestmark = pytest.mark.skipif(
    not can_link_unnamed(tempfile.gettempdir(), tempfile.gettempdir()),
    reason="no O_TMPFILE on this system",
)

EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _info(ds: Dataset) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.SOPInstanceUID),
        transfer_syntax_uid=EXPLICIT_LE,
    )


async def _received(store: IndexedStore, ds: Dataset) -> StorageSink:
    sink = await store.open_sink(_info(ds))
    await sink.write(encode_dataset(ds, EXPLICIT_LE))
    return sink


def _rows(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {str(uid) for (uid,) in conn.execute("SELECT sop_uid FROM instance")}


@pytest.mark.parametrize("fsync", [True, False])
async def test_each_batch_notes_syncs_links_then_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    events: list[tuple[str, Any]] = []
    real_note, real_link = intents_module.IntentLog.note_all, FolderHandle.link
    real_sync = os.fdatasync

    def note_all(log: intents_module.IntentLog, names: list[str]) -> Any:
        events.append(("noted", sorted(names)))
        return real_note(log, names)

    def fdatasync(fd: int) -> None:
        real_sync(fd)
        events.append(("synced", fd))

    def link(handle: FolderHandle, fd: int, name: str) -> None:
        # Its name is in the log on disk already, its row not yet committed.
        assert name in [p.name for _, paths in folder.intents_left() for p in paths]
        events.append(("link", (name, name[: -len(".dcm")] in _rows(db))))
        real_link(handle, fd, name)

    datasets = archive_datasets()
    async with await SqliteIndex.open(db, fsync=fsync) as index:
        folder = FolderStore(root, fsync=fsync)
        store = IndexedStore(folder, index)
        monkeypatch.setattr(intents_module.IntentLog, "note_all", note_all)
        monkeypatch.setattr(intents_module.os, "fdatasync", fdatasync)
        monkeypatch.setattr(FolderHandle, "link", link)
        sinks = [await _received(store, ds) for ds in datasets]
        assert events == []  # nothing noted at open

        async def commit(sink: StorageSink, ds: Dataset) -> StoredInstance:
            stored = await sink.commit(_info(ds))
            # Success: file and row are there.
            assert stored.path is not None and stored.path.is_file()
            assert str(ds.SOPInstanceUID) in _rows(db)
            return stored

        stored = await asyncio.gather(*map(commit, sinks, datasets))
        assert all(s.outcome is Outcome.STORED for s in stored)
        batches = index.commits
    noted = [names for kind, names in events if kind == "noted"]
    # One write to the log per batch (several files each), before its links.
    assert len(noted) <= batches < len(datasets)
    assert sorted(n for names in noted for n in names) == sorted(
        f"{ds.SOPInstanceUID}.dcm" for ds in datasets
    )
    for n, (kind, value) in enumerate(events):
        if kind == "link":
            name, had_row = value
            assert not had_row
            last_note = max(i for i in range(n) if events[i][0] == "noted")
            assert name in events[last_note][1]
            # With fsync, the log was synced after the names were written, before the link.
            assert (
                any(events[i][0] == "synced" for i in range(last_note, n))
                if fsync
                else all(events[i][0] != "synced" for i in range(last_note, n))
            )
    # Every line settled once the rows were in.
    assert all(segment.open == 0 for segment in folder.intents.segments())


async def test_a_store_cancelled_while_its_batch_names_it_is_kept_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch owns the file's descriptor from the hand-over: the cancelled store's
    file is linked and indexed by it (or neither), never closed under it."""
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    started, release = threading.Event(), threading.Event()
    real = group_commit._name_files

    named: list[int] = []  # files in each batch's hop

    def slow(links: list[Any], folders: list[str]) -> Any:
        named.append(len(links))
        started.set()
        release.wait(10)
        return real(links, folders)

    monkeypatch.setattr(group_commit, "_name_files", slow)
    datasets = archive_datasets()[:4]
    async with await SqliteIndex.open(db, fsync=True) as index:
        folder = FolderStore(root, fsync=True)
        store = IndexedStore(folder, index)
        sinks = [await _received(store, ds) for ds in datasets]
        tasks = [
            asyncio.ensure_future(sink.commit(_info(ds)))
            for sink, ds in zip(sinks, datasets, strict=True)
        ]
        # Every file handed over: in the hop held up, or queued for the next one.
        while not started.is_set() or named[0] + len(index._queue) < len(datasets):
            await asyncio.sleep(0.001)
        tasks[1].cancel()
        await asyncio.sleep(0.01)
        assert tasks[1].done()  # the store is not held up: the batch has the file
        await sinks[1].discard()  # what the Storage SCP does after a cancellation
        release.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[1], asyncio.CancelledError)
        assert all(isinstance(d, StoredInstance) for i, d in enumerate(done) if i != 1)
        # Every file is in the folder and the index, the cancelled one too.
        uids = {str(ds.SOPInstanceUID) for ds in datasets}
        assert _rows(db) == uids
        assert {p.name for p in root.glob("*.dcm")} == {f"{uid}.dcm" for uid in uids}
        assert all(segment.open == 0 for segment in folder.intents.segments())


@pytest.mark.parametrize("duplicates", [Duplicate.KEEP_FIRST, Duplicate.REFUSE])
async def test_one_instance_twice_in_a_batch_is_stored_and_indexed_once(
    tmp_path: Path, duplicates: Duplicate
) -> None:
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    first, other = archive_datasets()[:2]
    async with await SqliteIndex.open(db, fsync=False) as index:
        folder = FolderStore(root, fsync=False, duplicates=duplicates)
        store = IndexedStore(folder, index)
        sinks = [await _received(store, ds) for ds in (first, first, other)]
        done = await asyncio.gather(
            *(
                sink.commit(_info(ds))
                for sink, ds in zip(sinks, (first, first, other), strict=True)
            ),
            return_exceptions=True,
        )
        assert isinstance(done[0], StoredInstance) and done[0].outcome is Outcome.STORED
        if duplicates is Duplicate.KEEP_FIRST:
            assert isinstance(done[1], StoredInstance)
            assert done[1].outcome is Outcome.DUPLICATE_KEPT
        else:
            assert isinstance(done[1], DuplicateRefused)
            await sinks[1].discard()
        assert isinstance(done[2], StoredInstance)
        assert index.commits == 1
        assert _rows(db) == {str(first.SOPInstanceUID), str(other.SOPInstanceUID)}
        assert sorted(p.name for p in root.glob("*.dcm")) == sorted(
            f"{ds.SOPInstanceUID}.dcm" for ds in (first, other)
        )
        assert all(segment.open == 0 for segment in folder.intents.segments())


def _walk(size: int) -> WalkedHeader:
    """Stands for the Storage SCP's walk of a data set (only its size is read here: the
    entry is made by entry_from_data_set in place of walked_entry)."""
    return WalkedHeader(values={}, uncaptured=frozenset(), pixel_offset=None, size=size)


def _entry_of_bytes(
    head: bytes | bytearray, walk: Any, info: InstanceInfo, path: str, size: int, *memo: Any
):
    return ingest_module.entry_from_data_set(
        bytes(head),
        complete=True,
        sop_instance_uid=info.sop_instance_uid,
        sop_class_uid=info.sop_class_uid,
        transfer_syntax_uid=info.transfer_syntax_uid,
        path=path,
        size=size,
        source_ae_title=info.source_ae_title,
    )


@pytest.mark.parametrize("fails", [False, True], ids=["stored", "batch fails"])
async def test_an_unnamed_file_sink_indexes_itself_from_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    first, second = archive_datasets()[:2]
    monkeypatch.setattr(ingest_module, "walked_entry", _entry_of_bytes)
    arounds: list[object] = []
    real_around = IndexedFileSink._around

    def around(self: IndexedFileSink) -> Any:
        arounds.append(self)
        return real_around(self)

    monkeypatch.setattr(IndexedFileSink, "_around", around)
    async with await SqliteIndex.open(db, fsync=False) as index:
        folder = FolderStore(root, fsync=False)
        store = IndexedStore(folder, index)
        if fails:

            def refuse(batch: Any, wait: bool) -> None:
                raise sqlite3.OperationalError("disk I/O error")

            monkeypatch.setattr(index, "_write_batch", refuse)
        sinks = []
        for ds in (first, second):
            sink = await store.open_sink(_info(ds))
            # The file sink itself, written straight from the views, no sink around it.
            assert isinstance(sink, IndexedFileSink)
            data = encode_dataset(ds, EXPLICIT_LE)
            sink.write_views([memoryview(data)])
            sink.header_walked(_walk(len(data)))
            sinks.append(sink)
        done = await asyncio.gather(
            *(sink.commit(_info(ds)) for sink, ds in zip(sinks, (first, second), strict=True)),
            return_exceptions=True,
        )
        uids = {str(ds.SOPInstanceUID) for ds in (first, second)}
        if fails:
            # Each fails alone (one by one after the batch), its file removed.
            assert all(isinstance(d, IndexUnavailable) for d in done)
            assert _rows(db) == set() and list(root.glob("*.dcm")) == []
            assert len(arounds) == 2  # (the failure answered as an IndexedSink does)
        else:
            assert all(isinstance(d, StoredInstance) for d in done)
            assert _rows(db) == uids
            assert {p.name for p in root.glob("*.dcm")} == {f"{uid}.dcm" for uid in uids}
            assert arounds == []  # the entry made from the walk, no IndexedSink around it
        assert all(segment.open == 0 for segment in folder.intents.segments())


async def test_an_unnamed_file_sink_without_the_walk_is_indexed_from_its_bytes(
    tmp_path: Path,
) -> None:
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    (ds,) = archive_datasets()[:1]
    async with await SqliteIndex.open(db, fsync=False) as index:
        store = IndexedStore(FolderStore(root, fsync=False), index)
        sink = await _received(store, ds)
        assert isinstance(sink, IndexedFileSink)
        stored = await sink.commit(_info(ds))  # (an IndexedSink around it makes the entry)
        assert stored.outcome is Outcome.STORED
        assert _rows(db) == {str(ds.SOPInstanceUID)}


async def test_a_route_picks_the_destinations_of_each_unnamed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store's sinks take its route (a plain function here) from their class: it is
    # called as given, for an entry made from the walk and for one made around the sink.
    root, db = tmp_path / "store", tmp_path / "i.sqlite"
    first, second = archive_datasets()[:2]
    monkeypatch.setattr(ingest_module, "walked_entry", _entry_of_bytes)
    routed: list[str] = []

    def route(info: InstanceInfo, entry: Any) -> tuple[str, ...]:
        routed.append(entry.sop_instance_uid)
        return ("B", info.sop_instance_uid)

    async with await SqliteIndex.open(db, fsync=False) as index:
        queued: list[Any] = []
        put_shared = index.put_shared

        def spy(entry: Any) -> Any:
            queued.append(entry)
            return put_shared(entry)

        monkeypatch.setattr(index, "put_shared", spy)
        store = IndexedStore(FolderStore(root, fsync=False), index, route=route)
        for ds, walked in ((first, True), (second, False)):
            sink = await store.open_sink(_info(ds))
            assert isinstance(sink, IndexedFileSink)
            data = encode_dataset(ds, EXPLICIT_LE)
            sink.write_views([memoryview(data)])
            if walked:
                sink.header_walked(_walk(len(data)))
            stored = await sink.commit(_info(ds))
            assert stored.outcome is Outcome.STORED
        uids = [str(ds.SOPInstanceUID) for ds in (first, second)]
        assert routed == uids
        assert [entry.forward_to for entry in queued] == [("B", uid) for uid in uids]
        assert _rows(db) == set(uids)
