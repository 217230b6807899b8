"""``dicomnet index rebuild|delete DIR``: upkeep of a store folder's index.

``rebuild`` indexes an existing store folder from its files.
Empties the folder's index (``DIR/.index/index.sqlite``, the one ``dicomnet
serve`` uses; ``--index`` names another) and indexes every DICOM file under
DIR, with a progress bar on a terminal. ``--duplicates`` says which file of
an instance UID found twice is indexed (as for ``serve``: keep the first,
replace with the later, or refuse: keep the first and report the others).
Run it while no ``serve`` uses the folder.

``delete DIR --study UID | --series UID | --instance UID`` removes that
study, series or instance: its rows from the index (noting its files in the
same transaction, so a crash midway is finished at the next start-up), then its
files, and folders of the hierarchical layout that are left empty. Both
commands work with either layout (``serve --layout``).

Exit codes: 0 done (files that are not DICOM are skipped and counted);
1 some duplicates refused, or nothing to delete; 2 bad options or the index
cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from dicomnet.archive.backends import describe, open_index
from dicomnet.archive.rebuild import delete_from_archive, rebuild_index
from dicomnet.cli.options import add_verbose_option, register_subcommand
from dicomnet.storage.sinks import Duplicate
from dicomnet.transport import run

__all__ = ["register", "run_index"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``index`` sub-command (verb: ``rebuild``)."""
    parser = register_subcommand(
        subparsers, "index", __doc__, run_index, help="rebuild the index of a store folder"
    )
    verbs = parser.add_subparsers(dest="index_verb", required=True, metavar="VERB")
    rebuild = verbs.add_parser("rebuild", help="index every DICOM file of a folder anew")
    rebuild.add_argument("folder", metavar="DIR", help="the store folder")
    rebuild.add_argument(
        "--index",
        metavar="FILE",
        help="index: SQLite file (DIR/.index/index.sqlite) or postgresql:// URL",
    )
    rebuild.add_argument(
        "--duplicates",
        choices=[d.value for d in Duplicate],
        default=Duplicate.KEEP_FIRST.value,
        help="an instance UID found in two files: index the first, the last, or refuse",
    )
    rebuild.add_argument("--no-fsync", action="store_true", help="do not sync the index")
    rebuild.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_verbose_option(rebuild, dest="action_verbose", help="more logging")
    delete = verbs.add_parser("delete", help="delete a study, series or instance (rows and files)")
    delete.add_argument("folder", metavar="DIR", help="the store folder")
    delete.add_argument(
        "--index",
        metavar="FILE",
        help="index: SQLite file (DIR/.index/index.sqlite) or postgresql:// URL",
    )
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", metavar="UID", help="Study Instance UID")
    which.add_argument("--series", metavar="UID", help="Series Instance UID")
    which.add_argument("--instance", metavar="UID", help="SOP Instance UID")
    delete.add_argument("--no-fsync", action="store_true", help="do not sync the index")
    add_verbose_option(delete, dest="action_verbose", help="more logging")


class _Bar:
    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or (done % 100 and done != total):
            return
        filled = 30 * done // max(1, total)
        self.stream.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {done}/{total} files")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def run_index(args: argparse.Namespace) -> int:
    """Run ``dicomnet index VERB``; returns the exit code."""
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"dicomnet index: not a folder: {folder}", file=sys.stderr)
        return EXIT_USAGE
    return run(_run(args, folder), use_uvloop=False)


async def _run(args: argparse.Namespace, folder: Path) -> int:
    path = args.index or folder / ".index" / "index.sqlite"
    try:
        index = await open_index(path, fsync=not args.no_fsync)
    except OSError as exc:
        print(f"dicomnet index: cannot open {describe(path)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.index_verb == "delete":
        try:
            removed = await delete_from_archive(
                index,
                study_uid=args.study,
                series_uid=args.series,
                sop_instance_uid=args.instance,
                root=folder,
            )
        finally:
            await index.close()
        print(f"deleted {len(removed)} instance(s)")
        return EXIT_OK if removed else EXIT_REFUSED
    duplicates = Duplicate(args.duplicates)
    try:
        report = await rebuild_index(
            folder, index, duplicates=duplicates, progress=_Bar(sys.stderr, not args.no_progress)
        )
    finally:
        await index.close()
    print(
        f"indexed {report.indexed} instance(s) from {report.files} file(s);"
        f" {len(report.skipped)} not DICOM, {len(report.duplicates)} duplicate(s)"
    )
    for name in report.duplicates:
        verb = "refused" if duplicates is Duplicate.REFUSE else "duplicate"
        print(f"{verb}: {name}", file=sys.stderr)
    if duplicates is Duplicate.REFUSE and report.duplicates:
        return EXIT_REFUSED
    return EXIT_OK
