"""FolderStore: streaming to a temporary file, atomic commit, duplicates, failures."""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import tempfile
import threading
import warnings
from pathlib import Path

import pydicom
import pytest

from dicomnet.storage.file_sink import HEAD_BYTES
from dicomnet.storage.filenames import INVALID_UID_PREFIX
from dicomnet.storage.folder import INCOMING_DIR, FileSink, FolderStore
from dicomnet.storage.layout import Layout
from dicomnet.storage.meta import file_header
from dicomnet.storage.sinks import (
    DroppingSink,
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    Outcome,
)
from dicomnet.storage.unnamed import can_link_unnamed
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    DEFLATED,
    EXPLICIT_LE,
    IMPLICIT_LE,
    chunked,
    encoded,
    make_dataset,
)


def info_for(uid: str, ts: str = EXPLICIT_LE) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=CT_IMAGE_STORAGE,
        sop_instance_uid=uid,
        transfer_syntax_uid=ts,
        source_ae_title="STORESCU",
    )


def files_in(root: Path) -> list[str]:
    """Every file under ``root`` (relative), the temporary folder included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def store_bytes(store: FolderStore, info: InstanceInfo, data: bytes) -> Outcome:
    sink = await store.open_sink(info)
    for chunk in chunked(data, 1000):
        await sink.write(chunk)
    return (await sink.commit(info)).outcome


#: Whether this system has unnamed temporary files (O_TMPFILE and /proc, see storage.unnamed).
UNNAMED = can_link_unnamed(tempfile.gettempdir(), tempfile.gettempdir())
NAMED_AND_UNNAMED = [
    pytest.param(False, id="named"),
    pytest.param(True, id="unnamed", marks=pytest.mark.skipif(not UNNAMED, reason="no O_TMPFILE")),
]


@pytest.mark.parametrize("unnamed", NAMED_AND_UNNAMED)
async def test_fragments_go_to_disk_as_they_arrive(tmp_path: Path, unnamed: bool) -> None:
    store = FolderStore(tmp_path, fsync=False, unnamed=unnamed)
    assert store.unnamed is unnamed
    ds = make_dataset(sop_instance="1.2.3", pixels=64 * 64)
    data = encoded(ds, EXPLICIT_LE)
    info = info_for("1.2.3")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    if unnamed:
        # A file on the .incoming folder's file system with no name there.
        assert os.readlink(sink.temp_path).startswith(f"{tmp_path / INCOMING_DIR}/")
        assert os.listdir(store.incoming) == []
    else:
        assert sink.temp_path.parent == tmp_path / INCOMING_DIR
    header = len(file_header(info))
    assert sink.temp_path.stat().st_size == 0  # the header goes out with the first bytes
    sizes = []
    for chunk in chunked(data, 512):
        await sink.write(chunk)
        sizes.append(sink.temp_path.stat().st_size)
        assert not (tmp_path / "1.2.3.dcm").exists()  # nothing visible before commit
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)  # grew with every fragment
    assert sizes[-1] == header + len(data)
    stored = await sink.commit(info)
    assert stored.path == tmp_path / "1.2.3.dcm" and stored.outcome is Outcome.STORED
    assert stored.size == len(data)
    assert files_in(tmp_path) == ["1.2.3.dcm"]  # temporary file gone


async def test_the_file_header_goes_out_with_the_first_views_or_at_commit(
    tmp_path: Path,
) -> None:
    store = FolderStore(tmp_path, fsync=False)
    info = info_for("1.2.3.7")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    data = b"\x08\x00\x16\x00" + bytes(range(256)) * 300
    sink.write_views([memoryview(data)[:1000], memoryview(data)[1000:]])
    assert sink.temp_path.read_bytes() == file_header(info) + data
    stored = await sink.commit(info)
    assert stored.size == len(data)
    assert stored.path.read_bytes() == file_header(info) + data
    # A data set of no bytes at all: the header is written at commit.
    empty = info_for("1.2.3.8")
    sink = await store.open_sink(empty)
    stored = await sink.commit(empty)
    assert stored.path.read_bytes() == file_header(empty) and stored.size == 0
    # Temporary names never repeat within a store.
    names = {(await store.open_sink(info_for(f"1.2.4.{n}"))).temp_path for n in range(50)}
    assert len(names) == 50


@pytest.mark.parametrize("ts", [IMPLICIT_LE, EXPLICIT_LE, DEFLATED])
async def test_committed_file_is_valid_part10(tmp_path: Path, ts: str) -> None:
    store = FolderStore(tmp_path)
    ds = make_dataset(sop_instance="1.2.3.9")
    data = encoded(ds, ts)
    await store_bytes(store, info_for("1.2.3.9", ts), data)
    path = tmp_path / "1.2.3.9.dcm"
    raw = path.read_bytes()
    assert raw.endswith(data)  # the data set exactly as received
    read = pydicom.dcmread(path)
    assert read.file_meta.TransferSyntaxUID == ts
    assert read.file_meta.MediaStorageSOPClassUID == CT_IMAGE_STORAGE
    assert read.file_meta.MediaStorageSOPInstanceUID == "1.2.3.9"
    assert read.file_meta.SourceApplicationEntityTitle == "STORESCU"
    assert read.SOPInstanceUID == "1.2.3.9"
    assert read.PixelData == ds.PixelData


async def test_discard_leaves_nothing(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    sink = await store.open_sink(info_for("1.2.4"))
    await sink.write(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100")
    await sink.discard()
    await sink.discard()  # twice is harmless
    assert files_in(tmp_path) == []
    assert "1.2.4" not in store


async def test_keep_first_drops_the_second_copy(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, duplicates=Duplicate.KEEP_FIRST)
    assert await store_bytes(store, info_for("1.5"), b"first...") is Outcome.STORED
    sink = await store.open_sink(info_for("1.5"))
    assert isinstance(sink, DroppingSink)
    await sink.write(b"second..")
    stored = await sink.commit(info_for("1.5"))
    assert stored.outcome is Outcome.DUPLICATE_KEPT and stored.path == tmp_path / "1.5.dcm"
    assert (tmp_path / "1.5.dcm").read_bytes().endswith(b"first...")
    assert files_in(tmp_path) == ["1.5.dcm"]


async def test_replace_overwrites(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, duplicates=Duplicate.REPLACE)
    assert await store_bytes(store, info_for("1.6"), b"first...") is Outcome.STORED
    assert await store_bytes(store, info_for("1.6"), b"second..") is Outcome.REPLACED
    assert (tmp_path / "1.6.dcm").read_bytes().endswith(b"second..")
    assert files_in(tmp_path) == ["1.6.dcm"]


async def test_refuse_raises_before_any_file_is_made(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, duplicates=Duplicate.REFUSE)
    await store_bytes(store, info_for("1.7"), b"first...")
    with pytest.raises(DuplicateRefused):
        await store.open_sink(info_for("1.7"))
    assert files_in(tmp_path) == ["1.7.dcm"]


@pytest.mark.parametrize("policy", [Duplicate.KEEP_FIRST, Duplicate.REFUSE])
async def test_concurrent_copies_never_overwrite(tmp_path: Path, policy: Duplicate) -> None:
    store = FolderStore(tmp_path, duplicates=policy)
    first = await store.open_sink(info_for("1.8"))
    second = await store.open_sink(info_for("1.8"))  # both opened before either commits
    await first.write(b"first...")
    await second.write(b"second..")
    assert (await first.commit(info_for("1.8"))).outcome is Outcome.STORED
    if policy is Duplicate.REFUSE:
        with pytest.raises(DuplicateRefused):
            await second.commit(info_for("1.8"))
    else:
        assert (await second.commit(info_for("1.8"))).outcome is Outcome.DUPLICATE_KEPT
    assert (tmp_path / "1.8.dcm").read_bytes().endswith(b"first...")
    assert files_in(tmp_path) == ["1.8.dcm"]


async def test_stale_temporary_files_are_removed_on_start(tmp_path: Path) -> None:
    incoming = tmp_path / INCOMING_DIR
    incoming.mkdir()
    (incoming / "0123.part").write_bytes(b"half an instance")
    (tmp_path / "1.2.dcm").write_bytes(b"kept")
    store = FolderStore(tmp_path)
    assert files_in(tmp_path) == ["1.2.dcm"]
    assert "1.2" in store
    (incoming / "4567.part").write_bytes(b"x")
    assert FolderStore(tmp_path, clean_incoming=False).remove_stale() == 1


@pytest.mark.parametrize("uid", ["../../etc/passwd", "1.2/3", "1." + "2" * 200, "..", "/tmp/x"])
async def test_unsafe_uids_stay_inside_the_folder(tmp_path: Path, uid: str) -> None:
    root = tmp_path / "store"
    store = FolderStore(root)
    ds = make_dataset()
    await store_bytes(store, info_for(uid), encoded(ds, EXPLICIT_LE))
    assert files_in(tmp_path) == [f"store/{store.path_for(uid).name}"]
    path = store.path_for(uid)
    assert path.parent == root and path.name.startswith(INVALID_UID_PREFIX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the malformed UID it reads
        kept = pydicom.dcmread(path).file_meta.MediaStorageSOPInstanceUID
    assert kept == uid  # the original UID is kept


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes to files in a ``.incoming`` folder fail with ENOSPC after the header."""
    real_write = os.write
    written: dict[int, int] = {}

    def write(fd: int, data: bytes | memoryview) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if f"/{INCOMING_DIR}/" in target:
            written[fd] = written.get(fd, 0) + 1
            if written[fd] > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell file descriptors apart")
    monkeypatch.setattr(os, "write", write)


