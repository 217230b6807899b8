"""StorageService without a network: statuses, streaming, failures, the data set check."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.archive.backend import IndexBackend
from dicomnet.archive.ingest import IndexedStore
from dicomnet.conformance.defaults import (
    encapsulated_transfer_syntaxes,
    storage_policy,
    storage_sop_classes,
)
from dicomnet.dimse.commands import CommandField
from dicomnet.errors import AssociationAborted
from dicomnet.services.base import IncomingRequest, Reply
from dicomnet.services.storage_scp import DUPLICATE_REFUSED, DatasetCheck, StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import Duplicate, InstanceInfo, InstanceStore, Outcome, StoredInstance
from dicomnet_pdu.codes import AbortReason, AbortSource
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    JPEG_BASELINE,
    NATIVE_SYNTAXES,
    SECONDARY_CAPTURE,
    chunked,
    encoded,
    explicit_element,
    feed,
    files_being_received,
    make_dataset,
    store_request,
)


def files_in(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def run_store(
    service: StorageService,
    data: bytes,
    *,
    sop_class: str = CT_IMAGE_STORAGE,
    sop_instance: str = "1.2.3",
    ts: str = EXPLICIT_LE,
    chunk: int = 1000,
) -> Reply:
    request = store_request(sop_class, sop_instance, ts)
    assert request.data is not None
    feeder = asyncio.ensure_future(feed(request.data, chunked(data, chunk)))
    reply = await service.handle(request)
    await feeder
    return reply


@pytest.mark.parametrize("ts", NATIVE_SYNTAXES)
async def test_stores_each_native_syntax_as_received(tmp_path: Path, ts: str) -> None:
    service = StorageService(FolderStore(tmp_path))
    data = encoded(make_dataset(sop_instance="1.2.3"), ts)
    reply = await run_store(service, data, ts=ts)
    assert reply.status == 0x0000 and not reply.fields
    raw = (tmp_path / "1.2.3.dcm").read_bytes()
    assert raw.endswith(data)
    assert files_in(tmp_path) == ["1.2.3.dcm"]


@pytest.mark.parametrize("unnamed", [False, None], ids=["named", "default"])
async def test_connection_lost_mid_data_set_keeps_nothing(
    tmp_path: Path, unnamed: bool | None
) -> None:
    store = FolderStore(tmp_path, unnamed=unnamed)
    service = StorageService(store)
    ok = await run_store(
        service, encoded(make_dataset(sop_instance="1.1"), EXPLICIT_LE), sop_instance="1.1"
    )
    assert ok.status == 0
    request = store_request(CT_IMAGE_STORAGE, "1.2", EXPLICIT_LE)
    assert request.data is not None
    data = encoded(make_dataset(sop_instance="1.2"), EXPLICIT_LE)
    task = asyncio.ensure_future(service.handle(request))
    await feed(request.data, chunked(data[:3000], 500), finish=False)
    assert len(files_being_received(store.incoming)) == 1  # being written
    request.data.fail(AssociationAborted(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED))
    with pytest.raises(AssociationAborted):
        await task
    assert files_in(tmp_path) == ["1.1.dcm"]
    assert files_being_received(store.incoming) == []  # closed (and removed, when named)


async def test_cancelled_handler_keeps_nothing(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    request = store_request(CT_IMAGE_STORAGE, "1.2", EXPLICIT_LE)
    assert request.data is not None
    task = asyncio.ensure_future(StorageService(store).handle(request))
    await feed(
        request.data, [encoded(make_dataset(sop_instance="1.2"), EXPLICIT_LE)[:700]], finish=False
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("ts", [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE])
async def test_sop_class_mismatch_is_a900(tmp_path: Path, ts: str) -> None:
    service = StorageService(FolderStore(tmp_path))
    data = encoded(make_dataset(sop_class=SECONDARY_CAPTURE, sop_instance="1.2.3"), ts)
    reply = await run_store(service, data, ts=ts, chunk=7)
    assert reply.status == 0xA900
    assert reply.fields["offending_element"] == (0x00080016,)
    assert files_in(tmp_path) == []


async def test_sop_instance_mismatch_is_a900(tmp_path: Path) -> None:
    service = StorageService(FolderStore(tmp_path))
    data = encoded(make_dataset(sop_instance="9.9.9"), IMPLICIT_LE)
    reply = await run_store(service, data, ts=IMPLICIT_LE)
    assert reply.status == 0xA900 and reply.fields["offending_element"] == (0x00080018,)
    assert "9.9.9" in reply.fields["error_comment"]
    assert files_in(tmp_path) == []


async def test_deflated_is_checked_too(tmp_path: Path) -> None:
    service = StorageService(FolderStore(tmp_path))
    data = encoded(make_dataset(sop_class=SECONDARY_CAPTURE, sop_instance="1.2.3"), DEFLATED)
    reply = await run_store(service, data, ts=DEFLATED, chunk=50)
    assert reply.status == 0xA900 and reply.fields["offending_element"] == (0x00080016,)
    good = encoded(make_dataset(sop_instance="1.2.3"), DEFLATED)
    assert (await run_store(service, good[:-2], ts=DEFLATED, chunk=50)).status == 0xC000
    assert files_in(tmp_path) == []
    assert (await run_store(service, good, ts=DEFLATED, chunk=50)).status == 0
    assert files_in(tmp_path) == ["1.2.3.dcm"]


@pytest.mark.parametrize(
    ("data", "ts"),
    [
        (b"", EXPLICIT_LE),
        (b"\x08\x00\x05\x00CS", EXPLICIT_LE),  # ends inside an element
        (b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100", EXPLICIT_LE),  # implicit sent as explicit
        (
            explicit_element(0x00080016, b"UI", CT_IMAGE_STORAGE.encode() + b"\0")
            + explicit_element(0x00080005, b"CS", b"ISO_IR 100"),
            EXPLICIT_LE,
        ),  # out of order
        (b"\xff" * 64, EXPLICIT_LE),
    ],
)
async def test_undecodable_start_is_c000(tmp_path: Path, data: bytes, ts: str) -> None:
    service = StorageService(FolderStore(tmp_path))
    reply = await run_store(service, data, ts=ts)
    assert reply.status == 0xC000
    assert files_in(tmp_path) == []


async def test_check_can_be_turned_off(tmp_path: Path) -> None:
    service = StorageService(FolderStore(tmp_path), check_dataset=False)
    assert (await run_store(service, b"\xff" * 64)).status == 0
    assert files_in(tmp_path) == ["1.2.3.dcm"]


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Data set writes into ``.incoming`` fail with ENOSPC (the header still fits)."""
    real_write = os.write
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell file descriptors apart")
    seen: set[int] = set()

    def write(fd: int, data: bytes | memoryview) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if "/.incoming/" in target:
            if fd in seen:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            seen.add(fd)
        return real_write(fd, data)

    def writev(fd: int, buffers: list[memoryview]) -> int:
        return write(fd, b"".join(buffers))  # the data set's fragments, as one write

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "writev", writev)


