"""``dicomnet move`` and ``dicomnet get``: Query/Retrieve C-MOVE and C-GET SCU, like movescu/getscu.

The identifier holds the level (``--level`` or ``-k QueryRetrieveLevel=``)
and the ``-k`` keys only, usually the unique keys of what to retrieve
(``-k StudyInstanceUID=1.2.3``; several UIDs with ``\\``).

``move`` sends a C-MOVE to ``--dest AE`` (a destination the SCP knows), or
with ``--store-to DIR`` to ourselves: it listens on ``--listen-port``
(11113) as our own AE title (``--aet``, MOVESCU), accepts every storage SOP
class of the registry and writes what the sub-operations bring into DIR.
The SCP must know our AE title's address (host and that port), as for any
move destination: in its configuration (DCMTK dcmqrscp: the HostTable;
``dicomnet serve``: ``--destination MOVESCU=HOST:PORT``).

``get`` sends a C-GET: the instances come back on the same association and
are written into ``--output`` (the current folder). We propose the storage
SOP classes with the SCP role (SCP/SCU role selection, PS3.7 D.3.3.4): the
``retrieve-common`` group of the registry (122 classes), or those of
``--sop-class``, in Explicit and Implicit VR Little Endian.

On a terminal a progress bar shows the sub-operation counts of the pending
responses (not with ``--no-progress``). A summary line and the failed SOP
instance UIDs go to stderr.

Exit codes: 0 every sub-operation completed (success, or warning); 1 the
retrieve ended otherwise (failed sub-operations, a failure or cancel status);
2 usage error; 3 association rejected; 4 aborted; 5 a timer expired; 6 no
connection (or our --listen-port cannot be bound); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Final

from dicomnet.ae import AE, Server
from dicomnet.cli.options import (
    EXIT_NETWORK,
    ae_title,
    family_from,
    register_subcommand,
    report_association_error,
    requestor_policy,
    tls_context_from,
)
from dicomnet.cli.progress import TerminalBar
from dicomnet.cli.qr_common import (
    EXIT_FAILED,
    EXIT_OK,
    NATIVE,
    add_query_options,
    add_requestor_options,
    identifier_from,
    model_name,
    query_contexts,
    run_command,
    sop_class,
    usage_error,
)
from dicomnet.cli.qr_keys import BadKey
from dicomnet.conformance.defaults import storage_policy
from dicomnet.conformance.registry import load_registry
from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import StatusCategory, describe
from dicomnet.errors import ConfigurationError, DicomNetError
from dicomnet.query.models import Operation
from dicomnet.services.qr import RetrieveProgress, RetrieveResults, get, get_contexts, move
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore

__all__ = ["DEFAULT_GET_GROUP", "ProgressBar", "exit_code", "register", "retrieve", "summary"]

#: The registry's group of storage SOP classes ``get`` proposes without --sop-class.
DEFAULT_GET_GROUP: Final = "retrieve-common"
DEFAULT_LISTEN_PORT: Final = 11113


def register(subparsers: Any) -> None:
    """Add the ``move`` and ``get`` sub-commands."""
    move_parser = register_subcommand(
        subparsers,
        "move",
        __doc__,
        run_move,
        help="retrieve with C-MOVE (to another AE, or to ourselves), like movescu",
    )
    add_requestor_options(move_parser, aetitle="MOVESCU")
    add_query_options(move_parser, retrieve=True)
    target = move_parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--dest", type=ae_title, metavar="AET", help="the move destination")
    target.add_argument(
        "--store-to",
        metavar="DIR",
        help="move to ourselves: listen for the sub-operations and store them into DIR",
    )
    move_parser.add_argument(
        "--listen-port",
        type=int,
        default=DEFAULT_LISTEN_PORT,
        metavar="PORT",
        help=f"with --store-to: the port to listen on ({DEFAULT_LISTEN_PORT})",
    )
    move_parser.add_argument(
        "--listen-host", default=None, help="with --store-to: the address to listen on (all)"
    )
    _add_progress_option(move_parser)

    get_parser = register_subcommand(
        subparsers, "get", __doc__, run_get, help="retrieve with C-GET into a folder, like getscu"
    )
    add_requestor_options(get_parser, aetitle="GETSCU")
    add_query_options(get_parser, retrieve=True)
    get_parser.add_argument(
        "--output", "-od", default=".", metavar="DIR", help="folder to store into (.)"
    )
    get_parser.add_argument(
        "--sop-class",
        dest="sop_classes",
        action="append",
        default=[],
        metavar="UID",
        help=f"a storage SOP class to accept (repeat; default: the {DEFAULT_GET_GROUP} group)",
    )
    _add_progress_option(get_parser)


def _add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )


def run_move(args: argparse.Namespace) -> int:
    """Run ``move``; returns the exit code."""
    return run_command("move", retrieve(args, "move"))


def run_get(args: argparse.Namespace) -> int:
    """Run ``get``; returns the exit code."""
    return run_command("get", retrieve(args, "get"))


# ---------------------------------------------------------------- progress and outcome


class ProgressBar(TerminalBar):
    """A one-line bar from the sub-operation counts (does nothing when not on a terminal)."""

    def update(self, progress: RetrieveProgress) -> None:
        """Redraw from one pending response."""
        if not self.enabled or progress.remaining is None:
            return
        done = progress.completed + progress.failed + progress.warning
        self.draw(done, done + progress.remaining, f"failed {progress.failed}")


def summary(command: str, final: RetrieveProgress) -> str:
    """The closing line: counts and final status."""
    field = CommandField.C_GET_RQ if command == "get" else CommandField.C_MOVE_RQ
    text = f"0x{final.status:04X} ({describe(final.status, field)})"
    if final.error_comment:
        text += f": {final.error_comment}"
    return (
        f"{command}: {final.completed} completed, {final.failed} failed,"
        f" {final.warning} warning; final status {text}"
    )


def exit_code(final: RetrieveProgress | None) -> int:
    """0 when the retrieve ended with Success, or B000 with warnings only; 1 otherwise."""
    if final is None:
        return EXIT_FAILED
    if final.category is StatusCategory.SUCCESS:
        return EXIT_OK
    if final.category is StatusCategory.WARNING and not final.failed and not final.failed_uids:
        return EXIT_OK
    return EXIT_FAILED


# ---------------------------------------------------------------- running


def _storage_classes(args: argparse.Namespace) -> list[str]:
    if args.sop_classes:
        return list(dict.fromkeys(args.sop_classes))
    return list(load_registry().sop_class_group(DEFAULT_GET_GROUP))


async def retrieve(args: argparse.Namespace, command: str) -> int:
    """Run one C-MOVE (``command`` move) or C-GET (get) as the options say; the exit code."""
    try:
        identifier = identifier_from(args)
        ssl = tls_context_from(args, server=False)
    except (BadKey, ConfigurationError) as exc:
        return usage_error(command, exc)
    if command == "get":
        uids = _storage_classes(args)
        bad = [uid for uid in uids if not all(p.isdigit() for p in uid.split("."))]
        if bad:
            return usage_error(command, f"not a SOP class UID: {bad[0]!r}")
        if len(uids) > 127:
            return usage_error(command, f"{len(uids)} SOP classes: at most 127 fit beside C-GET")
        contexts = get_contexts(uids, model=model_name(args), transfer_syntaxes=NATIVE)
    else:
        contexts = query_contexts([sop_class(args, Operation.MOVE)])
    folder = args.output if command == "get" else args.store_to
    store: FolderStore | None = None
    if folder:
        try:
            store = FolderStore(folder, fsync=True)
        except OSError as exc:
            return usage_error(command, f"cannot store into {folder}: {exc}")
    ae = AE(args.aet, requestor_policy(args))
    listener: Server | None = None
    if command == "move" and store is not None:
        try:
            listener = await _listen(args, store)
        except OSError as exc:
            _tidy(store)
            print(
                f"dicomnet move: cannot listen on port {args.listen_port}: {exc}", file=sys.stderr
            )
            return EXIT_NETWORK
    bar = ProgressBar(sys.stderr, enabled=not args.no_progress)
    try:
        async with ae.associate(
            args.peer,
            args.port,
            called_ae=args.called_ae,
            contexts=contexts,
            ssl=ssl,
            family=family_from(args),
        ) as assoc:
            if command == "get":
                assert store is not None
                results = get(assoc, identifier, store, model=model_name(args))
            else:
                destination = args.dest or args.aet
                results = move(assoc, identifier, destination, model=model_name(args))
            await _follow(results, bar)
    except (OSError, DicomNetError) as exc:
        bar.clear()
        return report_association_error(exc)
    finally:
        if listener is not None:
            listener.close()
            await listener.wait_closed()
        if store is not None:
            _tidy(store)
    return _report(command, results.final)


async def _follow(results: RetrieveResults, bar: ProgressBar) -> None:
    async for progress in results:
        if progress.pending:
            bar.update(progress)
    bar.clear()


def _report(command: str, final: RetrieveProgress | None) -> int:
    if final is None:
        print(f"{command}: no final response", file=sys.stderr)
        return EXIT_FAILED
    for uid in final.failed_uids:
        print(f"failed: {uid}", file=sys.stderr)
    print(summary(command, final), file=sys.stderr)
    return exit_code(final)


async def _listen(args: argparse.Namespace, store: FolderStore) -> Server:
    """Our Storage SCP for the sub-operations of a move to ourselves, storing into ``store``."""
    receiver = AE(args.aet, storage_policy(args.aet), handlers=[StorageService(store)])
    return await receiver.serve(args.listen_host, args.listen_port)


def _tidy(store: FolderStore) -> None:
    """Remove the store's (empty) folder of partial files, so that --output stays clean."""
    with contextlib.suppress(OSError):
        store.incoming.rmdir()
