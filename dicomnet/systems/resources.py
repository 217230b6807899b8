"""The resources the AEs of a system share: store folder, its index, worklist folder.

With an index, the worklist is the folder's items plus those kept in the index
(``dicomnet worklist add -o STORE``), and Storage Commitment requests are kept
in the index until their report is delivered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dicomnet.archive.backends import (
    AnyIndex,
    AnyJournal,
    AnyWorklist,
    open_index,
    open_journal,
    open_worklist,
)
from dicomnet.archive.ingest import IndexedStore, Route
from dicomnet.archive.recover import reconcile
from dicomnet.query.worklist import WorklistSource
from dicomnet.queue.stores import AnyQueueStore, open_queue_store
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.quota import DiskQuota, QuotaStore

from .quota import index_quota
from .spec import SystemSpec

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["FolderWorklist", "IndexedWorklist", "Resources", "index_path", "open_resources"]

_log = logging.getLogger("dicomnet.systems")


def index_path(root: Path) -> Path:
    """Where the index of the store folder ``root`` lives (as for ``dicomnet serve``)."""
    return root / ".index" / "index.sqlite"


class FolderWorklist(WorklistSource):
    """The worklist items of a folder, read again each time they are iterated.

    Items dropped into the folder or removed from it are seen by the next query.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__()
        self.root = Path(root)

    def __iter__(self) -> Iterator[Dataset]:
        return iter(WorklistSource.from_folder(self.root).items)

    def __len__(self) -> int:
        return len(WorklistSource.from_folder(self.root))


class IndexedWorklist:
    """The items kept in the index, then those of the folder (a ``WorklistStore``)."""

    def __init__(self, kept: AnyWorklist, folder: FolderWorklist) -> None:
        self.kept = kept
        self.folder = folder

    async def candidates(
        self, identifier: Dataset, support: Mapping[int, frozenset[str]] | None = None
    ) -> AsyncIterator[Dataset]:
        """Items that may match ``identifier`` (the worklist matcher decides)."""
        async for item in self.kept.candidates(identifier, support):
            yield item
        for item in self.folder:
            yield item


@dataclass
class Resources:
    """What a running system's AEs share."""

    folder: FolderStore | None = None
    index: AnyIndex | None = None
    worklist: FolderWorklist | IndexedWorklist | None = None
    #: Outstanding Storage Commitment reports (with an index).
    journal: AnyJournal | None = None
    quota: DiskQuota | None = None
    #: Per AE name, the in-memory store of a ``memory-storage`` AE.
    memory: dict[str, MemoryStore] = field(default_factory=dict)
    #: Where a ``print`` AE writes its films.
    films: Path | None = None
    #: The send jobs (with a ``[queue]`` and an index).
    queue_store: AnyQueueStore | None = None
    #: Picks the send-queue destinations of each instance indexed.
    route: Route | None = None

    @property
    def store(self) -> FolderStore | IndexedStore | QuotaStore | None:
        """Where C-STORE writes: the folder, through the index and the quota when set."""
        if self.folder is None:
            return None
        if self.index is None:
            return self.folder
        indexed = IndexedStore(self.folder, self.index, route=self.route)
        return indexed if self.quota is None else QuotaStore(indexed, self.quota)

    async def close(self) -> None:
        """Close the index (and the worklist and journal kept in it)."""
        if isinstance(self.worklist, IndexedWorklist):
            await self.worklist.kept.close()
            self.worklist = None
        if self.journal is not None:
            await self.journal.close()
            self.journal = None
        if self.queue_store is not None:
            await self.queue_store.close()
            self.queue_store = None
        if self.index is not None:
            await self.index.close()
            self.index = None


async def open_resources(spec: SystemSpec, root: Path, *, fsync: bool = True) -> Resources:
    """Make the folders and open the index of ``spec`` (relative paths: under ``root``).

    Raises OSError (with the reason) when a folder or the index cannot be made.
    """
    resources = Resources()
    if spec.store is not None:
        folder = root / spec.store
        # With an index, .incoming is left for its reconcile (files moved in, not indexed).
        resources.folder = FolderStore(
            folder,
            duplicates=spec.duplicates,
            fsync=fsync,
            clean_incoming=not spec.index,
        )
        if spec.index:
            try:
                location = spec.index_url or index_path(folder)
                resources.index = await open_index(location, fsync=fsync)
                recovered = await reconcile(resources.index, resources.folder)
                resources.journal = await open_journal(resources.index)
                if spec.queue is not None:
                    resources.queue_store = await open_queue_store(resources.index)
            except OSError as exc:
                await resources.close()
                raise OSError(f"cannot open the index of {folder}: {exc}") from exc
            if recovered.indexed or recovered.forgotten:
                _log.warning(
                    "index recovered after a crash: %d file(s) indexed, %d journal row(s) dropped",
                    len(recovered.indexed),
                    len(recovered.forgotten),
                )
            if spec.max_bytes is not None or spec.auto_delete_over is not None:
                resources.quota = index_quota(
                    resources.index,
                    folder,
                    max_bytes=spec.max_bytes,
                    auto_delete_over=spec.auto_delete_over,
                )
    if spec.worklist is not None:
        folder = root / spec.worklist
        folder.mkdir(parents=True, exist_ok=True)
        resources.worklist = FolderWorklist(folder)
        if resources.index is not None:
            try:
                kept = await open_worklist(resources.index)
            except OSError as exc:
                await resources.close()
                raise OSError(f"cannot open the worklist of {folder}: {exc}") from exc
            resources.worklist = IndexedWorklist(kept, resources.worklist)
    if spec.films is not None:
        resources.films = root / spec.films
        resources.films.mkdir(parents=True, exist_ok=True)
    return resources
