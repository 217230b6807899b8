"""DIMSE command sets as values (PS3.7 §9.3 for DIMSE-C, §10.3 for DIMSE-N).

One frozen, slotted, keyword-only dataclass per message. Field names are the
snake_case forms of the PS3.7 element keywords; the wire layout lives in
:mod:`dicomnet.dimse.codec`. Every class carries its Command Field value as
the class attribute ``command_field`` and a ``has_dataset`` field standing for
Command Data Set Type (0000,0800): ``False`` is encoded as 0101H (no data set),
``True`` as 0001H, and on decode any value other than 0101H reads as ``True``.

Optional elements default to ``None`` (or ``()`` for tag lists) and are left
out of the encoded command set. Tags (Offending Element, Attribute Identifier
List) are 32-bit integers, ``group << 16 | element``.

Every response also carries the status detail elements of PS3.7 Annex C:
Offending Element (0000,0901), Error Comment (0000,0902) and Error ID
(0000,0903). Annex C attaches them to statuses, not to message types, so any
response may carry them next to a non-success status.

Values are not validated when constructed, so that decoding from the wire is
cheap; :func:`~dicomnet.dimse.codec.encode_command` checks ranges and string
lengths before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeAlias

from .drafts import draft_class
from .status import DimseStatus

__all__ = [
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CStoreRQ",
    "CStoreRSP",
    "CommandField",
    "DimseMessage",
    "DimseRequest",
    "DimseResponse",
    "Message",
    "NActionRQ",
    "NActionRSP",
    "NCreateRQ",
    "NCreateRSP",
    "NDeleteRQ",
    "NDeleteRSP",
    "NEventReportRQ",
    "NEventReportRSP",
    "NGetRQ",
    "NGetRSP",
    "NSetRQ",
    "NSetRSP",
    "Priority",
    "plain_store_rq",
    "plain_store_rsp",
]


class CommandField(IntEnum):
    """Command Field (0000,0100) values (PS3.7 Annex E)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """Priority (0000,0700) of C-STORE, C-FIND, C-GET and C-MOVE requests."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


# ---------------------------------------------------------------- bases


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base of every DIMSE message."""

    command_field: ClassVar[int]
    has_dataset: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseRequest(Message):
    """Base of the requests that carry a Message ID (0000,0110).

    C-CANCEL-RQ has none and derives from :class:`Message` directly.
    """

    message_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseResponse(Message):
    """Base of every response: the request's Message ID and a Status."""

    message_id_being_responded_to: int
    status: int
    offending_element: tuple[int, ...] = ()
    error_comment: str | None = None
    error_id: int | None = None

    @property
    def dimse_status(self) -> DimseStatus:
        """The status with its Annex C detail fields."""
        return DimseStatus(
            code=self.status,
            error_comment=self.error_comment,
            offending_elements=self.offending_element,
            error_id=self.error_id,
        )


# ---------------------------------------------------------------- DIMSE-C


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRQ(DimseRequest):
    """C-ECHO-RQ (PS3.7 §9.3.5.1)."""

    command_field: ClassVar[int] = CommandField.C_ECHO_RQ
    affected_sop_class_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CEchoRSP(DimseResponse):
    """C-ECHO-RSP (PS3.7 §9.3.5.2)."""

    command_field: ClassVar[int] = CommandField.C_ECHO_RSP
    affected_sop_class_uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRQ(DimseRequest):
    """C-STORE-RQ (PS3.7 §9.3.1.1). Move Originator fields are set for C-MOVE sub-operations."""

    command_field: ClassVar[int] = CommandField.C_STORE_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    priority: int = Priority.MEDIUM
    move_originator_ae_title: str | None = None
    move_originator_message_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CStoreRSP(DimseResponse):
    """C-STORE-RSP (PS3.7 §9.3.1.2)."""

    command_field: ClassVar[int] = CommandField.C_STORE_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None


# One C-STORE-RQ and one C-STORE-RSP are made per instance stored, on each side. The
# frozen __init__ sets each field through object.__setattr__; these fill a draft of the
# message with plain stores and make it the message (dicomnet.dimse.drafts), at a fifth
# of the cost. tests/dimse/test_commands.py holds them equal to the constructor's
# messages, field for field.
_STORE_RQ_DRAFT = draft_class(CStoreRQ)
_STORE_RSP_DRAFT = draft_class(CStoreRSP)


def plain_store_rq(
    *, message_id: int, sop_class_uid: str, sop_instance_uid: str, priority: int, has_dataset: bool
) -> CStoreRQ:
    """``CStoreRQ(...)`` with these fields and no Move Originator."""
    draft = _STORE_RQ_DRAFT()
    draft.has_dataset = has_dataset
    draft.message_id = message_id
    draft.affected_sop_class_uid = sop_class_uid
    draft.affected_sop_instance_uid = sop_instance_uid
    draft.priority = priority
    draft.move_originator_ae_title = None
    draft.move_originator_message_id = None
    draft.__class__ = CStoreRQ
    msg: CStoreRQ = draft
    return msg


