"""A folder of Part 10 files: received instances streamed to disk, committed atomically.

Layout under ``root``::

    root/<SOP Instance UID>.dcm       committed instances (see filenames.py for odd UIDs)
    root/.incoming/<random>.part      instances being received

A sink writes the file header (preamble, ``DICM``, file meta information) and
then each data set fragment as it arrives, straight to its temporary file in
``.incoming`` (never the whole data set in memory). On commit the file is
fsynced (unless ``fsync=False``) and moved into place in one step, so a
reader never sees a partial instance; on discard, or any error, the temporary
file is removed. Temporary files left by a crash are removed when the store
is created (``clean_incoming``), so create one store per folder.

Duplicates (an instance UID already in the folder), by :class:`Duplicate`:

* ``KEEP_FIRST``: the new data set is received and dropped, the file stays.
* ``REPLACE``: the new file replaces the old one (:func:`os.replace`).
* ``REFUSE``: :class:`DuplicateRefused` from ``open_sink`` (or from
  ``commit`` when another association stored the same UID meanwhile).

For ``KEEP_FIRST`` and ``REFUSE`` the file is moved into place with a hard
link, which fails atomically if the name exists, so two associations storing
the same UID at once cannot overwrite each other. File writes block (no
threads); local writes of PDU-sized fragments are fast.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from .filenames import instance_filename
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

__all__ = ["INCOMING_DIR", "FileSink", "FolderStore"]

#: Name of the folder (inside the store's root) that holds instances being received.
INCOMING_DIR = ".incoming"
_TEMP_SUFFIX = ".part"
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

_log = logging.getLogger("dicomnet.storage")


class FolderStore:
    """Received instances as Part 10 files in ``root`` (created if missing)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        duplicates: Duplicate = Duplicate.KEEP_FIRST,
        fsync: bool = True,
        clean_incoming: bool = True,
    ) -> None:
        self.root = Path(root)
        self.incoming = self.root / INCOMING_DIR
        self.duplicates = duplicates
        self.fsync = fsync
        self.incoming.mkdir(parents=True, exist_ok=True)
        if clean_incoming:
            self.remove_stale()

    def remove_stale(self) -> int:
        """Remove temporary files left in ``.incoming``; returns how many were removed."""
        removed = 0
        for entry in self.incoming.iterdir():
            if entry.is_file() and entry.name.endswith(_TEMP_SUFFIX):
                entry.unlink(missing_ok=True)
                removed += 1
        if removed:
            _log.info("removed %d unfinished instance(s) from %s", removed, self.incoming)
        return removed

    def path_for(self, sop_instance_uid: str) -> Path:
        """Where the instance ``sop_instance_uid`` is (or would be) stored."""
        return self.root / instance_filename(sop_instance_uid)

    def __contains__(self, sop_instance_uid: object) -> bool:
        return isinstance(sop_instance_uid, str) and self.path_for(sop_instance_uid).exists()

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink writing ``info``'s instance; raises :class:`DuplicateRefused` or ``OSError``."""
        final = self.path_for(info.sop_instance_uid)
        if self.duplicates is not Duplicate.REPLACE and final.exists():
            if self.duplicates is Duplicate.REFUSE:
                raise DuplicateRefused(info.sop_instance_uid)
            return DroppingSink(self.kept_instance(info, final))
        header = file_header(info)
        temp = self.incoming / f"{uuid.uuid4().hex}{_TEMP_SUFFIX}"
        fd = os.open(temp, _OPEN_FLAGS, 0o644)
        sink = FileSink(self, fd, temp, final)
        try:
            sink.write_now(header, count=False)
        except BaseException:
            sink.discard_now()
            raise
        return sink

    def kept_instance(self, info: InstanceInfo, path: Path) -> StoredInstance:
        """The :class:`StoredInstance` for a copy already in the folder."""
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        return StoredInstance(
            info=info, location=str(path), size=size, outcome=Outcome.DUPLICATE_KEPT, path=path
        )

    def install(self, temp: Path, final: Path, info: InstanceInfo) -> Outcome:
        """Move a finished temporary file into place (used by :class:`FileSink`)."""
        if self.duplicates is Duplicate.REPLACE:
            existed = final.exists()
            os.replace(temp, final)
            outcome = Outcome.REPLACED if existed else Outcome.STORED
        else:
            outcome = self._install_exclusive(temp, final, info)
        if self.fsync and outcome is not Outcome.DUPLICATE_KEPT:
            _fsync_directory(self.root)
        return outcome

    def _install_exclusive(self, temp: Path, final: Path, info: InstanceInfo) -> Outcome:
        try:
            os.link(temp, final)
        except FileExistsError:
            exists = True
        except OSError:
            # No hard links on this file system: check, then rename.
            exists = final.exists()
            if not exists:
                os.replace(temp, final)
                return Outcome.STORED
        else:
            exists = False
        temp.unlink(missing_ok=True)
        if not exists:
            return Outcome.STORED
        if self.duplicates is Duplicate.REFUSE:
            raise DuplicateRefused(info.sop_instance_uid)
        return Outcome.DUPLICATE_KEPT


class FileSink:
    """One instance being written to a temporary file of a :class:`FolderStore`."""

    def __init__(self, store: FolderStore, fd: int, temp_path: Path, final_path: Path) -> None:
        self._store = store
        self._fd = fd
        self.temp_path = temp_path
        self.final_path = final_path
        #: Bytes of the data set written so far.
        self.size = 0

    def write_now(self, data: bytes | bytearray | memoryview, *, count: bool = True) -> None:
        """Write all of ``data`` (blocking)."""
        if self._fd < 0:
            raise StorageError("sink is closed")
        view = memoryview(data).cast("B")
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if count:
            self.size += len(data)

    async def write(self, chunk: bytes | memoryview) -> None:
        """Append a data set fragment to the temporary file."""
        self.write_now(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Fsync, close and move the file into place; on any error the file is removed."""
        if self._fd < 0:
            raise StorageError("sink is closed")
        try:
            if self._store.fsync:
                os.fsync(self._fd)
            fd, self._fd = self._fd, -1
            os.close(fd)
            outcome = self._store.install(self.temp_path, self.final_path, info)
        except BaseException:
            self.discard_now()
            raise
        if outcome is Outcome.DUPLICATE_KEPT:
            return self._store.kept_instance(info, self.final_path)
        return StoredInstance(
            info=info,
            location=str(self.final_path),
            size=self.size,
            outcome=outcome,
            path=self.final_path,
        )

    async def discard(self) -> None:
        """Close and remove the temporary file."""
        self.discard_now()

    def discard_now(self) -> None:
        """Close and remove the temporary file (no await: safe while being cancelled)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.close(fd)
            except OSError as exc:
                _log.debug("closing %s failed: %s", self.temp_path, exc)
        try:
            self.temp_path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("could not remove %s: %s", self.temp_path, exc)


def _fsync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX); ignored where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
