"""C-ECHO a peer: ``python examples/echo_scu.py HOST PORT [--called-ae AET] [--aet AET]``.

The smallest requestor: the default Verification-only policy, one association,
one C-ECHO, released on leaving the ``async with`` block. Exit code 0 when the
status is Success, 1 otherwise, 2 on a usage error (e.g. an AE title longer
than 16 characters), 3 when the association failed.
"""

from __future__ import annotations

import argparse
import sys

from common import add_aet_option, add_called_ae_option, run_main

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
    add_called_ae_option(parser, help="the peer's AE title (%(default)s)")
    add_aet_option(parser, default="ECHOSCU", help="our AE title (%(default)s)")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    return parser


if __name__ == "__main__":
    run_main(build_parser(), main)
