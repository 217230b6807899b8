"""The queue's wrapper around the inbound store keeps the Storage SCP's fast path: data set
fragments are written from the receive buffer (``write_views``) and the index takes its
columns from the SCP's walk (``header_walked``), as without a queue. A job handed to the
sender on receipt carries its source: the sender neither reads the file meta information
back nor walks the data set again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dicomnet.archive.ingest import IndexedFileSink
from dicomnet.queue import JobState
from dicomnet.queue.handoff import Received, file_identity
from dicomnet.storage.sinks import WalkedHeader
from dicomnet.storage.source import InstanceSource
from sendqueue.flaky import Destination
from sendqueue.forward import (
    HOST_DEST,
    data_set_bytes,
    make_files,
    send_files,
    start_router,
    wait_for_states,
)


async def test_a_router_writes_from_the_receive_buffer_and_indexes_from_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[WalkedHeader] = []
    written: list[int] = []
    header_walked = IndexedFileSink.header_walked
    write_views = IndexedFileSink.write_views

    def spy_walked(self: IndexedFileSink, walk: WalkedHeader) -> None:
        walked.append(walk)
        header_walked(self, walk)

    def spy_views(self: IndexedFileSink, views: list[memoryview]) -> None:
        written.append(sum(len(v) for v in views))
        write_views(self, views)

    def no_around(self: IndexedFileSink) -> Any:
        raise AssertionError("the entry was not made from the walk")

    # (The indexed store's sink of an unnamed file indexes itself: IndexedFileSink.)
    monkeypatch.setattr(IndexedFileSink, "header_walked", spy_walked)
    monkeypatch.setattr(IndexedFileSink, "write_views", spy_views)
    monkeypatch.setattr(IndexedFileSink, "_around", no_around)
    dest = Destination(tmp_path / "dest")
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    try:
        files = make_files(tmp_path / "src", 3)
        results = await send_files(running.ports["inbound"], files)
        assert all(r.ok for r in results)
        await wait_for_states(running, {JobState.SENT}, 3)
    finally:
        await running.close()
        await dest.close()
    assert len(walked) == 3
    assert sum(written) == sum(w.size for w in walked)
    assert dest.requests == 3


async def test_jobs_handed_over_on_receipt_are_sent_from_their_received_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[object] = []
    walked_again: list[str] = []
    from_path = InstanceSource.from_path.__func__  # type: ignore[attr-defined]
    check = InstanceSource.check

    def spy_from_path(cls: type[InstanceSource], path: object, **kw: int) -> InstanceSource:
        read_back.append(path)
        source: InstanceSource = from_path(cls, path, **kw)
        return source

    def spy_check(self: InstanceSource, *args: Any, **kwargs: Any) -> None:
        if not self._checked:
            walked_again.append(self.label)
        check(self, *args, **kwargs)

    dest = Destination(tmp_path / "dest")
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    try:
        files = make_files(tmp_path / "src", 4)
        monkeypatch.setattr(InstanceSource, "from_path", classmethod(spy_from_path))
        monkeypatch.setattr(InstanceSource, "check", spy_check)
        results = await send_files(running.ports["inbound"], files)
        assert all(r.ok for r in results)
        await wait_for_states(running, {JobState.SENT}, 4)
    finally:
        await running.close()
        await dest.close()
    # send_files reads the four files itself; the router read none of them back
    assert sorted(map(str, read_back)) == sorted(map(str, files))
    assert sorted(walked_again) == sorted(map(str, files))  # the SCU's checks, not the router's
    received = sorted(data_set_bytes(p) for p in (tmp_path / "dest").rglob("*") if p.is_file())
    assert received == sorted(data_set_bytes(f) for f in files)


def test_a_received_instance_whose_file_was_replaced_is_read_anew(tmp_path: Path) -> None:
    first, second = make_files(tmp_path / "src", 2)
    path = tmp_path / "instance.dcm"
    shutil.copyfile(first, path)
    source = InstanceSource.from_path(path)
    received = Received(source, file_identity(os.stat(path)))
    assert received.current() is source
    replacement = tmp_path / "replacement.dcm"
    shutil.copyfile(second, replacement)
    os.replace(replacement, path)  # another copy of the instance stored meanwhile
    assert received.current() is None
    path.unlink()
    assert received.current() is None