def plain_store_rsp(
    *,
    responded_to: int,
    status: int,
    sop_class_uid: str | None,
    sop_instance_uid: str | None,
    has_dataset: bool,
) -> CStoreRSP:
    """``CStoreRSP(...)`` with these fields and no status detail fields."""
    draft = _STORE_RSP_DRAFT()
    draft.has_dataset = has_dataset
    draft.message_id_being_responded_to = responded_to
    draft.status = status
    draft.offending_element = ()
    draft.error_comment = None
    draft.error_id = None
    draft.affected_sop_class_uid = sop_class_uid
    draft.affected_sop_instance_uid = sop_instance_uid
    draft.__class__ = CStoreRSP
    msg: CStoreRSP = draft
    return msg


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRQ(DimseRequest):
    """C-FIND-RQ (PS3.7 §9.3.2.1); the identifier is the data set."""

    command_field: ClassVar[int] = CommandField.C_FIND_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CFindRSP(DimseResponse):
    """C-FIND-RSP (PS3.7 §9.3.2.2); pending responses carry an identifier."""

    command_field: ClassVar[int] = CommandField.C_FIND_RSP
    affected_sop_class_uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRQ(DimseRequest):
    """C-GET-RQ (PS3.7 §9.3.3.1)."""

    command_field: ClassVar[int] = CommandField.C_GET_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CGetRSP(DimseResponse):
    """C-GET-RSP (PS3.7 §9.3.3.2) with the sub-operation counters."""

    command_field: ClassVar[int] = CommandField.C_GET_RSP
    affected_sop_class_uid: str | None = None
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRQ(DimseRequest):
    """C-MOVE-RQ (PS3.7 §9.3.4.1)."""

    command_field: ClassVar[int] = CommandField.C_MOVE_RQ
    has_dataset: bool = True
    affected_sop_class_uid: str
    move_destination: str
    priority: int = Priority.MEDIUM


@dataclass(frozen=True, slots=True, kw_only=True)
class CMoveRSP(DimseResponse):
    """C-MOVE-RSP (PS3.7 §9.3.4.2) with the sub-operation counters."""

    command_field: ClassVar[int] = CommandField.C_MOVE_RSP
    affected_sop_class_uid: str | None = None
    number_of_remaining_suboperations: int | None = None
    number_of_completed_suboperations: int | None = None
    number_of_failed_suboperations: int | None = None
    number_of_warning_suboperations: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CCancelRQ(Message):
    """C-CANCEL-RQ (PS3.7 §9.3.2.3, §9.3.3.3, §9.3.4.3): cancels a C-FIND/C-GET/C-MOVE."""

    command_field: ClassVar[int] = CommandField.C_CANCEL_RQ
    message_id_being_responded_to: int


# ---------------------------------------------------------------- DIMSE-N


@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRQ(DimseRequest):
    """N-EVENT-REPORT-RQ (PS3.7 §10.3.1.1); Event Information is the data set."""

    command_field: ClassVar[int] = CommandField.N_EVENT_REPORT_RQ
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    event_type_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NEventReportRSP(DimseResponse):
    """N-EVENT-REPORT-RSP (PS3.7 §10.3.1.2); Event Reply is the data set."""

    command_field: ClassVar[int] = CommandField.N_EVENT_REPORT_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    event_type_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRQ(DimseRequest):
    """N-GET-RQ (PS3.7 §10.3.2.1); an empty attribute list asks for every attribute."""

    command_field: ClassVar[int] = CommandField.N_GET_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    attribute_identifier_list: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NGetRSP(DimseResponse):
    """N-GET-RSP (PS3.7 §10.3.2.2); the Attribute List is the data set."""

    command_field: ClassVar[int] = CommandField.N_GET_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    attribute_identifier_list: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRQ(DimseRequest):
    """N-SET-RQ (PS3.7 §10.3.3.1); the Modification List is the data set."""

    command_field: ClassVar[int] = CommandField.N_SET_RQ
    has_dataset: bool = True
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NSetRSP(DimseResponse):
    """N-SET-RSP (PS3.7 §10.3.3.2)."""

    command_field: ClassVar[int] = CommandField.N_SET_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    attribute_identifier_list: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRQ(DimseRequest):
    """N-ACTION-RQ (PS3.7 §10.3.4.1); Action Information is the data set."""

    command_field: ClassVar[int] = CommandField.N_ACTION_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    action_type_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NActionRSP(DimseResponse):
    """N-ACTION-RSP (PS3.7 §10.3.4.2); Action Reply is the data set."""

    command_field: ClassVar[int] = CommandField.N_ACTION_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    action_type_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRQ(DimseRequest):
    """N-CREATE-RQ (PS3.7 §10.3.5.1); without an instance UID the SCP assigns one."""

    command_field: ClassVar[int] = CommandField.N_CREATE_RQ
    affected_sop_class_uid: str
    affected_sop_instance_uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NCreateRSP(DimseResponse):
    """N-CREATE-RSP (PS3.7 §10.3.5.2)."""

    command_field: ClassVar[int] = CommandField.N_CREATE_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    attribute_identifier_list: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRQ(DimseRequest):
    """N-DELETE-RQ (PS3.7 §10.3.6.1)."""

    command_field: ClassVar[int] = CommandField.N_DELETE_RQ
    requested_sop_class_uid: str
    requested_sop_instance_uid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NDeleteRSP(DimseResponse):
    """N-DELETE-RSP (PS3.7 §10.3.6.2)."""

    command_field: ClassVar[int] = CommandField.N_DELETE_RSP
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None


DimseMessage: TypeAlias = (
    CEchoRQ
    | CEchoRSP
    | CStoreRQ
    | CStoreRSP
    | CFindRQ
    | CFindRSP
    | CGetRQ
    | CGetRSP
    | CMoveRQ
    | CMoveRSP
    | CCancelRQ
    | NEventReportRQ
    | NEventReportRSP
    | NGetRQ
    | NGetRSP
    | NSetRQ
    | NSetRSP
    | NActionRQ
    | NActionRSP
    | NCreateRQ
    | NCreateRSP
    | NDeleteRQ
    | NDeleteRSP
)
"""Any concrete DIMSE message."""