@pytest.mark.usefixtures("disk_full")
async def test_disk_full_raises_and_discard_cleans_up(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    sink = await store.open_sink(info_for("1.9"))
    await sink.write(b"12345678")
    with pytest.raises(OSError) as caught:
        await sink.write(b"12345678")
    assert caught.value.errno == errno.ENOSPC
    await sink.discard()
    assert files_in(tmp_path) == []


async def test_failed_commit_removes_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path)
    sink = await store.open_sink(info_for("1.10"))
    await sink.write(b"abcdefgh")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "no space")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        await sink.commit(info_for("1.10"))
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("short", [False, True])
async def test_write_views_writes_every_byte_even_after_short_writes(
    tmp_path: Path, short: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if short:
        real_writev = os.writev

        def writev(fd: int, buffers: list[memoryview]) -> int:
            # A short write: at most 1000 bytes per call, often mid-buffer.
            return real_writev(fd, [b"".join(buffers)[:1000]])

        monkeypatch.setattr(os, "writev", writev)
    store = FolderStore(tmp_path, fsync=False, layout=Layout.HIERARCHICAL)
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64 * 64), EXPLICIT_LE)
    info = info_for("1.2.3")
    sink = await store.open_sink(info)
    assert isinstance(sink, FileSink)
    pieces = [memoryview(bytearray(chunk)) for chunk in chunked(data, 700)]
    for start in range(0, len(pieces), 3):
        sink.write_views(pieces[start : start + 3])
    stored = await sink.commit(info)
    assert stored.size == len(data)
    assert stored.path is not None and stored.path.read_bytes().endswith(data)
    # The hierarchical layout found its place from the first bytes written as views.
    assert stored.path.parent.name != tmp_path.name


