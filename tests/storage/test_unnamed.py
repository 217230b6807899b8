"""FolderStore with unnamed temporary files (O_TMPFILE): named only when complete."""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from dicomnet.storage import folder as folder_module
from dicomnet.storage import intents as intents_module
from dicomnet.storage.folder import FileSink, FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.sinks import Duplicate, DuplicateRefused, Outcome
from dicomnet.storage.unnamed import FolderHandle, can_link_unnamed
from dicomnet.systems.resources import open_resources
from dicomnet.systems.spec import SystemSpec
from storage.test_folder import files_in, info_for
from storage.test_scp_support import files_being_received

pytestmark = pytest.mark.skipif(
    not can_link_unnamed(tempfile.gettempdir(), tempfile.gettempdir()),
    reason="no O_TMPFILE on this system",
)


@pytest.mark.parametrize("fsync", [False, True])
async def test_the_file_gets_its_name_complete_and_byte_identical(
    tmp_path: Path, fsync: bool
) -> None:
    store = FolderStore(tmp_path, fsync=fsync)
    assert store.unnamed
    info = info_for("1.2.3")
    sink = await store.open_sink(info)
    data = bytes(range(256)) * 40
    assert isinstance(sink, FileSink)
    sink.write_views([memoryview(data)[:1000], memoryview(data)[1000:]])
    assert files_in(tmp_path) == []  # nothing has a name before the commit
    assert len(files_being_received(store.incoming)) == 1
    stored = await sink.commit(info)
    assert stored.outcome is Outcome.STORED and stored.size == len(data)
    assert (tmp_path / "1.2.3.dcm").read_bytes() == file_header(info) + data
    assert files_in(tmp_path) == ["1.2.3.dcm"]
    assert files_being_received(store.incoming) == []  # the descriptor is closed


async def test_discard_closes_and_leaves_nothing(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    sink = await store.open_sink(info_for("1.2.4"))
    await sink.write(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100")
    await sink.discard()
    assert files_in(tmp_path) == []
    assert files_being_received(store.incoming) == []


async def test_a_failed_link_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=False)
    sink = await store.open_sink(info_for("1.10"))
    await sink.write(b"abcdefgh")

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "no space")

    monkeypatch.setattr(os, "link", no_space)
    with pytest.raises(OSError):
        await sink.commit(info_for("1.10"))
    assert files_in(tmp_path) == []
    assert files_being_received(store.incoming) == []


@pytest.mark.parametrize("policy", [Duplicate.KEEP_FIRST, Duplicate.REFUSE])
async def test_a_name_taken_while_receiving_is_never_overwritten(
    tmp_path: Path, policy: Duplicate
) -> None:
    store = FolderStore(tmp_path, duplicates=policy)
    first = await store.open_sink(info_for("1.5"))
    second = await store.open_sink(info_for("1.5"))  # both opened before either commits
    await first.write(b"first...")
    await second.write(b"second..")
    assert (await first.commit(info_for("1.5"))).outcome is Outcome.STORED
    if policy is Duplicate.REFUSE:
        with pytest.raises(DuplicateRefused):
            await second.commit(info_for("1.5"))
    else:
        kept = await second.commit(info_for("1.5"))
        assert kept.outcome is Outcome.DUPLICATE_KEPT and kept.path == tmp_path / "1.5.dcm"
    assert (tmp_path / "1.5.dcm").read_bytes().endswith(b"first...")
    assert files_in(tmp_path) == ["1.5.dcm"]
    assert files_being_received(store.incoming) == []


@pytest.mark.parametrize("fsync", [False, True])
async def test_commit_linked_notes_the_final_name_before_the_link_until_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    store = FolderStore(tmp_path, fsync=fsync, commit_threads=0)
    assert store.unnamed
    events: list[str] = []
    real_sync, real_link = intents_module.IntentLog.sync_to, FolderHandle.link

    def sync_to(log: intents_module.IntentLog, intent: intents_module.Intent) -> None:
        real_sync(log, intent)
        events.append("log synced" if fsync else "log written")

    def link(handle: FolderHandle, fd: int, name: str) -> None:
        names = [n for _, ns in store.intents_left() for n in ns]
        events.append(f"linked, noted: {[p.name for p in names]}")
        real_link(handle, fd, name)

    monkeypatch.setattr(intents_module.IntentLog, "sync_to", sync_to)
    monkeypatch.setattr(FolderHandle, "link", link)
    info = info_for("1.6")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    await sink.write(b"abcdefgh")
    stored = sink.commit_linked(info)
    # The name is in the log (synced first with fsync) before the file has it.
    assert events == ["log synced" if fsync else "log written", "linked, noted: ['1.6.dcm']"]
    assert stored.path is not None and stored.path.read_bytes() == file_header(info) + b"abcdefgh"
    assert store.leftovers() == []  # no temporary name
    ((segment, paths),) = store.intents_left()
    assert paths == [tmp_path / "1.6.dcm"]
    sink.release()
    assert segment.parent == tmp_path / ".intents" / ".incoming"
    assert files_in(tmp_path) == [".intents/.incoming/" + segment.name, "1.6.dcm"]


