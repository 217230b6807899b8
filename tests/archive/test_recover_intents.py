"""Recovery of files received unnamed: the intent log names what a crash may have left."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.archive.backends import open_index
from dicomnet.archive.ingest import IndexedStore
from dicomnet.archive.recover import reconcile
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.storage.folder import FileSink, FolderStore
from dicomnet.storage.sinks import InstanceInfo
from dicomnet.storage.unnamed import can_link_unnamed

pytestmark = pytest.mark.skipif(
    not can_link_unnamed(tempfile.gettempdir(), tempfile.gettempdir()),
    reason="no O_TMPFILE on this system",
)

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _info(ds: Dataset) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=CT, sop_instance_uid=str(ds.SOPInstanceUID), transfer_syntax_uid=EXPLICIT_LE
    )


async def _linked_without_row(store: FolderStore, ds: Dataset) -> Path:
    """A crash after the file got its name, before its row: the line is not settled."""
    sink = await store.open_sink(_info(ds))
    assert isinstance(sink, FileSink)
    await sink.write(encode_dataset(ds, EXPLICIT_LE))
    stored = await sink.commit_linked_async(_info(ds))
    assert stored.path is not None
    return Path(stored.path)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize("fsync", [False, True])
async def test_reconcile_indexes_the_files_the_log_names_and_only_those(
    tmp_path: Path, index_location: object, fsync: bool
) -> None:
    root = tmp_path / "store"
    datasets = archive_datasets()
    odd = datasets[4]
    odd.SOPInstanceUID = "1.02.3"  # (a leading zero) stored under a digest name: read
    async with await open_index(index_location, fsync=fsync) as index:  # type: ignore[arg-type]
        store = FolderStore(root, fsync=fsync, clean_incoming=False)
        assert store.unnamed
        indexed = IndexedStore(store, index)
        # Stored and indexed: its line is settled, its segment still open.
        sink = await indexed.open_sink(_info(datasets[0]))
        await sink.write(encode_dataset(datasets[0], EXPLICIT_LE))
        done = await sink.commit(_info(datasets[0]))
        # Stored, indexed, then deleted (its file left behind by a crash).
        sink = await indexed.open_sink(_info(datasets[1]))
        await sink.write(encode_dataset(datasets[1], EXPLICIT_LE))
        deleted = await sink.commit(_info(datasets[1]))
        assert await index.delete(sop_instance_uid=str(datasets[1].SOPInstanceUID))
        # Linked into place, no row yet.
        lost = [await _linked_without_row(store, ds) for ds in (datasets[2], odd)]
        # Noted, never linked (or removed again when its row failed).
        never = await store.open_sink(_info(datasets[3]))
        assert isinstance(never, FileSink)
        store.intents.note("1.2.3.404.dcm")
    assert deleted.path is not None and Path(deleted.path).is_file()
    assert len(store.intents_left()) == 1
    async with await open_index(index_location, fsync=fsync) as index:  # type: ignore[arg-type]
        report = await reconcile(index, FolderStore(root, fsync=fsync, clean_incoming=False))
        assert sorted(report.indexed) == sorted(str(p) for p in lost)
        assert report.removed == [str(deleted.path)]
        assert not Path(deleted.path).exists()
        assert await index.count() == 3
        for ds, path in zip((datasets[2], odd), lost, strict=True):
            found = await index.locate(str(ds.SOPInstanceUID))
            assert found is not None and found.path == path
        found = await index.locate(str(datasets[0].SOPInstanceUID))
        assert found is not None and str(found.path) == done.location
        assert await index.locate(str(datasets[1].SOPInstanceUID)) is None
        assert store.intents_left() == []
        # A second start-up has nothing to do.
        again = await reconcile(index, FolderStore(root, fsync=fsync, clean_incoming=False))
        assert again.indexed == [] and again.removed == []


async def test_a_failed_row_removes_the_file_before_settling_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the file is gone, the line stays: a crash in between leaves no orphan."""
    root = tmp_path / "store"
    ds = archive_datasets()[0]
    async with await open_index(root / ".index" / "index.sqlite", fsync=False) as index:
        store = FolderStore(root, fsync=False, clean_incoming=False)
        store.intents.segment_records = 1  # its segment goes as soon as the line is settled
        seen: list[tuple[bool, int]] = []
        settle = store.intents.settle

        def settling(segment):  # type: ignore[no-untyped-def]
            seen.append((Path(root / "1.2.3.dcm").exists(), len(store.intents_left())))
            settle(segment)

        def refuse(jobs, wait):  # type: ignore[no-untyped-def]
            # (The batch's file is linked by now: its row fails.)
            assert Path(root / "1.2.3.dcm").exists()
            raise ValueError("no row for this one")

        monkeypatch.setattr(store.intents, "settle", settling)
        monkeypatch.setattr(index, "_write_batch", refuse)
        ds.SOPInstanceUID = "1.2.3"
        sink = await IndexedStore(store, index).open_sink(_info(ds))
        await sink.write(encode_dataset(ds, EXPLICIT_LE))
        with pytest.raises(OSError, match="cannot index"):
            await sink.commit(_info(ds))
        assert seen == [(False, 1)]  # the file was gone, the line still there
        store.intents.note("next.dcm")  # a second segment: the first one goes
        assert [p.name for _, paths in store.intents_left() for p in paths] == ["next.dcm"]
