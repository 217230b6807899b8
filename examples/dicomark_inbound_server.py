"""RadZen DicomArk, Inbound Server AE: Verification and Storage SCP filing into a folder.

Plays the Inbound Server of the DicomArk conformance statement (seed
``000_044a1159bad8718a.txt``) by configuration alone: the presentation
contexts, AE-title rule (called AE ``*`` = any), 16 KB PDUs, asynchronous
operations window and "block when capped" association limit all come from
the ``dicomark-inbound`` conformance profile. Each instance is written as a
Part 10 file named after its SOP Instance UID. As the statement says, an
association is aborted when one of its instances cannot be stored, and TLS
(server authentication only) can be turned on.

Run::

    python examples/dicomark_inbound_server.py --port 11112 --output ./dicomark-inbox
    python examples/dicomark_inbound_server.py --tls-cert server.pem --tls-key server.key
    python examples/dicomark_inbound_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import example_parser, profile_policy, run_main, serve_policy

from dicomnet.services.storage_abort import AbortWhenNotStored
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.transport import server_tls_context

PROFILE = "dicomark-inbound"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="DICOMARK", output="dicomark-inbox")
    parser.add_argument(
        "--max-clients",
        type=int,
        default=None,
        help="associations served at once; more wait for a free slot (profile: unlimited)",
    )
    parser.add_argument(
        "--check-called-ae",
        action="store_true",
        help="answer only to our own AE title instead of the '*' wildcard",
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="our certificate (PEM): enables TLS")
    parser.add_argument("--tls-key", metavar="FILE", help="our private key (PEM)")
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    if args.max_clients is not None:
        policy = replace(policy, max_associations=args.max_clients)
    if args.check_called_ae:
        titles = replace(policy.ae_titles, called_ae_titles=(policy.ae_title,))
        policy = replace(policy, ae_titles=titles)
    tls = server_tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    storage = StorageService(FolderStore(args.output))
    return await serve_policy(args, policy, [AbortWhenNotStored(storage)], tls=tls)


if __name__ == "__main__":
    run_main(build_parser(), main)
