"""Crash consistency: after kill -9, bring the index and the folder into agreement.

Ingest (:class:`~dicomnet.archive.ingest.IndexedSink`) keeps one of two
orders for every instance. Where the folder store receives into unnamed
files (:mod:`dicomnet.storage.unnamed`: the flat layout, duplicates kept or
refused, on Linux):

1. the data set is written to an unnamed file and fsynced;
2. its final name is appended to the store's intent log
   (:mod:`dicomnet.storage.intents`), synced (with the SQLite index, the
   names of a whole batch in one write and one sync, see
   :mod:`dicomnet.storage.naming`);
3. the file is linked into place under that name (the folder synced);
4. the instance row is committed (synchronously);
5. the log's line is settled (a segment whose lines are all settled goes);
6. only then is Success answered (after 3 and 4).

So a row never points at a missing file, and a name that may be on disk
without its row is in a segment of the log on disk: after a crash,
:func:`reconcile` reads the segments left in ``.intents`` (a few thousand
lines at most) and indexes each named file that exists and has no row of
its own; a name without a file (the crash came before the link, or the
file was removed after its row failed) is passed over.

Otherwise (named temporary files):

1. the data set is written to ``.incoming/<random>.part`` and fsynced;
2. the file is hard-linked into place (the folder fsynced), keeping its
   ``.part`` name as a second link;
3. the instance row is committed (synchronously);
4. the ``.part`` name is removed;
5. only then is Success answered.

So a row never points at a missing file (it is written after the link), and
a file moved into place without its row still has its ``.part`` name, with
two links. After a crash, :func:`reconcile` looks only at ``.incoming`` and
the index's own notes - never at the whole folder: a ``.part`` file with one
link never reached its place and is removed; one with two links is indexed
from its place (if the row is missing, or to be sure it is the one there)
and its ``.part`` name removed.

On a file system without hard links, step 2 is a rename and the final path
is journaled in the index before it (the ``pending`` table, removed in the
transaction that adds the row): a journaled file that exists is indexed, one
that does not is forgotten. The journal row is written without a sync of its
own: it survives kill -9; after a power loss a file renamed in the last
moments may be left unindexed (``dicomnet index rebuild`` finds it), never an
acknowledged one.

Deletions (:func:`~dicomnet.archive.rebuild.delete_from_archive`) note the
files of the rows they remove in the same transaction; :func:`reconcile`
removes the noted files a crash left behind.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.filenames import is_valid_uid
from dicomnet.storage.folder import FolderStore

from .backend import IndexBackend
from .entry import IndexEntry, entry_from_file
from .rebuild import remove_files

__all__ = ["ReconcileReport", "reconcile"]

_log = logging.getLogger("dicomnet.archive")


@dataclass(slots=True)
class ReconcileReport:
    """What :func:`reconcile` did."""

    indexed: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    #: Files of deleted instances removed (a deletion a crash interrupted).
    removed: list[str] = field(default_factory=list)
    #: Unfinished ``.part`` files removed.
    unfinished: int = 0


async def reconcile(index: IndexBackend, store: FolderStore | None = None) -> ReconcileReport:
    """Finish what a crash interrupted: index files moved in, drop the rest.

    ``store``: the folder store (created with ``clean_incoming=False``) whose
    ``.incoming`` is looked at; without it only the index's notes are.
    """
    report = ReconcileReport()
    if store is not None:
        await _settle_incoming(index, store, report)
        await _settle_intents(index, store, report)
    for path, uid in await index.journaled():
        file = Path(path)
        try:
            entry = entry_from_file(file) if file.is_file() else None
        except (OSError, ValueError) as exc:
            _log.warning("journaled file %s unreadable: %s", path, logsafe(exc, ERROR_LIMIT))
            entry = None
        if entry is None:
            await index.unjournal(path)
            report.forgotten.append(path)
            continue
        await index.put(entry)
        report.indexed.append(path)
        _log.info("recovered %s (stored before a crash, not yet indexed)", logsafe(uid))
    doomed = await index.doomed()
    if doomed:
        root = None if store is None else store.root
        report.removed = [str(p) for p in remove_files(doomed, root)]
        await index.forget_doomed(doomed)
    return report


async def _settle_incoming(
    index: IndexBackend, store: FolderStore, report: ReconcileReport
) -> None:
    for part in store.leftovers():
        try:
            placed = part.stat().st_nlink > 1
            entry = entry_from_file(part) if placed else None
            final = store.place_of_file(part, entry.sop_instance_uid) if entry else None
            if final is None or not final.is_file() or not os.path.samefile(part, final):
                entry = None
            else:
                entry = entry_from_file(final)
        except (OSError, ValueError) as exc:
            _log.warning("unfinished file %s unreadable: %s", part, logsafe(exc, ERROR_LIMIT))
            entry = None
        if entry is not None:
            await _recovered(index, entry, report)
    report.unfinished = store.remove_stale()


async def _recovered(index: IndexBackend, entry: IndexEntry, report: ReconcileReport) -> None:
    """Index ``entry``, a file stored before a crash that has no row yet."""
    await index.put(entry)
    report.indexed.append(entry.path)
    _log.info(
        "recovered %s (stored before a crash, not yet indexed)", logsafe(entry.sop_instance_uid)
    )


async def _settle_intents(index: IndexBackend, store: FolderStore, report: ReconcileReport) -> None:
    """Index the files named in the intent logs left that lack their rows; remove the logs."""
    left = store.intents_left()
    if not left:
        return
    doomed = set(await index.doomed())  # deleted: their files go below, not indexed again
    seen: set[Path] = set()
    for _segment, paths in left:
        for path in paths:
            if path in seen or str(path) in doomed:
                continue
            seen.add(path)
            entry = await _unindexed(index, path)
            if entry is not None:
                await _recovered(index, entry, report)
    for segment, _paths in left:  # every named file that is there is indexed now
        segment.unlink(missing_ok=True)


async def _unindexed(index: IndexBackend, path: Path) -> IndexEntry | None:
    """The entry of the file ``path`` if it exists and has no row of its own, else ``None``."""
    if not path.is_file():
        return None  # never linked, or removed again when its row failed
    # A valid UID is its own file name (see dicomnet.storage.filenames): no read then.
    uid = path.name[: -len(".dcm")] if path.name.endswith(".dcm") else ""
    entry = None
    if not is_valid_uid(uid):
        try:
            entry = entry_from_file(path)
        except (OSError, ValueError) as exc:
            _log.warning("file %s unreadable: %s", path, logsafe(exc, ERROR_LIMIT))
            return None
        uid = entry.sop_instance_uid
    found = await index.locate(uid)
    if found is not None and found.path == path:
        return None
    try:
        return entry or entry_from_file(path)
    except (OSError, ValueError) as exc:
        _log.warning("file %s unreadable: %s", path, logsafe(exc, ERROR_LIMIT))
        return None
