"""Sans-IO DICOM Upper Layer (PS3.8): PDU codec, PDV framing and the DUL state machine.

This package imports nothing outside the standard library and performs no I/O.
"""

from __future__ import annotations

from .codec import decode_pdu, encode_pdata_segments, encode_pdu
from .codes import (
    DEFAULT_APPLICATION_CONTEXT,
    AbortReason,
    AbortSource,
    ItemType,
    PDUType,
    PresentationContextResult,
    RejectReasonACSE,
    RejectReasonPresentation,
    RejectReasonUser,
    RejectResult,
    RejectSource,
    SubItemType,
    UserIdentityType,
)
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .framer import PDUFramer
from .items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from .pdus import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

__all__ = [
    "DEFAULT_APPLICATION_CONTEXT",
    "PDU",
    "PDV",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "AbortReason",
    "AbortSource",
    "AsynchronousOperationsWindow",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "ItemType",
    "LocalProtocolError",
    "MaximumLength",
    "PDUFramer",
    "PDUType",
    "PDataTF",
    "PresentationContextAC",
    "PresentationContextRQ",
    "PresentationContextResult",
    "ProtocolError",
    "RejectReasonACSE",
    "RejectReasonPresentation",
    "RejectReasonUser",
    "RejectResult",
    "RejectSource",
    "RemoteProtocolError",
    "RoleSelection",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "SubItem",
    "SubItemType",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserIdentityType",
    "UserInformation",
    "decode_pdu",
    "encode_pdata_segments",
    "encode_pdu",
]
