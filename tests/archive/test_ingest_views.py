"""The indexed store writes through ``write_views`` (straight from the receive buffer) too."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.archive import IndexUnavailable, SqliteIndex
from dicomnet.archive.ingest import HEADER_CAPTURE, IndexedStore
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.query import Query, parse_query
from dicomnet.query.models import STUDY_ROOT
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo

EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _info(uid: str, sop_class: str) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=sop_class, sop_instance_uid=uid, transfer_syntax_uid=EXPLICIT_LE
    )


async def test_views_are_written_and_indexed_like_chunks(tmp_path: Path) -> None:
    first, second, *_ = archive_datasets()
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False) as index:
        store = IndexedStore(FolderStore(tmp_path / "store", fsync=False), index)
        by_view, by_chunk = [], []
        for ds, kept in ((first, by_view), (second, by_chunk)):
            data = encode_dataset(ds, EXPLICIT_LE)
            info = _info(str(ds.SOPInstanceUID), str(ds.SOPClassUID))
            sink = await store.open_sink(info)
            if kept is by_view:
                write_views = getattr(sink, "write_views", None)
                assert write_views is not None
                # Cut into pieces, the header split across them, as PDVs arrive.
                view = memoryview(data)
                write_views([view[:7], view[7:100], view[100:]])
            else:
                await sink.write(data)
            stored = await sink.commit(info)
            assert stored.path is not None
            kept.append((stored.path.read_bytes(), data))
        for written, data in (*by_view, *by_chunk):
            assert written.endswith(data)  # file meta, then the data set as received
        for ds in (first, second):
            found = await index.locate(str(ds.SOPInstanceUID))
            assert found is not None and found.path is not None
        # The indexed columns came from the bytes captured from the views.
        rows = [m async for m in index.matches(_study_query(str(first.StudyInstanceUID)))]
        assert [str(m.identifier.PatientID) for m in rows] == [str(first.PatientID)]


def _study_query(study_uid: str) -> Query:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    identifier.PatientID = ""
    return parse_query(identifier, STUDY_ROOT)


async def test_no_write_views_when_the_inner_sink_has_none(tmp_path: Path) -> None:
    first = archive_datasets()[0]
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False) as index:
        store = IndexedStore(MemoryStore(), index)
        sink = await store.open_sink(_info(str(first.SOPInstanceUID), str(first.SOPClassUID)))
        assert getattr(sink, "write_views", None) is None
        await sink.discard()
    assert HEADER_CAPTURE >= 1024


@pytest.mark.parametrize("fsync", [True, False])
async def test_commits_run_in_the_stores_executor_with_fsync_and_on_the_loop_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    threads: dict[str, list[str]] = {"fsync": [], "link_pending": []}

    def recording(name: str, original: Any) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            threads[name].append(threading.current_thread().name)
            return original(*args, **kwargs)

        return record

    monkeypatch.setattr(
        FolderStore, "link_pending", recording("link_pending", FolderStore.link_pending)
    )
    first = archive_datasets()[0]
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=fsync) as index:
        store = IndexedStore(FolderStore(tmp_path / "store", fsync=fsync), index)
        info = _info(str(first.SOPInstanceUID), str(first.SOPClassUID))
        sink = await store.open_sink(info)
        await sink.write(encode_dataset(first, EXPLICIT_LE))
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", recording("fsync", real_fsync))
        stored = await sink.commit(info)
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert stored.path is not None and stored.path.is_file()
        assert await index.count() == 1
    loop_thread = threading.current_thread().name
    if fsync:
        # The file's fsync ran in the store's commit thread as for a plain folder store,
        # its naming (intent log sync, link, folder sync) and the WAL's sync in the
        # index's thread pool: no sync on the loop's thread.
        assert threads["fsync"][0].startswith("dicomnet-commit")
        assert all(name.startswith("dicomnet-") for name in threads["fsync"])
        assert threads["link_pending"] and all(
            name.startswith("dicomnet-index") for name in threads["link_pending"]
        )
    else:
        assert threads["fsync"] == []
        assert threads["link_pending"] == [loop_thread]
    assert list((tmp_path / "store" / ".incoming").iterdir()) == []
    # (The names were noted in the intent log, every line settled.)
    assert isinstance(store.store, FolderStore)
    assert all(segment.open == 0 for segment in store.store.intents.segments())


@pytest.mark.parametrize("fsync", [False, True])
async def test_a_row_the_index_refuses_takes_its_file_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    first, second, *_ = archive_datasets()
    async with await SqliteIndex.open(tmp_path / "i.sqlite", fsync=fsync) as index:
        store = IndexedStore(FolderStore(tmp_path / "store", fsync=fsync), index)
        for ds, fails in ((first, True), (second, False)):
            if fails:

                def refuse(jobs: Any, wait: bool) -> None:
                    raise sqlite3.OperationalError("disk I/O error")

                monkeypatch.setattr(index, "_write_batch", refuse)
            else:
                monkeypatch.undo()
            info = _info(str(ds.SOPInstanceUID), str(ds.SOPClassUID))
            sink = await store.open_sink(info)
            await sink.write(encode_dataset(ds, EXPLICIT_LE))
            if fails:
                with pytest.raises(IndexUnavailable):
                    await sink.commit(info)
            else:
                stored = await sink.commit(info)
                assert stored.path is not None and stored.path.is_file()
        assert await index.count() == 1
        assert await index.locate(str(first.SOPInstanceUID)) is None
    # Nothing the index does not know of: neither the file nor its temporary name.
    folder = tmp_path / "store"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        f"{second.SOPInstanceUID}.dcm"
    ]
    assert list((folder / ".incoming").iterdir()) == []
    assert isinstance(store.store, FolderStore)
    assert all(segment.open == 0 for segment in store.store.intents.segments())
