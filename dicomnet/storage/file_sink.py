"""The sink of one instance being written into a :class:`~dicomnet.storage.folder.FolderStore`.

A :class:`FileSink` writes the file header and each data set fragment as it
arrives, straight to the store's temporary (or unnamed) file, and at commit has
the store move it into place (see :mod:`.folder` for the layouts, the
duplicates policy, fsync and the intent log); a discard, or any error, removes
the temporary file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .intents import Intent
from .naming import PendingLink
from .sinks import InstanceInfo, Outcome, StorageError, StoredInstance

if TYPE_CHECKING:
    from .folder import FolderStore

__all__ = ["HEAD_BYTES", "FileSink"]

#: Buffers per ``writev`` call (Linux takes 1024; one ``write`` each without ``writev``).
_IOV_MAX = 1024 if hasattr(os, "writev") else 1
#: Bytes of each data set kept to find its patient, study and series (hierarchical layout).
HEAD_BYTES = 64 * 1024

_log = logging.getLogger("dicomnet.storage")
#: An instance made without its class's ``__init__`` (see FileSink.unlinked).
_bare = object.__new__


class FileSink:
    """One instance being written to a temporary file of a :class:`FolderStore`."""

    def __init__(
        self,
        store: FolderStore,
        fd: int,
        temp_path: str | os.PathLike[str] | None,
        final_path: str | os.PathLike[str] | None,
        *,
        info: InstanceInfo | None = None,
        header: bytes = b"",
    ) -> None:
        self.store = store
        self._fd = fd
        # Written before the first data set bytes (or at commit): preamble and file meta.
        self._header: bytes | None = header or None
        # None: an unnamed file (see FolderStore.link_unnamed), named only at commit.
        self._temp = None if temp_path is None else os.fspath(temp_path)
        self._final = None if final_path is None else os.fspath(final_path)
        self._info = info
        # Hierarchical layout: the data set's first bytes, to find its place in.
        self._head = bytearray() if final_path is None else None
        # Committed with the temporary name kept as a link: discard leaves it alone.
        self._linked = False
        # The final name of this unnamed file in the store's intent log (noted by
        # note_final_name or commit_linked before the link, settled by release).
        self._intent: Intent | None = None
        #: Bytes of the data set written so far.
        self.size = 0

    @property
    def temp_path(self) -> Path:
        """The temporary file in ``.incoming`` (unnamed: ``/proc/self/fd/N`` while it is open)."""
        if self._temp is None:
            return Path(f"/proc/self/fd/{self._fd}")
        return Path(self._temp)

    @property
    def final_path(self) -> Path:
        """Where the file goes (hierarchical layout: known once the data set is written)."""
        return Path(self._final_name())

    @property
    def final(self) -> str:
        """:attr:`final_path` as a str."""
        final = self._final  # (known from the start in the flat layout: no call)
        return final if final is not None else self._final_name()

    def _final_name(self) -> str:
        if self._final is None:
            if self._info is None or self._head is None:
                raise StorageError("the sink does not know its instance")
            place = self.store.place_of(self.temp_path, bytes(self._head), self._info)
            self._final = os.fspath(place)
            self._head = None
        return self._final

    def write_now(self, data: bytes | bytearray | memoryview, *, count: bool = True) -> None:
        """Write all of ``data`` (blocking)."""
        if self._fd < 0:
            raise StorageError("sink is closed")
        if self._header is not None:
            self._write_header()
        view = memoryview(data).cast("B")
        head = self._head
        if count and head is not None and len(head) < HEAD_BYTES:
            head += view[: HEAD_BYTES - len(head)]
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if count:
            self.size += len(data)

    async def write(self, chunk: bytes | memoryview) -> None:
        """Append a data set fragment to the temporary file."""
        self.write_now(chunk)

    def write_views(self, views: list[memoryview]) -> None:
        """Append data set fragments (blocking; one ``writev`` call for up to 1024 of them).

        The storage SCP calls this with views of the receive buffer as they
        arrive, so the bytes go from there to the file without a copy.
        """
        if self._fd < 0:
            raise StorageError("sink is closed")
        head = self._head
        if head is not None and (room := HEAD_BYTES - len(head)) > 0:
            if len(views) == 1:  # (the usual call: a small data set, or one PDU's worth)
                head += views[0][:room]
            else:
                for view in views:
                    head += view[: HEAD_BYTES - len(head)]
                    if len(head) >= HEAD_BYTES:
                        break
        header = self._header
        if header is not None:
            if _IOV_MAX > 1:
                # The file header and the first data set bytes in one writev.
                self._header = None
                views = [memoryview(header), *views]
                self.size -= len(header)  # counted below with the data set's bytes
            else:
                self._write_header()
        for start in range(0, len(views), _IOV_MAX):
            batch = views[start : start + _IOV_MAX]
            total = sum(map(len, batch))
            written = os.writev(self._fd, batch) if _IOV_MAX > 1 else os.write(self._fd, batch[0])
            self.size += written
            if written < total:
                self._write_rest(batch, written)

    def _write_header(self) -> None:
        header, self._header = self._header, None
        if header:
            self.write_now(header, count=False)  # not data set bytes: size and head unchanged

    def _write_rest(self, views: list[memoryview], skip: int) -> None:
        """After a short ``writev``: write what is left of ``views`` past ``skip`` bytes."""
        for view in views:
            if skip >= len(view):
                skip -= len(view)
                continue
            rest = view[skip:]
            skip = 0
            while rest:
                written = os.write(self._fd, rest)
                self.size += written
                rest = rest[written:]

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Fsync, close and move the file into place; on any error the file is removed."""
        executor = self.store.commit_executor()
        if executor is None:
            return self._commit(info, False)
        # The fsync (and the rename) run in the store's executor: the event loop goes
        # on receiving (the next instances of a window) while the disk works.
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(executor, self._commit, info, False)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # A commit cannot be interrupted: let it end before the caller discards.
            await asyncio.wait([done])
            raise

    async def commit_linked_async(
        self, info: InstanceInfo, *, unsynced: list[Path] | None = None
    ) -> StoredInstance:
        """:meth:`commit_linked`, in the store's commit executor when it has one (fsync)."""
        executor = self.store.commit_executor()
        if executor is None:
            return self._commit(info, True, unsynced)
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(executor, self._commit, info, True, unsynced)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # A commit cannot be interrupted: let it end before the caller discards.
            await asyncio.wait([done])
            raise

    def commit_linked(
        self, info: InstanceInfo, *, unsynced: list[Path] | None = None
    ) -> StoredInstance:
        """:meth:`commit`, leaving the temporary name linked to the file until :meth:`release`.

        While that link is there, a restart after a crash can tell a file that
        was moved into place (two links) from one that was not, by looking at
        ``.incoming`` only (see :mod:`dicomnet.archive.recover`). Where the
        store has no hard links (:attr:`FolderStore.hard_links`), the file is
        simply moved. ``unsynced``: see :meth:`FolderStore.install`.

        An unnamed file gets no temporary name: its final name is noted in the
        store's :attr:`~FolderStore.intents` (see :meth:`note_final_name`) and
        synced before the file is linked into place; :meth:`release` settles it.
        """
        return self._commit(info, True, unsynced)

    @property
    def unnamed(self) -> bool:
        """Whether the file is unnamed until its commit (see :mod:`.unnamed`)."""
        return self._temp is None

    def note_final_name(self) -> Intent:
        """Note the final name of this unnamed file in the store's intent log now.

        A sink to be committed with :meth:`commit_linked` notes it when it is
        opened: its line is then usually synced by an earlier commit's sync
        before its own commit needs it (the log is synced once for many files).
        """
        if self._intent is None:
            # (The base name: rpartition is one call, os.path.basename four.)
            name = self._final_name().rpartition(os.sep)[2]
            self._intent = self.store.intents.note(name)
        return self._intent

    def unlinked(self) -> PendingLink:
        """Hand the complete unnamed file over, to be named later (see :mod:`.naming`).

        For a store whose index names the files of a batch together: with
        fsync, the file's fsync is started in the store's commit executor (or
        made here without one), and whoever names the file waits for it. The
        returned :class:`~.naming.PendingLink` owns the descriptor from now
        on; this sink is done (its discard does nothing). On an error the
        file is discarded.
        """
        fd = self._fd
        final = self._final
        store = self.store
        if (
            fd >= 0
            and self._temp is None
            and final is not None
            and self._header is None
            and not store.fsync
        ):
            # The usual call (no fsync, the name known, the file header written): nothing
            # to write, sync or ask. (PendingLink(store, fd, final), its three attributes
            # stored here: the class's call costs about 0.6k instructions more.)
            self._fd = -1
            link: PendingLink = _bare(PendingLink)
            link.store = store
            link.fd = fd
            link.final = final
            return link
        if self._fd < 0 or self._temp is not None:
            raise StorageError("sink is closed" if self._fd < 0 else "not an unnamed file")
        try:
            if self._header is not None:
                self._write_header()  # an empty data set
            if final is None:
                final = self._final_name()
            # (Without fsync there is no commit executor: no call to ask for it.)
            executor = store.commit_executor() if store.fsync else None
            if store.fsync and executor is None:
                os.fsync(self._fd)
        except BaseException:
            self.discard_now()
            raise
        fd, self._fd = self._fd, -1
        if executor is None:
            return PendingLink(store, fd, final)
        return PendingLink(store, fd, final, executor.submit(os.fsync, fd))

    def release(self) -> None:
        """Remove the temporary name kept by :meth:`commit_linked` (or settle its intent)."""
        self._linked = False
        if self._temp is not None:
            _remove(self._temp)
        intent, self._intent = self._intent, None
        if intent is not None:
            self.store.intents.settle(intent)

    def _commit(
        self, info: InstanceInfo, keep_temp: bool, unsynced: list[Path] | None = None
    ) -> StoredInstance:
        if self._fd < 0:
            raise StorageError("sink is closed")
        try:
            if self._header is not None:
                self._write_header()  # an empty data set
            store = self.store
            if store.fsync:
                os.fsync(self._fd)
            final = self._final_name()
            if self._temp is None:
                if keep_temp:
                    # The final name is in the intent log, durably, before the file has it.
                    store.intents.sync_to(self._intent or self.note_final_name())
                outcome = store.link_unnamed(self._fd, final, info, unsynced=unsynced)
                self._linked = keep_temp
                fd, self._fd = self._fd, -1
                os.close(fd)
                return self._stored(info, final, outcome)
            fd, self._fd = self._fd, -1
            os.close(fd)
            outcome = store.install(self._temp, final, info, keep_temp=keep_temp, unsynced=unsynced)
        except BaseException:
            self.discard_now()
            raise
        self._linked = keep_temp
        return self._stored(info, final, outcome)

    def _stored(self, info: InstanceInfo, final: str, outcome: Outcome) -> StoredInstance:
        if outcome is Outcome.DUPLICATE_KEPT:
            return self.store.kept_instance(info, Path(final))
        return StoredInstance(
            info=info, location=final, size=self.size, outcome=outcome, path=final
        )

    async def discard(self) -> None:
        """Close and remove the temporary file."""
        self.discard_now()

    def discard_now(self) -> None:
        """Close and remove the temporary file (no await: safe while being cancelled).

        After :meth:`commit_linked` the file is in place and its temporary name
        is left for :meth:`release` (or a restart's reconcile).
        """
        if self._linked:
            return
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.close(fd)  # an unnamed file is gone with it
            except OSError as exc:
                _log.debug("closing %s failed: %s", self._temp or "a temporary file", exc)
        intent, self._intent = self._intent, None
        if intent is not None:  # noted, but the file was not linked: nothing to settle
            self.store.intents.settle(intent)
        if self._temp is not None:
            _remove(self._temp)


def _remove(path: str) -> None:
    """Remove the file ``path`` if it is there (a failure is logged)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        _log.warning("could not remove %s: %s", path, exc)
