"""``dicomnet queue list|show|retry|purge|pause|resume DIR``: the send queue of a store folder.

DIR is the store folder of a system with a ``[queue]`` (``dicomnet serve
--system dicomark`` keeps its jobs in ``dicomark-inbox/.index/index.sqlite``);
``--index`` names the database instead. The commands work while the server
runs: ``retry``, ``pause`` and ``resume`` take effect at its next look at the
queue (the ``poll`` of the system file).

* ``list``: per destination, the jobs per state, progress (sent of all),
  bytes sent and the rate they were sent at, and whether it is paused;
* ``show``: jobs (newest first; ``--destination``, ``--state``, ``--instance``,
  ``--limit``) with attempts, next attempt, last status and error;
* ``retry``: failed and error jobs back to queued, attempts reset
  (``--destination`` or ``--job ID``; all when neither is given);
* ``purge``: delete jobs in ``--state`` (default: sent), ``--older-than`` seconds;
* ``pause DEST`` / ``resume DEST``: stop or restart sending to a destination.

A table by default, JSON with ``--json``. Exit codes: 0 done; 1 nothing matched
(``retry``, ``purge``); 2 bad options or the database cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from dicomnet.archive.backends import AnyIndex, describe, is_postgres_url, open_index
from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.cli.options import add_verbose_option, register_subcommand
from dicomnet.queue.model import DestinationCounts, Job, JobState
from dicomnet.queue.stores import AnyQueueStore, open_queue_store
from dicomnet.transport import run

__all__ = ["register", "run_queue"]

EXIT_OK = 0
EXIT_NOTHING = 1
EXIT_USAGE = 2
_STATES = [s.value for s in JobState]


def register(subparsers: Any) -> None:
    """Add the ``queue`` sub-command and its verbs."""
    parser = register_subcommand(
        subparsers, "queue", __doc__, run_queue, help="inspect and steer the send queue"
    )
    verbs = parser.add_subparsers(dest="queue_verb", required=True, metavar="VERB")

    def verb(name: str, text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = verbs.add_parser(name, help=text)
        sub.add_argument("folder", metavar="DIR", help="the store folder")
        sub.add_argument(
            "--index", metavar="FILE|URL", help="SQLite file (DIR/.index/index.sqlite) or URL"
        )
        add_verbose_option(sub, dest="action_verbose", help="more logging")
        return sub

    listing = verb("list", "jobs per destination and state, progress and rate")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    show = verb("show", "the jobs, newest first")
    show.add_argument("--destination", metavar="NAME", help="of this destination only")
    show.add_argument("--state", action="append", choices=_STATES, default=[], help="(repeat)")
    show.add_argument("--instance", metavar="UID", help="of this SOP Instance UID only")
    show.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    show.add_argument("--json", action="store_true", help="JSON instead of a table")
    retry = verb("retry", "failed and error jobs back to queued")
    retry.add_argument("--destination", metavar="NAME", help="of this destination only")
    retry.add_argument("--job", type=int, action="append", default=[], metavar="ID")
    purge = verb("purge", "delete jobs (default: those sent)")
    purge.add_argument("--destination", metavar="NAME", help="of this destination only")
    purge.add_argument("--state", action="append", choices=_STATES, default=[], help="(sent)")
    purge.add_argument("--older-than", type=float, metavar="SECONDS", help="last changed before")
    for name, text in (("pause", "stop sending to a destination"), ("resume", "send again")):
        verb(name, text).add_argument("destination", metavar="NAME")


def run_queue(args: argparse.Namespace) -> int:
    """Run ``dicomnet queue VERB``; returns the exit code."""
    folder = Path(args.folder)
    path = args.index or folder / ".index" / "index.sqlite"
    if not is_postgres_url(path) and not Path(path).is_file():
        print(f"dicomnet queue: no database at {path}", file=sys.stderr)
        return EXIT_USAGE
    return run(_run(args, path), use_uvloop=False)


async def _run(args: argparse.Namespace, path: str | Path) -> int:
    try:
        if is_postgres_url(path):
            index: AnyIndex = await open_index(path)
        else:
            index = await SqliteIndex.open(path, workers=1, readers=1)
    except OSError as exc:
        print(f"dicomnet queue: cannot open {describe(path)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = await open_queue_store(index, enqueue=False)
        try:
            return await _verb(args, store)
        finally:
            await store.close()
    except OSError as exc:
        print(f"dicomnet queue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await index.close()


async def _verb(args: argparse.Namespace, store: AnyQueueStore) -> int:
    verb = args.queue_verb
    if verb == "list":
        _print_counts(await store.counts(), as_json=args.json)
        return EXIT_OK
    if verb == "show":
        states = [JobState(s) for s in args.state]
        jobs = await store.jobs(
            destination=args.destination,
            states=states,
            sop_instance_uid=args.instance,
            limit=max(1, args.limit),
        )
        _print_jobs(jobs, as_json=args.json)
        return EXIT_OK
    if verb == "retry":
        count = await store.retry(destination=args.destination, job_ids=args.job, now=time.time())
        print(f"{count} job(s) queued again")
        return EXIT_OK if count else EXIT_NOTHING
    if verb == "purge":
        states = [JobState(s) for s in args.state] or [JobState.SENT]
        before = None if args.older_than is None else time.time() - args.older_than
        count = await store.purge(destination=args.destination, states=states, before=before)
        print(f"{count} job(s) deleted")
        return EXIT_OK if count else EXIT_NOTHING
    paused = verb == "pause"
    await store.set_paused(args.destination, paused)
    print(f"{args.destination} {'paused' if paused else 'resumed'}")
    return EXIT_OK


def counts_json(counts: DestinationCounts) -> dict[str, Any]:
    """One destination's line as JSON values."""
    total = sum(counts.counts.values())
    span = (
        (counts.last_sent - counts.first_sent)
        if counts.first_sent is not None and counts.last_sent is not None
        else 0.0
    )
    return {
        "destination": counts.destination,
        "paused": counts.paused,
        "states": counts.counts,
        "total": total,
        "progress": counts.counts.get("sent", 0) / total if total else 1.0,
        "bytes_sent": counts.bytes_sent,
        "bytes_per_second": counts.bytes_sent / span if span > 0 else None,
        "instances_per_second": counts.counts.get("sent", 0) / span if span > 0 else None,
    }


