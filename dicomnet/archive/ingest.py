"""Ingest: every instance a store commits is indexed before the Storage SCP answers.

:class:`IndexedStore` wraps an :class:`~dicomnet.storage.sinks.InstanceStore`
(a :class:`~dicomnet.storage.folder.FolderStore`): its sinks pass the data
set through (keeping its first 64 KiB), and their ``commit`` first commits the
file (fsynced and moved into place by the folder store), then takes the
indexed values the Storage SCP captured while walking the data set
(``header_walked``; without a walk it reads the header from the bytes kept,
or from the file when the header runs past them) and puts
its row into the index, which returns once the row is committed (group
commit, see :class:`~dicomnet.archive.sqlite.SqliteIndex`). Only then does
``commit`` return, so the Storage SCP's Success means both file and row are
durable (in the default ``fsync`` mode of both). One round trip to the index
per instance: an unnamed file's final name is noted in the folder store's
intent log before the file is linked into place (or a named temporary file
is moved into place as a second hard link, keeping the temporary name) until
the row is committed, so a restart after a crash finds a file moved in but
not indexed from that log or ``.incoming`` alone, never by a look at the
whole folder (see :mod:`dicomnet.archive.recover`). On a file system without
hard links the final path is journaled in the index before the move instead.

Where the index names files itself (``links_files``: the SQLite backend), an
unnamed file is only fsynced at commit (in the store's commit thread) and
handed over with its entry: the index writes the names of a whole batch to
the intent log in one write, syncs it once, links the batch's files and
syncs their folder in one hop to its thread pool, commits the rows and then
settles the lines (:mod:`dicomnet.storage.naming`). Otherwise (PostgreSQL)
the name is noted when the sink opens and the folder store links the file at
commit.

In the hierarchical layout the folder store cannot tell a duplicate by its
path before the data set arrives (the path depends on it), so the index is
asked by SOP Instance UID when the sink opens: ``Duplicate.KEEP_FIRST``
drops the new copy, ``Duplicate.REFUSE`` refuses it, and under
``Duplicate.REPLACE`` an earlier copy kept elsewhere is removed once the new
row is in.

If the index cannot take the row, the new file is removed again and the
commit raises :class:`~dicomnet.archive.backend.IndexUnavailable` (an
``OSError``: the SCP answers A700, out of resources), so the folder holds
nothing the index does not know of. A duplicate dropped under
``Duplicate.KEEP_FIRST`` changes nothing and is not indexed again;
``Duplicate.REPLACE`` replaces the row.
"""

from __future__ import annotations

import asyncio
import logging
import os
from asyncio import current_task
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.folder import FileSink, FolderStore, remove_empty_folders
from dicomnet.storage.layout import Layout
from dicomnet.storage.naming import PendingLink
from dicomnet.storage.sinks import (
    DroppingSink,
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    InstanceStore,
    Outcome,
    SeriesMemo,
    StorageSink,
    StoredInstance,
    WalkedHeader,
)

from .backend import IndexBackend, IndexUnavailable
from .entry import IndexEntry, entry_from_data_set, entry_from_file
from .walked import SERIES_WALK_TAGS, WALK_TAGS, walked_entry

__all__ = ["IndexedSink", "IndexedStore"]

_log = logging.getLogger("dicomnet.archive")

_STORED: Final = Outcome.STORED
#: Bytes of each data set kept as it streams through, to index its header without
#: reading the file back (a header that runs past them is read from the file).
HEADER_CAPTURE: Final = 64 * 1024


#: ``route(info, entry)``: the send-queue destinations of an instance about to be indexed.
Route = Callable[[InstanceInfo, IndexEntry], tuple[str, ...]]
#: An index's ``put_shared(entry)`` (see :meth:`~dicomnet.archive.sqlite.SqliteIndex.put_shared`):
#: awaited, ``None`` or the errors of the entries of its run that failed, by ``id(entry)``.
PutShared = Callable[[IndexEntry], "asyncio.Future[dict[int, BaseException] | None]"]


