"""Options and outcomes the ``dicomnet`` sub-commands share.

The requestor commands (``echo``, ``store``) take the same association, timer,
address-family and TLS options, in the manner of DCMTK's tools; ``serve`` takes
the acceptor's TLS options. Each ``add_*`` function adds one group of options to
a parser, and the ``*_from`` functions turn the parsed namespace back into what
the library takes (a Policy, Timers, an ``ssl.SSLContext``, a socket family).
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from dicomnet.errors import (
    AssociationAborted,
    AssociationRejected,
    ConfigurationError,
    DicomNetError,
    TimeoutExpired,
)
from dicomnet.policy import Policy, Timers
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.items import check_ae_title

# dicomnet.ae and dicomnet.transport are imported by the functions that need them, so that
# importing this module (as ``conformance list`` does) does not load the network stack.

__all__ = [
    "EXIT_ABORTED",
    "EXIT_NETWORK",
    "EXIT_REJECTED",
    "EXIT_TIMEOUT",
    "VERBOSE_DESTS",
    "add_aet_option",
    "add_association_options",
    "add_called_ae_option",
    "add_family_options",
    "add_peer_arguments",
    "add_timer_options",
    "add_tls_options",
    "add_verbose_option",
    "ae_title",
    "family_from",
    "register_subcommand",
    "report_association_error",
    "requestor_policy",
    "timers_from",
    "tls_context_from",
    "verbosity",
]

#: Exit codes of the commands that report how an association failed (``echo``,
#: ``conformance check``).
EXIT_USAGE: Final = 2
EXIT_REJECTED: Final = 3
EXIT_ABORTED: Final = 4
EXIT_TIMEOUT: Final = 5
EXIT_NETWORK: Final = 6

_TLS_GROUP: Final = "TLS (PS3.15 Annex B)"

#: Where ``-v`` is counted: before the verb (``dicomnet -v echo``), after it
#: (``dicomnet echo -v``), and after a sub-command's own verb (``conformance list -v``).
#: argparse gives each parser level a namespace of its own, so each level counts into
#: its own attribute and :func:`verbosity` adds them up.
VERBOSE_DESTS: Final = ("verbose", "command_verbose", "action_verbose")

Handler = Callable[[argparse.Namespace], int]


def register_subcommand(
    subparsers: Any,
    name: str,
    description: str | None,
    handler: Handler | None,
    *,
    help: str,
    verbose_help: str = "more logging (-v info, -vv debug)",
    dest: str = "command_verbose",
) -> argparse.ArgumentParser:
    """Add sub-command ``name`` whose ``--help`` shows ``description`` as written.

    ``handler`` (when given) becomes the parser's ``handler`` default, which
    ``dicomnet.cli.main`` calls with the parsed namespace. Every sub-command
    takes ``-v``/``-vv`` after its name too, counted into ``dest`` (one of
    :data:`VERBOSE_DESTS`; see :func:`verbosity`).
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose_option(parser, help=verbose_help, dest=dest)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def ae_title(text: str) -> str:
    """argparse ``type`` of an AE-title option: the title without padding spaces.

    The rules are those of the A-ASSOCIATE-RQ (:func:`dicomnet_pdu.items.check_ae_title`):
    1 to 16 characters, printable ASCII, no backslash, not all spaces. Anything
    else is a usage error (exit 2) before a connection is made.
    """
    try:
        return check_ae_title(text, "AE title")
    except LocalProtocolError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("AE title: ")) from None


def add_aet_option(parser: argparse.ArgumentParser, *, default: str | None, help: str) -> None:
    """``--aet`` (alias ``-aet``): our own AE title, into ``aet``."""
    parser.add_argument(
        "--aet", "-aet", dest="aet", type=ae_title, default=default, metavar="AET", help=help
    )


def add_called_ae_option(
    parser: argparse.ArgumentParser,
    *,
    default: str | None = "ANY-SCP",
    help: str = "called AE title, the peer's (%(default)s)",
) -> None:
    """``--called-ae`` (alias ``-aec``): the AE title of the peer, into ``called_ae``."""
    parser.add_argument(
        "--called-ae",
        "-aec",
        dest="called_ae",
        type=ae_title,
        default=default,
        metavar="AET",
        help=help,
    )


