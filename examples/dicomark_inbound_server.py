"""RadZen DicomArk, Inbound Server AE: Verification and Storage SCP filing into a folder.

Plays the Inbound Server of the DicomArk conformance statement (seed
``000_044a1159bad8718a.txt``) by configuration alone: the presentation
contexts, AE-title rule (called AE ``*`` = any), 16 KB PDUs, asynchronous
operations window and "block when capped" association limit all come from
the ``dicomark-inbound`` conformance profile. Each instance is written as a
Part 10 file named after its SOP Instance UID. As the statement says, an
association is aborted when one of its instances cannot be stored, and TLS
(server authentication only) can be turned on.

It runs the ``inbound`` AE of ``conformance/systems/dicomark.toml`` (what
``dicomnet serve --system dicomark`` runs); each stored instance is also added to
the folder's index (``.index/``).

Run::

    python examples/dicomark_inbound_server.py --port 11112 --output ./dicomark-inbox
    python examples/dicomark_inbound_server.py --tls-cert server.pem --tls-key server.key
    python examples/dicomark_inbound_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import example_parser, run_main, serve_system_ae

from dicomnet.transport import server_tls_context

SYSTEM = "dicomark"  # conformance/systems/dicomark.toml: its "inbound" AE


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(
        __doc__, port=11112, aet="DICOMARK", output="dicomark-inbox", server=True
    )
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
    changes: dict[str, object] = {}
    if args.max_clients is not None:
        changes["max_associations"] = args.max_clients
    if args.check_called_ae:
        changes["called_ae_titles"] = (args.aet or "DICOMARK",)
    tls = server_tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    return await serve_system_ae(
        args, SYSTEM, "inbound", profile_changes=changes, tls=tls, store=Path(args.output)
    )


if __name__ == "__main__":
    run_main(build_parser(), main)
