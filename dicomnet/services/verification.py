"""The Verification Service Class (PS3.4 Annex A; C-ECHO, PS3.7 §9.1.5).

SCP: :class:`VerificationService` answers every C-ECHO-RQ with Success
(0000H) unless given another status or a handler. SCU: :func:`echo`, the same
as :meth:`dicomnet.association.Association.echo`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import DimseStatus
from dicomnet.policy import VERIFICATION_SOP_CLASS

from .base import Binding, IncomingRequest, Reply

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["VERIFICATION_SOP_CLASS", "VerificationService", "echo"]


class VerificationService:
    """C-ECHO SCP.

    ``status`` is the answer (default 0x0000 Success). ``handler``, when given,
    is awaited for each C-ECHO-RQ and its result is the answer instead (a
    status ``int`` or a :class:`~dicomnet.services.base.Reply`).
    """

    def __init__(
        self,
        status: int = 0x0000,
        *,
        handler: Callable[[IncomingRequest], Awaitable[Reply | int]] | None = None,
    ) -> None:
        self.status = status
        self.handler = handler

    async def handle(self, request: IncomingRequest) -> Reply | int:
        """Answer one C-ECHO-RQ."""
        if self.handler is not None:
            return await self.handler(request)
        return Reply(status=self.status)

    def bindings(self) -> Iterable[Binding]:
        """C-ECHO-RQ for the Verification SOP class (and any other the peer echoes on)."""
        # Inline (no task unless it waits) when it answers by itself, not with a handler of yours.
        return (
            Binding(
                command_field=CommandField.C_ECHO_RQ,
                handler=self.handle,
                inline=self.handler is None,
            ),
        )


async def echo(association: Association) -> DimseStatus:
    """Send C-ECHO-RQ on ``association`` and return the response status."""
    return await association.echo()
