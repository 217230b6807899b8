"""RadZen DicomArk, Inbound Server AE: Verification and Storage SCP filing into a folder.

Plays the Inbound Server of the DicomArk conformance statement (seed
``000_044a1159bad8718a.txt``) by configuration alone: the presentation
contexts, AE-title rule (called AE ``*`` = any), 16 KB PDUs, asynchronous
operations window and "block when capped" association limit all come from
the ``dicomark-inbound`` conformance profile. Each instance is written as a
Part 10 file named after its SOP Instance UID.

Run::

    python examples/dicomark_inbound_server.py --port 11112 --output ./dicomark-inbox
    python examples/dicomark_inbound_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from common import add_common_arguments, configure_logging, profile_policy, serve_until_signal

from dicomnet.ae import AE
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.transport import run

PROFILE = "dicomark-inbound"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser, port=11112, aet="DICOMARK")
    parser.add_argument("--output", default="dicomark-inbox", help="folder (%(default)s)")
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
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    if args.max_clients is not None:
        policy = replace(policy, max_associations=args.max_clients)
    if args.check_called_ae:
        titles = replace(policy.ae_titles, called_ae_titles=(policy.ae_title,))
        policy = replace(policy, ae_titles=titles)
    store = FolderStore(args.output)
    ae = AE(policy.ae_title, policy, handlers=[StorageService(store)])
    server = await ae.serve(args.host, args.port)
    await serve_until_signal(server)
    return 0


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    configure_logging(arguments.verbose)
    sys.exit(run(main(arguments)))
