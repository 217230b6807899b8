"""Code values of the DICOM Upper Layer protocol (PS3.8 §9.3, Annex D; PS3.7 Annex D.3.3).

Every value here is a fact from the standard; names follow the standard's wording.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "DEFAULT_APPLICATION_CONTEXT",
    "AbortReason",
    "AbortSource",
    "ItemType",
    "PDUType",
    "PresentationContextResult",
    "RejectReasonACSE",
    "RejectReasonPresentation",
    "RejectReasonUser",
    "RejectResult",
    "RejectSource",
    "SubItemType",
    "UserIdentityType",
]

#: The only application context name defined by DICOM (PS3.7 Annex A.2.1).
DEFAULT_APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"


class PDUType(IntEnum):
    """PDU-type byte (PS3.8 §9.3.1)."""

    ASSOCIATE_RQ = 0x01
    ASSOCIATE_AC = 0x02
    ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    RELEASE_RQ = 0x05
    RELEASE_RP = 0x06
    ABORT = 0x07


class ItemType(IntEnum):
    """Item-type byte of the variable items of A-ASSOCIATE-RQ/AC (PS3.8 §9.3.2, §9.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50


class SubItemType(IntEnum):
    """User-information sub-item types (PS3.8 Annex D.1, PS3.7 Annex D.3.3)."""

    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class PresentationContextResult(IntEnum):
    """Result/Reason of a presentation context in A-ASSOCIATE-AC (PS3.8 Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class RejectResult(IntEnum):
    """Result field of A-ASSOCIATE-RJ (PS3.8 Table 9-21)."""

    PERMANENT = 1
    TRANSIENT = 2


class RejectSource(IntEnum):
    """Source field of A-ASSOCIATE-RJ (PS3.8 Table 9-21)."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReasonUser(IntEnum):
    """Reason/Diag. when the source is the service-user (1)."""

    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AE_TITLE_NOT_RECOGNIZED = 3
    CALLED_AE_TITLE_NOT_RECOGNIZED = 7


class RejectReasonACSE(IntEnum):
    """Reason/Diag. when the source is the service-provider, ACSE related function (2)."""

    NO_REASON_GIVEN = 1
    PROTOCOL_VERSION_NOT_SUPPORTED = 2


class RejectReasonPresentation(IntEnum):
    """Reason/Diag. when the source is the service-provider, presentation related (3)."""

    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


class AbortSource(IntEnum):
    """Source field of A-ABORT (PS3.8 Table 9-26); 1 is reserved."""

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(IntEnum):
    """Reason/Diag. of A-ABORT when the source is the service-provider (PS3.8 Table 9-26)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class UserIdentityType(IntEnum):
    """User-Identity-Type of sub-item 0x58 (PS3.7 Table D.3-14)."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5
