"""Crash consistency: after kill -9, bring the index and the folder into agreement.

Ingest (:class:`~dicomnet.archive.ingest.IndexedSink`) keeps this order for
every instance:

1. the data set is written to ``.incoming/<random>.part`` and fsynced;
2. the final path is added to the index's journal (``pending`` table);
3. the file is renamed into place and the folder fsynced;
4. the instance row is committed (synchronously) and its journal row removed
   in the same transaction;
5. only then is Success answered.

So a row never points at a missing file (it is written after the rename),
and a file moved into place without its row has a journal row. After a
crash, :func:`reconcile` looks only at the journal - never at the whole
folder: a journaled file that exists is indexed, a journaled file that does
not is forgotten; unfinished ``.part`` files are removed by the folder store
as before. The journal row is written without a sync of its own (it is
synced by the next instance row's commit): it survives kill -9; after a
power loss a file renamed in the last moments may be left unindexed
(``dicomnet index rebuild`` finds it), never an acknowledged one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from dicomnet.log import ERROR_LIMIT, logsafe

from .backend import IndexBackend
from .entry import entry_from_file

__all__ = ["ReconcileReport", "reconcile"]

_log = logging.getLogger("dicomnet.archive")


@dataclass(slots=True)
class ReconcileReport:
    """What :func:`reconcile` did."""

    indexed: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)


async def reconcile(index: IndexBackend) -> ReconcileReport:
    """Index the journaled files that made it into place; forget the others."""
    report = ReconcileReport()
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
    return report