def add_peer_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional ``peer`` (host name or address) and ``port`` of the SCP to call."""
    parser.add_argument("peer", help="host name or address of the SCP")
    parser.add_argument("port", type=int, help="TCP port of the SCP")


def add_association_options(parser: argparse.ArgumentParser, *, aetitle: str) -> None:
    """``--aet`` (our AE title, default ``aetitle``), ``--called-ae`` and ``-pdu``."""
    add_aet_option(parser, default=aetitle, help=f"our AE title ({aetitle})")
    add_called_ae_option(parser)
    parser.add_argument(
        "-pdu", "--max-pdu", type=int, default=16384, help="maximum PDU we receive (16384)"
    )


def add_timer_options(parser: argparse.ArgumentParser) -> None:
    """``-to`` (connect), ``-ta`` (ACSE) and ``-td`` (DIMSE) timeouts in seconds."""
    parser.add_argument("-to", "--timeout", type=float, default=30.0, help="connect timeout (s)")
    parser.add_argument(
        "-ta", "--acse-timeout", type=float, default=30.0, help="ACSE (association) timeout (s)"
    )
    parser.add_argument(
        "-td", "--dimse-timeout", type=float, default=60.0, help="DIMSE response timeout (s)"
    )


def add_family_options(parser: argparse.ArgumentParser) -> None:
    """``-4``/``-6``: connect over one address family only."""
    family = parser.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", action="store_true", help="connect over IPv4 only")
    family.add_argument("-6", "--ipv6", action="store_true", help="connect over IPv6 only")


def add_tls_options(parser: argparse.ArgumentParser, *, server: bool) -> None:
    """The TLS group: a requestor's (``--tls``, ``--no-verify``) or an acceptor's options.

    Both have ``--tls-cert``, ``--tls-key`` and ``--tls-ca``; the acceptor's
    ``--tls-cert`` turns TLS on and ``--require-client-cert`` asks clients for
    a certificate.
    """
    tls = parser.add_argument_group(_TLS_GROUP)
    if server:
        tls.add_argument("--tls-cert", metavar="FILE", help="our certificate (PEM); enables TLS")
        tls.add_argument("--tls-key", metavar="FILE", help="our private key (PEM)")
        tls.add_argument("--tls-ca", metavar="FILE", help="CA bundle to verify clients with")
        tls.add_argument(
            "--require-client-cert",
            action="store_true",
            help="refuse clients without a certificate signed by --tls-ca (needs it)",
        )
        return
    tls.add_argument("--tls", action="store_true", help="use TLS")
    tls.add_argument("--tls-ca", metavar="FILE", help="CA bundle to verify the SCP with")
    tls.add_argument("--tls-cert", metavar="FILE", help="our certificate (PEM)")
    tls.add_argument("--tls-key", metavar="FILE", help="our private key (PEM)")
    tls.add_argument("--no-verify", action="store_true", help="do not verify the SCP's certificate")


def add_verbose_option(
    parser: argparse.ArgumentParser, *, help: str, dest: str = "verbose", default: Any = 0
) -> None:
    """``-v``/``--verbose``, counted (``-vv`` is 2) into ``dest``."""
    parser.add_argument("-v", "--verbose", dest=dest, action="count", default=default, help=help)


def verbosity(args: argparse.Namespace) -> int:
    """How many ``-v`` were given, before and after the verbs (see :data:`VERBOSE_DESTS`)."""
    return sum(int(getattr(args, dest, 0) or 0) for dest in VERBOSE_DESTS)


def timers_from(args: argparse.Namespace) -> Timers:
    """The timers of :func:`add_timer_options`."""
    return Timers(connect=args.timeout, associate=args.acse_timeout, dimse=args.dimse_timeout)


def requestor_policy(args: argparse.Namespace, **changes: Any) -> Policy:
    """The default requestor Policy with the options' AE title, maximum PDU and timers.

    ``changes`` are further Policy fields to replace.
    """
    from dicomnet.ae import default_policy  # noqa: PLC0415 (see the imports)

    return replace(
        default_policy(args.aet),
        max_pdu_receive=args.max_pdu,
        timers=timers_from(args),
        **changes,
    )


def family_from(args: argparse.Namespace) -> int:
    """The socket address family of :func:`add_family_options` (0: either)."""
    if args.ipv6:
        return socket.AF_INET6
    return socket.AF_INET if args.ipv4 else 0


def tls_context_from(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    """The TLS context the options of :func:`add_tls_options` ask for, or ``None`` (no TLS).

    A requestor uses TLS with ``--tls``, ``--tls-ca`` or ``--tls-cert``; an
    acceptor with ``--tls-cert`` and ``--tls-key``, which go together, and
    ``--require-client-cert`` needs ``--tls-ca``. Raises
    :class:`ConfigurationError` for those and for a TLS file that is missing or
    not what it should be (the message names the file and the problem).
    """
    from dicomnet.transport import client_tls_context, server_tls_context  # noqa: PLC0415

    if server:
        if not (args.tls_cert or args.tls_key):
            if args.require_client_cert or args.tls_ca:
                raise ConfigurationError(
                    "--require-client-cert and --tls-ca need --tls-cert and --tls-key"
                )
            return None
        if not (args.tls_cert and args.tls_key):
            raise ConfigurationError("--tls-cert and --tls-key go together")
        if args.require_client_cert and not args.tls_ca:
            raise ConfigurationError(
                "--require-client-cert needs --tls-ca (the CA to verify client certificates with)"
            )
        return server_tls_context(
            args.tls_cert, args.tls_key, args.tls_ca, args.require_client_cert
        )
    if not (args.tls or args.tls_ca or args.tls_cert):
        return None
    return client_tls_context(args.tls_ca, args.tls_cert, args.tls_key, verify=not args.no_verify)


def report_association_error(
    exc: OSError | DicomNetError,
    *,
    rejection_text: Callable[[AssociationRejected], str] | None = None,
) -> int:
    """Print why an association failed to stderr; the exit code that says so.

    Rejected 3, aborted 4, a timer expired 5, anything else (no connection,
    a protocol error) 6. ``rejection_text`` words a rejection (default:
    ``Association Rejected: <the exception>``).
    """
    if isinstance(exc, AssociationRejected):
        text = rejection_text(exc) if rejection_text else f"Association Rejected: {exc}"
        print(text, file=sys.stderr)
        return EXIT_REJECTED
    if isinstance(exc, AssociationAborted):
        print(f"Association Aborted: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    if isinstance(exc, TimeoutExpired):
        print(f"Timeout: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    print(f"Association Request Failed: {exc}", file=sys.stderr)
    return EXIT_NETWORK
