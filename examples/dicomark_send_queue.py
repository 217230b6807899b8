"""RadZen DicomArk, Send Queue AE: files and folders sent through the durable send queue.

Plays the Send Queue of the DicomArk conformance statement (seed
``000_044a1159bad8718a.txt``, §5.2.2 and §5.4.3.2) with the library's queue
(:mod:`dicomnet.queue`, the one ``dicomnet serve --system dicomark`` runs),
configured by the ``dicomark-send-queue`` conformance profile (calling AE
title, SOP classes, 16 KB PDUs). Each file becomes a send job kept in a queue
database (``--queue DIR``, ``DIR/.index/index.sqlite``): a second run sends
only what is not sent yet (entries in 'Error' are tried again), and
``dicomnet queue list DIR`` shows the jobs. As the statement describes:

* one association at a time, reused for the instances that follow;
* each instance's own transfer syntax is proposed, then Implicit VR Little
  Endian, and the instance is transcoded on the fly when the destination
  accepted only the latter (never from the profile's no-transcode group);
* each instance is tried up to 1 + ``--retries`` times (``--backoff``
  seconds before the first retry, doubling); an instance that never got
  through ends in the 'Error' state;
* ``--min-interval`` seconds at least between the starts of two sends,
  ``--max-rate`` bytes per second at most, and ``--send-timeout`` seconds
  before a send with no answer counts as hung (the association is aborted);
* TLS with ``--tls`` (``--tls-ca`` to verify the destination with,
  ``--tls-ignore-errors`` for a self-signed destination certificate).

Run::

    python examples/dicomark_send_queue.py --host pacs.example --port 104 \\
        --called-ae PACS --retries 2 --min-interval 0.5 ./outbox
    python examples/dicomark_send_queue.py --help

Prints one line per instance (``sent LABEL`` or ``error LABEL after N
attempts: WHY``) and a summary; exit code 0 when everything was sent, 1 when
an entry is in the 'Error' state, 2 when there is nothing to send.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from common import add_called_ae_option, example_parser, run_main

from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.conformance import load_profile
from dicomnet.queue import DestinationSpec, Job, JobState, QueueSpec, SendQueue
from dicomnet.queue.sqlite import SqliteQueueStore
from dicomnet.storage.scu import collect_files
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.transport import client_tls_context

PROFILE = "dicomark-send-queue"
DESTINATION = "destination"
#: Seconds between two looks at whether every job has ended.
WATCH = 0.05

log = logging.getLogger("dicomark.send_queue")


def load_sources(paths: list[str], sop_classes: set[str]) -> tuple[list[InstanceSource], int]:
    """The DICOM files under ``paths`` the profile can send; how many it cannot (reported)."""
    sources, refused = [], 0
    for path in collect_files(paths):
        try:
            source = InstanceSource.from_path(path)
        except SourceError as exc:
            log.warning("skipped: %s", exc)
            continue
        if source.sop_class_uid not in sop_classes:
            print(f"error {source.label}: SOP class {source.sop_class_uid} is not in the profile")
            refused += 1
            continue
        sources.append(source)
    return sources, refused


def destination(args: argparse.Namespace) -> DestinationSpec:
    """The queue's one destination, from the command line."""
    tls = args.tls or args.tls_ca
    return DestinationSpec(
        name=DESTINATION,
        ae_title=args.called_ae,
        address=(args.host, args.port),
        calling_ae=args.aet,
        max_attempts=args.retries + 1,
        backoff=args.backoff,
        backoff_max=max(args.backoff, 60.0),
        send_timeout=args.send_timeout,
        min_interval=args.min_interval,
        max_rate=args.max_rate or 0.0,
        ssl=client_tls_context(args.tls_ca, verify=not args.tls_ignore_errors) if tls else None,
    )


async def enqueue(store: SqliteQueueStore, sources: list[InstanceSource]) -> None:
    """A job per instance unless it has one; entries in 'Error' are queued again."""
    now = time.time()
    for source in sources:
        assert source.path is not None  # read from a file
        await store.ensure(
            source.sop_instance_uid,
            sop_class_uid=source.sop_class_uid,
            path=str(Path(source.path).resolve()),
            size=source.size,
            destinations=[DESTINATION],
            now=now,
        )
    errors = await store.jobs(destination=DESTINATION, states=[JobState.ERROR], limit=1_000_000)
    mine = {s.sop_instance_uid for s in sources}
    ids = [job.id for job in errors if job.sop_instance_uid in mine]
    if ids:
        await store.retry(job_ids=ids, now=now)


async def until_ended(store: SqliteQueueStore, uids: set[str]) -> dict[str, Job]:
    """Wait until every job of ``uids`` is sent or in 'Error'; the jobs."""
    while True:
        jobs = {
            job.sop_instance_uid: job
            for job in await store.jobs(destination=DESTINATION, limit=1_000_000)
            if job.sop_instance_uid in uids
        }
        if all(job.state in (JobState.SENT, JobState.ERROR) for job in jobs.values()):
            return jobs
        await asyncio.sleep(WATCH)


def report(source: InstanceSource, job: Job) -> bool:
    """One line for an instance that left the queue; whether it was sent."""
    if job.state is JobState.SENT:
        print(f"sent {source.label}", flush=True)
        return True
    print(f"error {source.label} after {job.attempts} attempts: {job.error}", flush=True)
    return False


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="DICOMARK")
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR", help="what to send")
    add_called_ae_option(parser, help="destination AE title (%(default)s)")
    parser.add_argument(
        "--queue",
        type=Path,
        metavar="DIR",
        help="where the queue is kept (default: .dicomark-send-queue beside the first path)",
    )
    parser.add_argument("--retries", type=int, default=3, help="retries per instance (3)")
    parser.add_argument(
        "--backoff", type=float, default=1.0, help="seconds before the first retry, doubling (1)"
    )
    parser.add_argument("--min-interval", type=float, default=0.0, help="seconds between sends (0)")
    parser.add_argument("--max-rate", type=float, default=None, help="bytes per second (no cap)")
    parser.add_argument(
        "--send-timeout", type=float, default=60.0, help="seconds to wait for an answer (60)"
    )
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--tls-ca", metavar="FILE", help="CA bundle to verify the destination")
    parser.add_argument(
        "--tls-ignore-errors",
        action="store_true",
        help="accept any destination certificate (self-signed ones)",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Queue the files, run the queue until each has ended; the exit code says how."""
    profile = load_profile(PROFILE)
    sop_classes = {c.abstract_syntax for c in profile.policy().proposed_contexts}
    sources, refused = load_sources(args.paths, sop_classes)
    if not sources and not refused:
        print("nothing to send", file=sys.stderr)
        return 2
    folder = args.queue or Path(args.paths[0]).resolve().parent / ".dicomark-send-queue"
    index = await SqliteIndex.open(folder / ".index" / "index.sqlite")
    store = await SqliteQueueStore.open(index, enqueue=False)
    spec = QueueSpec(profile=PROFILE, destinations=(destination(args),), routes=(), poll=0.2)
    queue = SendQueue(spec, store, profile)
    try:
        await enqueue(store, sources)
        await queue.start()
        jobs = await until_ended(store, {s.sop_instance_uid for s in sources})
    finally:
        await queue.close()
        await store.close()
        await index.close()
    sent = sum(report(s, jobs[s.sop_instance_uid]) for s in sources)
    errors = len(sources) - sent + refused
    print(f"{sent} sent, {errors} in Error")
    return 1 if errors else 0


if __name__ == "__main__":
    run_main(build_parser(), main)
