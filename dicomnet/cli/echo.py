"""``dicomnet echo HOST PORT``: Verification SCU, in the manner of DCMTK's echoscu.

Exit codes: 0 every C-ECHO succeeded; 1 a C-ECHO answered with a non-success
status; 2 usage error (an AE title that is not one, a bad TLS file); 3
association rejected; 4 association aborted; 5 a timer expired; 6 the
connection could not be made (or another network error).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dicomnet.ae import AE
from dicomnet.cli.options import (
    EXIT_ABORTED,
    EXIT_NETWORK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    add_association_options,
    add_family_options,
    add_peer_arguments,
    add_timer_options,
    add_tls_options,
    family_from,
    register_subcommand,
    report_association_error,
    requestor_policy,
    tls_context_from,
)
from dicomnet.errors import AssociationRejected, ConfigurationError, DicomNetError
from dicomnet.transport import run
from dicomnet_pdu.pdus import AAssociateRJ

__all__ = [
    "EXIT_ABORTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_STATUS",
    "EXIT_TIMEOUT",
    "register",
    "run_echo",
]

EXIT_OK = 0
EXIT_STATUS = 1


def register(subparsers: Any) -> None:
    """Add the ``echo`` sub-command."""
    parser = register_subcommand(
        subparsers, "echo", __doc__, run_echo, help="send C-ECHO (Verification SCU), like echoscu"
    )
    add_peer_arguments(parser)
    add_association_options(parser, aetitle="ECHOSCU")
    add_timer_options(parser)
    parser.add_argument(
        "-r", "--repeat", type=int, default=1, metavar="N", help="send N C-ECHO requests"
    )
    add_family_options(parser)
    add_tls_options(parser, server=False)


def run_echo(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run(_echo(args))


def _rejection_text(exc: AssociationRejected) -> str:
    result = "Rejected Permanent" if int(exc.result) == 1 else "Rejected Transient"
    source = {
        1: "Service User",
        2: "Service Provider (ACSE related function)",
        3: "Service Provider (Presentation related function)",
    }.get(int(exc.source), f"{int(exc.source)}")
    name = AAssociateRJ(result=exc.result, source=exc.source, reason=exc.reason).reason_name()
    reason = name.replace("-", " ").title().replace("Ae ", "AE ")
    return (
        "Association Rejected:\n"
        f"Result: {result} ({int(exc.result)}), Source: {source} ({int(exc.source)})\n"
        f"Reason: {reason} ({exc.reason})"
    )


async def _echo(args: argparse.Namespace) -> int:
    ae = AE(args.aet, requestor_policy(args))
    try:
        ssl = tls_context_from(args, server=False)
    except ConfigurationError as exc:
        print(f"dicomnet echo: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        async with ae.associate(
            args.peer, args.port, called_ae=args.called_ae, ssl=ssl, family=family_from(args)
        ) as assoc:
            worst = EXIT_OK
            for _ in range(max(1, args.repeat)):
                status = await assoc.echo()
                if status.is_success:
                    print(f"C-ECHO response: 0x{status.code:04X} (Success)")
                else:
                    print(
                        f"C-ECHO response: 0x{status.code:04X} ({status.describe()})",
                        file=sys.stderr,
                    )
                    worst = EXIT_STATUS
            return worst
    except (OSError, DicomNetError) as exc:
        return report_association_error(exc, rejection_text=_rejection_text)
