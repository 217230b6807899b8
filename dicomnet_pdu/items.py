"""Items and user-information sub-items of A-ASSOCIATE-RQ/AC (PS3.8 §9.3.2-9.3.3,
PS3.8 Annex D, PS3.7 Annex D.3.3).

All classes are immutable, slotted, keyword-only values that check their fields
when built, so an instance that exists is always encodable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from .codes import PresentationContextResult, UserIdentityType
from .errors import LocalProtocolError

__all__ = [
    "AsynchronousOperationsWindow",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "MaximumLength",
    "PresentationContextAC",
    "PresentationContextRQ",
    "RoleSelection",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "SubItem",
    "UserIdentityAC",
    "UserIdentityRQ",
    "UserInformation",
    "check_ae_title",
    "check_uid",
]

_MAX_UID_LENGTH = 64


def check_uid(uid: str, what: str, *, allow_empty: bool = False) -> str:
    """Return ``uid`` if it can go on the wire as a UID, else raise LocalProtocolError.

    The check is deliberately lenient on the character set (peers in the field
    send private UIDs that break PS3.5 §9.1), but strict on length and ASCII.
    Spaces are refused: a trailing space is padding on the wire, not part of a UID.
    """
    if not uid:
        if allow_empty:
            return uid
        raise LocalProtocolError(f"{what}: empty UID")
    if len(uid) > _MAX_UID_LENGTH:
        raise LocalProtocolError(f"{what}: UID longer than 64 characters: {uid!r}")
    if not uid.isascii() or not uid.isprintable() or " " in uid:
        raise LocalProtocolError(f"{what}: UID is not printable ASCII without spaces: {uid!r}")
    return uid


def check_ae_title(title: str, what: str) -> str:
    """Normalise an AE title: strip leading/trailing spaces, refuse empty or >16 bytes.

    Leading and trailing spaces are not significant (PS3.5 §6.2, AE VR); a title
    of spaces only is not allowed. Backslash and control characters are refused.
    """
    stripped = title.strip(" ")
    if not stripped:
        raise LocalProtocolError(f"{what}: AE title is empty or all spaces")
    if len(stripped) > 16:
        raise LocalProtocolError(f"{what}: AE title longer than 16 characters: {title!r}")
    if not stripped.isascii() or not stripped.isprintable() or "\\" in stripped:
        raise LocalProtocolError(f"{what}: AE title has a forbidden character: {title!r}")
    return stripped


def _check_u8(value: int, what: str, *, low: int = 0) -> None:
    if not low <= value <= 0xFF:
        raise LocalProtocolError(f"{what} must be in [{low}, 255], got {value}")


def _check_u16(value: int, what: str) -> None:
    if not 0 <= value <= 0xFFFF:
        raise LocalProtocolError(f"{what} must be in [0, 65535], got {value}")


def _check_u32(value: int, what: str) -> None:
    if not 0 <= value <= 0xFFFFFFFF:
        raise LocalProtocolError(f"{what} must be in [0, 4294967295], got {value}")


# --------------------------------------------------------------------------------------
# Presentation contexts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextRQ:
    """Presentation context item of an A-ASSOCIATE-RQ (item 0x20, Table 9-13).

    ``context_id`` is odd, 1-255. At least one transfer syntax is required.
    """

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_u8(self.context_id, "presentation context ID", low=1)
        if self.context_id % 2 == 0:
            raise LocalProtocolError(f"presentation context ID must be odd, got {self.context_id}")
        check_uid(self.abstract_syntax, "abstract syntax")
        if not self.transfer_syntaxes:
            raise LocalProtocolError("presentation context needs at least one transfer syntax")
        for ts in self.transfer_syntaxes:
            check_uid(ts, "transfer syntax")


@dataclass(frozen=True, slots=True, kw_only=True)
class PresentationContextAC:
    """Presentation context item of an A-ASSOCIATE-AC (item 0x21, Table 9-18).

    When ``result`` is not acceptance the transfer syntax is not significant and
    may be empty.
    """

    context_id: int
    result: PresentationContextResult
    transfer_syntax: str = ""

    def __post_init__(self) -> None:
        _check_u8(self.context_id, "presentation context ID", low=1)
        if not isinstance(self.result, PresentationContextResult):
            object.__setattr__(self, "result", PresentationContextResult(self.result))
        check_uid(
            self.transfer_syntax,
            "transfer syntax",
            allow_empty=self.result != PresentationContextResult.ACCEPTANCE,
        )


# --------------------------------------------------------------------------------------
# User information sub-items
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MaximumLength:
    """Maximum length received (0x51, PS3.8 Annex D.1). 0 means no limit."""

    maximum_length: int

    def __post_init__(self) -> None:
        _check_u32(self.maximum_length, "maximum length")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImplementationClassUID:
    """Implementation class UID (0x52, PS3.7 D.3.3.2)."""

    uid: str

    def __post_init__(self) -> None:
        check_uid(self.uid, "implementation class UID")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImplementationVersionName:
    """Implementation version name (0x55, PS3.7 D.3.3.2): 1-16 characters."""

    name: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 16 or not self.name.isascii():
            raise LocalProtocolError(
                f"implementation version name must be 1-16 ASCII characters: {self.name!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class AsynchronousOperationsWindow:
    """Asynchronous operations window (0x53, PS3.7 D.3.3.3). 0 means unlimited."""

    max_operations_invoked: int
    max_operations_performed: int

    def __post_init__(self) -> None:
        _check_u16(self.max_operations_invoked, "maximum operations invoked")
        _check_u16(self.max_operations_performed, "maximum operations performed")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSelection:
    """SCP/SCU role selection (0x54, PS3.7 D.3.3.4)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool

    def __post_init__(self) -> None:
        check_uid(self.sop_class_uid, "role selection SOP class UID")


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassExtendedNegotiation:
    """SOP class extended negotiation (0x56, PS3.7 D.3.3.5): opaque service-class bytes."""

    sop_class_uid: str
    service_class_application_information: bytes

    def __post_init__(self) -> None:
        check_uid(self.sop_class_uid, "extended negotiation SOP class UID")