class IndexedStore:
    """An :class:`InstanceStore` that indexes each instance ``store`` commits into ``index``.

    With ``route``, each entry carries the send-queue destinations it names
    (:attr:`IndexEntry.forward_to`): the backend writes their jobs in the
    transaction of the row, so an acknowledged instance always has its jobs.
    """

    #: Every commit waits for the index's group commit (see StorageService).
    commit_waits: Final = True

    def __init__(
        self, store: InstanceStore, index: IndexBackend, *, route: Route | None = None
    ) -> None:
        self.store = store
        self.index = index
        self.route = route
        #: Neither the store's nor the index's waits need a current task (see StorageService).
        self.resumable_waits: bool = bool(
            getattr(store, "resumable_waits", False) and getattr(index, "resumable_waits", False)
        )
        # Duplicates are told by the index (the path depends on the data set).
        self._hierarchical = isinstance(store, FolderStore) and store.layout is Layout.HIERARCHICAL
        # The index names unnamed files a batch at a time (see IndexedSink.commit), and
        # answers their entries by runs (its put_shared).
        self._put_shared: PutShared | None = (
            getattr(index, "put_shared", None) if getattr(index, "links_files", False) else None
        )
        # A plain folder store opens its sinks without a coroutine (FolderStore.open_now).
        self._folder = store if type(store) is FolderStore else None
        # The class of the sinks of this store's unnamed files (flat layout, an index
        # that names files): an IndexedFileSink with this store's index, put_shared and
        # route as class values, so a sink made needs none of them stored (see open_sink).
        self._file_sink: type[IndexedFileSink] | None = None
        if self._folder is not None and self._put_shared is not None and not self._hierarchical:
            self._file_sink = type(
                "IndexedFileSink",
                (IndexedFileSink,),
                {
                    "__module__": __name__,
                    "_index": index,
                    # (Both in one tuple: a class value is looked up the slow way each
                    # time, and a function kept in a class would be bound to its sinks.)
                    "_hand": (route, self._put_shared),
                },
            )

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """The inner store's sink, indexing on commit."""
        file_sink = self._file_sink
        if file_sink is not None:  # (flat layout: a duplicate is told by its path)
            folder = self._folder
            assert folder is not None
            inner = folder.open_now(info, file_sink)
            if type(inner) is file_sink:
                # The usual case: the file sink indexes itself (no sink around it).
                inner._head = bytearray()
                return inner
            # (Positional: a class called with keywords gathers them into a dict first.)
            return IndexedSink(inner, self.index, None, self.route, self._put_shared)
        store = self.store
        earlier: Path | None = None
        if self._hierarchical:
            assert isinstance(store, FolderStore)
            found = await self.index.locate(info.sop_instance_uid)
            if found is not None and found.path is not None:
                earlier = Path(found.path)
                if store.duplicates is Duplicate.REFUSE:
                    raise DuplicateRefused(info.sop_instance_uid)
                if store.duplicates is Duplicate.KEEP_FIRST:
                    return DroppingSink(store.kept_instance(info, earlier))
        folder = self._folder
        inner = folder.open_now(info) if folder is not None else await store.open_sink(info)
        return IndexedSink(inner, self.index, earlier, self.route, self._put_shared)


def _hand_over(
    sink: FileSink,
    entry: IndexEntry,
    info: InstanceInfo,
    route: Route | None,
    put_shared: PutShared,
) -> Awaitable[dict[int, BaseException] | None]:
    """Hand ``sink``'s unnamed file over to the index's next batch with its ``entry``
    (made for this instance alone: its send-queue destinations picked by ``route`` and
    the file's pending link are set in it): what to await (the run's result, see
    ``put_shared``; the run's failures are keyed by the entry's ``id``)."""
    if route is not None:
        entry.forward_to = route(info, entry)
    link = entry.link = sink.unlinked()
    try:
        indexed = put_shared(entry)
    except BaseException:
        link.abandon()  # no batch has it
        raise
    # (The future's loop is the running one: current_task does not look it up.)
    if current_task(indexed.get_loop()) is not None:
        # A task cancelled leaves at once (the batch settles the file's line, or a
        # restart does); a handler parked without a task (see dicomnet.wakeup) is
        # cancelled where it waits by its dispatcher.
        return asyncio.shield(indexed)
    return indexed


class _TakesWalk:
    """What the Storage SCP's walk gives an indexed sink (the columns it captures for it):
    the walk, the association's series memo, and whether the walk captured
    SERIES_WALK_TAGS only."""

    __slots__ = ("_memo", "_partial", "_walk")

    _walk: WalkedHeader | None
    _memo: SeriesMemo | None
    _partial: bool

    #: The elements the Storage SCP captures while it walks the data set (its columns).
    header_tags: Final = WALK_TAGS
    #: Those it captures once the association sent a series walked whole (see walked_entry).
    series_tags: Final = SERIES_WALK_TAGS

    def header_walked(
        self, walk: WalkedHeader, memo: SeriesMemo | None = None, partial: bool = False
    ) -> None:
        """Take the indexed values the Storage SCP's walk captured (no header scan then),
        with the association's series memo (see :func:`~dicomnet.archive.walked.walked_entry`)."""
        self._walk = walk
        self._memo = memo
        self._partial = partial


