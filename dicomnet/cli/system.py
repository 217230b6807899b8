"""``dicomnet serve --system NAME``: every AE of a seed system in one process.

The system file (``conformance/systems/NAME.toml``, or a TOML path) names the AEs,
their profiles and ports, and the resources they share; see ``conformance/README.md``.
Relative resource folders are made under ``--root`` (the current folder).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomnet.cli.announce import announce
from dicomnet.cli.options import ae_title, tls_context_from
from dicomnet.errors import ConfigurationError

if TYPE_CHECKING:
    from dicomnet.systems import RunningSystem
    from dicomnet.systems.spec import SystemSpec

__all__ = ["add_system_arguments", "parse_ae_port", "serve_system", "system_option_conflicts"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NETWORK = 6

_log = logging.getLogger("dicomnet.cli.serve")


def parse_ae_port(text: str) -> tuple[str, int]:
    """``NAME=PORT`` of ``--ae-port`` (PORT 0: any free port)."""
    name, _, port = text.partition("=")
    if not name.strip() or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"not NAME=PORT: {text!r}")
    return name.strip(), int(port)


def add_system_arguments(parser: argparse.ArgumentParser) -> None:
    """``--system`` and the options that go with it."""
    group = parser.add_argument_group("system (several AEs in one process)")
    group.add_argument(
        "--system",
        metavar="NAME",
        default=None,
        help=(
            "run every AE of a system file"
            " (lifesys, kodak, meddream, dicomark, printer, or a TOML path)"
        ),
    )
    group.add_argument(
        "--root",
        metavar="DIR",
        default=".",
        help="with --system: folder under which the system's store and worklist are made (.)",
    )
    group.add_argument(
        "--port-offset",
        type=int,
        default=0,
        metavar="N",
        help="with --system: add N to every port of the system file",
    )
    group.add_argument(
        "--ae-port",
        dest="ae_ports",
        action="append",
        type=parse_ae_port,
        default=[],
        metavar="NAME=PORT",
        help="with --system: the port of one AE (by its name in the file; 0 = any free port)",
    )
    group.add_argument(
        "--any-port",
        action="store_true",
        help="with --system: listen on free ports (AEs sharing a port in the file still share"
        " one); the bound ports are printed",
    )


def system_option_conflicts(args: argparse.Namespace, defaults: dict[str, object]) -> list[str]:
    """The single-AE options given together with ``--system`` (they do not apply)."""
    names = {
        "port": "--port",
        "aet": "--aet",
        "output": "--output",
        "profile": "--profile",
        "no_index": "--no-index",
        "max_pdu": "--max-pdu",
        # The integrator's options go per AE in the system file (same names, _ for -).
        "calling_aet": "--calling-aet",
        "called_aet": "--called-aet",
        "max_associations": "--max-associations",
        "on_association_limit": "--on-association-limit",
        "pack_command_and_data": "--pack-command-and-data",
        "max_pdvs_per_pdu": "--max-pdvs-per-pdu",
        "tcp_nodelay": "--tcp-nodelay",
    }
    return [
        option
        for dest, option in names.items()
        if dest in defaults and getattr(args, dest, None) != defaults[dest]
    ]


async def serve_system(
    args: argparse.Namespace,
    *,
    ready: Callable[[RunningSystem], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Start the system of ``--system`` and serve until ``stop`` or SIGINT/SIGTERM."""
    # Loaded here: a plain ``serve`` does not need the systems (queue, print) at all.
    from dicomnet.systems import load_system, start_system  # noqa: PLC0415

    try:
        spec = load_system(args.system)
        ssl = tls_context_from(args, server=True)
        destinations = [(ae_title(t), a) for t, a in getattr(args, "destinations", [])]
    except (ConfigurationError, OSError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        running = await start_system(
            spec,
            host=args.host,
            root=Path(args.root),
            port_offset=args.port_offset,
            ae_ports=dict(args.ae_ports),
            any_port=args.any_port,
            fsync=not args.no_fsync,
            destinations=destinations,
            ssl=ssl,
        )
    except (ConfigurationError, ValueError) as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    try:
        http = await _start_http(args, spec, running)
    except (ConfigurationError, OSError) as exc:
        await running.close()
        print(f"dicomnet serve: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_NETWORK
    try:
        for ae in spec.aes:
            announce(f"{ae.title} ({ae.name}) listening on {running.ports[ae.name]}")
        print(f"ready: {spec.name}", flush=True)
        if ready is not None:
            ready(running)
        await _wait(stop)
        _log.info("stopping")
    finally:
        if http is not None:
            await http.close()
        await running.close()
    return EXIT_OK


async def _start_http(args: argparse.Namespace, spec: SystemSpec, running: RunningSystem) -> Any:
    """The system's DICOMweb side (its ``[http]`` table, ``--http`` for the port), or None."""
    port = getattr(args, "http", None)
    if spec.http is None and port is None:
        return None
    index = running.resources.index
    if index is None or running.resources.folder is None:
        raise ConfigurationError(f"{spec.path}: [http] needs [resources] store and index")
    from dicomnet.cli.http_side import bind_http_settings, start_http  # noqa: PLC0415
    from dicomnet.web.settings import HttpSettings, parse_http  # noqa: PLC0415

    settings = HttpSettings() if spec.http is None else parse_http(spec.http, spec.path)
    if port is not None:
        settings = replace(settings, port=port)
    if getattr(args, "http_host", None):
        settings = replace(settings, host=args.http_host)
    if settings.port is None:
        raise ConfigurationError(f"{spec.path}: [http] gives no port (or use --http PORT)")
    bound = bind_http_settings(settings)
    try:
        return await start_http(
            bound,
            index=index,
            root=running.resources.folder.root,
            ingest=running.ingest_store(),
            ae_title=spec.aes[0].title,
        )
    except BaseException:
        bound.close()
        raise


async def _wait(stop: asyncio.Event | None) -> None:
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):
                continue
            handled.append(signum)
    try:
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
