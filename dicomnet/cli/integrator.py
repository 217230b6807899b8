"""The integrator's options of every server program: what overrides the profile.

:func:`add_integrator_options` adds them to a parser (``dicomnet serve`` and the
example servers); :func:`overrides_from` turns the parsed namespace into a
:class:`~dicomnet.overrides.PolicyOverrides`. The names are those of the
system file's per-AE keys with ``-`` for ``_`` (see :mod:`dicomnet.overrides`).
"""

from __future__ import annotations

import argparse

from dicomnet.overrides import PolicyOverrides
from dicomnet.policy import LimitMode

from .options import ae_title

__all__ = ["add_integrator_options", "overrides_from"]

_GROUP = "integrator (overrides the profile; also per AE in a system file)"


def _title_or_any(text: str) -> str:
    return "*" if text == "*" else ae_title(text)


def add_integrator_options(
    parser: argparse.ArgumentParser, *, max_pdu: bool = True, host: bool = False
) -> None:
    """Add the group; ``max_pdu``/``host`` False when the parser has its own of those."""
    group = parser.add_argument_group(_GROUP)
    group.add_argument(
        "--calling-aet",
        action="append",
        type=_title_or_any,
        default=None,
        metavar="AET",
        help="accept only this calling AE title (repeat for several; * = any)",
    )
    group.add_argument(
        "--called-aet",
        action="append",
        type=_title_or_any,
        default=None,
        metavar="AET",
        help="answer to this called AE title (repeat for several; * = any)",
    )
    if max_pdu:
        group.add_argument(
            "--max-pdu", type=int, default=None, metavar="BYTES", help="maximum PDU we receive"
        )
    group.add_argument(
        "--max-associations",
        type=int,
        default=None,
        metavar="N",
        help="associations at once (0 = unlimited)",
    )
    group.add_argument(
        "--on-association-limit",
        choices=[mode.value for mode in LimitMode],
        default=None,
        help="past the limit: reject (A-ASSOCIATE-RJ) or queue the connection",
    )
    group.add_argument(
        "--pack-command-and-data",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="command and data set PDVs in one PDU",
    )
    group.add_argument(
        "--max-pdvs-per-pdu",
        type=int,
        default=None,
        metavar="N",
        help="PDVs per P-DATA-TF PDU we send (0 = as many as fit)",
    )
    group.add_argument(
        "--tcp-nodelay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TCP_NODELAY on the connections",
    )
    if host:
        group.add_argument("--host", default=None, help="address to listen on")


def overrides_from(args: argparse.Namespace) -> PolicyOverrides:
    """The overrides the parsed options give (raises ValueError for a negative number)."""
    limit = getattr(args, "on_association_limit", None)
    calling = getattr(args, "calling_aet", None)
    called = getattr(args, "called_aet", None)
    return PolicyOverrides(
        calling_aet=None if calling is None else tuple(calling),
        called_aet=None if called is None else tuple(called),
        max_pdu=getattr(args, "max_pdu", None),
        max_associations=getattr(args, "max_associations", None),
        on_association_limit=None if limit is None else LimitMode(limit),
        pack_command_and_data=getattr(args, "pack_command_and_data", None),
        max_pdvs_per_pdu=getattr(args, "max_pdvs_per_pdu", None),
        tcp_nodelay=getattr(args, "tcp_nodelay", None),
    )
