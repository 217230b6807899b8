"""A log of the names about to be given to unnamed files, read after a crash.

An indexed :class:`~dicomnet.storage.folder.FolderStore` receives instances
into unnamed files (:mod:`.unnamed`) like any other, and then has to answer
one question after a crash without looking at the whole folder: which files
were given their names but may lack their index rows? Before an unnamed
file is linked into place, its name (relative to the store's root) is
appended to this log, and with ``sync`` the log is made durable first
(``fdatasync``), so a name on disk always has its line in the log on disk,
after kill -9 and after a power loss. Once the row is in (or the file is
gone again) the line is *settled*.

The log is a series of segment files ``<prefix>-<n>.intents`` in a folder of
its own beside the store's ``.incoming`` (``.intents/.incoming``, made when
the first name is noted), each of at most ``segment_records`` lines. A full
segment whose lines are all settled is removed; so at most a few segments
stay, and a restart reads only them (see :mod:`dicomnet.archive.recover`).
A new segment's name is made durable (its folder synced) before its first
line counts.

A line is written (one ``O_APPEND`` write) when a sink opens, on the event
loop, and synced at its commit, in a commit thread, before the link: a sync
covers every line written before it started, so with many instances on the
way (an asynchronous operations window, several associations) a commit
mostly finds its line synced already, and the log costs one ``fdatasync``
for many files. A new segment is made (and the full one synced) by a sync.
Where the archive's index names a batch of files at once
(:mod:`.naming`), :meth:`IntentLog.note_all` writes the batch's lines in one
write and syncs them, and :meth:`IntentLog.settle_all` settles them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .folders import fsync_folders, make_folders

__all__ = ["INTENTS_SUFFIX", "IntentLog", "Segment", "read_intents"]

#: Suffix of the log's segment files.
INTENTS_SUFFIX: Final = ".intents"
#: Lines per segment (a restart after a crash reads at most about two segments).
SEGMENT_RECORDS: Final = 1024
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)

_log = logging.getLogger("dicomnet.storage")


class Segment:
    """One segment file of an :class:`IntentLog`."""

    __slots__ = ("fd", "lines", "open", "path")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        #: Lines written to it.
        self.lines = 0
        #: Lines written and not yet settled.
        self.open = 0


class Intent:
    """One noted name: its segment and the number of its write."""

    __slots__ = ("segment", "ticket")

    def __init__(self, segment: Segment, ticket: int) -> None:
        self.segment = segment
        self.ticket = ticket


class IntentLog:
    """Names noted before unnamed files get them (in segment files in ``folder``).

    Thread-safe: :meth:`note` and :meth:`settle` run on the event loop,
    :meth:`sync_to` in the store's commit threads.
    """

    def __init__(
        self, folder: str | os.PathLike[str], *, sync: bool, segment_records: int = SEGMENT_RECORDS
    ) -> None:
        self.folder = os.fspath(folder)
        self.sync = sync
        self.segment_records = max(1, segment_records)
        self._prefix = uuid.uuid4().hex[:16]
        self._serial = 0
        # Guards the segments and the counts; held for a write, never for a sync.
        self._lock = threading.Lock()
        # One fdatasync (or change of segment) at a time; taken before _lock.
        self._sync_lock = threading.Lock()
        self._current: Segment | None = None
        # Segments no longer written whose lines are all settled, to close and remove.
        self._retired: list[Segment] = []
        self._written = 0  # lines written, ever
        self._synced = 0  # lines written before the last fdatasync started

    def note(self, name: str) -> Intent:
        """Append ``name``; it is durable once :meth:`sync_to` has returned for it."""
        line = (name + "\n").encode("utf-8", "surrogateescape")
        retired: list[Segment] | None = None
        with self._lock:
            segment = self._current
            if segment is None or (not self.sync and segment.lines >= self.segment_records):
                # (With sync, the first segment only: later ones are made by sync_to.)
                segment = self._current = self._new_segment(segment)
            if os.write(segment.fd, line) != len(line):  # one whole line (O_APPEND)
                raise OSError(errno.ENOSPC, "intent log not written", segment.path)
            segment.lines += 1
            segment.open += 1
            written = self._written = self._written + 1
            if self._retired and not self.sync:
                retired, self._retired = self._retired, []
        if retired:
            _remove(retired)
        return Intent(segment, written)

    def sync_to(self, intent: Intent) -> None:
        """Return once the line of ``intent`` is durable (at once if a sync covered it)."""
        if not self.sync or self._synced >= intent.ticket:
            return
        with self._sync_lock:
            if self._synced >= intent.ticket:
                return  # synced by another thread meanwhile
            with self._lock:
                current = self._current
                assert current is not None
                full = current.lines >= self.segment_records
            if full:
                # The next lines go to a new segment (its name synced first); the
                # full one is synced below, every line noted so far in it.
                new = self._new_segment(None)
                with self._lock:
                    self._current = new
                    if current.open == 0:
                        self._retired.append(current)
            with self._lock:
                upto = self._written if not full else self._written - new.lines
                retired, self._retired = self._retired, []
            os.fdatasync(current.fd)
            self._synced = upto
            # (Removed while the sync lock is held: no fdatasync uses them.)
            _remove(retired)

    def note_all(self, names: list[str]) -> Intent:
        """Append ``names`` in one write; with ``sync``, durable when it returns.

        The batch way of :meth:`note` and :meth:`sync_to` together (one write and
        one ``fdatasync`` for a batch of files named at once, see
        :mod:`~dicomnet.storage.naming`). The one :class:`Intent` returned stands
        for each of the lines: :meth:`settle` it once per name.
        """
        text = "\n".join(names) + "\n" if names else ""
        data = text.encode("utf-8", "surrogateescape")
        if not self.sync:
            return self._append(data, len(names))
        with self._sync_lock:
            intent = self._append(data, len(names))
            with self._lock:
                upto = self._written
                retired, self._retired = self._retired, []
            os.fdatasync(intent.segment.fd)
            self._synced = upto
            # (Removed while the sync lock is held: no fdatasync uses them.)
            _remove(retired)
        return intent

    def _append(self, data: bytes, lines: int) -> Intent:
        """``data`` (``lines`` whole lines) written to the current segment in one write."""
        retired: list[Segment] | None = None
        with self._lock:
            segment = self._current
            if segment is None or segment.lines >= self.segment_records:
                # (With sync: called with the sync lock held. The lines of the full
                # segment were synced by the calls that wrote them, unless note wrote
                # some too: those are synced here, before the next ones count.)
                if self.sync and segment is not None and self._synced < self._written:
                    os.fdatasync(segment.fd)
                    self._synced = self._written
                segment = self._current = self._new_segment(segment)
            if os.write(segment.fd, data) != len(data):  # whole lines (O_APPEND)
                raise OSError(errno.ENOSPC, "intent log not written", segment.path)
            segment.lines += lines
            segment.open += lines
            written = self._written = self._written + lines
            if self._retired and not self.sync:
                retired, self._retired = self._retired, []
        if retired:
            _remove(retired)
        return Intent(segment, written)

    def settle_all(self, intents: Sequence[Intent | None]) -> None:
        """:meth:`settle` each of ``intents`` (under one lock; ``None`` stands for none)."""
        retired: list[Segment] | None = None
        first = intents[0] if intents else None
        with self._lock:
            current = self._current
            if first is not None and intents.count(first) == len(intents):
                # Every line of one write (a batch noted by note_all, the usual call).
                segment = first.segment
                segment.open -= len(intents)
                if segment.open == 0 and segment is not current:
                    self._retired.append(segment)
            else:
                for intent in intents:
                    if intent is None:
                        continue
                    segment = intent.segment
                    segment.open -= 1
                    if segment.open == 0 and segment is not current:
                        self._retired.append(segment)
            if self._retired and not self.sync:
                retired, self._retired = self._retired, []
        if retired:
            _remove(retired)

    def settle(self, intent: Intent) -> None:
        """The line of ``intent`` is settled (its row is in, or its file gone)."""
        segment = intent.segment
        with self._lock:
            segment.open -= 1
            if segment.open > 0 or segment is self._current:
                return
            self._retired.append(segment)
            if self.sync:
                return  # removed by the next sync (no fdatasync may use its descriptor then)
            retired, self._retired = self._retired, []
        _remove(retired)

    def segments(self) -> list[Segment]:
        """The segments written by this log and not yet removed."""
        with self._lock:
            return [*self._retired, *([self._current] if self._current else [])]

    def close(self) -> None:
        """Close the segments (a segment with unsettled lines stays for the next start)."""
        with self._sync_lock, self._lock:
            segments = [*self._retired, *([self._current] if self._current else [])]
            self._retired = []
            current, self._current = self._current, None
        for segment in segments:
            if segment is current and segment.open > 0:
                os.close(segment.fd)
            else:
                _remove([segment])

    def _new_segment(self, full: Segment | None) -> Segment:
        """A new segment file, its name durable (with sync); ``full``: the one it follows."""
        self._serial += 1
        if self._serial == 1:
            made = make_folders(Path(self.folder))
            if self.sync:  # the new folders' names
                fsync_folders(folder.parent for folder in made)
        path = os.path.join(self.folder, f"{self._prefix}-{self._serial:08d}{INTENTS_SUFFIX}")
        fd = os.open(path, _FLAGS, 0o644)
        if self.sync:
            _sync_folder(self.folder)  # the new segment's name, before its first line
        if full is not None and full.open == 0:
            self._retired.append(full)  # (no sync: called with _lock held)
        return Segment(path, fd)


def read_intents(folder: str | os.PathLike[str]) -> list[tuple[Path, list[str]]]:
    """The segments left in ``folder`` and the whole lines of each (a torn last line is not)."""
    found: list[tuple[Path, list[str]]] = []
    if not os.path.isdir(folder):
        return found
    for entry in sorted(Path(folder).glob(f"*{INTENTS_SUFFIX}")):
        try:
            data = entry.read_bytes()
        except OSError as exc:
            _log.warning("cannot read %s: %s", entry, exc)
            continue
        lines = data.split(b"\n")[:-1]  # the last piece has no newline: torn or empty
        found.append((entry, [line.decode("utf-8", "surrogateescape") for line in lines if line]))
    return found


def _remove(segments: list[Segment]) -> None:
    for segment in segments:
        with contextlib.suppress(OSError):
            os.close(segment.fd)
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _log.warning("could not remove %s: %s", segment.path, exc)


def _sync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
