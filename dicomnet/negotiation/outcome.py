"""The outcome of association negotiation, as seen from the local AE."""

from __future__ import annotations

from dataclasses import dataclass, field

from dicomnet.errors import LocalError
from dicomnet_pdu.items import PresentationContextAC, UserIdentityRQ

__all__ = ["Negotiated", "NegotiatedContext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiatedContext:
    """One accepted presentation context.

    ``scu_role``/``scp_role`` say what *this* AE may do on the context: an
    acceptor with default roles has ``scp_role=True, scu_role=False``, a
    requestor with default roles the mirror (PS3.7 D.3.3.4).
    """

    context_id: int
    abstract_syntax: str
    transfer_syntax: str
    scu_role: bool
    scp_role: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiated:
    """Everything agreed in A-ASSOCIATE-RQ/AC, from the local AE's point of view.

    ``contexts`` holds the accepted contexts only; ``results`` every context's
    result as it was sent in the A-ASSOCIATE-AC. ``max_pdu_send`` is the largest
    PDU we may send (0 = unlimited), ``max_pdu_receive`` the one we announced.
    ``max_operations_invoked`` is how many requests we may have outstanding and
    ``max_operations_performed`` how many the peer may have us perform at once
    (0 = unlimited for both). ``extended`` maps a SOP class UID to the agreed
    service-class application information of SOP class extended negotiation.
    """

    local_ae_title: str
    peer_ae_title: str
    contexts: tuple[NegotiatedContext, ...]
    results: tuple[PresentationContextAC, ...]
    max_pdu_send: int
    max_pdu_receive: int
    max_operations_invoked: int = 1
    max_operations_performed: int = 1
    peer_implementation_class_uid: str = ""
    peer_implementation_version_name: str | None = None
    user_identity: UserIdentityRQ | None = None
    extended: dict[str, bytes] = field(default_factory=dict, hash=False)

    def context_by_id(self, context_id: int) -> NegotiatedContext | None:
        """The accepted context with ID ``context_id``, or None."""
        for context in self.contexts:
            if context.context_id == context_id:
                return context
        return None

    def context_for(
        self, abstract_syntax: str, role: str = "scu", transfer_syntax: str | None = None
    ) -> NegotiatedContext | None:
        """The first accepted context for ``abstract_syntax`` on which we may act as ``role``.

        ``role`` is ``"scu"`` (we send requests) or ``"scp"`` (we answer them);
        ``transfer_syntax``, when given, must match too.
        """
        if role not in ("scu", "scp"):
            raise LocalError(f"role must be 'scu' or 'scp', got {role!r}")
        for context in self.contexts:
            if context.abstract_syntax != abstract_syntax:
                continue
            if not (context.scu_role if role == "scu" else context.scp_role):
                continue
            if transfer_syntax is not None and context.transfer_syntax != transfer_syntax:
                continue
            return context
        return None
