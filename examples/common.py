"""Pieces every example shares: command-line basics, logging, running a server until a signal.

Not an example itself; the programs beside it import it (``python examples/NAME.py``
puts this folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import replace

from dicomnet.ae import Server
from dicomnet.conformance import load_profile
from dicomnet.policy import Policy

__all__ = [
    "add_common_arguments",
    "configure_logging",
    "profile_policy",
    "serve_until_signal",
]


def add_common_arguments(
    parser: argparse.ArgumentParser, *, port: int, aet: str | None = None
) -> None:
    """``--host``, ``--port``, ``--aet``, ``--profile`` and ``-v``.

    ``--aet`` defaults to the title in the profile (``aet`` only names it in the help).
    """
    parser.add_argument("--host", default="127.0.0.1", help="address (%(default)s)")
    parser.add_argument("--port", type=int, default=port, help="TCP port (%(default)s)")
    parser.add_argument(
        "--aet", default=None, help=f"our AE title (the profile's{': ' + aet if aet else ''})"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )


def configure_logging(verbosity: int) -> None:
    """Log to stderr: warnings by default, ``-v`` info, ``-vv`` debug."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def profile_policy(name: str, ae_title: str | None = None) -> Policy:
    """The Policy of conformance profile ``name`` (``conformance/profiles/NAME.toml``).

    ``ae_title`` replaces the profile's own title (and, for an acceptor whose
    called-AE list is that title alone, the title it answers to).
    """
    policy = load_profile(name).policy()
    if ae_title is None or ae_title == policy.ae_title:
        return policy
    titles = policy.ae_titles
    if titles.called_ae_titles == (policy.ae_title,):
        titles = replace(titles, called_ae_titles=(ae_title,))
    return replace(policy, ae_title=ae_title, ae_titles=titles)


async def serve_until_signal(server: Server, on_stop: Callable[[], None] | None = None) -> None:
    """Print ``listening on PORT``, serve until SIGINT or SIGTERM, then close the server.

    ``on_stop`` runs after the server has closed (e.g. to report what it received).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with server:
            print(f"listening on {server.port}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if on_stop is not None:
        on_stop()
