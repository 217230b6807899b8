"""FolderStore with unnamed temporary files (O_TMPFILE): named only when complete."""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from dicomnet.storage import folder as folder_module
from dicomnet.storage.folder import FileSink, FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.sinks import Duplicate, DuplicateRefused, Outcome
from dicomnet.storage.unnamed import can_link_unnamed
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


async def test_commit_linked_names_the_temporary_file_until_release(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=False)
    info = info_for("1.6")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    await sink.write(b"abcdefgh")
    stored = sink.commit_linked(info)
    (part,) = store.leftovers()  # the name a restart's reconcile looks for
    assert part.stat().st_nlink == 2 and part.samefile(tmp_path / "1.6.dcm")
    assert stored.path is not None and stored.path.read_bytes() == file_header(info) + b"abcdefgh"
    sink.release()
    assert store.leftovers() == []
    assert files_in(tmp_path) == ["1.6.dcm"]


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
async def test_a_system_store_uses_named_files_only_with_an_index(
    tmp_path: Path, index: bool
) -> None:
    """The index keeps a name in .incoming until its row is in (commit_linked)."""
    spec = SystemSpec(path=tmp_path / "s.toml", name="s", description="", aes=(), store=Path("s"))
    resources = await open_resources(replace(spec, index=index), tmp_path, fsync=False)
    try:
        assert resources.folder is not None
        assert resources.folder.unnamed is not index
    finally:
        await resources.close()