def _print_counts(all_counts: list[DestinationCounts], *, as_json: bool) -> None:
    rows = [counts_json(c) for c in all_counts]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    header = ["destination", *_STATES, "progress", "sent", "rate", ""]
    lines = [header]
    for row in rows:
        rate = row["bytes_per_second"]
        lines.append(
            [
                row["destination"],
                *(str(row["states"][s]) for s in _STATES),
                f"{100 * row['progress']:.1f} %",
                _size(row["bytes_sent"]),
                "-" if rate is None else f"{_size(rate)}/s",
                "paused" if row["paused"] else "",
            ]
        )
    _table(lines)


def job_json(job: Job) -> dict[str, Any]:
    """One job as JSON values."""
    return {
        "id": job.id,
        "destination": job.destination,
        "sop_instance_uid": job.sop_instance_uid,
        "sop_class_uid": job.sop_class_uid,
        "state": job.state.value,
        "attempts": job.attempts,
        "next_attempt": job.next_attempt,
        "last_status": job.last_status,
        "error": job.error,
        "path": job.path,
        "size": job.size,
        "created": job.created,
        "updated": job.updated,
    }


def _print_jobs(jobs: list[Job], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([job_json(j) for j in jobs], indent=2))
        return
    now = time.time()
    lines = [["id", "destination", "state", "tries", "next", "status", "instance", "error"]]
    for job in jobs:
        waiting = job.state in (JobState.QUEUED, JobState.FAILED)
        lines.append(
            [
                str(job.id),
                job.destination,
                job.state.value,
                str(job.attempts),
                f"{max(0.0, job.next_attempt - now):.0f} s" if waiting else "-",
                "-" if job.last_status is None else f"{job.last_status:04X}",
                job.sop_instance_uid,
                job.error[:60],
            ]
        )
    _table(lines)


def _table(lines: list[list[str]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"
