"""A disk quota over a store, with least-recently-used auto-delete (Kodak Disk-Server).

:class:`DiskQuota` counts the bytes of the stored files, least recently used
first. ``max_bytes`` is the most they may take: an instance that would go over
it is refused, the store raising ``OSError(ENOSPC)``, which the Storage SCP
answers A700 (out of resources), as a full disk would be. ``auto_delete_over``
turns on auto-delete: when the files would take more than that (or more than
the quota), the instances stored or retrieved longest ago are deleted, through
the ``delete`` callback (which removes the file and whatever indexes it), until
the new one fits.

:class:`QuotaStore` wraps any :class:`~dicomnet.storage.sinks.InstanceStore`:
each sink checks the room left before every fragment is written, and a
committed instance is counted as the most recently used.
"""

from __future__ import annotations

import errno
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from .sinks import InstanceInfo, InstanceStore, Outcome, StorageSink, StoredInstance

__all__ = ["DiskQuota", "QuotaStore"]

_log = logging.getLogger("dicomnet.storage.quota")

#: Deletes one instance (its file and index entries): called with its SOP Instance UID.
Delete = Callable[[str], Awaitable[None]]


class DiskQuota:
    """The stored instances' sizes, least recently used first; the quota and auto-delete rules.

    ``max_bytes`` None: no quota; ``auto_delete_over`` None: never delete.
    """

    def __init__(
        self,
        *,
        max_bytes: int | None = None,
        auto_delete_over: int | None = None,
        delete: Delete | None = None,
    ) -> None:
        if auto_delete_over is not None and delete is None:
            raise ValueError("auto-delete needs a delete callback")
        self.max_bytes = max_bytes
        self.auto_delete_over = auto_delete_over
        self.delete = delete
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self.total = 0

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self._sizes

    def track(self, sop_instance_uid: str, size: int) -> None:
        """Count an instance of ``size`` bytes as the most recently used."""
        self.forget(sop_instance_uid)
        self._sizes[sop_instance_uid] = size
        self.total += size

    def track_all(self, entries: Iterable[tuple[str, int]]) -> None:
        """Count instances already held, oldest first."""
        for uid, size in entries:
            self.track(uid, size)

    def touch(self, sop_instance_uid: str) -> None:
        """The instance was just used (retrieved)."""
        if sop_instance_uid in self._sizes:
            self._sizes.move_to_end(sop_instance_uid)

    def forget(self, sop_instance_uid: str) -> None:
        """Stop counting an instance."""
        size = self._sizes.pop(sop_instance_uid, None)
        if size is not None:
            self.total -= size

    async def make_room(self, extra: int, *, keep: str | None = None) -> None:
        """Ensure ``extra`` more bytes fit; raises ``OSError(ENOSPC)`` when they cannot.

        ``keep`` (the instance being received) is never deleted to make room.
        """
        limits = [n for n in (self.auto_delete_over, self.max_bytes) if n is not None]
        if not limits:
            return
        if self.auto_delete_over is not None and self.delete is not None:
            limit = min(limits)
            while self.total + extra > limit:
                oldest = next((uid for uid in self._sizes if uid != keep), None)
                if oldest is None:
                    break
                size = self._sizes[oldest]
                self.forget(oldest)
                await self.delete(oldest)
                _log.info("auto-delete: removed %s (%d bytes, least recently used)", oldest, size)
        if self.max_bytes is not None and self.total + extra > self.max_bytes:
            raise OSError(errno.ENOSPC, "out of disk space (quota reached)")


class _QuotaSink:
    """A sink that checks the room left before each fragment."""

    def __init__(self, inner: StorageSink, quota: DiskQuota, uid: str, header: int) -> None:
        self.inner = inner
        self.quota = quota
        self.uid = uid
        self.size = header

    async def write(self, chunk: bytes | memoryview) -> None:
        await self.quota.make_room(self.size + len(chunk), keep=self.uid)
        self.size += len(chunk)
        await self.inner.write(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        stored = await self.inner.commit(info)
        if stored.outcome is not Outcome.DUPLICATE_KEPT:
            self.quota.track(info.sop_instance_uid, self.size)
        return stored

    async def discard(self) -> None:
        await self.inner.discard()


class QuotaStore:
    """``inner`` under a :class:`DiskQuota`."""

    #: Rough size of a Part 10 header, counted before the data set's first byte.
    HEADER_SIZE = 256

    def __init__(self, inner: InstanceStore, quota: DiskQuota) -> None:
        self.inner = inner
        self.quota = quota

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink for one instance; ``OSError(ENOSPC)`` when even its header does not fit.

        A second copy of an instance held already is passed through (the store's
        duplicates policy decides; it is not counted again).
        """
        if info.sop_instance_uid in self.quota:
            return await self.inner.open_sink(info)
        await self.quota.make_room(self.HEADER_SIZE, keep=info.sop_instance_uid)
        sink = await self.inner.open_sink(info)
        return _QuotaSink(sink, self.quota, info.sop_instance_uid, self.HEADER_SIZE)
