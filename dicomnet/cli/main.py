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

__all__ = ["build_parser", "main", "modules_for", "package_version"]

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


#: Verbs whose module has another name (``retrieve`` registers ``move`` and ``get``).
_VERB_MODULES: dict[str, str] = {"print": "print_film", "move": "retrieve", "get": "retrieve"}


def build_parser(modules: Sequence[str] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    """The ``dicomnet`` parser with the sub-commands of ``modules`` (default: all)."""
    parser = argparse.ArgumentParser(prog="dicomnet", description="DICOM networking tools")
    add_verbose_option(parser, help="more logging (-v info, -vv debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        module = importlib.import_module(f"dicomnet.cli.{name}")
        module.register(subparsers)
    return parser


def package_version() -> str:
    """The installed distribution's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version("dicomnet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The sub-command modules a parser for ``argv`` needs: the named verb's, else all.

    Loading only the verb's module keeps what it does not use (pydicom, for one) out
    of a long-running ``serve``; ``--help`` without a verb still lists every verb.
    """
    for word in argv:
        if word.startswith("-"):
            continue
        module = _VERB_MODULES.get(word, word)
        return (module,) if module in SUBCOMMAND_MODULES else SUBCOMMAND_MODULES
    return SUBCOMMAND_MODULES


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), set up logging, run the sub-command."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(modules_for(words))
    args = parser.parse_args(words)
    level = logging.WARNING - 10 * min(verbosity(args), 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