async def test_fsynced_commit_runs_in_the_store_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_in: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_in.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    data = encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    assert await store_bytes(FolderStore(tmp_path / "a"), info_for("1.2.3"), data) is Outcome.STORED
    assert synced_in and all(name.startswith("dicomnet-commit") for name in synced_in)
    synced_in.clear()
    inline = FolderStore(tmp_path / "b", commit_threads=0)
    assert await store_bytes(inline, info_for("1.2.3"), data) is Outcome.STORED
    assert synced_in and synced_in[0] == threading.current_thread().name


async def test_cancelled_commit_ends_before_the_discard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    go_on = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        started.set()
        go_on.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    store = FolderStore(tmp_path)
    info = info_for("1.2.3")
    sink = await store.open_sink(info)
    await sink.write(encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE))
    commit = asyncio.ensure_future(sink.commit(info))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    commit.cancel()
    await asyncio.sleep(0.05)
    assert not commit.done()  # still waiting for the fsync under way
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await commit
    await sink.discard()
    # The commit finished before the discard: the instance is in place, nothing partial.
    assert files_in(tmp_path) == ["1.2.3.dcm"]


@pytest.mark.parametrize("cuts", [[], [10_000], [10_000, 70_000], [65_536]])
async def test_the_head_keeps_exactly_the_first_bytes_written_as_views(
    tmp_path: Path, cuts: list[int]
) -> None:
    # One view at a time or several, crossing HEAD_BYTES or ending on it.
    store = FolderStore(tmp_path, fsync=False, layout=Layout.HIERARCHICAL)
    sink = await store.open_sink(info_for("1.2.3"))
    assert isinstance(sink, FileSink)
    data = bytes(range(256)) * 400  # 102,400 bytes
    bounds = [0, *cuts, len(data)]
    views = [memoryview(data)[a:b] for a, b in itertools.pairwise(bounds)]
    sink.write_views(views[:1])
    sink.write_views(views[1:])
    assert bytes(sink._head or b"") == data[:HEAD_BYTES]
    assert sink.size == len(data)
    await sink.discard()
