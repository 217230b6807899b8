"""dicomnet: an asyncio-native DICOM upper-layer network stack.

Typical use::

    ae = dicomnet.AE("MYSCU")
    async with ae.associate("pacs.example", 104, called_ae="PACS") as assoc:
        status = await assoc.echo()

    async with await dicomnet.AE("MYSCP").serve(port=11112) as server:
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ae import AE, AssociateCall, Server
    from .association import Association, Response, ResponseStream
    from .errors import (
        AssociationAborted,
        AssociationRejected,
        ConfigurationError,
        DicomNetError,
        DimseError,
        LocalError,
        NegotiationError,
        PeerProtocolError,
        TimeoutExpired,
    )
    from .policy import AcceptedContext, LimitMode, Policy, ProposedContext, Timers
    from .services import Binding, DataStream, IncomingRequest, Reply, VerificationService
    from .transport import client_tls_context, run, server_tls_context

# Names are imported on first use (PEP 562), so ``import dicomnet.errors`` or
# ``import dicomnet.dimse`` does not pull in the whole stack.
_EXPORTS = {
    "AE": "ae",
    "AssociateCall": "ae",
    "Server": "ae",
    "Association": "association",
    "Response": "association",
    "ResponseStream": "association",
    "AssociationAborted": "errors",
    "AssociationRejected": "errors",
    "ConfigurationError": "errors",
    "DicomNetError": "errors",
    "DimseError": "errors",
    "LocalError": "errors",
    "NegotiationError": "errors",
    "PeerProtocolError": "errors",
    "TimeoutExpired": "errors",
    "AcceptedContext": "policy",
    "LimitMode": "policy",
    "Policy": "policy",
    "ProposedContext": "policy",
    "Timers": "policy",
    "Binding": "services",
    "DataStream": "services",
    "IncomingRequest": "services",
    "Reply": "services",
    "VerificationService": "services",
    "client_tls_context": "transport",
    "run": "transport",
    "server_tls_context": "transport",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dicomnet' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__version__ = "0.1.0"

__all__ = [
    "AE",
    "AcceptedContext",
    "AssociateCall",
    "Association",
    "AssociationAborted",
    "AssociationRejected",
    "Binding",
    "ConfigurationError",
    "DataStream",
    "DicomNetError",
    "DimseError",
    "IncomingRequest",
    "LimitMode",
    "LocalError",
    "NegotiationError",
    "PeerProtocolError",
    "Policy",
    "ProposedContext",
    "Reply",
    "Response",
    "ResponseStream",
    "Server",
    "TimeoutExpired",
    "Timers",
    "VerificationService",
    "__version__",
    "client_tls_context",
    "run",
    "server_tls_context",
]
