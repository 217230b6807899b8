"""``dicomnet store PEER PORT FILE|DIR...``: Storage SCU, in the manner of DCMTK's storescu.

Directories are walked recursively. Files named on the command line that are
not DICOM count as failures; such files found while walking a directory (and
DICOMDIR files) are skipped with a notice. Each file's data set is sent as it
is on disk when the peer accepts its transfer syntax, and transcoded when the
peer accepted only another one.

Exit codes: 0 every instance stored (success or warning status); 1 at least
one instance failed or could not be sent; 2 usage error (no input files, an AE
title that is not one, a bad TLS file); 3 the association could not be made or
broke off (rejected, aborted, timer expired, network error); 130 interrupted
(SIGINT, Ctrl-C): the association is aborted and the summary says what was
stored and what was not.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl as ssl_module
import sys
from collections import Counter
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from dicomnet.ae import AE
from dicomnet.cli.options import (
    add_association_options,
    add_family_options,
    add_peer_arguments,
    add_timer_options,
    add_tls_options,
    family_from,
    register_subcommand,
    requestor_policy,
    tls_context_from,
    verbosity,
)
from dicomnet.cli.progress import TerminalBar
from dicomnet.dimse.commands import Priority
from dicomnet.dimse.dataset import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)
from dicomnet.dimse.status import StatusCategory
from dicomnet.errors import ConfigurationError, DicomNetError
from dicomnet.storage.scu import (
    StoreResult,
    batches,
    collect_files,
    plan_contexts,
    store_many,
)
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.storage.transcode import DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.transport import run

__all__ = ["register", "run_store"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_ASSOCIATION: Final = 3
#: 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.
EXIT_INTERRUPTED: Final = 128 + signal.SIGINT

_MEDIA_STORAGE_DIRECTORY: Final = "1.2.840.10008.1.3.10"

#: --propose-ts choices: (extra syntaxes, propose only those).
_PROPOSALS: Final[dict[str, tuple[tuple[str, ...], bool]]] = {
    "auto": ((EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN), False),
    "orig": ((), False),
    "implicit": ((IMPLICIT_VR_LITTLE_ENDIAN,), True),
    "explicit": ((EXPLICIT_VR_LITTLE_ENDIAN,), True),
    "big": ((EXPLICIT_VR_BIG_ENDIAN,), True),
    "deflated": ((DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,), True),
}
_PRIORITIES: Final = {"low": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH}


def register(subparsers: Any) -> None:
    """Add the ``store`` sub-command."""
    parser = register_subcommand(
        subparsers,
        "store",
        __doc__,
        run_store,
        help="send files with C-STORE (Storage SCU), like storescu",
        verbose_help="report every instance (and log more)",
    )
    add_peer_arguments(parser)
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR", help="files and directories")
    add_association_options(parser, aetitle="STORESCU")
    parser.add_argument(
        "--window",
        type=int,
        default=1,
        metavar="N",
        help="propose an asynchronous operations window of N outstanding C-STOREs (1)",
    )
    parser.add_argument(
        "--propose-ts",
        default="auto",
        metavar="WHICH",
        help=(
            "transfer syntaxes to propose: auto (each file's own, each in a context of its"
            " own, and explicit and implicit VR little endian in another), orig (each"
            " file's own only), implicit, explicit, big, deflated (only that one; files"
            " are transcoded), or a transfer syntax UID"
        ),
    )
    parser.add_argument(
        "--priority", choices=sorted(_PRIORITIES), default="medium", help="C-STORE priority"
    )
    add_timer_options(parser)
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )
    add_family_options(parser)
    add_tls_options(parser, server=False)


def run_store(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    proposal = _proposal(args.propose_ts)
    if proposal is None:
        print(f"dicomnet store: error: unknown --propose-ts {args.propose_ts!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.window < 0:
        print("dicomnet store: error: --window must be 0 (unlimited) or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        ssl = tls_context_from(args, server=False)
    except ConfigurationError as exc:
        print(f"dicomnet store: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sources, unreadable, skipped = load_sources(args.paths, verbose=_verbosity(args) > 0)
    except KeyboardInterrupt:
        print("dicomnet store: interrupted while reading the files; nothing sent", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not sources and not unreadable:
        print("dicomnet store: error: no DICOM files to send", file=sys.stderr)
        return EXIT_USAGE
    tally = Tally(total=len(sources) + len(unreadable), skipped=skipped)
    try:
        return run(
            _interruptible(_store(args, proposal, sources, unreadable, tally, ssl=ssl), tally)
        )
    except KeyboardInterrupt:
        # Ctrl-C outside the span _interruptible covers (the loop starting or closing).
        return _interrupted(tally)


def _verbosity(args: argparse.Namespace) -> int:
    return verbosity(args)


def _proposal(choice: str) -> tuple[tuple[str, ...], bool] | None:
    if choice in _PROPOSALS:
        return _PROPOSALS[choice]
    if choice and all(part.isdigit() for part in choice.split(".")):
        return (choice,), True
    return None


# ---------------------------------------------------------------- inputs


def _walk(paths: Iterable[str]) -> Iterator[tuple[Path, bool]]:
    """Each file with whether it was named explicitly (not found by walking a directory)."""
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            yield from ((found, False) for found in collect_files([path]))
        else:
            yield path, True


def load_sources(
    paths: Iterable[str], *, verbose: bool = False, err: TextIO | None = None
) -> tuple[list[InstanceSource], list[StoreResult], int]:
    """Parse every input: (sources to send, failures for unreadable named files, skipped count)."""
    out = err if err is not None else sys.stderr
    sources: list[InstanceSource] = []
    unreadable: list[StoreResult] = []
    skipped = 0
    for path, named in _walk(paths):
        try:
            source = InstanceSource.from_path(path)
        except SourceError as exc:
            if named:
                print(f"E: {exc}", file=out)
                unreadable.append(StoreResult.not_sent(str(path), exc))
            else:
                skipped += 1
                if verbose:
                    print(f"I: skipping {exc}", file=out)
            continue
        if source.sop_class_uid == _MEDIA_STORAGE_DIRECTORY and not named:
            skipped += 1
            if verbose:
                print(f"I: skipping DICOMDIR {path}", file=out)
            continue
        sources.append(source)
    return sources, unreadable, skipped


# ---------------------------------------------------------------- progress and summary


@dataclass
class Tally:
    """Counts of what happened, for the summary and the exit code."""

    total: int
    done: int = 0
    bytes_sent: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    not_sent: int = 0
    skipped: int = 0
    association_failed: bool = False
    interrupted: bool = False

    def add(self, result: StoreResult) -> None:
        """Count one result."""
        self.done += 1
        self.bytes_sent += result.bytes_sent
        if result.status is None:
            self.not_sent += 1
        else:
            self.categories[result.category.value] += 1

    @property
    def failed(self) -> int:
        """Instances not stored (failure status, not sent, or never tried)."""
        return self.total - self.categories["success"] - self.categories["warning"]

    def summary(self) -> str:
        """The closing report."""
        parts = [
            f"{self.categories[name]} {name}"
            for name in ("success", "warning", "failure", "cancel", "pending")
            if self.categories[name]
        ]
        if self.not_sent:
            parts.append(f"{self.not_sent} not sent")
        untried = self.total - self.done
        if untried and self.interrupted:
            # Some of these may have been on the wire, their responses never read.
            parts.append(f"{untried} not sent or not confirmed (interrupted)")
        elif untried:
            parts.append(f"{untried} not attempted")
        if self.skipped:
            parts.append(f"{self.skipped} skipped (not DICOM)")
        stored = self.categories["success"] + self.categories["warning"]
        detail = ", ".join(parts) if parts else "nothing sent"
        return f"Stored {stored} of {self.total} instance(s), {_size(self.bytes_sent)}: {detail}"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover


class Progress(TerminalBar):
    """A one-line progress bar on a terminal (does nothing when ``stream`` is not a tty)."""

    def __init__(self, stream: TextIO, tally: Tally, *, enabled: bool = True) -> None:
        super().__init__(stream, enabled=enabled)
        self.tally = tally

    def update(self) -> None:
        """Redraw the bar."""
        tally = self.tally
        failed = tally.done - tally.categories["success"] - tally.categories["warning"]
        self.draw(tally.done, tally.total, f"{_size(tally.bytes_sent)}  failed {failed}")


# ---------------------------------------------------------------- running


def _report(result: StoreResult, verbose: bool) -> None:
    if result.status is not None and result.category is StatusCategory.SUCCESS:
        if verbose:
            extra = f" (transcoded to {result.transfer_syntax})" if result.transcoded else ""
            print(f"I: stored {result.label}{extra}", file=sys.stderr)
        return
    prefix = "W" if result.ok else "E"
    print(f"{prefix}: {result.describe()}", file=sys.stderr)


async def _interruptible(sending: Coroutine[Any, Any, int], tally: Tally) -> int:
    """Await ``sending``; SIGINT cancels it (which aborts the association), then the summary.

    The signal is handled on the loop, so no KeyboardInterrupt is raised in the
    middle of the protocol code; a second SIGINT while aborting cancels again.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def interrupt() -> None:
        tally.interrupted = True
        task.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        return await sending
    except asyncio.CancelledError:
        if not tally.interrupted:
            raise
        while task.uncancel():  # one cancel per SIGINT received
            pass
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    return _interrupted(tally)


