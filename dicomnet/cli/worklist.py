"""``dicomnet worklist add|list|remove``: the worklist items ``dicomnet serve`` answers from.

The items are kept in the store folder's index (``DIR/.index/index.sqlite``;
``--output DIR``, default ``./dicomnet-store``, as for ``serve``; ``--index``
names another file). They may be changed while ``serve`` runs: a C-FIND sees
an item as soon as ``add`` has returned.

``add FILE|DIR...`` keeps the item of each file: a DICOM file (DCMTK ``.wl``
files included) or a DICOM JSON file (``.json``), each a data set with a
Scheduled Procedure Step Sequence; a folder adds every file directly in it.
An item with the Study Instance UID, Requested Procedure ID, Accession Number
and first Scheduled Procedure Step ID of one kept already replaces it.

``list`` prints one line per item: its key, Patient ID, Patient's Name,
Accession Number, and the first step's Modality, Station AE Title and Start
Date/Time (``--json``: each item in the DICOM JSON model, with its key).

``remove KEY...`` removes items by the key ``list`` shows; ``remove --all``
removes every item.

Exit codes: 0 done; 1 some file was not a worklist item, or a key unknown;
2 bad options or the index cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomnet.archive.backends import (
    AnyWorklist,
    describe,
    is_postgres_url,
    open_index,
    open_worklist,
)
from dicomnet.archive.worklist_sqlite import WorklistEntry
from dicomnet.cli.options import add_verbose_option, register_subcommand
from dicomnet.transport import run

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["register", "run_worklist"]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``worklist`` sub-command (verbs: ``add``, ``list``, ``remove``)."""
    parser = register_subcommand(
        subparsers, "worklist", __doc__, run_worklist, help="keep the items the MWL SCP answers"
    )
    verbs = parser.add_subparsers(dest="worklist_verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="keep the items of DICOM / .wl / DICOM JSON files")
    add.add_argument("paths", nargs="+", metavar="FILE|DIR", help="item files, or folders of them")
    listing = verbs.add_parser("list", help="show the items kept")
    listing.add_argument("--json", action="store_true", help="DICOM JSON, one item per line")
    remove = verbs.add_parser("remove", help="remove items by key")
    remove.add_argument("keys", nargs="*", type=int, metavar="KEY", help="keys from list")
    remove.add_argument("--all", action="store_true", help="remove every item")
    for verb in (add, listing, remove):
        verb.add_argument(
            "--output", "-o", default="dicomnet-store", metavar="DIR", help="store folder"
        )
        verb.add_argument(
            "--index", metavar="FILE|URL", help="SQLite file (DIR/.index/index.sqlite) or URL"
        )
        verb.add_argument("--no-fsync", action="store_true", help="do not sync the index")
        add_verbose_option(verb, dest="action_verbose", help="more logging")


def run_worklist(args: argparse.Namespace) -> int:
    """Run ``dicomnet worklist VERB``; returns the exit code."""
    if args.worklist_verb == "remove" and not args.keys and not args.all:
        print("dicomnet worklist remove: give KEY... or --all", file=sys.stderr)
        return EXIT_USAGE
    return run(_run(args), use_uvloop=False)


async def _run(args: argparse.Namespace) -> int:
    path = args.index or Path(args.output) / ".index" / "index.sqlite"
    if args.worklist_verb != "add" and not is_postgres_url(path) and not Path(path).is_file():
        print(f"dicomnet worklist: no index at {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        index = await open_index(path, fsync=not args.no_fsync)
    except OSError as exc:
        print(f"dicomnet worklist: cannot open {describe(path)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        worklist = await open_worklist(index)
        try:
            if args.worklist_verb == "add":
                return await _add(worklist, [Path(p) for p in args.paths])
            if args.worklist_verb == "list":
                return await _list(worklist, as_json=args.json)
            return await _remove(worklist, args.keys, every=args.all)
        finally:
            await worklist.close()
    except OSError as exc:
        print(f"dicomnet worklist: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await index.close()


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
            )
        else:
            files.append(path)
    return files


async def _add(worklist: AnyWorklist, paths: list[Path]) -> int:
    added = refused = 0
    for file in _files(paths):
        try:
            key = await worklist.add_file(file)
        except ValueError as exc:
            print(f"not added: {exc}", file=sys.stderr)
            refused += 1
            continue
        except OSError as exc:
            if not file.exists() or file.is_dir():
                print(f"not added: {file}: {exc}", file=sys.stderr)
                refused += 1
                continue
            raise
        print(f"{key}\t{file}")
        added += 1
    print(f"added {added} item(s); {refused} refused", file=sys.stderr)
    return EXIT_PARTIAL if refused else EXIT_OK


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value)


def _line(entry: WorklistEntry) -> str:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    item = entry.item
    steps = item.get("ScheduledProcedureStepSequence") or [Dataset()]
    step = steps[0]
    when = (
        _text(step, "ScheduledProcedureStepStartDate")
        + " "
        + _text(step, "ScheduledProcedureStepStartTime")
    ).strip()
    fields = [
        str(entry.key),
        _text(item, "PatientID"),
        _text(item, "PatientName"),
        _text(item, "AccessionNumber"),
        _text(step, "Modality"),
        _text(step, "ScheduledStationAETitle"),
        when,
    ]
    return "\t".join(fields)


async def _list(worklist: AnyWorklist, *, as_json: bool) -> int:
    entries = await worklist.entries()
    if as_json:
        for entry in entries:
            added = datetime.fromtimestamp(entry.added, UTC).isoformat()
            record = {"key": entry.key, "added": added, "item": entry.item.to_json_dict()}
            print(json.dumps(record))
        return EXIT_OK
    print("KEY\tPATIENT ID\tPATIENT NAME\tACCESSION\tMODALITY\tSTATION\tSTART")
    for entry in entries:
        print(_line(entry))
    return EXIT_OK


async def _remove(worklist: AnyWorklist, keys: list[int], *, every: bool) -> int:
    if every:
        print(f"removed {await worklist.clear()} item(s)")
        return EXIT_OK
    unknown = [key for key in keys if not await worklist.remove(key)]
    for key in unknown:
        print(f"no item with key {key}", file=sys.stderr)
    print(f"removed {len(keys) - len(unknown)} item(s)")
    return EXIT_PARTIAL if unknown else EXIT_OK
