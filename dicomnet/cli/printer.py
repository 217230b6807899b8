"""``dicomnet printer``: a DICOM film printer (Print Management SCP) that renders into a folder.

Serves the ``dicomnet-printer`` conformance profile
(``conformance/profiles/dicomnet-printer.toml``): the Basic Grayscale and Basic
Color Print Management Meta SOP Classes, with Print Job, Presentation LUT and
Basic Annotation Box when the SCU proposes them. Each printed film box is
written to the ``--output`` folder as ``film-<date>-<time>-<n>.png`` (and
``.pdf`` with ``--pdf``) at ``--dpi`` pixels per inch, with a ``.json`` file
holding its film session and film box attributes. ``--printer-events`` sends
the SCU a Printer N-EVENT-REPORT (NORMAL) after each print, ``--job-events`` a
Print Job N-EVENT-REPORT (DONE) when it negotiated the Print Job SOP Class.

Prints ``listening on PORT`` once ready and runs until SIGINT or SIGTERM.

Exit codes: 0 stopped by a signal; 2 bad options; 6 the port cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dicomnet.ae import AE, Server
from dicomnet.cli.announce import announce
from dicomnet.cli.options import add_aet_option, register_subcommand
from dicomnet.conformance import load_profile
from dicomnet.errors import ConfigurationError
from dicomnet.policy import Policy
from dicomnet.print.model import PrinterSettings
from dicomnet.print.render import FilmRenderer
from dicomnet.services.print_scp import PrintSCP
from dicomnet.transport import run

__all__ = ["register", "run_printer", "serve_printer"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NETWORK = 6
DEFAULT_PROFILE = "dicomnet-printer"

_log = logging.getLogger("dicomnet.cli.printer")


def register(subparsers: Any) -> None:
    """Add the ``printer`` sub-command."""
    parser = register_subcommand(
        subparsers,
        "printer",
        __doc__,
        run_printer,
        help="run a film printer (Print SCP) that writes each film as a PNG",
    )
    parser.add_argument("--port", type=int, default=11112, help="TCP port (11112; 0 = any free)")
    parser.add_argument("--host", default=None, help="address to listen on (all interfaces)")
    add_aet_option(parser, default=None, help="our AE title (the profile's: PRINTSCP)")
    parser.add_argument(
        "--output", "-o", default="dicomnet-films", metavar="DIR", help="folder (./dicomnet-films)"
    )
    parser.add_argument(
        "--profile", default=DEFAULT_PROFILE, metavar="NAME", help=f"profile ({DEFAULT_PROFILE})"
    )
    parser.add_argument("--dpi", type=float, default=150.0, help="film resolution, STANDARD (150)")
    parser.add_argument(
        "--high-dpi",
        type=float,
        default=None,
        help="resolution of Requested Resolution ID HIGH (twice --dpi)",
    )
    parser.add_argument("--pdf", action="store_true", help="also write each film as a PDF")
    parser.add_argument("--name", default="DICOMNET", help="Printer Name (DICOMNET)")
    parser.add_argument(
        "--printer-events", action="store_true", help="send Printer N-EVENT-REPORTs"
    )
    parser.add_argument("--job-events", action="store_true", help="send Print Job N-EVENT-REPORTs")
    parser.add_argument(
        "-pdu", "--max-pdu", type=int, default=None, help="maximum PDU we receive (profile's)"
    )


def run_printer(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run(serve_printer(args))


def build_policy(args: argparse.Namespace) -> Policy:
    """The profile's Policy with the options applied (raises ConfigurationError)."""
    policy = load_profile(args.profile).policy()
    if args.aet:
        policy = replace(policy, ae_title=args.aet)
    if args.max_pdu is not None:
        if args.max_pdu < 0:
            raise ConfigurationError("--max-pdu must be 0 (unlimited) or positive")
        policy = replace(policy, max_pdu_receive=args.max_pdu)
    return policy


async def serve_printer(
    args: argparse.Namespace,
    *,
    ready: Callable[[Server], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Serve until ``stop`` is set, or SIGINT/SIGTERM (when ``stop`` is not given)."""
    try:
        policy = build_policy(args)
        if not 10 <= args.dpi <= 1200:
            raise ConfigurationError("--dpi must be 10..1200")
        if args.high_dpi is not None and not 10 <= args.high_dpi <= 2400:
            raise ConfigurationError("--high-dpi must be 10..2400")
        output = Path(args.output)
        if output.exists() and not output.is_dir():
            raise ConfigurationError(f"output folder {str(output)!r} is not a folder")
        if importlib.util.find_spec("PIL") is None or importlib.util.find_spec("numpy") is None:
            raise ConfigurationError("rendering films needs Pillow and numpy: dicomnet[print]")
    except ConfigurationError as exc:
        print(f"dicomnet printer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = PrinterSettings(name=args.name, dpi=args.dpi, high_dpi=args.high_dpi, pdf=args.pdf)
    scp = PrintSCP(
        FilmRenderer(output, settings),
        settings,
        printer_events=args.printer_events,
        job_events=args.job_events,
    )
    ae = AE(policy.ae_title, policy, handlers=[scp])
    try:
        server = await ae.serve(args.host, args.port)
    except OSError as exc:
        print(f"dicomnet printer: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):  # no signal support here
                continue
            handled.append(signum)
    try:
        async with server:
            announce(f"listening on {server.port}")
            _log.info("%s printing into %s", policy.ae_title, output.resolve())
            if ready is not None:
                ready(server)
            await stop.wait()
            _log.info("stopping")
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        scp.close()
    return EXIT_OK
