"""C-ECHO a peer: ``python examples/echo_scu.py HOST PORT [CALLED_AE]``.

The smallest requestor: the default Verification-only policy, one association,
one C-ECHO, released on leaving the ``async with`` block. Exit code 0 when the
status is Success, 1 otherwise, 3 when the association failed.
"""

from __future__ import annotations

import argparse
import sys

from common import run_main

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError


async def main(args: argparse.Namespace) -> int:
    """Echo once and print the status."""
    try:
        async with AE(args.aet).associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            status = await assoc.echo()
    except (OSError, DicomNetError) as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 3
    print(f"C-ECHO status 0x{status.code:04X} ({status.category.name.lower()})")
    return 0 if status.is_success else 1


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("host", help="the peer's host name or address")
    parser.add_argument("port", type=int, help="the peer's TCP port")
    parser.add_argument(
        "called_ae", nargs="?", default="ANY-SCP", help="the peer's AE title (ANY-SCP)"
    )
    parser.add_argument("--aet", default="ECHOSCU", help="our AE title (ECHOSCU)")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    return parser


if __name__ == "__main__":
    run_main(build_parser(), main)
