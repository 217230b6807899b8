"""Association negotiation: pure functions over a Policy and A-ASSOCIATE PDUs.

* :func:`build_request` - the A-ASSOCIATE-RQ a requestor sends;
* :func:`evaluate_request` - the acceptor's A-ASSOCIATE-AC (or -RJ) and outcome;
* :func:`evaluate_accept` - the requestor's reading of the A-ASSOCIATE-AC;
* :func:`rejection_for_limit` - the RJ for a connection past the association limit.

Both sides describe the outcome as a :class:`Negotiated` seen from the local AE.
"""

from __future__ import annotations

from .acceptor import ExtendedCheck, IdentityCheck, evaluate_request, rejection_for_limit
from .outcome import Negotiated, NegotiatedContext
from .request import MAX_CONTEXTS, build_request
from .requestor import evaluate_accept

__all__ = [
    "MAX_CONTEXTS",
    "ExtendedCheck",
    "IdentityCheck",
    "Negotiated",
    "NegotiatedContext",
    "build_request",
    "evaluate_accept",
    "evaluate_request",
    "rejection_for_limit",
]
