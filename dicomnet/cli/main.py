"""Entry point of the ``dicomnet`` command: one sub-command per module.

Each sub-command module exposes ``register(subparsers)``, which adds its parser
and sets ``handler`` (a callable taking the parsed namespace and returning the
process exit code) as a parser default. ``-v``/``-vv`` go before or after the
verb (``dicomnet -v echo ...`` or ``dicomnet echo -v ...``; they add up).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence

from dicomnet.cli.options import add_verbose_option, verbosity

__all__ = ["build_parser", "main", "package_version"]

#: Sub-command modules, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "store",
    "echo",
    "find",
    "retrieve",
    "mwl",
    "commit",
    "conformance",
    "index",
    "worklist",
    "print_film",
    "printer",
    "queue",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicomnet", description="DICOM networking tools")
    add_verbose_option(parser, help="more logging (-v info, -vv debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"dicomnet.cli.{name}")
        module.register(subparsers)
    return parser


def package_version() -> str:
    """The installed distribution's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version("dicomnet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), set up logging, run the sub-command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(verbosity(args), 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