def _interrupted(tally: Tally) -> int:
    tally.interrupted = True
    print("E: interrupted; association aborted", file=sys.stderr)
    print(tally.summary(), flush=True)
    return EXIT_INTERRUPTED


async def _store(
    args: argparse.Namespace,
    proposal: tuple[tuple[str, ...], bool],
    sources: list[InstanceSource],
    unreadable: list[StoreResult],
    tally: Tally,
    *,
    ssl: ssl_module.SSLContext | None,
) -> int:
    verbose = _verbosity(args) > 0
    for result in unreadable:
        tally.add(result)
    progress = Progress(sys.stderr, tally, enabled=not args.no_progress)
    ae = AE(args.aet, requestor_policy(args, max_operations_invoked=args.window))
    family = family_from(args)
    extra, only_extra = proposal
    priority = _PRIORITIES[args.priority]
    for group in batches(sources):
        plan = plan_contexts(group, extra, only_extra=only_extra)
        for note in plan.notes:
            print(f"W: {note}", file=sys.stderr)
        contexts = plan.contexts
        try:
            async with ae.associate(
                args.peer,
                args.port,
                called_ae=args.called_ae,
                contexts=contexts,
                ssl=ssl,
                family=family,
            ) as assoc:
                async for result in store_many(
                    assoc, group, window=args.window or None, priority=priority
                ):
                    tally.add(result)
                    progress.clear()
                    _report(result, verbose)
                    progress.update()
        except (OSError, DicomNetError) as exc:
            progress.clear()
            print(f"E: association with {args.peer}:{args.port} failed: {exc}", file=sys.stderr)
            tally.association_failed = True
            break
    progress.clear()
    print(tally.summary())
    if tally.association_failed:
        return EXIT_ASSOCIATION
    return EXIT_FAILED if tally.failed else EXIT_OK
