"""StorageService writes fragments that are already received in batches, never waiting on one."""

from __future__ import annotations

import asyncio

from dicomnet.services.storage_scp import WRITE_BATCH, StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo, StorageSink, StoredInstance
from storage.test_scp_support import EXPLICIT_LE, chunked, encoded, make_dataset, store_request


class RecordingStore:
    """A memory store whose sinks record the size of every write."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.writes: list[int] = []

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        sink = await self.inner.open_sink(info)
        outer = self

        class Recording:
            async def write(self, chunk: bytes | memoryview) -> None:
                outer.writes.append(len(chunk))
                await sink.write(chunk)

            async def commit(self, info: InstanceInfo) -> StoredInstance:
                return await sink.commit(info)

            async def discard(self) -> None:
                await sink.discard()

        return Recording()


def dataset_bytes(padding: int) -> bytes:
    ds = make_dataset(sop_instance="1.2.3")
    ds.add_new(0x00091010, "OB", bytes(padding))
    return encoded(ds, EXPLICIT_LE)


async def test_buffered_fragments_are_joined_up_to_the_batch_size() -> None:
    store = RecordingStore()
    data = dataset_bytes(3 * WRITE_BATCH)
    request = store_request("1.2.840.10008.5.1.4.1.1.2", "1.2.3", EXPLICIT_LE)
    assert request.data is not None
    pieces = chunked(data, 16384)
    for piece in pieces:  # everything arrived before the handler runs
        request.data.feed(piece)
    request.data.finish()
    reply = await StorageService(store).handle(request)  # type: ignore[arg-type]
    assert reply.status == 0x0000
    assert sum(store.writes) == len(data)
    assert len(store.writes) < len(pieces) / 8
    assert all(size <= WRITE_BATCH + 16384 for size in store.writes)
    (kept,) = store.inner.instances.values()
    assert kept.dataset == data


async def test_nothing_is_held_back_while_waiting_for_the_network() -> None:
    store = RecordingStore()
    data = dataset_bytes(100_000)
    request = store_request("1.2.840.10008.5.1.4.1.1.2", "1.2.3", EXPLICIT_LE)
    assert request.data is not None
    task = asyncio.ensure_future(StorageService(store).handle(request))  # type: ignore[arg-type]
    request.data.feed(data[:50_000])
    for _ in range(5):
        await asyncio.sleep(0)
    # The handler now waits for more: what it received is already written.
    assert sum(store.writes) == 50_000
    request.data.feed(data[50_000:])
    request.data.finish()
    assert (await task).status == 0x0000
    assert sum(store.writes) == len(data)
