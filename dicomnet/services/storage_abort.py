"""A C-STORE SCP that aborts the association after an instance it could not store.

Some systems (DicomArk's Inbound Server) end the association when one of its
instances cannot be stored, rather than going on: the failure status is sent,
then the association is aborted (A-ABORT, service-user).

Only an instance that was not stored ends the association. When the storage
service's ``decide`` hook answers for an instance already committed (the send
queue's synchronous forward mode returns the destination's C-STORE status,
DicomArk §5.2.2.3: "the result of the C-STORE request to the target AE is
returned to the source AE"), a failure status from it is answered and the
association goes on: the instance is held, and its send job is retried.
"""

from __future__ import annotations

from collections.abc import Iterable

from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.storage.sinks import StoredInstance

from .base import Binding, IncomingRequest, Reply
from .storage_scp import StorageService

__all__ = ["AbortWhenNotStored"]


class AbortWhenNotStored:
    """Store through ``storage``; after a failure to store, abort the association."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage
        # Requests (by id) whose instance was committed: ``decide`` was asked.
        self._committed: set[int] = set()
        decide = storage.decide
        if decide is not None:

            async def committed(request: IncomingRequest, stored: StoredInstance) -> int | Reply:
                self._committed.add(id(request))
                return await decide(request, stored)

            storage.decide = committed

    def bindings(self) -> Iterable[Binding]:
        """Every C-STORE-RQ."""
        return (Binding(command_field=CommandField.C_STORE_RQ, handler=self.handle),)

    async def handle(self, request: IncomingRequest) -> Reply:
        """Store; abort on a failure status of an instance not stored (after the response)."""
        try:
            reply = await self.storage.handle(request)
        finally:
            stored = id(request) in self._committed
            self._committed.discard(id(request))
        if category(reply.status) is StatusCategory.FAILURE and not stored:
            request.association.log.error("instance not stored (0x%04X): aborting", reply.status)
            request.association.abort_nowait("instance could not be stored")
        return reply