@dataclass(frozen=True, slots=True, kw_only=True)
class SOPClassCommonExtendedNegotiation:
    """SOP class common extended negotiation (0x57, PS3.7 D.3.3.6), sub-item version 0."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_uid(self.sop_class_uid, "common extended negotiation SOP class UID")
        check_uid(self.service_class_uid, "common extended negotiation service class UID")
        for uid in self.related_general_sop_classes:
            check_uid(uid, "related general SOP class UID")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityRQ:
    """User identity negotiation, request form (0x58, PS3.7 D.3.3.7).

    ``secondary_field`` is the passcode and is only sent for type 2; it must be
    empty otherwise.
    """

    identity_type: UserIdentityType
    positive_response_requested: bool
    primary_field: bytes
    secondary_field: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.identity_type, UserIdentityType):
            object.__setattr__(self, "identity_type", UserIdentityType(self.identity_type))
        if len(self.primary_field) > 0xFFFF or len(self.secondary_field) > 0xFFFF:
            raise LocalProtocolError("user identity fields are limited to 65535 bytes")
        if self.identity_type != UserIdentityType.USERNAME_AND_PASSCODE and self.secondary_field:
            raise LocalProtocolError("a passcode is only sent with user identity type 2")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdentityAC:
    """User identity negotiation, accept form (0x59, PS3.7 D.3.3.7)."""

    server_response: bytes = b""

    def __post_init__(self) -> None:
        if len(self.server_response) > 0xFFFF:
            raise LocalProtocolError("user identity server response is limited to 65535 bytes")


SubItem: TypeAlias = (
    MaximumLength
    | ImplementationClassUID
    | ImplementationVersionName
    | AsynchronousOperationsWindow
    | RoleSelection
    | SOPClassExtendedNegotiation
    | SOPClassCommonExtendedNegotiation
    | UserIdentityRQ
    | UserIdentityAC
)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInformation:
    """User information item (0x50): its sub-items in wire order.

    Keeping the wire order lets a captured PDU be re-encoded byte for byte; the
    properties give typed access to the single-valued sub-items.
    """

    items: tuple[SubItem, ...] = field(default=())

    def _first(self, kind: type[object]) -> object | None:
        for item in self.items:
            if isinstance(item, kind):
                return item
        return None

    @property
    def maximum_length(self) -> int | None:
        """Maximum length received (0: unlimited), or None if not sent."""
        item = self._first(MaximumLength)
        return item.maximum_length if isinstance(item, MaximumLength) else None

    @property
    def implementation_class_uid(self) -> str | None:
        """Implementation class UID, or None if not sent."""
        item = self._first(ImplementationClassUID)
        return item.uid if isinstance(item, ImplementationClassUID) else None

    @property
    def implementation_version_name(self) -> str | None:
        """Implementation version name, or None if not sent."""
        item = self._first(ImplementationVersionName)
        return item.name if isinstance(item, ImplementationVersionName) else None

    @property
    def asynchronous_operations_window(self) -> AsynchronousOperationsWindow | None:
        """Asynchronous operations window, or None if not sent (no asynchrony)."""
        item = self._first(AsynchronousOperationsWindow)
        return item if isinstance(item, AsynchronousOperationsWindow) else None

    @property
    def role_selections(self) -> tuple[RoleSelection, ...]:
        """Every SCP/SCU role selection sub-item, in wire order."""
        return tuple(i for i in self.items if isinstance(i, RoleSelection))

    @property
    def sop_class_extended(self) -> tuple[SOPClassExtendedNegotiation, ...]:
        """Every SOP class extended negotiation sub-item, in wire order."""
        return tuple(i for i in self.items if isinstance(i, SOPClassExtendedNegotiation))

    @property
    def sop_class_common_extended(self) -> tuple[SOPClassCommonExtendedNegotiation, ...]:
        """Every SOP class common extended negotiation sub-item, in wire order."""
        return tuple(i for i in self.items if isinstance(i, SOPClassCommonExtendedNegotiation))

    @property
    def user_identity_rq(self) -> UserIdentityRQ | None:
        """User identity request sub-item, or None if not sent."""
        item = self._first(UserIdentityRQ)
        return item if isinstance(item, UserIdentityRQ) else None

    @property
    def user_identity_ac(self) -> UserIdentityAC | None:
        """User identity response sub-item, or None if not sent."""
        item = self._first(UserIdentityAC)
        return item if isinstance(item, UserIdentityAC) else None
