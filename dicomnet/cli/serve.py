"""``dicomnet serve``: Verification, Storage, Query/Retrieve, Worklist and Commitment SCP.

By default it serves the ``dicomnet-serve`` conformance profile
(``conformance/profiles/dicomnet-serve.toml``): every storage SOP class of the
registry, accepted in the native transfer syntaxes, Deflated Explicit VR LE and
every encapsulated one. Data sets are stored as received, as Part 10 files
named after their SOP Instance UID in the output folder (``--layout flat``, the
default for a new folder) or in ``PatientID/StudyUID/SeriesUID/`` folders under it
(``--layout hierarchical``; the folder keeps its layout, see
:mod:`dicomnet.storage.layout`), and each one is
added to the folder's index (``DIR/.index/index.sqlite``, SQLite) before the
C-STORE response says Success. C-FIND, C-MOVE and C-GET (Patient Root,
Study Root, Patient/Study Only) answer from that index, so an instance is
found as soon as it is stored; C-MOVE sends to the ``--destination``
entries (any other destination: A801). Modality Worklist C-FIND answers from
the worklist items kept in the same index (``dicomnet worklist add``).
Storage Commitment commits an instance when the index holds it (0112H when it
does not); the report goes on the requesting association while it lasts
(``--commitment-report new``: always on a new one) or on a new association to
the requestor's ``--destination`` address; it is kept in the index until
delivered, retried (``--commitment-retry`` seconds, doubling up to 5 minutes)
and delivered after a restart. After a crash, start-up indexes the files
that were moved into place but not yet indexed (from ``.incoming`` and the
index's notes, without scanning the folder). ``--no-index`` stores files only. ``--profile`` serves
another profile (a seed AE such as ``lifesys-storage``, or a TOML path).
Prints ``listening on PORT`` once ready and runs until SIGINT or SIGTERM, then
stops listening, aborts live associations and exits 0. uvloop is used when
installed (``--no-uvloop`` to keep asyncio's loop).

The port is bound before the output folder and its index are made, so a server
that cannot listen leaves nothing behind. A profile that accepts no presentation
context as SCP (a requestor's profile, such as ``flux-store-scu``) is refused.

``--system NAME`` runs every AE of a system file instead (``conformance/systems/``:
lifesys, kodak, meddream, dicomark, printer, or a TOML path) in this one process, with the
folders it names under ``--root``; ports from the file, moved by ``--port-offset N``,
``--ae-port NAME=PORT`` or ``--any-port``. It prints ``TITLE (NAME) listening on PORT``
per AE, then ``ready: SYSTEM``.

Exit codes: 0 stopped by a signal; 2 bad options (profile, AE title, TLS files,
output folder, index); 6 the port cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dicomnet.ae import AE, Server
from dicomnet.archive.backends import ArchiveDatabase, describe, open_archive
from dicomnet.archive.commitment_sqlite import index_verdict
from dicomnet.archive.ingest import IndexedStore
from dicomnet.archive.recover import reconcile
from dicomnet.cli.announce import announce
from dicomnet.cli.collector import settle_collector
from dicomnet.cli.http_side import BoundHttp, add_http_arguments, bind_http, start_http
from dicomnet.cli.integrator import add_integrator_options, overrides_from
from dicomnet.cli.options import (
    add_aet_option,
    add_tls_options,
    add_verbose_option,
    ae_title,
    register_subcommand,
    tls_context_from,
    verbosity,
)
from dicomnet.cli.serve_metrics import add_metrics_arguments, attach, expose, metered, metrics_from
from dicomnet.cli.system import add_system_arguments, serve_system, system_option_conflicts
from dicomnet.cli.workers import association_share, shared_listener, worker_incoming
from dicomnet.conformance import load_profile
from dicomnet.conformance.defaults import DEFAULT_STORAGE_PROFILE
from dicomnet.errors import ConfigurationError
from dicomnet.observe.metrics import Snapshot
from dicomnet.policy import Policy
from dicomnet.query.charsets import CharsetPolicy
from dicomnet.services.base import Service
from dicomnet.services.commitment import ReportMode
from dicomnet.services.commitment_durable import DurableCommitmentSCP
from dicomnet.services.dataset_check import DatasetCheck
from dicomnet.services.mwl import WorklistService
from dicomnet.services.qr import QueryRetrieveService
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.layout import Layout, LayoutMismatch, settle_layout
from dicomnet.storage.sinks import Duplicate
from dicomnet.transport import run

__all__ = ["build_parser", "main", "register", "run_serve", "serve"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NETWORK = 6

DEFAULT_AE_TITLE = "DICOMNET"
#: The profile served without --profile: Verification and every storage SOP class of the
#: registry, in every network transfer syntax (conformance/profiles/dicomnet-serve.toml).
DEFAULT_PROFILE = DEFAULT_STORAGE_PROFILE

_log = logging.getLogger("dicomnet.cli.serve")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=11112, help="TCP port (11112; 0 = any free)")
    parser.add_argument("--host", default=None, help="address to listen on (all interfaces)")
    add_aet_option(
        parser, default=None, help=f"our AE title ({DEFAULT_AE_TITLE}, or the profile's)"
    )
    parser.add_argument(
        "--output", "-o", default="dicomnet-store", metavar="DIR", help="folder (./dicomnet-store)"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default=DEFAULT_PROFILE,
        help=f"conformance profile name or TOML path ({DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--duplicates",
        choices=[d.value for d in Duplicate],
        default=Duplicate.KEEP_FIRST.value,
        help="an instance UID already stored: keep the first copy, replace it, or refuse",
    )
    parser.add_argument(
        "--no-fsync", action="store_true", help="do not fsync each stored file nor the index"
    )
    parser.add_argument(
        "--no-index", action="store_true", help="store files only: no index, no Query/Retrieve"
    )
    parser.add_argument(
        "--index",
        metavar="FILE|URL",
        default=None,
        help="the index: a SQLite file (DIR/.index/index.sqlite) or a PostgreSQL URL"
        " (postgresql://user:password@host:port/database), which several workers and hosts share",
    )
    parser.add_argument(
        "--layout",
        choices=[layout.value for layout in Layout],
        default=None,
        help="files in one folder, or in PatientID/StudyUID/SeriesUID folders;"
        " kept with the folder (default: the folder's, flat for a new one)",
    )
    parser.add_argument(
        "--destination",
        dest="destinations",
        action="append",
        type=parse_destination,
        default=[],
        metavar="AET=HOST:PORT",
        help="a C-MOVE destination (repeat for several; others are refused with A801)",
    )
    parser.add_argument(
        "--commitment-report",
        choices=[ReportMode.SAME_OR_NEW.value, ReportMode.NEW.value],
        default=ReportMode.SAME_OR_NEW.value,
        help="where Storage Commitment reports go: the request's association while it lasts"
        " (same-or-new), or always a new association to the requestor's --destination (new)",
    )
    parser.add_argument(
        "--commitment-retry",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="first wait before a commitment report is sent again (5; doubles up to 300)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="N worker processes accepting on the port (SO_REUSEPORT), restarted when they die",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=None,
        metavar="SECONDS",
        help="on SIGTERM, let associations finish this long before aborting them"
        " (10 with --workers, else 0)",
    )
    parser.add_argument(
        "--no-uvloop",
        dest="uvloop",
        action="store_false",
        help="run on asyncio's own loop even when uvloop is installed",
    )
    add_tls_options(parser, server=True)
    add_integrator_options(parser)
    add_system_arguments(parser)
    add_http_arguments(parser)
    add_metrics_arguments(parser)


_VERBOSE_HELP = "more logging (-v: each instance, -vv: debug)"


def parse_destination(text: str) -> tuple[str, tuple[str, int]]:
    """``AET=HOST:PORT`` of ``--destination`` (``AET`` checked by :func:`ae_title`)."""
    title, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if not title.strip() or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not AET=HOST:PORT: {text!r}")
    return ae_title(title), (host.strip("[]"), int(port))


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command."""
    parser = register_subcommand(
        subparsers,
        "serve",
        __doc__,
        run_serve,
        help="Storage and Verification SCP writing Part 10 files to a folder",
        verbose_help=_VERBOSE_HELP,
    )
    _add_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser (``python -m dicomnet.cli.serve``)."""
    parser = argparse.ArgumentParser(
        prog="dicomnet serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    add_verbose_option(parser, help=_VERBOSE_HELP, dest="command_verbose")
    parser.set_defaults(handler=run_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_serve(args)


def run_serve(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    verbose = verbosity(args)
    if verbose:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("dicomnet").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    if getattr(args, "system", None):
        conflicts = system_option_conflicts(args, _SINGLE_AE_DEFAULTS)
        if conflicts:
            print(
                f"dicomnet serve: {', '.join(conflicts)} do(es) not apply with --system"
                " (ports: --port-offset, --ae-port, --any-port; folders: --root)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return run(serve_system(args, ready=_settle), use_uvloop=args.uvloop)
    if getattr(args, "workers", None) is not None:
        from dicomnet.cli.serve_workers import run_workers  # noqa: PLC0415 (it imports serve)

        return run_workers(args)
    return run(serve(args, ready=_settle), use_uvloop=args.uvloop)


def _settle(_ready: object) -> None:
    """Once its handlers are ready, the process tunes its garbage collector for serving."""
    settle_collector()


#: The single-AE options' defaults (any other value conflicts with --system).
_SINGLE_AE_DEFAULTS: dict[str, object] = {
    "port": 11112,
    "aet": None,
    "output": "dicomnet-store",
    "profile": DEFAULT_PROFILE,
    "no_index": False,
    "index": None,
    "max_pdu": None,
    "http_config": None,
    "workers": None,
    "metrics_port": None,
    # the integrator's options (per AE in the system file instead)
    "calling_aet": None,
    "called_aet": None,
    "max_associations": None,
    "on_association_limit": None,
    "pack_command_and_data": None,
    "max_pdvs_per_pdu": None,
    "tcp_nodelay": None,
}


def build_policy(args: argparse.Namespace) -> Policy:
    """The Policy the options ask for (raises ConfigurationError).

    A profile that accepts nothing as SCP would reject every association, so
    it is refused here rather than served.
    """
    name = args.profile or DEFAULT_PROFILE
    policy = load_profile(name).policy()
    if not any(context.scp_role for context in policy.accepted_contexts):
        raise ConfigurationError(
            f"profile {name!r} accepts no presentation context as SCP (it is a requestor's"
            f" profile); serve needs an acceptor's, e.g. {DEFAULT_PROFILE!r}"
        )
    if args.aet:
        policy = replace(policy, ae_title=args.aet)
    try:
        policy = overrides_from(args).apply(policy)
    except ValueError as exc:  # a negative number
        raise ConfigurationError(f"{exc} (0 = unlimited)") from None
    slot = getattr(args, "worker_slot", None)
    if slot is not None:
        # Each worker takes its part of the limit: together they accept policy's limit.
        share = association_share(policy.max_associations, args.workers, slot)
        policy = replace(policy, max_associations=share)
    return policy


async def serve(
    args: argparse.Namespace,
    *,
    ready: Callable[[Server], None] | None = None,
    stop: asyncio.Event | None = None,
    publish: Callable[[Snapshot], None] | None = None,
) -> int:
    """Serve until ``stop`` is set, or SIGINT/SIGTERM (when ``stop`` is not given).

    ``ready`` is called with the listening server after ``listening on PORT``
    has been printed. ``publish`` (a worker's): where the counters go each
    second when ``--metrics-port`` is given (else this process serves them).
    """
    try:
        policy = build_policy(args)
        ssl = tls_context_from(args, server=True)
        _check_output(Path(args.output))
    except (ConfigurationError, OSError, ValueError) as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    DatasetCheck.prepare_iod_check(policy.statuses)
    ae = AE(policy.ae_title, policy)  # relational queries: as the profile's contexts say
    slot = getattr(args, "worker_slot", None)
    server: Server | None = None
    http_bound: BoundHttp | None = None
    if slot is None:
        try:
            server = await ae.serve(args.host, args.port, ssl=ssl, start_serving=False)
        except OSError as exc:
            print(f"dicomnet serve: cannot listen on port {args.port}: {exc}", file=sys.stderr)
            return EXIT_NETWORK
        try:
            http_bound = bind_http(args)
        except (ConfigurationError, OSError) as exc:
            server.close()
            await server.wait_closed()
            if isinstance(exc, ConfigurationError):
                print(f"dicomnet serve: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(f"dicomnet serve: cannot listen on the HTTP port: {exc}", file=sys.stderr)
            return EXIT_NETWORK
    # The port is ours (bound, not yet accepting): only now are the folder and its index
    # made. Connections are accepted once their handlers are added below (before, a
    # request could only be answered "no such service"); "listening on PORT" follows.
    # (A worker accepts from its supervisor's listening socket once its handlers are
    # ready; the other workers serve meanwhile.)
    archive: _Archive | None = None
    try:
        requested = getattr(args, "layout", None)
        layout = settle_layout(args.output, None if requested is None else Layout(requested))
        indexed = not getattr(args, "no_index", False)
        store = FolderStore(
            args.output,
            duplicates=Duplicate(args.duplicates),
            fsync=not args.no_fsync,
            layout=layout,
            clean_incoming=not indexed,  # the index's reconcile looks at them first
            incoming=None if slot is None else worker_incoming(slot),
        )
        handlers: list[Service] = [StorageService(store)]
        if indexed:
            archive = await _open_index(args, store, ae)
            handlers = archive.handlers
    except (OSError, LayoutMismatch) as exc:
        if server is not None:
            server.close()
            await server.wait_closed()
        if http_bound is not None:
            http_bound.close()
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    metrics = metrics_from(args)
    handlers = metered(handlers, metrics)
    if server is None:
        try:
            http_bound = bind_http(args, bind=shared_listener)
            balance = args.worker_balance
            server = await ae.serve(
                ssl=ssl, handlers=handlers, shared=args.worker_sockets, gate=balance
            )
            balance.live = functools.partial(getattr, server, "connections")
            server.closed_hooks.append(balance.closed)
        except (OSError, ConfigurationError) as exc:
            if http_bound is not None:
                http_bound.close()
            if archive is not None:
                await archive.close()
            print(f"dicomnet serve: cannot listen on port {args.port}: {exc}", file=sys.stderr)
            return EXIT_NETWORK
    else:
        for handler in handlers:
            server.registry.add(handler)
    attach(server, metrics)
    await server.start_serving()  # a no-op for a worker's, which serves already
    http = None
    try:
        exposure = await expose(args, metrics, publish)
    except OSError as exc:
        print(f"dicomnet serve: cannot serve metrics: {exc}", file=sys.stderr)
        server.close()
        await server.wait_closed()
        if http_bound is not None:
            http_bound.close()
        if archive is not None:
            await archive.close()
        return EXIT_NETWORK
    try:
        if archive is not None:
            await archive.commitment.resume()
            if http_bound is not None:
                http = await start_http(
                    http_bound,
                    index=archive.database.index,
                    root=store.root,
                    ingest=IndexedStore(store, archive.database.index),
                    ae_title=policy.ae_title,
                )
                http_bound = None
        return await _serve(args, policy, server, ready=ready, stop=stop)
    finally:
        await exposure.close()
        if http_bound is not None:
            http_bound.close()
        if http is not None:
            await http.close()
        if archive is not None:
            await archive.close()


def _check_output(path: Path) -> None:
    """Refuse an output folder that is a file, or whose nearest existing ancestor is."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigurationError(f"output folder {str(path)!r}: {str(existing)!r} is not a folder")


@dataclass
class _Archive:
    """The index and what serve keeps in it, with the handlers answering from them."""

    database: ArchiveDatabase
    commitment: DurableCommitmentSCP
    handlers: list[Service]

    async def close(self) -> None:
        self.commitment.close()
        await self.commitment.drain()
        await self.database.close()


async def _open_index(args: argparse.Namespace, store: FolderStore, ae: AE) -> _Archive:
    """The folder's index (recovered after a crash) and the handlers that use it.

    Raises OSError (with the reason) when the index cannot be opened.
    """
    location = getattr(args, "index", None) or index_path(store.root)
    try:
        database = await open_archive(location, fsync=not args.no_fsync)
    except OSError as exc:
        raise OSError(f"cannot open the index {describe(location)}: {exc}") from exc
    index, worklist, journal = database.index, database.worklist, database.journal
    try:
        recovered = await reconcile(index, store)
    except OSError as exc:
        await database.close()
        raise OSError(f"cannot open the index {describe(location)}: {exc}") from exc
    if recovered.indexed or recovered.forgotten:
        _log.warning(
            "index recovered after a crash: %d file(s) indexed, %d journal row(s) dropped",
            len(recovered.indexed),
            len(recovered.forgotten),
        )
    destinations = dict(getattr(args, "destinations", []))
    # The profile's declared repertoires decide how queries are read and answered.
    charsets = CharsetPolicy(load_profile(args.profile or DEFAULT_PROFILE).character_sets)
    qr = QueryRetrieveService(index, destinations=destinations, charsets=charsets)
    commitment = DurableCommitmentSCP(
        index_verdict(index),
        journal,
        mode=ReportMode(getattr(args, "commitment_report", ReportMode.SAME_OR_NEW.value)),
        destinations=destinations,
        requestor=ae,
        retry_delay=max(0.01, float(getattr(args, "commitment_retry", 5.0))),
    )
    handlers: list[Service] = [
        StorageService(IndexedStore(store, index)),
        qr,
        WorklistService(worklist, charsets=charsets),
        commitment,
    ]
    return _Archive(database, commitment, handlers)


def drain_seconds(args: argparse.Namespace) -> float:
    """How long SIGTERM lets associations finish (``--drain``; 10 s with ``--workers``, else 0)."""
    given = getattr(args, "drain", None)
    if given is not None:
        return max(0.0, float(given))
    return 10.0 if getattr(args, "workers", None) is not None else 0.0


async def drain(server: Server, seconds: float) -> None:
    """Stop listening and wait up to ``seconds`` for the live associations to end."""
    if seconds <= 0 or not server.active:
        return
    for listener in server.listeners:
        listener.close()
    _log.info("draining %d association(s) for up to %g s", len(server.active), seconds)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while server.active and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if server.active:
        _log.warning("%d association(s) still running: aborted", len(server.active))


def index_path(root: Path) -> Path:
    """Where ``dicomnet serve`` keeps the index of the store folder ``root``."""
    return root / ".index" / "index.sqlite"


async def _serve(
    args: argparse.Namespace,
    policy: Policy,
    server: Server,
    *,
    ready: Callable[[Server], None] | None,
    stop: asyncio.Event | None,
) -> int:
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):  # no signal support here
                continue
            handled.append(signum)
    try:
        async with server:
            if getattr(args, "worker_slot", None) is None:
                announce(f"listening on {server.port}")
            _log.info("%s storing into %s", policy.ae_title, Path(args.output).resolve())
            if ready is not None:
                ready(server)
            await stop.wait()
            _log.info("stopping")
            await drain(server, drain_seconds(args))
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
