"""Small pure rules shared by both sides of negotiation (PS3.7 D.3.3, PS3.8 Annex D.1)."""

from __future__ import annotations

from collections.abc import Iterable

from dicomnet_pdu.items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
)

__all__ = [
    "DEFAULT_WINDOW",
    "in_wire_order",
    "limit",
    "peer_max_length_problem",
    "role_answer",
]

#: Operations invoked/performed when no window sub-item is exchanged (PS3.7 D.3.3.3).
DEFAULT_WINDOW = (1, 1)

# Sub-items in the order of the sections of PS3.7 D.3.3 (D.3.3.1 to D.3.3.7).
_ORDER: tuple[type[object], ...] = (
    MaximumLength,
    ImplementationClassUID,
    ImplementationVersionName,
    AsynchronousOperationsWindow,
    RoleSelection,
    SOPClassExtendedNegotiation,
    SOPClassCommonExtendedNegotiation,
    UserIdentityRQ,
    UserIdentityAC,
)


def limit(first: int, second: int) -> int:
    """The smaller of two limits where 0 means unlimited (so 0 loses to any bound)."""
    if first == 0:
        return second
    if second == 0:
        return first
    return min(first, second)


def peer_max_length_problem(maximum_length: int | None, minimum: int) -> str | None:
    """Why the peer's Maximum Length Received makes the association unusable, or None.

    PS3.8 Annex D.1 sets no floor and 0 means no maximum; but a value below
    ``minimum`` (at least one PDV header and one byte) can never carry a DIMSE
    message, so nothing sent on the association could ever be answered.
    """
    if maximum_length is None or maximum_length == 0 or maximum_length >= minimum:
        return None
    return (
        f"peer's maximum PDU length {maximum_length} is below {minimum}:"
        " it cannot carry one PDV, so no DIMSE message could be sent to it"
    )


def role_answer(
    proposed_scu: bool, proposed_scp: bool, *, we_can_scu: bool, we_can_scp: bool
) -> tuple[bool, bool]:
    """The acceptor's answer to a role selection item (PS3.7 D.3.3.4).

    The requestor proposes the roles *it* wants; the acceptor may only return 1
    for a role that was proposed, and only when it can take the opposite role:
    the requestor acting as SCU needs us as SCP, and as SCP needs us as SCU.
    Returns the (SCU, SCP) values of the AC item, i.e. the requestor's roles.
    """
    return proposed_scu and we_can_scp, proposed_scp and we_can_scu


def in_wire_order(items: Iterable[SubItem]) -> tuple[SubItem, ...]:
    """``items`` sorted into the PS3.7 D.3.3 order, keeping the order within one kind."""
    return tuple(sorted(items, key=lambda item: _ORDER.index(type(item))))
