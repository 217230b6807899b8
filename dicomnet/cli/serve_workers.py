"""The worker side of ``dicomnet serve --workers N`` (the supervisor is :mod:`.workers`).

:func:`run_workers` checks the options, settles what earlier workers of this
host left unfinished (before any worker receives), and supervises N workers;
:func:`worker_main` is what each worker process runs: ``serve`` accepting
from the supervisor's listening socket (:mod:`dicomnet.acceptor`), receiving
into its own ``.incoming/HOST-wSLOT``, with its part of the association
limit, stopped by SIGTERM (drain) or by the supervisor's end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from dicomnet.archive.backends import describe, open_index
from dicomnet.archive.recover import reconcile
from dicomnet.cli.http_side import settle_http_address
from dicomnet.cli.options import verbosity
from dicomnet.cli.serve import EXIT_USAGE, drain_seconds, index_path, serve
from dicomnet.cli.worker_balance import Balance
from dicomnet.cli.workers import (
    WorkerPlace,
    publisher,
    ready_signal,
    supervise,
    worker_prefix,
)
from dicomnet.errors import ConfigurationError
from dicomnet.storage.folder import INCOMING_DIR, FolderStore
from dicomnet.storage.layout import Layout, LayoutMismatch, settle_layout
from dicomnet.storage.sinks import Duplicate
from dicomnet.transport import run

__all__ = ["run_workers", "worker_main"]

_log = logging.getLogger("dicomnet.cli.serve")


def run_workers(args: argparse.Namespace) -> int:
    """``serve --workers N``: the supervisor's exit code."""
    count = int(args.workers)
    if count < 1:
        print("dicomnet serve: --workers must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        settle_http_address(args)  # one HTTP port for every worker, as --http gives
    except ConfigurationError as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    prepare = functools.partial(settle_leftovers, args)
    return run(
        supervise(args, count, worker_main, drain=drain_seconds(args), prepare=prepare),
        use_uvloop=args.uvloop,
    )


async def settle_leftovers(args: argparse.Namespace) -> int:
    """Reconcile every receiving folder of this host (no worker runs yet); an exit code."""
    if getattr(args, "no_index", False):
        return 0
    try:
        requested = getattr(args, "layout", None)
        layout = settle_layout(args.output, None if requested is None else Layout(requested))
        root = Path(args.output)
        incoming = root / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        own = sorted(
            f"{INCOMING_DIR}/{entry.name}"
            for entry in incoming.iterdir()
            if entry.is_dir() and entry.name.startswith(worker_prefix())
        )
        folders: list[str | None] = [None, *own]
        location = getattr(args, "index", None) or index_path(root)
        index = await open_index(location, fsync=not args.no_fsync)
    except (OSError, LayoutMismatch, ValueError) as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        for folder in folders:
            store = FolderStore(
                root,
                duplicates=Duplicate(args.duplicates),
                fsync=not args.no_fsync,
                layout=layout,
                clean_incoming=False,
                incoming=folder,
            )
            report = await reconcile(index, store)
            if report.indexed or report.unfinished:
                _log.warning(
                    "%s: %d file(s) indexed, %d unfinished removed",
                    store.incoming,
                    len(report.indexed),
                    report.unfinished,
                )
    except OSError as exc:
        print(f"dicomnet serve: index {describe(location)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await index.close()
    return 0


def worker_main(
    args: argparse.Namespace, place: WorkerPlace, ready: Connection, lifeline: Connection
) -> None:
    """One worker process: serve on ``place.port`` until SIGTERM or the supervisor ends."""
    slot = place.slot
    args.port = place.port
    args.worker_slot = slot
    args.workers = place.count
    args.worker_sockets = place.sockets
    args.worker_balance = Balance(place.counts, slot)
    verbose = verbosity(args)
    # Always: without it a spawned worker's warnings go out bare (no time, level, slot).
    logging.basicConfig(format=f"%(asctime)s w{slot} %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger("dicomnet").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        loop.add_reader(lifeline.fileno(), stop.set)  # end of file: the supervisor is gone
        try:
            return await serve(args, ready=ready_signal(ready), stop=stop, publish=publisher(ready))
        finally:
            loop.remove_reader(lifeline.fileno())

    sys.exit(run(main(), use_uvloop=args.uvloop))
