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

Where the system has them (Linux, see :mod:`.unnamed`), the temporary file
of a flat store that does not replace duplicates is an *unnamed* file
(``O_TMPFILE``): it gets its final name by one ``linkat`` at commit (which
fails if the name exists), a discard only closes it, and a crash leaves
nothing in ``.incoming`` but the store's intent log (see below).
``unnamed=False`` keeps named temporary files.

A store committed with :meth:`FileSink.commit_linked` (the archive's index,
which must find after a crash the files moved in whose rows are missing,
without looking at the whole folder) notes each unnamed file's final name in
an :class:`~dicomnet.storage.intents.IntentLog` (in ``.intents``) before the
link (durably, with fsync), settled by :meth:`FileSink.release` once the row
is in. An index that names a batch of files at once takes the fsynced file
from :meth:`FileSink.unlinked` instead and names it with
:meth:`FolderStore.link_pending` (see :mod:`.naming`). A named temporary file
(other layouts, ``Duplicate.REPLACE``) keeps its ``.incoming`` name as a
second link until then instead.

Layouts (:mod:`.layout`): ``Layout.FLAT`` puts every instance in the root;
``Layout.HIERARCHICAL`` in ``<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/``
under it, folders named from the data set (escaped, see
:func:`~dicomnet.storage.layout.path_component`). There the place is known
only once the data set is in: the sink keeps its first bytes and reads the
three values from them (:func:`~dicomnet.storage.headscan.scan_header`, or
pydicom from the temporary file when they are not plain), and the folders
are made (and synced) when the file is moved into place. A duplicate is then
found by its path only: the same instance sent again under another patient or
study is stored twice (the archive's index finds it by UID instead, see
:class:`~dicomnet.archive.ingest.IndexedStore`).

Duplicates (an instance UID already in the folder), by :class:`Duplicate`:

* ``KEEP_FIRST``: the new data set is received and dropped, the file stays.
* ``REPLACE``: the new file replaces the old one (:func:`os.replace`).
* ``REFUSE``: :class:`DuplicateRefused` from ``open_sink`` (or from
  ``commit`` when another association stored the same UID meanwhile).

For ``KEEP_FIRST`` and ``REFUSE`` the file is moved into place with a hard
link, which fails atomically if the name exists, so two associations storing
the same UID at once cannot overwrite each other. File writes block (no
threads): local writes of received runs are fast, and the Storage SCP writes
them straight from the receive buffer (:meth:`FileSink.write_views`). With
fsync, the commit (fsync, rename, folder sync) runs in a small executor of the
store's (``commit_threads``, 4 by default; 0 commits inline): an SCU with an
asynchronous operations window then keeps sending while earlier instances are
made durable, and several fsyncs share the disk's flushes; the response still
waits for its commit. Measured on the 2-core development machine with 200 CT
instances, window 16: 12.4 and 5.1 s inline, 2.2 and 2.9 s with one thread,
1.3 and 2.2 s with four (window 1: no difference beyond the noise). Without
fsync everything runs inline: handing the commit to a thread cost more there
(DCMTK storescu, 2000 x 5 KB: 0.40-0.57 s of SCP CPU inline, 0.65-0.79 s with
a thread; 200 CT instances: the same or worse).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import Final

from dicomnet.dimse.dataset import transfer_syntax_encoding
from dicomnet.dimse.errors import DatasetError

from .file_sink import HEAD_BYTES as _HEAD_BYTES
from .file_sink import FileSink
from .filenames import instance_filename
from .folders import can_link, fsync_folders, make_folders, remove_empty_folders
from .headscan import scan_header
from .intents import IntentLog, read_intents
from .layout import Layout, hierarchical_path
from .meta import HeaderTemplate
from .naming import PendingLink
from .sinks import (
    DroppingSink,
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    Outcome,
    StorageSink,
    StoredInstance,
)
from .unnamed import FolderHandle, can_link_unnamed, open_unnamed

