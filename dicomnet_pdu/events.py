"""Upper Layer events that :class:`~dicomnet_pdu.connection.ULConnection` reports to its user.

These are the service primitives of PS3.8 §7 as seen by the local user: each
one is produced by an action of the DUL state machine (the action is named in
the docstring). They are immutable values; the association layer dispatches on
their type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .codes import AbortReason, AbortSource
from .pdus import AAssociateAC, AAssociateRJ, AAssociateRQ, PDataTF

__all__ = [
    "AbortIndication",
    "AssociateAccepted",
    "AssociateIndication",
    "AssociateRejected",
    "DataIndication",
    "DataRun",
    "ReleaseConfirmation",
    "ReleaseIndication",
    "TransportClosed",
    "ULEvent",
]


@dataclass(frozen=True, slots=True)
class AssociateIndication:
    """A-ASSOCIATE indication (AE-6): the peer asks for an association.

    The acceptor answers with ``send(AAssociateAC)`` or ``send(AAssociateRJ)``.
    """

    rq: AAssociateRQ


@dataclass(frozen=True, slots=True)
class AssociateAccepted:
    """A-ASSOCIATE confirmation, accept (AE-3): the peer accepted our request.

    PS3.8 leaves checking the A-ASSOCIATE-AC against the request to the user.
    """

    ac: AAssociateAC


@dataclass(frozen=True, slots=True)
class AssociateRejected:
    """A-ASSOCIATE confirmation, reject (AE-4): the peer rejected our request."""

    rj: AAssociateRJ


@dataclass(frozen=True, slots=True)
class DataIndication:
    """P-DATA indication (DT-2, AR-6): one received P-DATA-TF PDU."""

    pdata: PDataTF


@dataclass(frozen=True, slots=True)
class DataRun:
    """P-DATA indications (DT-2) of consecutive P-DATA-TF PDUs received together.

    Reported by :meth:`~dicomnet_pdu.connection.ULConnection.receive_buffer`
    instead of one :class:`DataIndication` per PDU: ``pdvs`` holds every PDV
    of those PDUs in order as ``(context ID, message control header,
    payload)``. The payloads are slices of the lent receive buffer: consume or
    copy them before that buffer changes.
    """

    pdvs: list[tuple[int, int, memoryview]]


@dataclass(frozen=True, slots=True)
class ReleaseIndication:
    """A-RELEASE indication (AR-2, or AR-8 when both sides asked to release at once).

    With ``collision`` true the requestor answers first with
    ``send(AReleaseRP())``; the acceptor answers after its
    :class:`ReleaseConfirmation` (PS3.8 §7.2).
    """

    collision: bool


@dataclass(frozen=True, slots=True)
class ReleaseConfirmation:
    """A-RELEASE confirmation (AR-3, AR-10): the peer answered our A-RELEASE-RQ."""


@dataclass(frozen=True, slots=True)
class AbortIndication:
    """A-ABORT or A-P-ABORT indication: the association is gone.

    ``from_peer`` is true when the peer sent an A-ABORT PDU (AA-3; ``source``
    and ``reason`` are the PDU's). It is false when the local service-provider
    ended the association: an unexpected or invalid PDU (AA-8, with the reason
    sent in our A-ABORT) or a transport connection closed without warning
    (AA-4, source service-provider, reason not specified).
    """

    source: AbortSource
    reason: AbortReason
    from_peer: bool


@dataclass(frozen=True, slots=True)
class TransportClosed:
    """The transport connection closed when that was expected, or after an abort."""


#: Any event :meth:`ULConnection.next_event` can return.
ULEvent: TypeAlias = (
    AssociateIndication
    | AssociateAccepted
    | AssociateRejected
    | DataIndication
    | DataRun
    | ReleaseIndication
    | ReleaseConfirmation
    | AbortIndication
    | TransportClosed
)
