"""Received instances kept in memory (tests, small tools, forwarding services).

Only committed instances appear in :attr:`MemoryStore.instances`; a sink's
fragments live in the sink until it commits, so a dropped association leaves
nothing behind. Duplicates follow the same :class:`Duplicate` rules as the
folder store.

``max_bytes`` bounds the memory held (committed data sets plus those being
received): a C-STORE that would go past it fails with an :class:`OSError`
(ENOMEM), which the Storage SCP answers as out of resources (A700 by default;
Kodak Memory-Server §3.2.3.2.2 "a failure status if it is unable to store the
image in the memory"). ``index`` (an :class:`~dicomnet.query.index.InstanceIndex`)
is kept up to date with what is held, so a Q/R SCP can answer C-FIND and
C-MOVE from it while the store runs.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import Protocol

from dicomnet.dimse.errors import DatasetError

from .meta import file_header
from .sinks import (
    DroppingSink,
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    Outcome,
    StorageError,
    StorageSink,
    StoredInstance,
)

__all__ = ["MemoryIndex", "MemoryInstance", "MemorySink", "MemoryStore"]

_log = logging.getLogger(__name__)


class MemoryIndex(Protocol):
    """What the store needs of an index (an :class:`~dicomnet.query.index.InstanceIndex`)."""

    def add_dataset(self, data: bytes, transfer_syntax_uid: str) -> object: ...
    def remove(self, sop_instance_uid: str) -> None: ...


@dataclass(frozen=True, slots=True)
class MemoryInstance:
    """A committed instance: what was known of it and its data set as received."""

    info: InstanceInfo
    dataset: bytes

    def part10(self) -> bytes:
        """The instance as a Part 10 file (header and data set)."""
        return file_header(self.info) + self.dataset


class MemoryStore:
    """Committed instances by SOP Instance UID, in :attr:`instances`."""

    def __init__(
        self,
        *,
        duplicates: Duplicate = Duplicate.KEEP_FIRST,
        max_bytes: int | None = None,
        index: MemoryIndex | None = None,
    ) -> None:
        self.duplicates = duplicates
        #: SOP Instance UID -> committed instance.
        self.instances: dict[str, MemoryInstance] = {}
        #: The most data set bytes held at once (None: no limit).
        self.max_bytes = max_bytes
        #: Kept up to date with :attr:`instances` (for C-FIND/C-MOVE from memory).
        self.index = index
        #: Data set bytes of the committed instances.
        self.held_bytes = 0
        #: Data set bytes in sinks not yet committed.
        self.receiving_bytes = 0

    def reserve(self, nbytes: int) -> None:
        """Count ``nbytes`` more being received; OSError (ENOMEM) past :attr:`max_bytes`."""
        limit = self.max_bytes
        if limit is not None and self.held_bytes + self.receiving_bytes + nbytes > limit:
            raise OSError(errno.ENOMEM, f"memory limit of {limit} bytes reached")
        self.receiving_bytes += nbytes

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self.instances

    def __len__(self) -> int:
        return len(self.instances)

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink collecting ``info``'s data set; raises :class:`DuplicateRefused`."""
        existing = self.instances.get(info.sop_instance_uid)
        if existing is not None and self.duplicates is not Duplicate.REPLACE:
            if self.duplicates is Duplicate.REFUSE:
                raise DuplicateRefused(info.sop_instance_uid)
            return DroppingSink(self.kept_instance(existing))
        return MemorySink(self)

    def kept_instance(self, existing: MemoryInstance) -> StoredInstance:
        """The :class:`StoredInstance` for a copy already held."""
        return StoredInstance(
            info=existing.info,
            location=_location(existing.info),
            size=len(existing.dataset),
            outcome=Outcome.DUPLICATE_KEPT,
        )

    def install(self, info: InstanceInfo, dataset: bytes) -> StoredInstance:
        """Add a complete instance (used by :class:`MemorySink`), applying the duplicate rule."""
        uid = info.sop_instance_uid
        existing = self.instances.get(uid)
        if existing is not None:
            if self.duplicates is Duplicate.REFUSE:
                raise DuplicateRefused(uid)
            if self.duplicates is Duplicate.KEEP_FIRST:
                return self.kept_instance(existing)
        self.instances[uid] = MemoryInstance(info, dataset)
        self.held_bytes += len(dataset) - (0 if existing is None else len(existing.dataset))
        if self.index is not None:
            if existing is not None:
                self.index.remove(uid)
            try:
                self.index.add_dataset(dataset, info.transfer_syntax_uid)
            except (DatasetError, ValueError, AttributeError, KeyError) as exc:  # held only
                _log.warning("%s held but not indexed: %s", uid, exc)
        outcome = Outcome.STORED if existing is None else Outcome.REPLACED
        return StoredInstance(
            info=info, location=_location(info), size=len(dataset), outcome=outcome
        )


class MemorySink:
    """One instance being collected for a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._parts: list[bytes] | None = []
        #: Bytes of the data set received so far.
        self.size = 0

    async def write(self, chunk: bytes | memoryview) -> None:
        """Keep a fragment."""
        if self._parts is None:
            raise StorageError("sink is closed")
        self._store.reserve(len(chunk))
        self._parts.append(bytes(chunk))
        self.size += len(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Add the instance to the store."""
        if self._parts is None:
            raise StorageError("sink is closed")
        parts, self._parts = self._parts, None
        self._store.receiving_bytes -= self.size
        return self._store.install(info, b"".join(parts))

    async def discard(self) -> None:
        """Forget the fragments."""
        if self._parts is not None:
            self._store.receiving_bytes -= self.size
        self._parts = None


def _location(info: InstanceInfo) -> str:
    return f"memory:{info.sop_instance_uid}"
