"""``dicomnet echo HOST PORT``: Verification SCU, in the manner of DCMTK's echoscu.

Exit codes: 0 every C-ECHO succeeded; 1 a C-ECHO answered with a non-success
status; 3 association rejected; 4 association aborted; 5 a timer expired;
6 the connection could not be made (or another network error).
"""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import replace
from typing import Any

from dicomnet.ae import AE, default_policy
from dicomnet.errors import (
    AssociationAborted,
    AssociationRejected,
    DicomNetError,
    TimeoutExpired,
)
from dicomnet.policy import Timers
from dicomnet.transport import client_tls_context, run
from dicomnet_pdu.pdus import AAssociateRJ

__all__ = ["register", "run_echo"]

EXIT_OK = 0
EXIT_STATUS = 1
EXIT_REJECTED = 3
EXIT_ABORTED = 4
EXIT_TIMEOUT = 5
EXIT_NETWORK = 6


def register(subparsers: Any) -> None:
    """Add the ``echo`` sub-command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "echo",
        help="send C-ECHO (Verification SCU), like echoscu",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("peer", help="host name or address of the SCP")
    parser.add_argument("port", type=int, help="TCP port of the SCP")
    parser.add_argument("-aet", "--aetitle", default="ECHOSCU", help="our AE title (ECHOSCU)")
    parser.add_argument("-aec", "--call", default="ANY-SCP", help="called AE title (ANY-SCP)")
    parser.add_argument(
        "-pdu", "--max-pdu", type=int, default=16384, help="maximum PDU we receive (16384)"
    )
    parser.add_argument("-to", "--timeout", type=float, default=30.0, help="connect timeout (s)")
    parser.add_argument(
        "-ta", "--acse-timeout", type=float, default=30.0, help="ACSE (association) timeout (s)"
    )
    parser.add_argument(
        "-td", "--dimse-timeout", type=float, default=60.0, help="DIMSE response timeout (s)"
    )
    parser.add_argument(
        "-r", "--repeat", type=int, default=1, metavar="N", help="send N C-ECHO requests"
    )
    family = parser.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", action="store_true", help="connect over IPv4 only")
    family.add_argument("-6", "--ipv6", action="store_true", help="connect over IPv6 only")
    tls = parser.add_argument_group("TLS (PS3.15 Annex B)")
    tls.add_argument("--tls", action="store_true", help="use TLS")
    tls.add_argument("--tls-ca", metavar="FILE", help="CA bundle to verify the SCP with")
    tls.add_argument("--tls-cert", metavar="FILE", help="our certificate (PEM)")
    tls.add_argument("--tls-key", metavar="FILE", help="our private key (PEM)")
    tls.add_argument("--no-verify", action="store_true", help="do not verify the SCP's certificate")
    parser.set_defaults(handler=run_echo)


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
    policy = replace(
        default_policy(args.aetitle),
        max_pdu_receive=args.max_pdu,
        timers=Timers(connect=args.timeout, associate=args.acse_timeout, dimse=args.dimse_timeout),
    )
    ae = AE(args.aetitle, policy)
    ssl = None
    if args.tls or args.tls_ca or args.tls_cert:
        ssl = client_tls_context(
            args.tls_ca, args.tls_cert, args.tls_key, verify=not args.no_verify
        )
    family = socket.AF_INET6 if args.ipv6 else socket.AF_INET if args.ipv4 else 0
    try:
        async with ae.associate(
            args.peer, args.port, called_ae=args.call, ssl=ssl, family=family
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
    except AssociationRejected as exc:
        print(_rejection_text(exc), file=sys.stderr)
        return EXIT_REJECTED
    except AssociationAborted as exc:
        print(f"Association Aborted: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    except TimeoutExpired as exc:
        print(f"Timeout: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except (OSError, DicomNetError) as exc:
        print(f"Association Request Failed: {exc}", file=sys.stderr)
        return EXIT_NETWORK
