"""Pieces every example shares: command line, logging, running, serving until a signal.

Not an example itself; the programs beside it import it (``python examples/NAME.py``
puts this folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, NoReturn

from dicomnet.ae import AE, Server
from dicomnet.cli.integrator import add_integrator_options, overrides_from
from dicomnet.cli.options import add_aet_option, add_called_ae_option, ae_title
from dicomnet.conformance import load_profile
from dicomnet.policy import Policy
from dicomnet.services.base import Binding, Service
from dicomnet.services.commitment import (
    CommitmentSCP,
    ReportMode,
)
from dicomnet.systems import RunningSystem, load_system, start_system
from dicomnet.systems.runner import commitment_report_syntaxes
from dicomnet.systems.spec import AESpec
from dicomnet.transport import run

__all__ = [
    "add_aet_option",
    "add_called_ae_option",
    "add_commitment_arguments",
    "add_common_arguments",
    "ae_title",
    "commitment_scp",
    "configure_logging",
    "example_parser",
    "parse_address",
    "policy_ae",
    "profile_policy",
    "run_main",
    "serve_ae",
    "serve_policy",
    "serve_system_ae",
    "serve_until_signal",
    "with_overrides",
]


def example_parser(
    doc: str | None,
    *,
    port: int,
    aet: str | None = None,
    output: str | None = None,
    server: bool = False,
) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows ``doc`` as written, with :func:`add_common_arguments`.

    ``output`` (a storage server's) adds ``--output``, the folder instances are
    filed in, with that default. ``server`` adds the integrator's options that
    override the profile (:mod:`dicomnet.cli.integrator`), the same as
    ``dicomnet serve``'s.
    """
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser, port=port, aet=aet)
    if output is not None:
        parser.add_argument("--output", default=output, help="folder (%(default)s)")
    if server:
        add_integrator_options(parser)
    return parser


