"""Entry point of the ``dicomnet`` command: one sub-command per module.

Each sub-command module exposes ``register(subparsers)``, which adds its parser
and sets ``handler`` (a callable taking the parsed namespace and returning the
process exit code) as a parser default.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

#: Sub-command modules, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = ("serve", "store", "echo", "conformance", "index")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicomnet", description="DICOM networking tools")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"dicomnet.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