__all__ = ["INCOMING_DIR", "FileSink", "FolderStore", "fsync_folders", "remove_empty_folders"]

#: Name of the folder (inside the store's root) that holds instances being received.
INCOMING_DIR = ".incoming"
#: Name of the folder (inside the root) of the intent logs of the ``.incoming`` folders.
INTENTS_DIR = ".intents"
_TEMP_SUFFIX = ".part"
#: Threads that fsync and rename committed files at once (see :meth:`FileSink.commit`).
COMMIT_THREADS = 4
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
#: File header templates a store keeps (one per SOP class, syntax and AE title seen).
_HEADER_TEMPLATES = 64
_PATIENT_ID = 0x00100020
_STUDY_UID = 0x0020000D
_SERIES_UID = 0x0020000E
_PLACE_TAGS = (_PATIENT_ID, _STUDY_UID, _SERIES_UID)
#: A pending link's fsync (see FileSink.unlinked) and final path.
_SYNCED: Final = attrgetter("synced")
_FINAL: Final = attrgetter("final")
#: A path's base name, by its last separator (in C, one call per path).
_SPLIT: Final = methodcaller("rpartition", os.sep)
_LAST: Final = itemgetter(2)

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
        layout: Layout = Layout.FLAT,
        commit_threads: int = COMMIT_THREADS,
        incoming: str | None = None,
        unnamed: bool | None = None,
    ) -> None:
        self.root = Path(root)
        #: Where instances are received (``incoming``: a folder name relative to ``root``,
        #: such as one per worker process, ``.incoming/HOST-w1``; default ``.incoming``).
        self.incoming = self.root / (incoming or INCOMING_DIR)
        self.duplicates = duplicates
        self.fsync = fsync
        self.layout = layout
        #: Threads of the executor that fsyncs and renames in :meth:`FileSink.commit` (0: inline).
        self.commit_threads = commit_threads
        self._executor: ThreadPoolExecutor | None = None
        # Temporary names: unique to this store object (O_EXCL refuses a clash anyway).
        self._temp_prefix = f"{uuid.uuid4().hex[:16]}-"
        self._temp_serial = itertools.count()
        # The hot path joins names to these (no Path objects per instance).
        self._root_str = os.fspath(self.root)
        self._incoming_str = os.fspath(self.incoming)
        self._templates: dict[tuple[str, ...], HeaderTemplate] = {}
        self.incoming.mkdir(parents=True, exist_ok=True)
        #: Whether files can be hard-linked here (see :meth:`FileSink.commit_linked`).
        self.hard_links = can_link(self.incoming)
        if clean_incoming:
            self.remove_stale()
        # Unnamed temporary files (O_TMPFILE), linked into the root by this handle.
        self._root_handle: FolderHandle | None = None
        if unnamed or (unnamed is None and can_link_unnamed(self._incoming_str, self._root_str)):
            self._root_handle = FolderHandle(self._root_str)
        #: Final names noted before unnamed files get them (see :meth:`FileSink.commit_linked`).
        self.intents = IntentLog(self.intents_folder, sync=fsync)

    @property
    def unnamed(self) -> bool:
        """Whether flat instances are received into unnamed files (see :mod:`.unnamed`)."""
        return self._root_handle is not None

    #: Its waits (the commit thread's) need no current task: the Storage SCP may take a
    #: handler on from them without one (see StorageService).
    resumable_waits: bool = True

    @property
    def commit_waits(self) -> bool:
        """Whether every commit waits (for the commit executor's fsync; see StorageService)."""
        return self.commit_executor() is not None

    def commit_executor(self) -> ThreadPoolExecutor | None:
        """The bounded executor commits run in (with fsync only: without it they are quick)."""
        if not self.fsync or self.commit_threads < 1:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.commit_threads, thread_name_prefix="dicomnet-commit"
            )
        return self._executor

    def leftovers(self) -> list[Path]:
        """Temporary files left in ``.incoming`` (by a crash), sorted."""
        return sorted(
            entry
            for entry in self.incoming.iterdir()
            if entry.is_file() and entry.name.endswith(_TEMP_SUFFIX)
        )

    @property
    def intents_folder(self) -> Path:
        """Where the intent log of this store's ``.incoming`` is (see :mod:`.intents`)."""
        try:
            return self.root / INTENTS_DIR / self.incoming.relative_to(self.root)
        except ValueError:  # (an incoming folder elsewhere)
            return self.root / INTENTS_DIR / self.incoming.name

    def intents_left(self) -> list[tuple[Path, list[Path]]]:
        """Segments of intent logs left in ``.incoming`` (by a crash or a stop), with the
        paths each names (see :mod:`.intents`)."""
        return [
            (segment, [self.root / name for name in names])
            for segment, names in read_intents(self.intents_folder)
        ]

    def place_of_file(self, path: Path, sop_instance_uid: str) -> Path:
        """Where the instance in the Part 10 file ``path`` belongs."""
        if self.layout is Layout.FLAT:
            return self.path_for(sop_instance_uid)
        values = _place_from_file(path)
        return self.path_for(
            sop_instance_uid,
            patient_id=values.get(_PATIENT_ID, b""),
            study_uid=values.get(_STUDY_UID, b""),
            series_uid=values.get(_SERIES_UID, b""),
        )

    def remove_stale(self) -> int:
        """Remove temporary files left in ``.incoming``; returns how many were removed."""
        removed = 0
        for entry in self.incoming.iterdir():
            if entry.is_file() and entry.name.endswith((_TEMP_SUFFIX, ".link")):
                entry.unlink(missing_ok=True)
                removed += 1
        if removed:
            _log.info("removed %d unfinished instance(s) from %s", removed, self.incoming)
        return removed

    def path_for(
        self,
        sop_instance_uid: str,
        *,
        patient_id: bytes | str = "",
        study_uid: bytes | str = "",
        series_uid: bytes | str = "",
    ) -> Path:
        """Where the instance ``sop_instance_uid`` is (or would be) stored.

        The patient, study and series are used by the hierarchical layout only.
        """
        if self.layout is Layout.HIERARCHICAL:
            return self.root / hierarchical_path(
                patient_id, study_uid, series_uid, sop_instance_uid
            )
        return self.root / instance_filename(sop_instance_uid)

    def __contains__(self, sop_instance_uid: object) -> bool:
        if self.layout is Layout.HIERARCHICAL:
            return False  # the place depends on the data set; ask the index
        return isinstance(sop_instance_uid, str) and self.path_for(sop_instance_uid).exists()

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink writing ``info``'s instance; raises :class:`DuplicateRefused` or ``OSError``."""
        return self.open_now(info)

    def open_now(self, info: InstanceInfo, unnamed: type[FileSink] = FileSink) -> StorageSink:
        """:meth:`open_sink` without a coroutine (it never waits): for a store wrapping this one.

        An unnamed file's sink is made of the class ``unnamed`` (a :class:`FileSink`
        that does more at commit, see :class:`~dicomnet.archive.ingest.IndexedFileSink`).
        """
        final: str | None = None
        if self.layout is Layout.FLAT:
            final = os.path.join(self._root_str, instance_filename(info.sop_instance_uid))
            # access() answers "no" without raising (os.path.exists pays for an exception).
            if self.duplicates is not Duplicate.REPLACE and os.access(final, os.F_OK):
                if self.duplicates is Duplicate.REFUSE:
                    raise DuplicateRefused(info.sop_instance_uid)
                return DroppingSink(self.kept_instance(info, Path(final)))
        header = self.file_header(info)
        # The file header goes out with the first data set bytes (one system call less).
        if (
            final is not None
            and self._root_handle is not None
            and self.duplicates is not Duplicate.REPLACE
        ):
            return unnamed(self, open_unnamed(self._incoming_str), None, final, header=header)
        temp = self.temp_name()
        fd = os.open(temp, _OPEN_FLAGS, 0o644)
        return FileSink(self, fd, temp, final, info=info, header=header)

    def temp_name(self) -> str:
        """A new name for a temporary file in ``.incoming``."""
        return os.path.join(
            self._incoming_str, f"{self._temp_prefix}{next(self._temp_serial):x}{_TEMP_SUFFIX}"
        )

    def link_unnamed(
        self, fd: int, final: str, info: InstanceInfo, *, unsynced: list[Path] | None = None
    ) -> Outcome:
        """Give the unnamed file ``fd`` its name ``final`` in the root (flat, no replacing).

        ``unsynced``: the root is added to it instead of being synced here.
        """
        assert self._root_handle is not None
        try:
            self._root_handle.link(fd, os.path.basename(final))
        except FileExistsError:
            return self._name_taken(info)
        if self.fsync:
            if unsynced is None:
                fsync_folders((self._root_str,))
            else:
                unsynced.append(self.root)
        return Outcome.STORED

    def link_pending(self, links: list[PendingLink]) -> list[PendingLink]:
        """Name the unnamed files of ``links`` (see :func:`.naming.link_all`); those not named.

        Their names go to the intent log in one write (durable first, with
        fsync), then each file is linked and closed, then the root is synced.
        """
        failed: list[PendingLink] = []
        if any(map(_SYNCED, links)):  # (fsyncs started at the hand-over: with fsync only)
            for link in links:
                error = link.wait_synced() if link.synced is not None else None
                if error is not None:  # not durable: not named
                    link.error = error
                    link.close()
                    failed.append(link)
            if failed:
                links = [link for link in links if link.error is None]
        names = list(map(_LAST, map(_SPLIT, map(_FINAL, links))))
        try:
            intent = self.intents.note_all(names)
        except OSError as exc:
            for link in links:
                link.error = exc
                link.close()
            return [*failed, *links]
        assert self._root_handle is not None
        link_file = self._root_handle.link
        close = os.close
        stored = Outcome.STORED
        for link, name in zip(links, names, strict=True):
            link.intent = intent
            fd, link.fd = link.fd, -1
            try:
                link_file(fd, name)
            except FileExistsError as exc:
                if self.duplicates is Duplicate.REFUSE:
                    link.error = exc  # (the sink refuses the duplicate)
                else:
                    link.outcome = Outcome.DUPLICATE_KEPT
            except OSError as exc:
                link.error = exc
            except BaseException:
                close(fd)
                raise
            else:
                link.outcome = stored
                close(fd)
                continue
            close(fd)
            link.settle()  # not linked: its line names nothing of it
            failed.append(link)
        if self.fsync and len(failed) < len(links):
            fsync_folders((self._root_str,))
        return failed

    def _name_taken(self, info: InstanceInfo) -> Outcome:
        """The answer when the instance's final name exists (no replacing): refuse or keep."""
        if self.duplicates is Duplicate.REFUSE:
            raise DuplicateRefused(info.sop_instance_uid)
        return Outcome.DUPLICATE_KEPT

    def file_header(self, info: InstanceInfo) -> bytes:
        """:func:`~dicomnet.storage.meta.file_header`, from a template kept per SOP class,
        transfer syntax and AE title."""
        key = HeaderTemplate.key(info)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= _HEADER_TEMPLATES:
                self._templates.clear()
            template = self._templates[key] = HeaderTemplate(info)
        return template.header(info.sop_instance_uid)

    def kept_instance(self, info: InstanceInfo, path: Path) -> StoredInstance:
        """The :class:`StoredInstance` for a copy already in the folder."""
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        return StoredInstance(
            info=info, location=str(path), size=size, outcome=Outcome.DUPLICATE_KEPT, path=path
        )

    def install(
        self,
        temp: str | os.PathLike[str],
        final: str | os.PathLike[str],
        info: InstanceInfo,
        *,
        keep_temp: bool = False,
        unsynced: list[Path] | None = None,
    ) -> Outcome:
        """Move a finished temporary file into place (used by :class:`FileSink`).

        ``keep_temp``: leave the temporary name as a second hard link to the
        file (on a file system that has them), removed later by the caller.
        ``unsynced``: the folders whose entries changed are added to it instead
        of being synced here (the caller syncs them, see :func:`fsync_folders`).
        """
        temp, final = os.fspath(temp), os.fspath(final)
        parent = os.path.dirname(final)
        made: list[Path] = []
        for attempt in range(3):
            if parent != self._root_str:
                made += make_folders(Path(parent), self.root)
            try:
                if self.duplicates is Duplicate.REPLACE:
                    existed = os.path.exists(final)
                    source = temp
                    if keep_temp and self.hard_links:
                        source = os.path.splitext(temp)[0] + ".link"
                        os.link(temp, source)
                    os.replace(source, final)
                    outcome = Outcome.REPLACED if existed else Outcome.STORED
                else:
                    outcome = self._install_exclusive(temp, final, info, keep_temp=keep_temp)
                break
            except FileNotFoundError:
                # A deletion removed the (empty) folder just made: make it again.
                if attempt == 2 or not os.path.exists(temp):
                    raise
        if self.fsync and outcome is not Outcome.DUPLICATE_KEPT:
            # The new name, and new folders' entries in their parents.
            folders = [Path(parent), *(folder.parent for folder in made)]
            if unsynced is None:
                fsync_folders(folders)
            else:
                unsynced.extend(folders)
        return outcome

    def place_of(self, temp: Path, head: bytes, info: InstanceInfo) -> Path:
        """The final path of a received instance (hierarchical layout: from its data set)."""
        values: dict[int, bytes] | None = None
        try:
            implicit, little, deflated = transfer_syntax_encoding(info.transfer_syntax_uid)
        except DatasetError:
            implicit, little, deflated = False, False, True
        if little and not deflated:
            scan = scan_header(
                head, implicit=implicit, wanted=_PLACE_TAGS, complete=len(head) < _HEAD_BYTES
            )
            values = None if scan is None else scan.values
        if values is None:
            values = _place_from_file(temp)
        return self.path_for(
            info.sop_instance_uid,
            patient_id=values.get(_PATIENT_ID, b""),
            study_uid=values.get(_STUDY_UID, b""),
            series_uid=values.get(_SERIES_UID, b""),
        )

    def _install_exclusive(
        self, temp: str, final: str, info: InstanceInfo, *, keep_temp: bool = False
    ) -> Outcome:
        try:
            os.link(temp, final)
        except FileExistsError:
            exists = True
        except OSError:
            # No hard links on this file system: check, then rename.
            exists = os.path.exists(final)
            if not exists:
                os.replace(temp, final)
                return Outcome.STORED
        else:
            exists = False
        if exists or not keep_temp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        if not exists:
            return Outcome.STORED
        return self._name_taken(info)


def _place_from_file(path: Path) -> dict[int, bytes]:
    """Patient ID, Study and Series Instance UIDs (raw values) of a Part 10 file, by pydicom."""
    from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)

    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=list(_PLACE_TAGS))
    except Exception as exc:  # whatever pydicom raises on bytes it cannot read
        _log.debug("cannot read the place of %s: %s", path, exc)
        return {}
    values: dict[int, bytes] = {}
    for tag in _PLACE_TAGS:
        element = ds.get_item(tag)
        value = None if element is None else element.value
        if isinstance(value, bytes):
            values[tag] = value
        elif value is not None:  # already converted: back to its text
            values[tag] = (
                "\\".join(str(v) for v in value).encode("utf-8")
                if isinstance(value, list)
                else str(value).encode("utf-8")
            )
    return values
