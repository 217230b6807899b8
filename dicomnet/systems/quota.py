"""A system's disk quota: the store's instances counted at start-up, LRU kept on retrieve."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

from dicomnet.archive import IndexBackend, delete_from_archive
from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Match, Query
from dicomnet.storage.quota import DiskQuota

__all__ = ["RetrieveTouches", "held_instances", "index_quota"]

_log = logging.getLogger("dicomnet.systems")


def held_instances(folder: Path) -> Iterator[tuple[str, int]]:
    """(SOP Instance UID, size) of the ``*.dcm`` files under ``folder``, oldest first.

    Files are named after their SOP Instance UID (every layout of the store).
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(".dcm") and not name.startswith("."):
                stat = os.stat(os.path.join(dirpath, name))
                found.append((stat.st_mtime_ns, name[:-4], stat.st_size))
    found.sort()
    return ((uid, size) for _, uid, size in found)


def index_quota(
    index: IndexBackend, folder: Path, *, max_bytes: int | None, auto_delete_over: int | None
) -> DiskQuota:
    """A quota over ``folder`` whose auto-delete removes the index rows and the file."""

    async def delete(uid: str) -> None:
        await delete_from_archive(index, sop_instance_uid=uid, root=folder)

    quota = DiskQuota(max_bytes=max_bytes, auto_delete_over=auto_delete_over, delete=delete)
    quota.track_all(held_instances(folder))
    _log.info("disk quota: %d instance(s), %d bytes held", len(quota), quota.total)
    return quota


class RetrieveTouches:
    """A query source that marks the instances a retrieve selects as just used."""

    def __init__(self, source: IndexBackend, quota: DiskQuota) -> None:
        self.source = source
        self.quota = quota

    def matches(
        self, query: Query, *, retrieve_ae_title: str | None = None
    ) -> AsyncGenerator[Match, None]:
        """The source's matches (C-FIND does not count as use)."""
        return self.source.matches(query, retrieve_ae_title=retrieve_ae_title)

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """The source's instances, each touched."""
        records = await self.source.instances(query)
        for record in records:
            self.quota.touch(record.sop_instance_uid)
        return records
