"""MemoryStore: only committed instances appear; duplicates; Part 10 export."""

from __future__ import annotations

import io

import pydicom
import pytest

from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import Duplicate, DuplicateRefused, InstanceInfo, Outcome
from storage.test_scp_support import CT_IMAGE_STORAGE, IMPLICIT_LE, encoded, make_dataset


def info_for(uid: str) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=CT_IMAGE_STORAGE, sop_instance_uid=uid, transfer_syntax_uid=IMPLICIT_LE
    )


async def test_partial_instances_never_appear() -> None:
    store = MemoryStore()
    data = encoded(make_dataset(sop_instance="1.1"), IMPLICIT_LE)
    sink = await store.open_sink(info_for("1.1"))
    await sink.write(data[:100])
    assert "1.1" not in store and len(store) == 0
    await sink.write(memoryview(data)[100:])
    stored = await sink.commit(info_for("1.1"))
    assert stored.outcome is Outcome.STORED and stored.size == len(data)
    assert stored.location == "memory:1.1" and stored.path is None
    assert store.instances["1.1"].dataset == data
    read = pydicom.dcmread(io.BytesIO(store.instances["1.1"].part10()))
    assert read.SOPInstanceUID == "1.1" and read.file_meta.TransferSyntaxUID == IMPLICIT_LE

    dropped = await store.open_sink(info_for("1.2"))
    await dropped.write(data)
    await dropped.discard()
    assert "1.2" not in store and len(store) == 1


async def test_duplicate_policies() -> None:
    keep = MemoryStore(duplicates=Duplicate.KEEP_FIRST)
    replace = MemoryStore(duplicates=Duplicate.REPLACE)
    refuse = MemoryStore(duplicates=Duplicate.REFUSE)
    for store in (keep, replace, refuse):
        sink = await store.open_sink(info_for("1.3"))
        await sink.write(b"first")
        await sink.commit(info_for("1.3"))
    sink = await keep.open_sink(info_for("1.3"))
    await sink.write(b"second")
    assert (await sink.commit(info_for("1.3"))).outcome is Outcome.DUPLICATE_KEPT
    assert keep.instances["1.3"].dataset == b"first"
    sink = await replace.open_sink(info_for("1.3"))
    await sink.write(b"second")
    assert (await sink.commit(info_for("1.3"))).outcome is Outcome.REPLACED
    assert replace.instances["1.3"].dataset == b"second"
    with pytest.raises(DuplicateRefused):
        await refuse.open_sink(info_for("1.3"))


async def test_refuse_when_a_concurrent_copy_committed_first() -> None:
    store = MemoryStore(duplicates=Duplicate.REFUSE)
    first = await store.open_sink(info_for("1.4"))
    second = await store.open_sink(info_for("1.4"))
    await first.write(b"a")
    await second.write(b"b")
    await first.commit(info_for("1.4"))
    with pytest.raises(DuplicateRefused):
        await second.commit(info_for("1.4"))
    assert store.instances["1.4"].dataset == b"a"
