"""A C-STORE SCP that aborts the association after an instance it could not store.

Some systems (DicomArk's Inbound Server) end the association when one of its
instances cannot be stored, rather than going on: the failure status is sent,
then the association is aborted (A-ABORT, service-user).
"""

from __future__ import annotations

from collections.abc import Iterable

from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import StatusCategory, category

from .base import Binding, IncomingRequest, Reply
from .storage_scp import StorageService

__all__ = ["AbortWhenNotStored"]


class AbortWhenNotStored:
    """Store through ``storage``; after a failure status, abort the association."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage

    def bindings(self) -> Iterable[Binding]:
        """Every C-STORE-RQ."""
        return (Binding(command_field=CommandField.C_STORE_RQ, handler=self.handle),)

    async def handle(self, request: IncomingRequest) -> Reply:
        """Store; abort on a failure status (after the response is queued)."""
        reply = await self.storage.handle(request)
        if category(reply.status) is StatusCategory.FAILURE:
            request.association.log.error("instance not stored (0x%04X): aborting", reply.status)
            request.association.abort_nowait("instance could not be stored")
        return reply
