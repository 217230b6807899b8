"""DIMSE status codes and their categories (PS3.7 Annex C, PS3.4 service annexes).

A Status (0000,0900) is a 16-bit code whose *class* follows from its value
alone (PS3.7 Annex C, introduction):

=========  ==========================================
Success    0000
Warning    0001, Bxxx, 0107, 0116
Failure    Axxx, Cxxx, 01xx (except 0107, 0116), 02xx
Cancel     FE00
Pending    FF00, FF01
=========  ==========================================

The standard forbids any other value. A peer that sends one anyway gets its
response treated as a failure: that is the only reading that never mistakes
a broken operation for a finished one.

Meanings inside the Axxx/Bxxx/Cxxx ranges are defined per service class in
PS3.4, so the same number can mean different things in a C-STORE-RSP and a
C-MOVE-RSP; :func:`describe` takes the command field to pick the right text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

__all__ = ["DimseStatus", "Status", "StatusCategory", "category", "describe"]


class StatusCategory(Enum):
    """The five status classes of PS3.7 Annex C."""

    SUCCESS = "success"
    PENDING = "pending"
    CANCEL = "cancel"
    WARNING = "warning"
    FAILURE = "failure"


class Status(IntEnum):
    """Named status codes: the general ones of PS3.7 Annex C and common PS3.4 ones.

    Codes from the service-specific ranges are the first code of their range
    where PS3.4 assigns a whole range (A7xx, A9xx, Cxxx); :func:`category` and
    :func:`describe` handle every other value of those ranges too.
    """

    # PS3.7 Annex C general statuses
    SUCCESS = 0x0000
    WARNING = 0x0001
    NO_SUCH_ATTRIBUTE = 0x0105
    INVALID_ATTRIBUTE_VALUE = 0x0106
    ATTRIBUTE_LIST_ERROR = 0x0107
    PROCESSING_FAILURE = 0x0110
    DUPLICATE_SOP_INSTANCE = 0x0111
    NO_SUCH_SOP_INSTANCE = 0x0112
    NO_SUCH_EVENT_TYPE = 0x0113
    NO_SUCH_ARGUMENT = 0x0114
    INVALID_ARGUMENT_VALUE = 0x0115
    ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
    INVALID_OBJECT_INSTANCE = 0x0117
    NO_SUCH_SOP_CLASS = 0x0118
    CLASS_INSTANCE_CONFLICT = 0x0119
    MISSING_ATTRIBUTE = 0x0120
    MISSING_ATTRIBUTE_VALUE = 0x0121
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NO_SUCH_ACTION = 0x0123
    NOT_AUTHORIZED = 0x0124
    DUPLICATE_INVOCATION = 0x0210
    UNRECOGNIZED_OPERATION = 0x0211
    MISTYPED_ARGUMENT = 0x0212
    RESOURCE_LIMITATION = 0x0213
    CANCEL = 0xFE00
    PENDING = 0xFF00
    PENDING_WARNING = 0xFF01

    # PS3.4 Annex B (Storage) and Annex C (Query/Retrieve)
    OUT_OF_RESOURCES = 0xA700
    OUT_OF_RESOURCES_MATCHES = 0xA701
    OUT_OF_RESOURCES_SUBOPERATIONS = 0xA702
    MOVE_DESTINATION_UNKNOWN = 0xA801
    DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    CANNOT_UNDERSTAND = 0xC000
    COERCION_OF_DATA_ELEMENTS = 0xB000
    ELEMENTS_DISCARDED = 0xB006
    DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007

    # PS3.4 Annex H (Print Management)
    MEMORY_ALLOCATION_NOT_SUPPORTED = 0xB600
    FILM_SESSION_PRINTING_NOT_SUPPORTED = 0xB601
    FILM_SESSION_EMPTY_PAGE = 0xB602
    FILM_BOX_EMPTY_PAGE = 0xB603
    IMAGE_DEMAGNIFIED = 0xB604
    DENSITY_OUTSIDE_RANGE = 0xB605
    IMAGE_CROPPED = 0xB609
    IMAGE_DECIMATED = 0xB60A
    FILM_SESSION_NO_FILM_BOX = 0xC600
    PRINT_QUEUE_FULL_SESSION = 0xC601
    PRINT_QUEUE_FULL_BOX = 0xC602
    IMAGE_LARGER_THAN_BOX = 0xC603
    PRINTER_OUT_OF_MEMORY = 0xC605
    COMBINED_IMAGE_LARGER_THAN_BOX = 0xC613
    UNPRINTED_FILM_BOX_EXISTS = 0xC616


# The "Axxx/Bxxx/Cxxx" ranges: PS3.7 lets PS3.4 assign them per service class.
_WARNING_SINGLES: Final = frozenset({0x0001, 0x0107, 0x0116})


def category(code: int) -> StatusCategory:
    """Return the status class of any 16-bit ``code`` (PS3.7 Annex C).

    Values outside the table of Annex C (which the standard forbids) are
    classed as failures.
    """
    if code == 0x0000:
        return StatusCategory.SUCCESS
    if code in (0xFF00, 0xFF01):
        return StatusCategory.PENDING
    if code == 0xFE00:
        return StatusCategory.CANCEL
    if code in _WARNING_SINGLES or 0xB000 <= code <= 0xBFFF:
        return StatusCategory.WARNING
    return StatusCategory.FAILURE


# Text for the general statuses, in the words of this project.
_GENERAL_TEXT: Final[dict[int, str]] = {
    0x0000: "Success",
    0x0001: "Warning: requested optional attributes are not supported",
    0x0105: "Failure: no such attribute",
    0x0106: "Failure: invalid attribute value",
    0x0107: "Warning: attribute list error",
    0x0110: "Failure: processing failure",
    0x0111: "Failure: duplicate SOP instance",
    0x0112: "Failure: no such SOP instance",
    0x0113: "Failure: no such event type",
    0x0114: "Failure: no such argument",
    0x0115: "Failure: invalid argument value",
    0x0116: "Warning: attribute value out of range",
    0x0117: "Failure: invalid object instance",
    0x0118: "Failure: no such SOP class",
    0x0119: "Failure: class-instance conflict",
    0x0120: "Failure: missing attribute",
    0x0121: "Failure: missing attribute value",
    0x0122: "Failure: refused, SOP class not supported",
    0x0123: "Failure: no such action",
    0x0124: "Failure: refused, not authorized",
    0x0210: "Failure: duplicate invocation",
    0x0211: "Failure: unrecognized operation",
    0x0212: "Failure: mistyped argument",
    0x0213: "Failure: resource limitation",
    0xFE00: "Cancel: operation terminated by a cancel request",
    0xFF00: "Pending: operation continuing",
    0xFF01: "Pending: continuing, one or more optional keys not supported",
}

# Service-specific text, keyed by the low bits of the command field (the same
# for request and response): 0x0001 C-STORE, 0x0010 C-GET, 0x0020 C-FIND,
# 0x0021 C-MOVE.
_C_STORE, _C_GET, _C_FIND, _C_MOVE = 0x0001, 0x0010, 0x0020, 0x0021

_SERVICE_TEXT: Final[dict[int, dict[int, str]]] = {
    _C_STORE: {
        0xB000: "Warning: coercion of data elements",
        0xB006: "Warning: elements discarded",
        0xB007: "Warning: data set does not match SOP class",
    },
    _C_FIND: {
        0xFE00: "Cancel: matching terminated by a cancel request",
        0xFF00: "Pending: match returned, all optional keys supported",
        0xFF01: "Pending: match returned, one or more optional keys not supported",
    },
    _C_GET: {
        0xA701: "Failure: out of resources, unable to calculate number of matches",
        0xA702: "Failure: out of resources, unable to perform sub-operations",
        0xB000: "Warning: sub-operations complete, one or more failures or warnings",
        0xFE00: "Cancel: sub-operations terminated by a cancel request",
        0xFF00: "Pending: sub-operations continuing",
    },
    _C_MOVE: {
        0xA701: "Failure: out of resources, unable to calculate number of matches",
        0xA702: "Failure: out of resources, unable to perform sub-operations",
        0xA801: "Failure: move destination unknown",
        0xB000: "Warning: sub-operations complete, one or more failures or warnings",
        0xFE00: "Cancel: sub-operations terminated by a cancel request",
        0xFF00: "Pending: sub-operations continuing",
    },
}

# Print Management codes (PS3.4 Annex H) are unique to that service class.
_PRINT_TEXT: Final[dict[int, str]] = {
    0xB600: "Warning: memory allocation not supported",
    0xB601: "Warning: film session printing (collation) not supported",
    0xB602: "Warning: film session has no image box instances (empty page)",
    0xB603: "Warning: film box has no image box instances (empty page)",
    0xB604: "Warning: image larger than image box, image demagnified",
    0xB605: "Warning: requested min/max density outside the printer's range",
    0xB609: "Warning: image larger than image box, image cropped",
    0xB60A: "Warning: image larger than image box, image decimated",
    0xC600: "Failure: film session has no film box instances",
    0xC601: "Failure: unable to create print job, print queue full",
    0xC602: "Failure: unable to create print job, print queue full",
    0xC603: "Failure: image larger than image box",
    0xC605: "Failure: insufficient memory in printer to store the image",
    0xC613: "Failure: combined print image larger than image box",
    0xC616: "Failure: an unprinted film box exists and film session printing is not supported",
}


def _range_text(code: int, service: int | None) -> str | None:
    high = code & 0xF000
    if code & 0xFF00 == 0xA700:
        return "Failure: refused, out of resources"
    if code & 0xFF00 == 0xA900:
        if service in (_C_FIND, _C_GET, _C_MOVE):
            return "Failure: identifier does not match SOP class"
        return "Failure: data set does not match SOP class"
    if high == 0xC000:
        if service == _C_STORE:
            return "Failure: cannot understand"
        if service in (_C_FIND, _C_GET, _C_MOVE):
            return "Failure: unable to process"
        return "Failure: service-specific failure"
    if high == 0xA000:
        return "Failure: service-specific failure"
    if high == 0xB000:
        if code == 0xB000 and service is None:
            return (
                "Warning: coercion of data elements (C-STORE) or sub-operations"
                " complete with failures or warnings (C-GET, C-MOVE)"
            )
        return "Warning: service-specific warning"
    return None


def describe(code: int, command_field: int | None = None) -> str:
    """A one-line English description of status ``code``.

    ``command_field`` (of the request or the response) selects the PS3.4
    meaning where a service class gives a code its own meaning. Unknown codes
    are described by their class.
    """
    service = None if command_field is None else command_field & 0x7FFF
    if service is not None:
        text = _SERVICE_TEXT.get(service, {}).get(code)
        if text is not None:
            return text
    text = _GENERAL_TEXT.get(code) or _PRINT_TEXT.get(code) or _range_text(code, service)
    if text is not None:
        return text
    return f"{category(code).value.capitalize()}: unrecognised status 0x{code:04X}"


@dataclass(frozen=True, slots=True)
class DimseStatus:
    """A status with the optional detail fields of PS3.7 Annex C.

    ``offending_elements`` holds Offending Element (0000,0901) tags as
    32-bit integers (group << 16 | element).
    """

    code: int
    error_comment: str | None = None
    offending_elements: tuple[int, ...] = ()
    error_id: int | None = None

    @property
    def category(self) -> StatusCategory:
        """The status class of :attr:`code`."""
        return category(self.code)

    @property
    def is_success(self) -> bool:
        """True for 0x0000."""
        return self.code == 0x0000

    @property
    def is_pending(self) -> bool:
        """True for 0xFF00 and 0xFF01."""
        return self.code in (0xFF00, 0xFF01)

    @property
    def is_cancel(self) -> bool:
        """True for 0xFE00."""
        return self.code == 0xFE00

    @property
    def is_warning(self) -> bool:
        """True for the warning class (0001, 0107, 0116, Bxxx)."""
        return category(self.code) is StatusCategory.WARNING

    @property
    def is_failure(self) -> bool:
        """True for the failure class, including codes the standard does not define."""
        return category(self.code) is StatusCategory.FAILURE

    def describe(self, command_field: int | None = None) -> str:
        """See :func:`describe`."""
        return describe(self.code, command_field)