async def test_full_settled_segments_of_the_log_are_removed(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=True, commit_threads=0)
    store.intents.segment_records = 2
    sinks = []
    for n in range(5):
        info = info_for(f"1.9.{n}")
        sink = await store.open_sink(info)
        assert isinstance(sink, FileSink)
        await sink.write(b"abcdefgh")
        await sink.commit_linked_async(info)
        sinks.append(sink)
    assert [len(paths) for _, paths in store.intents_left()] == [2, 2, 1]
    sinks[0].release()
    sinks[2].release()
    sinks[3].release()  # its segment is full and settled: removed by the next sync
    assert [len(paths) for _, paths in store.intents_left()] == [2, 2, 1]
    sinks[1].release()
    info = info_for("1.9.9")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    await sink.commit_linked_async(info)
    sink.release()
    sinks[4].release()
    # Left: the last full segment (settled, removed by the next sync) and the new one.
    assert [paths for _, paths in store.intents_left()] == [
        [tmp_path / "1.9.4.dcm", tmp_path / "1.9.9.dcm"],
        [],
    ]
    store.intents.close()
    assert store.intents_left() == []


async def test_a_torn_last_line_of_the_log_is_not_read(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=False)
    store.intents_folder.mkdir(parents=True)
    (store.intents_folder / "x-1.intents").write_bytes(b"1.2.dcm\n1.3.dcm\n1.4.d")
    assert store.intents_left() == [
        (store.intents_folder / "x-1.intents", [tmp_path / "1.2.dcm", tmp_path / "1.3.dcm"])
    ]


async def test_a_duplicate_kept_or_a_failed_link_settles_its_line(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=False)
    info = info_for("1.10")
    first, second = await store.open_sink(info), await store.open_sink(info)
    assert isinstance(first, FileSink) and isinstance(second, FileSink)
    first.commit_linked(info)
    kept = second.commit_linked(info)  # the name was taken meanwhile
    assert kept.outcome is Outcome.DUPLICATE_KEPT
    second.release()
    first.release()
    assert store.intents.segment_records > 2  # (one segment for both lines)
    ((_, paths),) = store.intents_left()
    assert paths == [tmp_path / "1.10.dcm"] * 2


async def test_replace_and_unsupported_systems_use_named_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replacing = FolderStore(tmp_path / "a", duplicates=Duplicate.REPLACE)
    sink = await replacing.open_sink(info_for("1.7"))
    assert isinstance(sink, FileSink)
    assert sink.temp_path.parent == replacing.incoming  # os.replace needs a name
    await sink.discard()
    monkeypatch.setattr(folder_module, "can_link_unnamed", lambda folder, into: False)
    elsewhere = FolderStore(tmp_path / "b")
    assert not elsewhere.unnamed
    sink = await elsewhere.open_sink(info_for("1.8"))
    assert isinstance(sink, FileSink) and sink.temp_path.parent == elsewhere.incoming
    await sink.write(b"abcdefgh")
    assert (await sink.commit(info_for("1.8"))).outcome is Outcome.STORED
    assert files_in(tmp_path / "b") == ["1.8.dcm"]


@pytest.mark.parametrize("index", [False, True])
async def test_a_system_store_uses_unnamed_files_with_or_without_an_index(
    tmp_path: Path, index: bool
) -> None:
    """With an index too: the intent log stands for the temporary name (commit_linked)."""
    spec = SystemSpec(path=tmp_path / "s.toml", name="s", description="", aes=(), store=Path("s"))
    resources = await open_resources(replace(spec, index=index), tmp_path, fsync=False)
    try:
        assert resources.folder is not None
        assert resources.folder.unnamed
    finally:
        await resources.close()


async def test_names_noted_at_open_share_the_log_sync_of_an_earlier_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=True)
    syncs: list[int] = []
    fdatasync = os.fdatasync

    def counting(fd: int) -> None:
        syncs.append(fd)
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    sinks = []
    for n in range(6):  # six instances on the way (a window): each name noted at open
        sink = await store.open_sink(info_for(f"1.12.{n}"))
        assert isinstance(sink, FileSink)
        sink.note_final_name()
        await sink.write(b"abcdefgh")
        sinks.append(sink)
    for n, sink in enumerate(sinks):
        stored = await sink.commit_linked_async(info_for(f"1.12.{n}"))
        assert stored.outcome is Outcome.STORED
        sink.release()
    assert len(syncs) == 1  # the first commit's sync covered all six names
    assert sorted(files_in(tmp_path))[1:] == sorted(f"1.12.{n}.dcm" for n in range(6))
