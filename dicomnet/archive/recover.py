"""Crash consistency: after kill -9, bring the index and the folder into agreement.

Ingest (:class:`~dicomnet.archive.ingest.IndexedSink`) keeps this order for
every instance:

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
from dicomnet.storage.folder import FolderStore

from .backend import IndexBackend
from .entry import entry_from_file
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
            await index.put(entry)
            report.indexed.append(entry.path)
            _log.info(
                "recovered %s (stored before a crash, not yet indexed)",
                logsafe(entry.sop_instance_uid),
            )
    report.unfinished = store.remove_stale()
