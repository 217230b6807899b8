"""Unnamed files named a batch at a time (dicomnet.storage.naming): order, failures, the log."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path

import pytest

from dicomnet.storage import folder as folder_module
from dicomnet.storage import intents as intents_module
from dicomnet.storage.folder import FileSink, FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.naming import PendingLink, link_all, settle_all
from dicomnet.storage.sinks import Duplicate, Outcome, StorageError
from dicomnet.storage.unnamed import FolderHandle, can_link_unnamed
from storage.test_folder import files_in, info_for

pytestmark = pytest.mark.skipif(
    not can_link_unnamed(tempfile.gettempdir(), tempfile.gettempdir()),
    reason="no O_TMPFILE on this system",
)


async def _pending(store: FolderStore, uid: str, data: bytes = b"abcdefgh") -> PendingLink:
    sink = await store.open_sink(info_for(uid))
    assert isinstance(sink, FileSink)
    await sink.write(data)
    return sink.unlinked()


def _lines(store: FolderStore) -> list[str]:
    return [path.name for _, paths in store.intents_left() for path in paths]


@pytest.mark.parametrize("fsync", [False, True])
async def test_a_batch_is_noted_in_one_write_and_synced_once_before_any_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    store = FolderStore(tmp_path, fsync=fsync)
    links = [await _pending(store, f"1.20.{n}") for n in range(5)]
    assert _lines(store) == [] and files_in(tmp_path) == []  # nothing noted or named yet
    events: list[str] = []
    real_write, real_sync, real_link = os.write, os.fdatasync, FolderHandle.link
    real_folders = folder_module.fsync_folders
    log_fds = set()

    def write(fd: int, data: bytes) -> int:
        log_fds.add(fd)
        lines = data.count(b"\n")
        events.append(f"write {lines} lines")
        return real_write(fd, data)

    def fdatasync(fd: int) -> None:
        assert fd in log_fds
        events.append("log synced")
        real_sync(fd)

    def link(handle: FolderHandle, fd: int, name: str) -> None:
        assert _lines(store)[-5:] == [f"1.20.{n}.dcm" for n in range(5)]
        events.append("link")
        real_link(handle, fd, name)

    def folders(names: list[str]) -> None:
        events.append("folders " + ", ".join(str(n) for n in names))
        real_folders(names)

    monkeypatch.setattr(intents_module.os, "write", write)
    monkeypatch.setattr(intents_module.os, "fdatasync", fdatasync)
    monkeypatch.setattr(FolderHandle, "link", link)
    monkeypatch.setattr(folder_module, "fsync_folders", folders)
    assert link_all(links) == []
    # The names in the log (one write; durable first with fsync), then the links,
    # then the folder once.
    assert events == [
        "write 5 lines",
        *(["log synced"] if fsync else []),
        *["link"] * 5,
        *([f"folders {tmp_path}"] if fsync else []),
    ]
    assert all(link.linked and link.fd == -1 for link in links)
    assert link_all(links) == []  # (named already: nothing done again)
    assert len(events) == (8 if fsync else 6)
    for n, link in enumerate(links):
        path = Path(link.final)
        assert path == tmp_path / f"1.20.{n}.dcm"
        assert path.read_bytes() == file_header(info_for(f"1.20.{n}")) + b"abcdefgh"
    # Lines stay until settled (the rows are in); then a full log segment goes.
    assert len(_lines(store)) == 5
    settle_all(links)
    assert all(segment.open == 0 for segment in store.intents.segments())


@pytest.mark.parametrize("duplicates", [Duplicate.KEEP_FIRST, Duplicate.REFUSE])
async def test_a_name_taken_is_not_linked_and_its_line_settled(
    tmp_path: Path, duplicates: Duplicate
) -> None:
    store = FolderStore(tmp_path, fsync=False, duplicates=duplicates)
    first, second, other = [await _pending(store, uid) for uid in ("1.21", "1.21", "1.22")]
    assert link_all([first, second, other]) == [second]
    assert first.linked and other.linked and not second.linked
    if duplicates is Duplicate.KEEP_FIRST:
        assert second.outcome is Outcome.DUPLICATE_KEPT and second.error is None
    else:
        assert second.outcome is None and isinstance(second.error, FileExistsError)
    assert second.fd == -1 and second.intent is None  # closed (gone), line settled
    assert sorted(files_in(tmp_path))[1:] == ["1.21.dcm", "1.22.dcm"]
    settle_all([first, other])
    assert all(segment.open == 0 for segment in store.intents.segments())


async def test_a_log_that_cannot_be_written_names_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=True)
    links = [await _pending(store, f"1.23.{n}") for n in range(3)]

    def full(log: intents_module.IntentLog, names: list[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(intents_module.IntentLog, "note_all", full)
    assert link_all(links) == links
    assert all(isinstance(link.error, OSError) and link.fd == -1 for link in links)
    assert files_in(tmp_path) == []


async def test_the_fsync_runs_in_a_commit_thread_and_a_file_given_up_closes_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=True)
    sink = await store.open_sink(info_for("1.24"))
    assert isinstance(sink, FileSink)
    await sink.write(b"abcdefgh")
    started, release = threading.Event(), threading.Event()
    fsync, close = os.fsync, os.close
    threads: list[str] = []
    closed: list[int] = []

    def slow(fd: int) -> None:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(5)
        fsync(fd)

    def closing(fd: int) -> None:
        closed.append(fd)
        close(fd)

    monkeypatch.setattr(folder_module.os, "fsync", slow)
    monkeypatch.setattr("dicomnet.storage.naming.os.close", closing)
    link = sink.unlinked()  # (returns at once: the fsync runs in a commit thread)
    assert started.wait(5) and threads[0].startswith("dicomnet-commit")
    fd = link.fd
    link.abandon()  # no batch takes it: closed, but not under the running fsync
    assert link.fd == -1 and closed == []
    release.set()
    for _ in range(500):
        if closed:
            break
        await asyncio.sleep(0.01)
    assert closed == [fd]  # then closed: an unnamed file is gone with it
    await sink.discard()  # (nothing left to do)
    assert closed == [fd] and files_in(tmp_path) == []


async def test_a_file_whose_fsync_failed_is_not_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=True)
    fsync = os.fsync
    failing: set[int] = set()

    def maybe(fd: int) -> None:
        if fd in failing:
            raise OSError(5, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(folder_module.os, "fsync", maybe)
    sinks = []
    for uid in ("1.25", "1.26"):
        sink = await store.open_sink(info_for(uid))
        assert isinstance(sink, FileSink)
        await sink.write(b"abcdefgh")
        sinks.append(sink)
    failing.add(sinks[0]._fd)
    bad, good = (sink.unlinked() for sink in sinks)
    assert link_all([bad, good]) == [bad]
    assert isinstance(bad.error, OSError) and bad.fd == -1 and not bad.linked
    assert good.linked
    assert sorted(files_in(tmp_path))[1:] == ["1.26.dcm"]


async def test_lines_noted_in_batches_roll_over_segments_and_settled_ones_go(
    tmp_path: Path,
) -> None:
    log = intents_module.IntentLog(tmp_path / "log", sync=True, segment_records=3)
    first = log.note_all(["a", "b"])
    second = log.note_all(["c", "d"])  # (a segment may run past its count by a batch)
    third = log.note_all(["e"])  # the first segment is full: a new one
    assert first.segment is second.segment and third.segment is not first.segment
    assert [names for _, names in intents_module.read_intents(tmp_path / "log")] == [
        ["a", "b", "c", "d"],
        ["e"],
    ]
    log.settle_all([first, first, second])
    assert len(intents_module.read_intents(tmp_path / "log")) == 2
    log.settle_all([second])  # all four settled: removed by the next sync
    log.note_all(["f"])
    assert [names for _, names in intents_module.read_intents(tmp_path / "log")] == [["e", "f"]]
    log.settle_all([third])
    log.close()
    assert [names for _, names in intents_module.read_intents(tmp_path / "log")] == [["e", "f"]]


@pytest.mark.parametrize("data", [b"", b"abcdefgh"])
async def test_an_unlinked_file_is_whole_and_its_descriptor_handed_over_once(
    tmp_path: Path, data: bytes
) -> None:
    store = FolderStore(tmp_path, fsync=False)
    sink = await store.open_sink(info_for("1.2.3.1"))
    assert isinstance(sink, FileSink)
    header = len(store.file_header(info_for("1.2.3.1")))
    if data:
        await sink.write(data)
    link = sink.unlinked()
    # Made as the class makes one (the usual hand-over stores its attributes itself).
    assert type(link) is PendingLink
    assert vars(link) == vars(PendingLink(store, link.fd, link.final))
    assert (link.outcome, link.error, link.intent) == (None, None, None)
    # The file header is in even for an empty data set (written at the hand-over).
    assert os.fstat(link.fd).st_size == header + len(data)
    assert link.final == str(tmp_path / "1.2.3.1.dcm") and link.synced is None
    with pytest.raises(StorageError):
        sink.unlinked()  # the link owns the descriptor now
    await sink.discard()  # does nothing to it
    assert os.fstat(link.fd).st_size == header + len(data)
    link.abandon()
    assert link.fd == -1 and files_in(tmp_path) == []


async def test_the_lines_of_one_write_are_settled_together_and_none_stands_for_none(
    tmp_path: Path,
) -> None:
    log = intents_module.IntentLog(tmp_path / "log", sync=False, segment_records=4)
    batch = log.note_all(["a", "b", "c", "d"])  # one Intent for its four lines
    log.note_all(["e"])  # the first segment is full: "e" starts the next one
    assert batch.segment.open == 4
    log.settle_all([batch, batch])  # two lines of the one write
    assert batch.segment.open == 2
    log.settle_all([None, batch])  # (a line settled alone before: None)
    assert batch.segment.open == 1
    assert len(intents_module.read_intents(tmp_path / "log")) == 2
    log.settle_all([batch])  # the last one: the full segment goes
    assert batch.segment.open == 0
    assert [names for _, names in intents_module.read_intents(tmp_path / "log")] == [["e"]]
    log.close()
