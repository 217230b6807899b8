"""RadZen DicomArk, Send Queue AE: Storage SCU sending a folder to one destination.

Plays the Send Queue of the DicomArk conformance statement (seed
``000_044a1159bad8718a.txt``, §5.2.2 and §5.4.3.2), configured by the
``dicomark-send-queue`` conformance profile (calling AE title, SOP classes,
16 KB PDUs). As the statement describes:

* one association at a time; the instances go out one after another;
* each instance's own transfer syntax is proposed, then Implicit VR Little
  Endian, and the instance is transcoded on the fly when the destination
  accepted only the latter;
* each instance is tried up to 1 + ``--retries`` times before the queue moves
  on; an instance that never got through ends in the 'Error' state;
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
from dataclasses import dataclass, replace
from enum import Enum

from common import add_called_ae_option, example_parser, profile_policy, run_main

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.errors import DicomNetError
from dicomnet.policy import Policy
from dicomnet.storage.scu import batches, collect_files, proposed_contexts_for, store
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.transport import client_tls_context

PROFILE = "dicomark-send-queue"

log = logging.getLogger("dicomark.send_queue")


class State(Enum):
    """Where a queue entry is."""

    QUEUED = "queued"
    SENT = "sent"
    ERROR = "error"


@dataclass
class Entry:
    """One instance in the queue."""

    source: InstanceSource
    state: State = State.QUEUED
    attempts: int = 0
    reason: str = ""


class Pacer:
    """Keeps sends ``min_interval`` seconds apart and under ``max_rate`` bytes per second."""

    def __init__(self, min_interval: float, max_rate: float | None) -> None:
        self.min_interval = min_interval
        self.max_rate = max_rate
        self._next = 0.0

    async def wait(self) -> None:
        """Sleep until the next send may start."""
        loop = asyncio.get_running_loop()
        delay = self._next - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next = loop.time() + self.min_interval

    def sent(self, size: int) -> None:
        """Account for ``size`` bytes just sent."""
        if self.max_rate:
            loop = asyncio.get_running_loop()
            self._next = max(self._next, loop.time() + size / self.max_rate)


class SendQueue:
    """Sends entries in order over one association at a time."""

    def __init__(self, policy: Policy, args: argparse.Namespace) -> None:
        self.ae = AE(policy.ae_title, policy)
        # What the profile proposes after each instance's own syntax (Implicit VR LE).
        self.fallbacks = tuple(
            dict.fromkeys(ts for c in policy.proposed_contexts for ts in c.transfer_syntaxes)
        )
        self.args = args
        self.pacer = Pacer(args.min_interval, args.max_rate)
        self.ssl = (
            client_tls_context(args.tls_ca, verify=not args.tls_ignore_errors)
            if args.tls or args.tls_ca
            else None
        )
        self._association: Association | None = None

    async def _association_for(self, entries: list[Entry]) -> Association:
        """The open association, or a new one proposing what ``entries`` need."""
        if self._association is not None and self._association.is_established:
            return self._association
        contexts = proposed_contexts_for([e.source for e in entries], self.fallbacks)
        self._association = await self.ae.associate(
            self.args.host,
            self.args.port,
            called_ae=self.args.called_ae,
            contexts=contexts,
            ssl=self.ssl,
        )
        return self._association

    async def _close(self) -> None:
        assoc, self._association = self._association, None
        if assoc is not None and assoc.is_established:
            try:
                await assoc.release()
            except (OSError, DicomNetError) as exc:
                log.warning("release failed: %s", exc)

    async def _attempt(self, entry: Entry, group: list[Entry]) -> None:
        await self.pacer.wait()
        entry.attempts += 1
        try:
            assoc = await self._association_for(group)
            result = await store(assoc, entry.source)
        except (OSError, DicomNetError) as exc:
            entry.reason = str(exc) or type(exc).__name__
        else:
            self.pacer.sent(result.bytes_sent)
            if result.ok:
                entry.state = State.SENT
                return
            entry.reason = result.describe()
        log.info("attempt %d for %s failed: %s", entry.attempts, entry.source.label, entry.reason)
        if entry.attempts > self.args.retries:
            entry.state = State.ERROR

    async def send(self, entries: list[Entry]) -> None:
        """Send every queued entry (each group of SOP classes on its own association)."""
        by_source = {id(e.source): e for e in entries if e.state is State.QUEUED}
        for sources in batches([e.source for e in by_source.values()]):
            group = [by_source[id(s)] for s in sources]
            try:
                for entry in group:
                    while entry.state is State.QUEUED:
                        await self._attempt(entry, group)
                    report(entry)
            finally:
                await self._close()


def report(entry: Entry) -> None:
    """One line for an entry that left the queue."""
    if entry.state is State.SENT:
        print(f"sent {entry.source.label}", flush=True)
    else:
        tries = f" after {entry.attempts} attempts" if entry.attempts else ""
        print(f"error {entry.source.label}{tries}: {entry.reason}", flush=True)


def load_queue(paths: list[str], sop_classes: set[str]) -> list[Entry]:
    """Entries for the DICOM files under ``paths``; SOP classes outside the profile are errors."""
    entries = []
    for path in collect_files(paths):
        try:
            entry = Entry(InstanceSource.from_path(path))
        except SourceError as exc:
            log.warning("skipped: %s", exc)
            continue
        if entry.source.sop_class_uid not in sop_classes:
            entry.state = State.ERROR
            entry.reason = f"SOP class {entry.source.sop_class_uid} is not in the profile"
            report(entry)
        entries.append(entry)
    return entries


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="DICOMARK")
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR", help="what to send")
    add_called_ae_option(parser, help="destination AE title (%(default)s)")
    parser.add_argument("--retries", type=int, default=3, help="retries per instance (3)")
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
    """Send the queue; the exit code says whether anything is left in 'Error'."""
    policy = profile_policy(PROFILE, args.aet)
    policy = replace(policy, timers=replace(policy.timers, dimse=args.send_timeout))
    sop_classes = {c.abstract_syntax for c in policy.proposed_contexts}
    entries = load_queue(args.paths, sop_classes)
    if not entries:
        print("nothing to send", file=sys.stderr)
        return 2
    await SendQueue(policy, args).send(entries)
    sent = sum(e.state is State.SENT for e in entries)
    errors = len(entries) - sent
    print(f"{sent} sent, {errors} in Error")
    return 1 if errors else 0


if __name__ == "__main__":
    run_main(build_parser(), main)
