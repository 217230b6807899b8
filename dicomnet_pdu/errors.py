"""Errors raised by the sans-IO Upper Layer.

Two classes, as in h11: :class:`LocalProtocolError` means the caller asked for
something the protocol does not allow; :class:`RemoteProtocolError` means the
peer sent something wrong, and carries the A-ABORT source and reason that the
standard asks us to answer with (PS3.8 Table 9-26).
"""

from __future__ import annotations

from .codes import AbortReason, AbortSource

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of every error raised by :mod:`dicomnet_pdu`."""


class LocalProtocolError(ProtocolError, ValueError):
    """The local user misused the API or built an invalid PDU."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break PS3.8.

    ``abort_source`` and ``abort_reason`` are what to put in the A-ABORT PDU
    sent in reply: the source is always the service-provider (2) for errors
    found while decoding.
    """

    def __init__(
        self,
        message: str,
        *,
        abort_reason: AbortReason = AbortReason.NOT_SPECIFIED,
        abort_source: AbortSource = AbortSource.SERVICE_PROVIDER,
    ) -> None:
        super().__init__(message)
        self.abort_source = abort_source
        self.abort_reason = abort_reason

    def __repr__(self) -> str:
        return (
            f"RemoteProtocolError({self.args[0]!r}, abort_source={self.abort_source.name},"
            f" abort_reason={self.abort_reason.name})"
        )