@pytest.mark.usefixtures("disk_full")
async def test_disk_full_is_a700_and_leaves_no_file(tmp_path: Path) -> None:
    service = StorageService(FolderStore(tmp_path))
    reply = await run_store(service, encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE))
    assert reply.status == 0xA700
    assert "No space" in reply.fields["error_comment"]
    assert files_in(tmp_path) == []


async def test_unwritable_folder_is_a700(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    store.incoming.rmdir()  # opening the temporary file now fails
    reply = await run_store(
        StorageService(store), encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    )
    assert reply.status == 0xA700


async def test_duplicates_keep_first_is_success_refuse_is_c111() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    keep = MemoryStore(duplicates=Duplicate.KEEP_FIRST)
    refuse = MemoryStore(duplicates=Duplicate.REFUSE)
    for store in (keep, refuse):
        assert (await run_store(StorageService(store), data)).status == 0
    assert (await run_store(StorageService(keep), data)).status == 0
    reply = await run_store(StorageService(refuse), data)
    assert reply.status == DUPLICATE_REFUSED == 0xC111
    assert "duplicate" in reply.fields["error_comment"]
    assert len(keep) == len(refuse) == 1


async def test_decide_hook_sets_warnings() -> None:
    seen: list[StoredInstance] = []

    async def decide(request: IncomingRequest, stored: StoredInstance) -> int:
        seen.append(stored)
        return 0xB007 if stored.outcome is Outcome.STORED else 0xB000

    service = StorageService(MemoryStore(), decide=decide)
    data = encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    assert (await run_store(service, data)).status == 0xB007
    assert (await run_store(service, data)).status == 0xB000
    assert [s.outcome for s in seen] == [Outcome.STORED, Outcome.DUPLICATE_KEPT]
    assert seen[0].info.source_ae_title == "STORESCU"
    assert seen[0].info.transfer_syntax_uid == EXPLICIT_LE

    async def reply_decide(request: IncomingRequest, stored: StoredInstance) -> Reply:
        return Reply(status=0xB006, fields={"error_comment": "private tags dropped"})

    other = StorageService(MemoryStore(), decide=reply_decide)
    reply = await run_store(other, data)
    assert reply.status == 0xB006 and reply.fields["error_comment"] == "private tags dropped"


async def test_invalid_instance_uid_is_stored_and_not_echoed(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    uid = "../../etc/passwd"
    data = encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    reply = await run_store(StorageService(store, check_dataset=False), data, sop_instance=uid)
    assert reply.status == 0
    assert reply.fields["affected_sop_instance_uid"] is None
    assert reply.fields["affected_sop_class_uid"] is None
    assert files_in(tmp_path) == [store.path_for(uid).name]


async def test_meta_records_the_peer_and_our_implementation(tmp_path: Path) -> None:
    store = MemoryStore()
    await run_store(StorageService(store), encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE))
    info = store.instances["1.2.3"].info
    assert info == InstanceInfo(
        sop_class_uid=CT_IMAGE_STORAGE,
        sop_instance_uid="1.2.3",
        transfer_syntax_uid=EXPLICIT_LE,
        source_ae_title="STORESCU",
        called_ae_title="SCP",
    )


def test_bindings() -> None:
    (everything,) = StorageService(MemoryStore()).bindings()
    assert everything.command_field == CommandField.C_STORE_RQ and everything.sop_classes is None
    (some,) = StorageService(MemoryStore(), sop_classes=[CT_IMAGE_STORAGE]).bindings()
    assert some.sop_classes == frozenset({CT_IMAGE_STORAGE})


def test_handler_starts_inline_unless_every_commit_waits(tmp_path: Path) -> None:
    # A store whose commits always wait (fsync in the commit executor, an index's group
    # commit) gets a task from the start, unless its waits need no current task
    # (resumable: the handler starts inline and goes on from the futures it waits on,
    # and no ``decide`` of the caller's runs after them); the others answer inside the
    # receive callback.
    def binding(store: InstanceStore, **options: Any) -> tuple[bool, bool]:
        (found,) = StorageService(store, **options).bindings()
        return found.inline, found.resumable

    async def decide(request: IncomingRequest, stored: StoredInstance) -> int:
        return 0

    resumable_index = cast(IndexBackend, SimpleNamespace(resumable_waits=True))
    assert binding(MemoryStore()) == (True, False)
    assert binding(FolderStore(tmp_path / "a", fsync=False)) == (True, True)
    assert binding(FolderStore(tmp_path / "b", fsync=True)) == (True, True)
    assert binding(FolderStore(tmp_path / "b", fsync=True), decide=decide) == (False, False)
    assert binding(FolderStore(tmp_path / "c", fsync=True, commit_threads=0)) == (True, True)
    assert binding(IndexedStore(MemoryStore(), cast(IndexBackend, object()))) == (False, False)
    folder = FolderStore(tmp_path / "d", fsync=False)
    assert binding(IndexedStore(folder, cast(IndexBackend, object()))) == (False, False)
    assert binding(IndexedStore(folder, resumable_index)) == (True, True)
    assert binding(IndexedStore(folder, resumable_index), decide=decide) == (False, False)


def test_default_storage_policy_comes_from_the_registry() -> None:
    classes = storage_sop_classes()
    assert CT_IMAGE_STORAGE in classes and SECONDARY_CAPTURE in classes
    assert "1.2.840.10008.1.3.10" not in classes  # Media Storage Directory: not for C-STORE
    assert "1.2.840.10008.1.1" not in classes
    assert len(classes) > 100 and len(set(classes)) == len(classes)
    encapsulated = encapsulated_transfer_syntaxes()
    assert "1.2.840.10008.1.2.4.50" in encapsulated and "1.2.840.10008.1.2.5" in encapsulated
    assert "1.2.840.10008.1.2.6.1" not in encapsulated and IMPLICIT_LE not in encapsulated
    policy = storage_policy("ARCHIVE")
    assert policy.ae_title == "ARCHIVE"
    verification = policy.accepted("1.2.840.10008.1.1")
    assert verification is not None and set(verification.transfer_syntaxes) == set(NATIVE_SYNTAXES)
    ct = policy.accepted(CT_IMAGE_STORAGE)
    assert ct is not None and ct.scp_role and not ct.scu_role
    assert ct.transfer_syntaxes[:4] == (EXPLICIT_LE, IMPLICIT_LE, DEFLATED, EXPLICIT_BE)
    assert set(encapsulated) <= set(ct.transfer_syntaxes)


# ---------------------------------------------------------------- the data set check


def check_all(data: bytes, cuts: list[int], info: InstanceInfo) -> int | None:
    check = DatasetCheck(info)
    verdict = None
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        verdict = check.feed(data[previous:cut]) or verdict
        previous = cut
        if check.done:
            break
    verdict = verdict or check.finish()
    return None if verdict is None else verdict.status


def info_for(ts: str, sop_class: str = CT_IMAGE_STORAGE, uid: str = "1.2.3") -> InstanceInfo:
    return InstanceInfo(sop_class_uid=sop_class, sop_instance_uid=uid, transfer_syntax_uid=ts)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]),
    st.sampled_from([CT_IMAGE_STORAGE, SECONDARY_CAPTURE]),
    st.lists(st.integers(0, 600), max_size=6),
)
def test_check_verdict_does_not_depend_on_fragmentation(
    ts: str, sop_class: str, cuts: list[int]
) -> None:
    data = encoded(make_dataset(sop_class=sop_class, sop_instance="1.2.3", pixels=64), ts)
    expected = None if sop_class == CT_IMAGE_STORAGE else 0xA900
    assert check_all(data, cuts, info_for(ts)) == expected


