"""The seven PDUs of the DICOM Upper Layer (PS3.8 §9.3).

Immutable, slotted, keyword-only values. A P-DATA-TF carries PDVs whose
``data`` may be a memoryview into a receive buffer (decode never copies a
payload) or any bytes-like object to send (encode never copies it either).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from .codes import (
    DEFAULT_APPLICATION_CONTEXT,
    AbortReason,
    AbortSource,
    RejectReasonACSE,
    RejectReasonPresentation,
    RejectReasonUser,
    RejectResult,
    RejectSource,
)
from .errors import LocalProtocolError
from .items import (
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
    check_ae_title,
    check_uid,
)

__all__ = [
    "PDU",
    "PDV",
    "AAbort",
    "AAssociateAC",
    "AAssociateRJ",
    "AAssociateRQ",
    "AReleaseRP",
    "AReleaseRQ",
    "PDataTF",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRQ:
    """A-ASSOCIATE-RQ (Table 9-11).

    AE titles are kept without padding. ``protocol_version`` is a bit field of
    which only bit 0 is tested on receipt.
    """

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQ, ...]
    user_information: UserInformation = field(default_factory=UserInformation)
    application_context_name: str = DEFAULT_APPLICATION_CONTEXT
    protocol_version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "called_ae_title", check_ae_title(self.called_ae_title, "called AE title")
        )
        object.__setattr__(
            self, "calling_ae_title", check_ae_title(self.calling_ae_title, "calling AE title")
        )
        check_uid(self.application_context_name, "application context name")
        if not 0 <= self.protocol_version <= 0xFFFF:
            raise LocalProtocolError(f"protocol version out of range: {self.protocol_version}")
        if len(self.presentation_contexts) > 128:
            raise LocalProtocolError("at most 128 presentation contexts can be proposed")


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateAC:
    """A-ASSOCIATE-AC (Table 9-17).

    The AE title fields are reserved in the AC: they are sent as in the RQ but
    not tested on receipt, so they are kept as received (stripped) and may be
    empty.
    """

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextAC, ...]
    user_information: UserInformation = field(default_factory=UserInformation)
    application_context_name: str = DEFAULT_APPLICATION_CONTEXT
    protocol_version: int = 1

    def __post_init__(self) -> None:
        for what, title in (("called", self.called_ae_title), ("calling", self.calling_ae_title)):
            if len(title.strip(" ")) > 16 or not title.isascii():
                raise LocalProtocolError(f"{what} AE title field too long or not ASCII: {title!r}")
        object.__setattr__(self, "called_ae_title", self.called_ae_title.strip(" "))
        object.__setattr__(self, "calling_ae_title", self.calling_ae_title.strip(" "))
        check_uid(self.application_context_name, "application context name")
        if not 0 <= self.protocol_version <= 0xFFFF:
            raise LocalProtocolError(f"protocol version out of range: {self.protocol_version}")


_REASONS: dict[RejectSource, type[RejectReasonUser | RejectReasonACSE | RejectReasonPresentation]]
_REASONS = {
    RejectSource.SERVICE_USER: RejectReasonUser,
    RejectSource.SERVICE_PROVIDER_ACSE: RejectReasonACSE,
    RejectSource.SERVICE_PROVIDER_PRESENTATION: RejectReasonPresentation,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AAssociateRJ:
    """A-ASSOCIATE-RJ (Table 9-21).

    ``reason`` is an int because its meaning depends on ``source``; use
    :meth:`reason_name` for the standard's wording. Reserved reason values are
    accepted on receipt (they exist on the wire) but are never produced by us.
    """

    result: RejectResult
    source: RejectSource
    reason: int

    def __post_init__(self) -> None:
        if not isinstance(self.result, RejectResult):
            object.__setattr__(self, "result", RejectResult(self.result))
        if not isinstance(self.source, RejectSource):
            object.__setattr__(self, "source", RejectSource(self.source))
        if not 0 <= self.reason <= 0xFF:
            raise LocalProtocolError(f"reject reason out of range: {self.reason}")

    def reason_name(self) -> str:
        """The standard's name of ``reason`` for this ``source`` ("reserved" if none)."""
        try:
            return _REASONS[self.source](self.reason).name.lower().replace("_", "-")
        except ValueError:
            return "reserved"


@dataclass(frozen=True, slots=True, kw_only=True)
class PDV:
    """One presentation data value item (Table 9-23) with its control header (Annex E.2)."""

    context_id: int
    is_command: bool
    is_last: bool
    data: BytesLike

    def __post_init__(self) -> None:
        if not 1 <= self.context_id <= 255:
            raise LocalProtocolError(f"presentation context ID out of range: {self.context_id}")

    @property
    def control_header(self) -> int:
        """Message control header byte: bit 0 command, bit 1 last fragment (Annex E.2)."""
        return (0x01 if self.is_command else 0x00) | (0x02 if self.is_last else 0x00)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PDV):
            return NotImplemented
        return (
            self.context_id == other.context_id
            and self.is_command == other.is_command
            and self.is_last == other.is_last
            and bytes(self.data) == bytes(other.data)
        )

    def __hash__(self) -> int:
        return hash((self.context_id, self.is_command, self.is_last, bytes(self.data)))


@dataclass(frozen=True, slots=True, kw_only=True)
class PDataTF:
    """P-DATA-TF (Table 9-22): one or more PDVs."""

    pdvs: tuple[PDV, ...]

    def __post_init__(self) -> None:
        if not self.pdvs:
            raise LocalProtocolError("a P-DATA-TF carries at least one PDV")


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseRQ:
    """A-RELEASE-RQ (Table 9-24)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AReleaseRP:
    """A-RELEASE-RP (Table 9-25)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AAbort:
    """A-ABORT (Table 9-26). The reason is not significant when the source is the user."""

    source: AbortSource = AbortSource.SERVICE_USER
    reason: AbortReason = AbortReason.NOT_SPECIFIED

    def __post_init__(self) -> None:
        if not isinstance(self.source, AbortSource):
            object.__setattr__(self, "source", AbortSource(self.source))
        if not isinstance(self.reason, AbortReason):
            object.__setattr__(self, "reason", AbortReason(self.reason))


PDU: TypeAlias = (
    AAssociateRQ | AAssociateAC | AAssociateRJ | PDataTF | AReleaseRQ | AReleaseRP | AAbort
)
