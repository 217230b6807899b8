"""``dicomnet conformance list|render|check``: the conformance profiles of conformance/.

* ``list``: every profile with its system and Application Entity.
* ``render PROFILE [--format md|html] [-o FILE]``: the PS3.2-style statement;
  ``render --all -o DIR``: every profile into DIR (conformance/rendered/).
* ``check PROFILE --host H --port P [--called-ae AE] [--aet AE]``: propose the
  profile's presentation contexts to a live peer and print which it accepted,
  with the transfer syntax.

PROFILE is a profile name (``dicomnet conformance list``) or a path to a TOML
file. ``--data DIR`` goes before or after the action. Exit codes: 0 success
(for ``check``: every context accepted); 1 some context rejected; 2 bad profile
or option, or an output file that cannot be written; 3 association rejected;
4 aborted; 5 a timer expired; 6 the connection could not be made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dicomnet.cli.options import (
    EXIT_ABORTED,
    EXIT_NETWORK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    add_aet_option,
    add_called_ae_option,
    add_verbose_option,
    register_subcommand,
    report_association_error,
)
from dicomnet.conformance import FORMATS, list_profiles, load_profile, load_registry, render
from dicomnet.errors import ConfigurationError, DicomNetError

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CONFIG",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_REJECTED_CONTEXT",
    "EXIT_TIMEOUT",
    "register",
    "run_check",
    "run_list",
    "run_render",
]

EXIT_OK = 0
EXIT_REJECTED_CONTEXT = 1
EXIT_CONFIG = 2


def register(subparsers: Any) -> None:
    """Add the ``conformance`` sub-command and its own sub-commands."""
    parser = register_subcommand(
        subparsers,
        "conformance",
        __doc__,
        None,
        help="list, render or check the conformance profiles",
    )
    _add_data_option(parser, default=None)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = _add_action(actions, "list", help="list the profiles")
    listing.set_defaults(handler=run_list)

    rendering = _add_action(actions, "render", help="render a profile as a conformance statement")
    rendering.add_argument("profile", nargs="?", help="profile name or path to a TOML file")
    rendering.add_argument(
        "--all",
        action="store_true",
        help="render every profile into the folder -o DIR as NAME.md (conformance/rendered/)",
    )
    rendering.add_argument("--format", choices=FORMATS, default="md", help="output format (md)")
    rendering.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    rendering.set_defaults(handler=run_render)

    checking = _add_action(actions, "check", help="propose a profile's contexts to a live peer")
    checking.add_argument("profile", help="profile name or path to a TOML file")
    checking.add_argument("--host", required=True, help="host name or address of the peer")
    checking.add_argument("--port", type=int, required=True, help="TCP port of the peer")
    add_called_ae_option(checking)
    add_aet_option(checking, default=None, help="our (calling) AE title (the profile's)")
    checking.set_defaults(handler=run_check)


def _add_data_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=default,
        metavar="DIR",
        help="conformance data directory (default: conformance/ of the source tree)",
    )


def _add_action(actions: Any, name: str, *, help: str) -> argparse.ArgumentParser:
    """An action's parser, which takes ``--data`` and ``-v`` after the action's name too.

    Their defaults are SUPPRESS or counted separately, so that ``conformance --data DIR
    list`` keeps the value given before the action.
    """
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help)
    _add_data_option(parser, default=argparse.SUPPRESS)
    add_verbose_option(parser, help="more logging (-v info, -vv debug)", dest="action_verbose")
    return parser


def run_list(args: argparse.Namespace) -> int:
    """Print one line per profile: name, system, Application Entity."""
    try:
        registry = load_registry(args.data)
        rows = []
        for name in list_profiles(args.data):
            profile = load_profile(name, data_dir=args.data, registry=registry)
            rows.append((name, profile.system, profile.application_entity))
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, system, entity in rows:
        print(f"{name:<{width}}  {system}: {entity}")
    return EXIT_OK


def run_render(args: argparse.Namespace) -> int:
    """Render a profile to stdout or ``--output``; ``--all``: every profile into a folder."""
    if args.all:
        return _render_all(args)
    if args.profile is None:
        print("error: name a profile, or give --all -o DIR", file=sys.stderr)
        return EXIT_CONFIG
    try:
        text = render(load_profile(args.profile, data_dir=args.data), args.format)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        # A missing folder is not made: a mistyped path should not leave folders behind.
        reason = exc.strerror or str(exc)
        print(f"error: cannot write {args.output}: {reason}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def _render_all(args: argparse.Namespace) -> int:
    if args.profile is not None or args.output is None or not args.output.is_dir():
        print("error: --all takes no profile and needs -o DIR, an existing folder", file=sys.stderr)
        return EXIT_CONFIG
    try:
        for name in list_profiles(args.data):
            text = render(load_profile(name, data_dir=args.data), args.format)
            (args.output / f"{name}.{args.format}").write_text(text, encoding="utf-8")
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"error: cannot write into {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    """Run ``check`` in its own event loop; returns the exit code."""
    from dicomnet.transport import run  # noqa: PLC0415 (the network stack only for check)

    return run(check(args))


async def check(args: argparse.Namespace) -> int:
    """The ``check`` sub-command as a coroutine (tests await it directly)."""
    from dicomnet.conformance.check import check_profile  # noqa: PLC0415

    try:
        profile = load_profile(args.profile, data_dir=args.data)
        results = await check_profile(
            profile, args.host, args.port, called_ae=args.called_ae, calling_ae=args.aet
        )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (OSError, DicomNetError) as exc:
        return report_association_error(exc)
    registry = profile.registry
    for item in results:
        name = registry.name_of(item.abstract_syntax)
        if item.accepted:
            syntax = registry.name_of(item.transfer_syntax)
            print(f"accepted  {name} ({item.abstract_syntax}): {syntax} ({item.transfer_syntax})")
        else:
            print(f"rejected  {name} ({item.abstract_syntax}): {item.result_name}")
    accepted = sum(item.accepted for item in results)
    print(f"{accepted} of {len(results)} presentation contexts accepted")
    return EXIT_OK if accepted == len(results) else EXIT_REJECTED_CONTEXT