def test_check_sees_past_an_early_undefined_sequence() -> None:
    undefined_sq = b"\x08\x00\x06\x00SQ\x00\x00\xff\xff\xff\xff"
    data = (
        undefined_sq
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
        + explicit_element(0x00080016, b"UI", b"9.9\0")
    )
    assert check_all(data, [], info_for(EXPLICIT_LE)) == 0xA900


def test_check_without_sop_elements_passes() -> None:
    data = explicit_element(0x00100010, b"PN", b"A^B ")
    assert check_all(data, [3], info_for(EXPLICIT_LE)) is None


def test_check_private_syntax_is_not_checked() -> None:
    assert check_all(b"\xff" * 20, [], info_for("1.2.3.4.5.6")) is None


# ---------------------------------------------------------------- truncated and mislabelled


def truncated_pixels(ts: str, *, uid: str = "1.2.3") -> bytes:
    """A data set whose Pixel Data declares 8192 bytes and carries 5000."""
    data = encoded(make_dataset(sop_instance=uid, pixels=8192), ts)
    return data[: len(data) - 8192 + 5000]


@pytest.mark.parametrize("ts", [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE])
async def test_truncated_pixel_data_is_c000_and_nothing_is_kept(tmp_path: Path, ts: str) -> None:
    store = FolderStore(tmp_path)
    reply = await run_store(StorageService(store), truncated_pixels(ts), ts=ts, chunk=4096)
    assert reply.status == 0xC000
    assert reply.fields["offending_element"] == (0x7FE00010,)
    assert reply.fields["error_comment"].startswith("data set truncated at byte")
    assert files_in(tmp_path) == []


