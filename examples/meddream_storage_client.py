"""MedDream DICOM Web Viewer, Storage Client AE: send instances, optionally request commitment.

Plays the Storage Client of the MedDream conformance statement (seed
``001_14563b4270a8d9a9.txt``, §3.1.2.3 and §3.2.3) from the
``meddream-storage-client`` profile: AE title ``DCMSND``, the proposed storage
SOP classes and transfer syntaxes of Table 19, 16 KB PDUs, one association per
instance (establish, C-STORE, release).

With ``--commit`` it then asks the Storage Server for Storage Commitment (Push
Model, PS3.4 Annex J): it listens on ``--listen-port`` for the association
that carries the N-EVENT-REPORT (accepting the SCP role for the commitment
class, as the statement says), sends the N-ACTION-RQ on a new association
and waits up to ``--commit-timeout`` seconds for the report, which may also
come on that same association. The SCP must know this AE's address (its
"destination" for ``DCMSND``); the port is printed as ``report listener on PORT``.

Run::

    python examples/meddream_storage_client.py --port 11112 --called-ae DCMRCV image1.dcm dir/
    python examples/meddream_storage_client.py --commit --listen-port 11113 image1.dcm
    python examples/meddream_storage_client.py --help

Exit code: 0 when every instance was stored (and, with ``--commit``,
committed), 1 when some were not, 3 when an association failed, 5 when no
commitment report came in time.
"""

from __future__ import annotations

import argparse
import sys

from common import add_called_ae_option, example_parser, profile_policy, run_main

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError
from dicomnet.policy import ProposedContext
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentResult,
    CommitmentSCU,
    InstanceRef,
)
from dicomnet.storage.scu import StoreResult, collect_files, store_all

PROFILE = "meddream-storage-client"
EXIT_NOT_ALL = 1
EXIT_ASSOCIATION = 3
EXIT_NO_REPORT = 5


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="DCMSND")
    add_called_ae_option(parser, default="DCMRCV", help="the server's AE title (%(default)s)")
    parser.add_argument("--commit", action="store_true", help="request Storage Commitment")
    parser.add_argument(
        "--listen-host",
        default=None,
        help="address of the report association listener (every interface)",
    )
    parser.add_argument(
        "--listen-port",
        type=int,
        default=11113,
        help="port of the report association (%(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--commit-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the report (%(default)s)",
    )
    parser.add_argument("paths", nargs="+", help="DICOM files or folders to send")
    return parser


async def send_files(ae: AE, args: argparse.Namespace) -> list[StoreResult]:
    """C-STORE each file on its own association, as the statement describes."""
    results = []
    for path in collect_files(args.paths):
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            (result,) = await store_all(assoc, [path])
        print(result.describe(), flush=True)
        results.append(result)
    return results


async def request_commitment(
    ae: AE, scu: CommitmentSCU, args: argparse.Namespace, refs: list[InstanceRef]
) -> CommitmentResult:
    """Listen for the report association, send the N-ACTION, wait for the report."""
    commitment = [
        context
        for context in ae.policy.proposed_contexts
        if context.abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL
    ] or [
        ProposedContext(
            abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
            transfer_syntaxes=("1.2.840.10008.1.2",),
        )
    ]
    async with await ae.serve(args.listen_host, args.listen_port) as listener:
        print(f"report listener on {listener.port}", flush=True)
        async with ae.associate(
            args.host, args.port, called_ae=args.called_ae, contexts=commitment
        ) as assoc:
            uid = await scu.request_commitment(assoc, refs)
            print(f"commitment requested: {uid}", flush=True)
            # Kept open meanwhile: the server may answer on this association as well.
            return await scu.wait_for_report(uid, timeout=args.commit_timeout)


def print_result(result: CommitmentResult) -> None:
    """One line per failed instance and a summary."""
    for failed in result.failed:
        print(f"not committed: {failed.sop_instance_uid} (failure reason 0x{failed.reason:04X})")
    print(f"committed {len(result.committed)}, failed {len(result.failed)}", flush=True)


async def main(args: argparse.Namespace) -> int:
    """Send, then (with ``--commit``) request commitment and wait for the report."""
    policy = profile_policy(PROFILE, args.aet)
    scu = CommitmentSCU()
    ae = AE(policy.ae_title, policy, handlers=[scu])
    try:
        results = await send_files(ae, args)
        stored = [InstanceRef(r.sop_class_uid, r.sop_instance_uid) for r in results if r.ok]
        if not args.commit or not stored:
            return 0 if results and all(r.ok for r in results) else EXIT_NOT_ALL
        result = await request_commitment(ae, scu, args, stored)
    except DicomNetError as exc:  # before TimeoutError: a timer of the association
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return EXIT_ASSOCIATION
    except TimeoutError:  # before OSError, of which it is a subclass
        print("no commitment report in time", file=sys.stderr)
        return EXIT_NO_REPORT
    except OSError as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return EXIT_ASSOCIATION
    print_result(result)
    everything = len(stored) == len(results) and result.all_committed
    return 0 if everything else EXIT_NOT_ALL


if __name__ == "__main__":
    run_main(build_parser(), main)
