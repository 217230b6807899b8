"""The exception tree of dicomnet, rooted at :class:`DicomNetError`."""

from __future__ import annotations

from dicomnet_pdu.codes import AbortReason, AbortSource, RejectResult, RejectSource
from dicomnet_pdu.pdus import AAssociateRJ

__all__ = [
    "AssociationAborted",
    "AssociationRejected",
    "ConfigurationError",
    "DicomNetError",
    "DimseError",
    "LocalError",
    "NegotiationError",
    "PeerProtocolError",
    "TimeoutExpired",
]


class DicomNetError(Exception):
    """Base of every error raised by dicomnet."""


class LocalError(DicomNetError):
    """The local program asked for something that cannot be done (misuse)."""


class ConfigurationError(LocalError):
    """A profile, policy or option is invalid. The message names file, key and problem."""


class NegotiationError(LocalError):
    """No accepted presentation context fits the request (e.g. SOP class not negotiated)."""


class PeerProtocolError(DicomNetError):
    """The peer broke PS3.7/PS3.8; the association was aborted because of it."""


class AssociationRejected(DicomNetError):
    """The peer answered A-ASSOCIATE-RJ (PS3.8 Table 9-21)."""

    def __init__(self, result: RejectResult, source: RejectSource, reason: int) -> None:
        self.result = result
        self.source = source
        self.reason = reason
        name = AAssociateRJ(result=result, source=source, reason=reason).reason_name()
        super().__init__(
            f"association rejected: result={int(result)} ({result.name.lower()}),"
            f" source={int(source)} ({source.name.lower()}), reason={reason} ({name})"
        )


class AssociationAborted(DicomNetError):
    """The association ended by A-ABORT (from the peer) or A-P-ABORT (from the provider)."""

    def __init__(self, source: AbortSource, reason: AbortReason, message: str = "") -> None:
        self.source = source
        self.reason = reason
        text = f"association aborted: source={source.name.lower()}, reason={reason.name.lower()}"
        super().__init__(f"{text}: {message}" if message else text)


class TimeoutExpired(DicomNetError, TimeoutError):
    """A named timer ran out: ``artim``, ``associate``, ``dimse``, ``connect`` or ``release``."""

    def __init__(self, timer: str, seconds: float, message: str = "") -> None:
        self.timer = timer
        self.seconds = seconds
        text = f"{timer} timeout expired after {seconds:g} s"
        super().__init__(f"{text}: {message}" if message else text)


class DimseError(DicomNetError):
    """A DIMSE message could not be encoded/decoded, or a response did not fit its request."""
