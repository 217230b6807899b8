"""The C-MOVE and C-GET SCU (PS3.4 Annex C) and the presentation contexts C-GET needs.

:func:`move` and :func:`get` send the request and yield a
:class:`RetrieveProgress` for each response; :func:`get_contexts` and
:func:`retrieve_accepted_contexts` build the contexts of each side of a C-GET
(the storage SOP classes with the roles reversed). Also importable from
:mod:`dicomnet.services.qr`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dicomnet.dimse.commands import CGetRQ, CMoveRQ, DimseRequest, Priority
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.query.charsets import CharsetPolicy
from dicomnet.query.models import Operation
from dicomnet.storage.sinks import InstanceStore

from .qr_classes import NATIVE, sop_class_for
from .storage_scp import StorageService

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.association.requests import Response

__all__ = [
    "RetrieveProgress",
    "RetrieveResults",
    "get",
    "get_contexts",
    "move",
    "retrieve_accepted_contexts",
]


def retrieve_accepted_contexts(
    storage_sop_classes: Iterable[str], transfer_syntaxes: Sequence[str] = NATIVE
) -> list[AcceptedContext]:
    """Accepted contexts for a C-GET SCP: the storage classes, with us as their SCU."""
    return [
        AcceptedContext(
            abstract_syntax=uid,
            transfer_syntaxes=tuple(transfer_syntaxes),
            scu_role=True,
            scp_role=False,
        )
        for uid in storage_sop_classes
    ]


def get_contexts(
    storage_sop_classes: Iterable[str],
    *,
    model: str = "study",
    transfer_syntaxes: Sequence[str] = NATIVE,
) -> list[ProposedContext]:
    """Contexts a C-GET SCU proposes: the GET SOP class, and each storage class as SCP."""
    contexts = [
        ProposedContext(
            abstract_syntax=sop_class_for(model, Operation.GET),
            transfer_syntaxes=tuple(transfer_syntaxes),
        )
    ]
    contexts.extend(
        ProposedContext(
            abstract_syntax=uid,
            transfer_syntaxes=tuple(transfer_syntaxes),
            scu_role=False,
            scp_role=True,
        )
        for uid in storage_sop_classes
    )
    return contexts


@dataclass(frozen=True, slots=True)
class RetrieveProgress:
    """One C-MOVE/C-GET response: its status and sub-operation counts."""

    status: int
    remaining: int | None
    completed: int
    failed: int
    warning: int
    failed_uids: tuple[str, ...] = ()
    error_comment: str | None = None

    @property
    def pending(self) -> bool:
        """Whether more responses follow."""
        return self.status in (0xFF00, 0xFF01)

    @property
    def category(self) -> StatusCategory:
        """The status class."""
        return category(self.status)


def _progress(response: Response, syntax: str) -> RetrieveProgress:
    message = response.message
    failed_uids: tuple[str, ...] = ()
    if response.dataset:
        try:
            ds = decode_dataset(response.dataset, syntax)
            value = ds.get("FailedSOPInstanceUIDList", [])
            failed_uids = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            failed_uids = tuple(uid for uid in failed_uids if uid)
        except DatasetError:
            pass
    return RetrieveProgress(
        status=message.status,
        remaining=getattr(message, "number_of_remaining_suboperations", None),
        completed=getattr(message, "number_of_completed_suboperations", None) or 0,
        failed=getattr(message, "number_of_failed_suboperations", None) or 0,
        warning=getattr(message, "number_of_warning_suboperations", None) or 0,
        failed_uids=failed_uids,
        error_comment=message.error_comment,
    )


class RetrieveResults:
    """The responses of one C-MOVE or C-GET, as an async iterator of :class:`RetrieveProgress`.

    The request is sent when this object is made. After the iteration
    :attr:`final` is the final progress; :meth:`cancel` sends C-CANCEL-RQ
    (the SCP stops between sub-operations and answers FE00). For a C-GET the
    association's incoming C-STOREs go to ``store_into`` until the final
    response has been read.
    """

    def __init__(
        self,
        association: Association,
        request: DimseRequest,
        identifier: Dataset,
        sop_class: str,
        store_into: InstanceStore | None = None,
    ) -> None:
        self._association = association
        self._registry = association.registry
        if store_into is not None:
            scoped = self._registry.copy()
            scoped.add(StorageService(store_into))
            association.registry = scoped
        context = association.context_for(sop_class)
        self._syntax = str(context.transfer_syntax)
        identifier = CharsetPolicy(association.policy.character_sets).request(
            identifier, association.log, named=association.policy.name_charset_in_requests
        )
        self._stream = association.send_request(
            request, encode_dataset(identifier, self._syntax), context=context
        )
        #: The final response's progress, once it arrived.
        self.final: RetrieveProgress | None = None

    async def cancel(self) -> None:
        """Ask the SCP to stop the sub-operations (C-CANCEL-RQ)."""
        await self._stream.cancel()

    def __aiter__(self) -> AsyncIterator[RetrieveProgress]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RetrieveProgress]:
        try:
            async for response in self._stream:
                progress = _progress(response, self._syntax)
                if not progress.pending:
                    self.final = progress
                yield progress
        finally:
            self._association.registry = self._registry


def move(
    association: Association,
    identifier: Dataset,
    destination: str,
    *,
    model: str = "study",
    priority: int = Priority.MEDIUM,
) -> RetrieveResults:
    """C-MOVE ``identifier`` to ``destination``; iterate for each response's progress."""
    sop_class = sop_class_for(model, Operation.MOVE)
    request = CMoveRQ(
        message_id=1,
        affected_sop_class_uid=sop_class,
        move_destination=destination,
        priority=priority,
    )
    return RetrieveResults(association, request, identifier, sop_class)


def get(
    association: Association,
    identifier: Dataset,
    store_into: InstanceStore,
    *,
    model: str = "study",
    priority: int = Priority.MEDIUM,
) -> RetrieveResults:
    """C-GET ``identifier``; the C-STOREs that come back are written into ``store_into``.

    The association must have been proposed with :func:`get_contexts` (the
    storage SOP classes with the SCP role). Iterate for each response's progress.
    """
    sop_class = sop_class_for(model, Operation.GET)
    request = CGetRQ(message_id=1, affected_sop_class_uid=sop_class, priority=priority)
    return RetrieveResults(association, request, identifier, sop_class, store_into)
