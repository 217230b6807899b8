"""Archive upkeep: re-index a folder (``dicomnet index rebuild DIR``), delete from it.

:func:`rebuild_index` empties the index and walks the folder (hidden
directories such as ``.incoming`` and ``.index`` skipped, files in sorted
order; any layout, flat or by patient/study/series), reading each file's
header and putting the entries in batches. Files
that are not DICOM are counted and skipped. Two files holding the same SOP
Instance UID are resolved by the store's :class:`~dicomnet.storage.sinks.Duplicate`
policy, as a store would have resolved them: ``keep-first`` and ``refuse``
index the first file found (``refuse`` reports the others as conflicts),
``replace`` the last one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.folder import fsync_folders, remove_empty_folders
from dicomnet.storage.sinks import Duplicate

from .backend import IndexBackend
from .entry import IndexEntry, entry_from_file

__all__ = [
    "RebuildReport",
    "delete_from_archive",
    "folder_files",
    "rebuild_index",
    "remove_files",
]

_log = logging.getLogger("dicomnet.archive")
#: Entries put per transaction.
BATCH: Final = 500


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild did."""

    files: int = 0
    indexed: int = 0
    skipped: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def folder_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Every file under ``root``, sorted, hidden directories and files left out."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(directory) / name


async def rebuild_index(
    root: str | os.PathLike[str],
    index: IndexBackend,
    *,
    duplicates: Duplicate = Duplicate.KEEP_FIRST,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Empty ``index`` and index every DICOM file under ``root``.

    ``progress(done, total)`` is called as files are read.
    """
    # Deletions a crash interrupted are finished first: their files must not come back.
    doomed = await index.doomed()
    remove_files(doomed, Path(root), sync=getattr(index, "fsync", True))
    await index.forget_doomed(doomed)
    paths = list(folder_files(root))
    report = RebuildReport(files=len(paths))
    await index.clear()
    seen: set[str] = set()
    pending: list[IndexEntry] = []
    for done, path in enumerate(paths, 1):
        if progress is not None:
            progress(done, len(paths))
        try:
            entry = entry_from_file(path)
        except (OSError, ValueError) as exc:
            _log.debug("not indexed: %s", logsafe(exc, ERROR_LIMIT))
            report.skipped.append(str(path))
            continue
        uid = entry.sop_instance_uid
        if uid in seen:
            report.duplicates.append(str(path))
            if duplicates is not Duplicate.REPLACE:
                continue  # the first copy stays indexed
        seen.add(uid)
        pending.append(entry)  # under REPLACE a later put replaces the earlier row
        if len(pending) >= BATCH:
            await index.put_many(pending)
            pending = []
    await index.put_many(pending)
    report.indexed = len(seen)
    return report


async def delete_from_archive(
    index: IndexBackend,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Delete a study, series or instance from an archive: rows and files; the files removed.

    Give exactly one of ``study_uid``, ``series_uid``, ``sop_instance_uid``
    (``ValueError`` otherwise). ``root`` is the store folder: folders of the
    hierarchical layout left empty are removed up to it (without it, none).

    Crash-safe: the rows go first, in one transaction that also notes their
    files (the index's ``doomed`` list); then the files are removed (their
    folders synced when the index syncs) and the note dropped. The index never
    names a file that is gone, and a crash between the two leaves the note,
    which the next start-up finishes
    (:func:`~dicomnet.archive.recover.reconcile`), so a deleted instance
    cannot come back through ``dicomnet index rebuild``.
    """
    paths = await index.delete(
        study_uid=study_uid, series_uid=series_uid, sop_instance_uid=sop_instance_uid
    )
    top = None if root is None else Path(root)
    removed = remove_files(paths, top, sync=getattr(index, "fsync", True))
    await index.forget_doomed(paths)
    return removed


def remove_files(paths: list[str], root: Path | None, *, sync: bool = True) -> list[Path]:
    """Remove the files ``paths`` (and emptied folders up to ``root``); those removed.

    With ``sync`` the removals are durable when it returns (their folders
    synced): a caller then forgets its note of them (the index's ``doomed``
    list), and a power loss must not bring back a file whose note is gone (an
    intent log segment still naming it would index it again at the next start).
    """
    removed = []
    for name in paths:
        path = Path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            _log.warning("row deleted but file kept: %s", logsafe(exc, ERROR_LIMIT))
            continue
        removed.append(path)
    if sync:
        fsync_folders(path.parent for path in removed)
    if root is not None:
        for folder in dict.fromkeys(path.parent for path in removed):
            remove_empty_folders(folder, root)
    return removed