async def test_huge_declared_length_is_c000(tmp_path: Path) -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64), EXPLICIT_LE)
    huge = data + b"\x09\x00\x10\x10UN\x00\x00\xf0\xff\xff\xff" + b"\0" * 100
    reply = await run_store(StorageService(FolderStore(tmp_path)), huge)
    assert reply.status == 0xC000 and reply.fields["offending_element"] == (0x00091010,)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("duplicates", [Duplicate.REPLACE, Duplicate.KEEP_FIRST])
async def test_truncated_copy_leaves_the_stored_one_untouched(
    tmp_path: Path, duplicates: Duplicate
) -> None:
    store = FolderStore(tmp_path, duplicates=duplicates)
    service = StorageService(store)
    good = encoded(make_dataset(sop_instance="1.2.3", pixels=8192), EXPLICIT_LE)
    assert (await run_store(service, good)).status == 0
    before = (tmp_path / "1.2.3.dcm").read_bytes()
    reply = await run_store(service, truncated_pixels(EXPLICIT_LE))
    assert reply.status == 0xC000
    assert files_in(tmp_path) == ["1.2.3.dcm"]
    assert (tmp_path / "1.2.3.dcm").read_bytes() == before


def encapsulated_pixels() -> bytes:
    """Explicit VR LE Pixel Data of undefined length: an offset table and one fragment."""
    return (
        b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
        + b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
        + b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\xff\xd9"
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )


async def test_encapsulated_pixel_data_on_a_native_context_is_c000(tmp_path: Path) -> None:
    ds = make_dataset(sop_instance="1.2.3")
    del ds.PixelData
    data = encoded(ds, EXPLICIT_LE) + encapsulated_pixels()
    store = MemoryStore()
    reply = await run_store(StorageService(store), data, ts=EXPLICIT_LE)
    assert reply.status == 0xC000
    assert "encapsulated Pixel Data on a native syntax" in reply.fields["error_comment"]
    assert reply.fields["offending_element"] == (0x7FE00010,)
    assert len(store) == 0
    # The same bytes on an encapsulated context are what that syntax expects.
    assert (await run_store(StorageService(store), data, ts=JPEG_BASELINE)).status == 0


async def test_native_pixel_data_on_an_encapsulated_context_is_c000() -> None:
    store = MemoryStore()
    data = encoded(make_dataset(sop_instance="1.2.3"), EXPLICIT_LE)
    reply = await run_store(StorageService(store), data, ts=JPEG_BASELINE)
    assert reply.status == 0xC000
    assert "native Pixel Data" in reply.fields["error_comment"]
    assert len(store) == 0
