"""What an association agreed, read-only: the negotiation outcome and the peer's request.

The base of :class:`~dicomnet.association.core.Association`, which sets the
attributes declared here as the association is negotiated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomnet.errors import LocalError, NegotiationError
from dicomnet.policy import Policy
from dicomnet_pdu.items import SOPClassCommonExtendedNegotiation, UserIdentityRQ
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ

if TYPE_CHECKING:
    from dicomnet.negotiation import Negotiated, NegotiatedContext

__all__ = ["AssociationView"]


class AssociationView:
    """The negotiated contexts, AE titles, user identity and extended negotiation."""

    policy: Policy
    _negotiated: Negotiated | None
    _request: AAssociateRQ | None
    _accept: AAssociateAC | None
    _ended: bool
    _released: bool

    @property
    def negotiated(self) -> Negotiated:
        """The negotiation outcome (only once established)."""
        if self._negotiated is None:
            raise LocalError("the association is not established")
        return self._negotiated

    @property
    def contexts(self) -> tuple[NegotiatedContext, ...]:
        """The accepted presentation contexts."""
        return tuple(self.negotiated.contexts)

    @property
    def local_ae_title(self) -> str:
        """Our AE title on this association."""
        if self._negotiated is not None:
            return self._negotiated.local_ae_title
        return self.policy.ae_title

    @property
    def peer_ae_title(self) -> str:
        """The peer's AE title (called AE for a requestor, calling AE for an acceptor)."""
        if self._negotiated is not None:
            return self._negotiated.peer_ae_title
        return self._request.called_ae_title if self._request is not None else ""

    @property
    def request(self) -> AAssociateRQ | None:
        """The A-ASSOCIATE-RQ (sent by us as requestor, received as acceptor)."""
        return self._request

    @property
    def user_identity(self) -> UserIdentityRQ | None:
        """The requestor's user identity (PS3.7 D.3.3.7), if it sent one."""
        return None if self._request is None else self._request.user_information.user_identity_rq

    @property
    def identity_response(self) -> bytes | None:
        """The server response of user identity negotiation in the A-ASSOCIATE-AC, if any."""
        if self._accept is None:
            return None
        answer = self._accept.user_information.user_identity_ac
        return None if answer is None else answer.server_response

    @property
    def extended(self) -> dict[str, bytes]:
        """Agreed SOP class extended negotiation: SOP class UID -> application information."""
        return dict(self.negotiated.extended)

    @property
    def common_extended(self) -> tuple[SOPClassCommonExtendedNegotiation, ...]:
        """The requestor's SOP class common extended negotiation items (no answer exists)."""
        if self._request is None:
            return ()
        return self._request.user_information.sop_class_common_extended

    @property
    def is_established(self) -> bool:
        """Whether DIMSE messages can be exchanged now."""
        return self._negotiated is not None and not self._ended and not self._released

    @property
    def is_ended(self) -> bool:
        """Whether the association is over (released, aborted, rejected or lost)."""
        return self._ended

    def context_for(
        self, sop_class_uid: str, context: int | NegotiatedContext | None = None
    ) -> NegotiatedContext:
        """The accepted context to send a request for ``sop_class_uid`` on (we are SCU)."""
        negotiated = self.negotiated
        if isinstance(context, int):
            found = negotiated.context_by_id(context)
            if found is None:
                raise NegotiationError(f"no accepted presentation context with ID {context}")
            return found
        if context is not None:
            return context
        found = negotiated.context_for(sop_class_uid, role="scu")
        if found is None:
            raise NegotiationError(f"no accepted presentation context for {sop_class_uid}")
        return found