def add_common_arguments(
    parser: argparse.ArgumentParser, *, port: int, aet: str | None = None
) -> None:
    """``--host``, ``--port``, ``--aet`` (alias ``-aet``) and ``-v``.

    ``--aet`` defaults to the title in the profile (``aet`` only names it in the help).
    AE-title options (``--aet``; ``--called-ae``/``-aec`` from :func:`add_called_ae_option`,
    the same as the ``dicomnet`` commands') refuse what is not an AE title (exit 2).
    """
    parser.add_argument("--host", default="127.0.0.1", help="address (%(default)s)")
    parser.add_argument("--port", type=int, default=port, help="TCP port (%(default)s)")
    add_aet_option(
        parser, default=None, help=f"our AE title (the profile's{': ' + aet if aet else ''})"
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


def policy_ae(policy: Policy, handlers: Iterable[Service | Binding] = ()) -> AE:
    """The AE of ``policy`` (its own title) with ``handlers``.

    Build it first when a handler needs the AE itself, e.g. a
    :class:`~dicomnet.services.commitment.CommitmentSCP` that opens associations
    with it; add that handler with :meth:`AE.add_handler`, then :func:`serve_ae`.
    """
    return AE(policy.ae_title, policy, handlers=handlers)


async def serve_ae(
    args: argparse.Namespace,
    ae: AE,
    *,
    tls: ssl.SSLContext | None = None,
    on_stop: Callable[[], None] | None = None,
) -> int:
    """Serve ``ae`` on ``--host``/``--port`` until a signal; exit code 0.

    See :func:`serve_until_signal` for ``on_stop``.
    """
    server = await ae.serve(args.host, args.port, ssl=tls)
    await serve_until_signal(server, on_stop)
    return 0


async def serve_policy(
    args: argparse.Namespace,
    policy: Policy,
    handlers: Iterable[Service | Binding],
    *,
    tls: ssl.SSLContext | None = None,
    on_stop: Callable[[], None] | None = None,
) -> int:
    """Serve ``policy`` with ``handlers`` on ``--host``/``--port`` until a signal; exit code 0.

    Shorthand for :func:`policy_ae` then :func:`serve_ae` when no handler needs the AE.
    """
    return await serve_ae(args, policy_ae(policy, handlers), tls=tls, on_stop=on_stop)


async def serve_system_ae(
    args: argparse.Namespace,
    system: str,
    name: str,
    *,
    profile_changes: dict[str, Any] | None = None,
    tls: ssl.SSLContext | None = None,
    on_stop: Callable[[RunningSystem], None] | None = None,
    **system_changes: Any,
) -> int:
    """Serve the AE ``name`` of system file ``system`` on ``--host``/``--port`` until a signal.

    ``--aet`` renames it (and the called AE title it answers to, when that was its own
    title); ``profile_changes`` replace fields of its profile, ``system_changes`` fields
    of the system (``store``, ``destinations``...). ``on_stop`` runs after the server has
    closed, before the system's resources are. Exit code 0.
    """
    spec = load_system(system)
    entity = spec.ae(name)
    changes = dict(profile_changes or {})
    entity = with_overrides(entity, args)
    if getattr(args, "memory_limit", None) is not None:  # a memory-storage AE's bound
        entity = replace(entity, memory_limit=args.memory_limit)
    if args.aet is not None and args.aet != entity.title:
        changes["ae_title"] = args.aet
        if entity.profile.called_ae_titles == (entity.title,):
            changes["called_ae_titles"] = (args.aet,)
    if changes:
        entity = replace(entity, profile=replace(entity.profile, **changes))
    spec = replace(spec, aes=(entity,), **system_changes)
    running = await start_system(spec, host=args.host, ae_ports={name: args.port}, ssl=tls)
    try:
        await serve_until_signal(running.servers[name])
        if on_stop is not None:
            on_stop(running)
    finally:
        await running.close()
    return 0


def with_overrides(entity: AESpec, args: argparse.Namespace) -> AESpec:
    """``entity`` with the integrator's options of ``args`` over the system file's."""
    try:
        given = overrides_from(args)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    return replace(entity, overrides=entity.overrides.merged(given))


def parse_address(text: str) -> tuple[str, tuple[str, int]]:
    """``AET=HOST:PORT`` from the command line, as ``(AET, (HOST, PORT))``.

    ``HOST`` may be an IPv6 address (the port is after its last colon). ``AET``
    must be an AE title (:func:`ae_title`).
    """
    title, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if not title.strip() or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"not AET=HOST:PORT: {text!r}")
    return ae_title(title), (host.strip("[]"), int(port))


def add_commitment_arguments(parser: argparse.ArgumentParser) -> None:
    """``--commitment-destination AET=HOST:PORT`` (repeatable), into ``commitment_destinations``."""
    parser.add_argument(
        "--commitment-destination",
        dest="commitment_destinations",
        action="append",
        type=parse_address,
        default=[],
        metavar="AET=HOST:PORT",
        help="where the Storage Commitment report association goes for a requestor's AE "
        "title (repeat for several)",
    )


def commitment_scp(
    ae: AE, args: argparse.Namespace, *, store: Any, mode: ReportMode
) -> CommitmentSCP:
    """A Storage Commitment SCP over ``store`` that opens report associations with ``ae``.

    The destinations come from ``--commitment-destination``
    (:func:`add_commitment_arguments`). The transfer syntaxes proposed for a
    report association are those of the policy's proposed context for the
    class, else those it accepts for the class.
    """
    syntaxes = commitment_report_syntaxes(ae.policy)
    options: dict[str, Any] = {"transfer_syntaxes": syntaxes} if syntaxes else {}
    return CommitmentSCP(
        store=store,
        mode=mode,
        destinations=dict(args.commitment_destinations),
        requestor=ae,
        **options,
    )


def run_main(
    parser: argparse.ArgumentParser,
    main: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> NoReturn:
    """Parse the command line, set up logging for ``-v``, run ``main`` and exit with its code."""
    arguments = parser.parse_args()
    configure_logging(arguments.verbose)
    sys.exit(run(main(arguments)))
