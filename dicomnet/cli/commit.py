"""``dicomnet commit PEER PORT FILE|DIR|CLASS:INSTANCE...``: Storage Commitment SCU (PS3.4 J).

Asks the SCP to commit the instances of the files (folders are walked) and
those named by ``SOP_CLASS_UID:SOP_INSTANCE_UID``, with one N-ACTION-RQ, then waits up to
``--report-timeout`` seconds for the N-EVENT-REPORT that says which were
committed. The report may come on the same association (kept open meanwhile)
or on a new one that the SCP opens to us: with ``--listen-port PORT`` we
listen there as our AE title (``--aet``) and accept the Storage Commitment
class as its SCU. The SCP must know that address for our AE title (in its
configuration). Prints the Transaction UID, one line per instance not
committed (with its Failure Reason) and a summary.

Exit codes: 0 every instance committed; 1 some were not (or the request was
refused); 2 usage error (nothing to commit, an argument that is neither a
DICOM file nor a UID pair, an AE title that is not one); 3 association
rejected; 4 aborted; 5 a timer expired, or no report within
``--report-timeout``; 6 no connection (or the listen port cannot be bound);
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from dicomnet.ae import AE, Server
from dicomnet.cli.options import (
    EXIT_NETWORK,
    EXIT_TIMEOUT,
    family_from,
    register_subcommand,
    report_association_error,
    requestor_policy,
    tls_context_from,
)
from dicomnet.cli.qr_common import (
    EXIT_FAILED,
    EXIT_OK,
    NATIVE,
    add_requestor_options,
    run_command,
    usage_error,
)
from dicomnet.errors import ConfigurationError, DicomNetError
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentError,
    CommitmentResult,
    CommitmentSCU,
    FailureReason,
    InstanceRef,
)
from dicomnet.storage.scu import collect_files
from dicomnet.storage.source import InstanceSource, SourceError

__all__ = ["parse_uid_pair", "print_result", "register", "run_commit"]

DEFAULT_REPORT_TIMEOUT: Final = 60.0


def parse_uid_pair(text: str) -> InstanceRef | None:
    """``CLASS_UID:INSTANCE_UID`` as an instance reference (``None`` if ``text`` is not one)."""
    sop_class, sep, instance = text.partition(":")
    uids = (sop_class.strip(), instance.strip())
    if not sep or not all(uid and all(p.isdigit() for p in uid.split(".")) for uid in uids):
        return None
    return InstanceRef(*uids)


def register(subparsers: Any) -> None:
    """Add the ``commit`` sub-command."""
    parser = register_subcommand(
        subparsers,
        "commit",
        __doc__,
        run_commit,
        help="request Storage Commitment (N-ACTION) and wait for the report",
    )
    add_requestor_options(parser, aetitle="COMMITSCU")
    parser.add_argument(
        "instances",
        nargs="+",
        metavar="FILE|DIR|CLASS:INSTANCE",
        help="instances to commit: DICOM files, folders, or SOP Class UID:SOP Instance UID",
    )
    parser.add_argument(
        "--report-timeout",
        type=float,
        default=DEFAULT_REPORT_TIMEOUT,
        metavar="S",
        help=f"how long to wait for the report ({DEFAULT_REPORT_TIMEOUT:.0f} s)",
    )
    parser.add_argument(
        "--listen-port",
        type=int,
        default=None,
        metavar="PORT",
        help="also accept the report on a new association, listening on PORT",
    )
    parser.add_argument("--listen-host", default=None, help="the address to listen on (all)")


def run_commit(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run_command("commit", commit(args))


def instances_from(args: argparse.Namespace) -> list[InstanceRef]:
    """The instances the arguments name (in their order, without repeats).

    A ``CLASS:INSTANCE`` pair of UIDs that is not the name of a file is taken
    as UIDs. Raises :class:`ConfigurationError` for a file that is not DICOM.
    """
    refs: dict[InstanceRef, None] = {}
    for item in args.instances:
        pair = parse_uid_pair(item)
        if pair is not None and not Path(item).exists():
            refs[pair] = None
            continue
        if not Path(item).exists():
            raise ConfigurationError(f"{item}: no such file, and not CLASS_UID:INSTANCE_UID")
        for path in collect_files([Path(item)]):
            try:
                source = InstanceSource.from_path(path)
            except SourceError as exc:
                raise ConfigurationError(str(exc)) from None
            refs[InstanceRef(source.sop_class_uid, source.sop_instance_uid)] = None
    return list(refs)


def print_result(result: CommitmentResult) -> None:
    """One line per instance not committed, and the summary (stdout)."""
    for failed in result.failed:
        try:
            reason = FailureReason(failed.reason).name.replace("_", " ").lower()
        except ValueError:
            reason = "unknown reason"
        print(
            f"not committed: {failed.sop_instance_uid}"
            f" (failure reason 0x{failed.reason:04X}, {reason})"
        )
    print(f"committed {len(result.committed)}, not committed {len(result.failed)}", flush=True)


async def commit(args: argparse.Namespace) -> int:
    """Request commitment and wait for the report; the exit code."""
    try:
        refs = instances_from(args)
        ssl = tls_context_from(args, server=False)
    except (ConfigurationError, OSError) as exc:
        return usage_error("commit", exc)
    if not refs:
        return usage_error("commit", "nothing to commit (no DICOM file in the folders)")
    scu = CommitmentSCU()
    policy = requestor_policy(args)
    report_context = AcceptedContext(
        abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
        transfer_syntaxes=NATIVE,
        scu_role=True,
        scp_role=False,
    )
    policy = replace(policy, accepted_contexts=(*policy.accepted_contexts, report_context))
    ae = AE(args.aet, policy, handlers=[scu])
    listener: Server | None = None
    if args.listen_port is not None:
        try:
            listener = await ae.serve(args.listen_host, args.listen_port)
        except OSError as exc:
            print(
                f"dicomnet commit: cannot listen on port {args.listen_port}: {exc}",
                file=sys.stderr,
            )
            return EXIT_NETWORK
    context = ProposedContext(
        abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=NATIVE
    )
    try:
        async with ae.associate(
            args.peer,
            args.port,
            called_ae=args.called_ae,
            contexts=[context],
            ssl=ssl,
            family=family_from(args),
        ) as assoc:
            uid = await scu.request_commitment(assoc, refs)
            print(f"commitment requested for {len(refs)} instance(s): {uid}", flush=True)
            result = await scu.wait_for_report(uid, timeout=args.report_timeout)
    except CommitmentError as exc:
        print(f"dicomnet commit: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (DicomNetError, OSError) as exc:
        if isinstance(exc, TimeoutError) and not isinstance(exc, DicomNetError):
            print(f"no commitment report within {args.report_timeout:g} s", file=sys.stderr)
            return EXIT_TIMEOUT
        return report_association_error(exc)
    finally:
        if listener is not None:
            listener.close()
            await listener.wait_closed()
    print_result(result)
    return EXIT_OK if result.all_committed else EXIT_FAILED