class IndexedFileSink(FileSink, _TakesWalk):
    """The sink of an unnamed file of a plain folder store, indexed at its commit by an
    index that names files a batch at a time (its ``put_shared``).

    What :class:`IndexedSink` does around a :class:`FileSink` in that case, in the
    file sink itself: its first bytes are kept by the file sink's own head (as for
    the hierarchical layout), the Storage SCP writes through the file sink's
    ``write_views`` without a wrapper, and the sink and its commit are one object and
    one coroutine. A commit that cannot make the entry from the walk and the bytes
    kept hands over to an :class:`IndexedSink` around this sink (see
    :meth:`IndexedSink.commit`).
    """

    # Class values of the subclass IndexedStore makes for its store (see its __init__):
    # its index, and its route with the index's put_shared.
    _index: IndexBackend
    _hand: tuple[Route | None, PutShared]
    # What the Storage SCP's walk saw of the header (see header_walked), until it is
    # given. (Class values: they hide _TakesWalk's slots, so this sink keeps what it is
    # given in its dict, as a FileSink keeps everything, and needs no stores when made.)
    _walk: WalkedHeader | None = None
    _memo: SeriesMemo | None = None
    _partial = False

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Hand the file over with its entry, return once both are durable (see
        :meth:`IndexedSink.commit`, whose first case this is)."""
        walk = self._walk
        head = self._head
        name = self._final
        size = self.size
        if (
            walk is None
            or head is None
            or name is None
            or walk[3] != size  # (its size: a named field is not a specialized load)
            or (entry := walked_entry(head, walk, info, name, size, self._memo, self._partial))
            is None
        ):
            return await self._around().commit(info)
        route, put_shared = self._hand
        failures = await _hand_over(self, entry, info, route, put_shared)
        link = entry.link
        assert link is not None
        if failures is not None and (error := failures.get(id(entry))) is not None:
            self._around()._named_failed(info, link, size, error)
            raise error
        if link.outcome is _STORED:
            return StoredInstance(info, name, size, _STORED, name)
        return self._around()._named_kept(self, info, link)

    def _around(self) -> IndexedSink:
        """An :class:`IndexedSink` around this sink, knowing what it was given."""
        route, put_shared = self._hand
        around = IndexedSink(self, self._index, None, route, put_shared)
        if self._head is not None:
            around._head = self._head
        around._size = self.size
        around._walk = self._walk
        around._memo = self._memo
        around._partial = self._partial
        return around


class IndexedSink(_TakesWalk):
    """A sink whose commit returns once the file and its index row are both durable."""

    __slots__ = (
        "_earlier",
        "_head",
        "_inner_views",
        "_linked",
        "_put_shared",
        "_size",
        "index",
        "inner",
        "route",
    )

    def __init__(
        self,
        inner: StorageSink,
        index: IndexBackend,
        earlier: Path | None = None,
        route: Route | None = None,
        put_shared: PutShared | None = None,
    ) -> None:
        self.inner = inner
        self.index = index
        # Where an earlier copy of the instance is (hierarchical layout, replaced).
        self._earlier = earlier
        # The data set's first bytes, which hold its header in all but odd cases.
        self._head = bytearray()
        self._size = 0
        # What the Storage SCP's walk saw of the header (see header_walked).
        self._walk: WalkedHeader | None = None
        # The association's series memo and whether the walk captured SERIES_WALK_TAGS only.
        self._memo: SeriesMemo | None = None
        self._partial = False
        #: Picks the send-queue destinations of the entry (see :class:`IndexedStore`).
        self.route = route
        # The inner sink's synchronous write_views, looked up once (see write_views).
        self._inner_views: Callable[[list[memoryview]], None] | None = getattr(
            inner, "write_views", None
        )
        # A file moved into place as a second link to its temporary name, or an unnamed
        # one, named by the index with its batch (given its put_shared: an index that
        # links files) or else linked at commit with its final name noted in its store's
        # intent log now (see commit).
        linked = self._linked = isinstance(inner, FileSink) and inner.store.hard_links
        unnamed = linked and inner.unnamed  # type: ignore[attr-defined] # (a FileSink)
        self._put_shared = put_shared if unnamed else None
        if unnamed and put_shared is None:
            inner.note_final_name()  # type: ignore[attr-defined]

    async def write(self, chunk: bytes | memoryview) -> None:
        """Pass a data set fragment on (keeping the data set's first bytes)."""
        room = HEADER_CAPTURE - len(self._head)
        if room > 0:
            self._head += memoryview(chunk)[:room]
        self._size += len(chunk)
        await self.inner.write(chunk)

    @property
    def write_views(self) -> Callable[[list[memoryview]], None] | None:
        """The inner sink's synchronous ``write_views`` (keeping the first bytes), if it has one.

        The Storage SCP writes through it straight from its receive buffer. (A
        property: the bound method kept in the sink would make a reference cycle,
        freed only by the cyclic collector, which then runs every few hundred stores.)
        """
        return None if self._inner_views is None else self._write_views

    def _write_views(self, views: list[memoryview]) -> None:
        size = self._size  # the head holds the first HEADER_CAPTURE bytes of it
        if len(views) == 1:  # (the usual call: a small data set, or one PDU's worth)
            if size < HEADER_CAPTURE:
                self._head += views[0][: HEADER_CAPTURE - size]
            self._size = size + len(views[0])
        else:
            head = self._head
            for view in views:
                if size < HEADER_CAPTURE:
                    head += view[: HEADER_CAPTURE - size]
                size += len(view)
            self._size = size
        self._inner_views(views)  # type: ignore[misc] # (given out only when it has one)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Commit the file, then index it; on an index failure the new file is removed."""
        inner = self.inner
        put_shared = self._put_shared
        if put_shared is not None:
            assert isinstance(inner, FileSink)
            name = inner.final
            walk = self._walk
            # (The walked entry made here, by position: the usual case, without the
            # calls of _entry and of a coroutine more.)
            entry = (
                walked_entry(
                    self._head, walk, info, name, inner.size, memo=self._memo, partial=self._partial
                )
                if walk is not None and walk.size == self._size
                else None
            ) or self._entry(info, name, inner.size)
            # (None: a header the walk and the bytes kept cannot give, read from the
            # file once it has its name, below.)
            if entry is not None:
                # The file is handed over with its entry, its fsync started in the
                # store's commit thread (with fsync); the index waits for the fsyncs
                # of the batch's files, writes their names to the intent log
                # (synced), links the files, syncs the folder, commits the rows and
                # settles the lines (see storage.naming). A cancelled store leaves
                # its file to that batch, which owns the descriptor from the
                # hand-over on.
                # (The run's result: None, or the errors of those of its entries that
                # failed.)
                failures = await _hand_over(inner, entry, info, self.route, put_shared)
                link = entry.link
                assert link is not None
                if failures is not None and (error := failures.get(id(entry))) is not None:
                    self._named_failed(info, link, inner.size, error)
                    raise error
                if link.outcome is Outcome.STORED:
                    # (By position: a class called with keywords gathers them first.)
                    return StoredInstance(info, name, inner.size, Outcome.STORED, name)
                return self._named_kept(inner, info, link)
        if self._linked:
            assert isinstance(inner, FileSink)
            # The index syncs the folders of a whole batch at once, if it can.
            unsynced: list[Path] | None = (
                [] if getattr(self.index, "syncs_folders", False) else None
            )
            if inner.store.commit_executor() is None:
                # Without fsync the commit is quick: no hop to a thread (nor a coroutine).
                stored = inner.commit_linked(info, unsynced=unsynced)
            else:
                # The fsync runs in the store's executor while the loop receives the
                # next instances.
                stored = await inner.commit_linked_async(info, unsynced=unsynced)
            indexing: Awaitable[None] | None = None
            try:
                indexing = self._indexing(info, stored, unsynced or ())
                if indexing is not None:
                    await indexing
            except asyncio.CancelledError:
                # The row may or may not be in: the temporary name stays for the next
                # start-up's reconcile to settle.
                raise
            except BaseException as exc:
                try:
                    self._failed(info, stored, exc)
                finally:
                    # Only once the file is gone: until then a restart finds it.
                    inner.release()
                raise
            inner.release()
            if indexing is not None:
                self._drop_earlier(stored)
            return stored
        final = getattr(inner, "final_path", None)
        journaled = str(final) if isinstance(final, Path) else None
        if journaled is not None:
            await self.index.journal(journaled, info.sop_instance_uid)
        try:
            stored = await inner.commit(info)
        except BaseException:
            if journaled is not None:
                await _unjournal(self.index, journaled)
            raise
        if journaled is not None and (stored.outcome is Outcome.DUPLICATE_KEPT or not stored.path):
            await _unjournal(self.index, journaled)
        try:
            indexing = self._indexing(info, stored)
            if indexing is not None:
                await indexing
        except BaseException as exc:
            self._failed(info, stored, exc)
            raise
        if indexing is not None:
            self._drop_earlier(stored)
        return stored

    def _named_failed(
        self, info: InstanceInfo, link: PendingLink, size: int, exc: BaseException
    ) -> None:
        """The batch of an unnamed file failed: its file goes (raises what to answer)."""
        stored = StoredInstance(
            info=info, location=link.final, size=size, outcome=Outcome.STORED, path=link.final
        )
        try:
            if link.linked:
                self._failed(info, stored, exc)
            elif isinstance(exc, ValueError):
                raise IndexUnavailable(f"cannot index {info.sop_instance_uid}: {exc}") from exc
        finally:
            # Its line settled only once the file is gone: until then a restart finds it.
            if not link.linked or not os.path.lexists(link.final):
                link.abandon()

    def _named_kept(self, inner: FileSink, info: InstanceInfo, link: PendingLink) -> StoredInstance:
        """An unnamed file whose name was taken: the copy kept, or why it was refused."""
        error = link.error
        if isinstance(error, FileExistsError):
            raise DuplicateRefused(info.sop_instance_uid) from error
        if error is not None:
            raise error
        return inner.store.kept_instance(info, Path(link.final))

    def _indexing(
        self, info: InstanceInfo, stored: StoredInstance, unsynced: Sequence[Path] = ()
    ) -> Awaitable[None] | None:
        """The index's write of the row of ``stored`` (``None``: nothing to index)."""
        if stored.outcome is Outcome.DUPLICATE_KEPT:
            return None
        if self._linked:
            # A file sink's location is its path as a str: no Path made of it (parsing
            # one costs about as much as building the whole entry).
            path = stored.location
        elif stored.path is None:
            return None
        else:
            path = str(stored.path)
        entry = self._entry(info, path, stored.size) or entry_from_file(
            Path(path), source_ae_title=info.source_ae_title, size=stored.size
        )
        if unsynced:
            # (Made here for this instance alone: set, not copied with replace.)
            entry.sync_folders = tuple(str(f) for f in unsynced)
        if self.route is not None:
            entry = replace(entry, forward_to=self.route(info, entry))
        return self.index.put(entry)

    def _failed(self, info: InstanceInfo, stored: StoredInstance, exc: BaseException) -> None:
        """The row of ``stored`` could not be made: its file goes (raises what to answer)."""
        if not isinstance(exc, (OSError, ValueError)) or stored.path is None:
            return
        _log.error(
            "%s stored but not indexed, removing it: %s",
            logsafe(info.sop_instance_uid),
            logsafe(exc, ERROR_LIMIT),
        )
        _remove(stored.path)
        if isinstance(exc, ValueError):
            raise IndexUnavailable(f"cannot index {info.sop_instance_uid}: {exc}") from exc

    def _drop_earlier(self, stored: StoredInstance) -> None:
        """Remove the copy ``stored`` replaced when it was kept under another path."""
        earlier = self._earlier
        if earlier is not None and earlier != stored.path:
            _remove(earlier)  # the copy replaced, kept under another patient or study
            root = getattr(getattr(self.inner, "store", None), "root", None)
            if isinstance(root, Path):
                remove_empty_folders(earlier.parent, root)

    def _entry(self, info: InstanceInfo, path: str, size: int) -> IndexEntry | None:
        """The entry from the walk's values, else from the bytes kept; ``None``: read the file."""
        walk = self._walk
        if walk is not None and walk.size == self._size:
            # (Only the header is copied from the head.)
            entry = walked_entry(
                self._head, walk, info, path, size, memo=self._memo, partial=self._partial
            )
            if entry is not None:
                return entry
        head = bytes(self._head)
        return entry_from_data_set(
            head,
            complete=self._size <= len(head),
            sop_instance_uid=info.sop_instance_uid,
            sop_class_uid=info.sop_class_uid,
            transfer_syntax_uid=info.transfer_syntax_uid,
            path=path,
            size=size,
            source_ae_title=info.source_ae_title,
        )

    async def discard(self) -> None:
        """Drop the instance (nothing was indexed)."""
        await self.inner.discard()


async def _unjournal(index: IndexBackend, path: str) -> None:
    try:
        await index.unjournal(path)
    except OSError as exc:  # left for the next start-up's reconcile
        _log.warning("journal row of %s kept: %s", path, logsafe(exc, ERROR_LIMIT))


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _log.warning("could not remove %s: %s", path, exc)
