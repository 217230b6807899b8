"""The Modality Worklist Information Model - FIND SCP (PS3.4 Annex K).

:class:`WorklistService` answers C-FIND-RQ for 1.2.840.10008.5.1.4.31 from a
:class:`~dicomnet.query.worklist.WorklistSource`, or from a
:class:`WorklistStore` (such as the archive's
:class:`~dicomnet.archive.worklist_sqlite.SqliteWorklist`) that narrows the
items before the same matcher decides: one pending response per
matching item (FF00; FF01 when the identifier holds keys the SCP does not
match on), then 0000; FE00 after a C-CANCEL; A900 when the identifier is not
a worklist query (a Query/Retrieve Level, or a Scheduled Procedure Step
Sequence with more than one item); C001 when it cannot be decoded or one of
its values cannot be converted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from dicomnet.dimse.commands import CFindRQ, CommandField
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import Status
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.query.charsets import CharsetPolicy, requester_charsets
from dicomnet.query.matching import ConversionError, converted
from dicomnet.query.worklist import (
    SCHEDULED_PROCEDURE_STEP_SEQUENCE,
    WorklistSource,
    has_unmatched_keys,
    match_worklist,
)
from dicomnet.status_policy import Situation

from .answers import failure
from .base import Binding, IncomingRequest, Reply

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["MODALITY_WORKLIST_FIND", "WorklistService", "WorklistStore", "support_from_profile"]

MODALITY_WORKLIST_FIND: Final = "1.2.840.10008.5.1.4.31"
_UNABLE_TO_PROCESS: Final = 0xC001


def support_from_profile(query_keys: Iterable[object]) -> dict[int, frozenset[str]]:
    """Matched worklist keys (tag -> matching types) of a profile's ``query_keys``."""
    support: dict[int, frozenset[str]] = {}
    for key in query_keys:
        if getattr(key, "model", None) != MODALITY_WORKLIST_FIND:
            continue
        types = frozenset(getattr(key, "matching", ()))
        if "NONE" in types:
            continue
        group, element = str(getattr(key, "tag", "")).split(",")
        support[int(group, 16) << 16 | int(element, 16)] = types
    return support


@runtime_checkable
class WorklistStore(Protocol):
    """Worklist items kept elsewhere (a database), asked for each query."""

    def candidates(
        self, identifier: Dataset, support: Mapping[int, frozenset[str]] | None = None
    ) -> AsyncIterator[Dataset]:
        """Every item that may match ``identifier`` (at least all that do)."""
        ...


class WorklistService:
    """Modality Worklist C-FIND SCP over ``source``; ``support`` restricts matched keys."""

    def __init__(
        self,
        source: WorklistSource | WorklistStore,
        *,
        support: Mapping[int, frozenset[str]] | None = None,
        charsets: CharsetPolicy | None = None,
    ) -> None:
        self.source = source
        #: The AE's declared repertoires (see dicomnet.query.charsets); None: as stored.
        self.charsets = charsets
        self.support = None if support is None else dict(support)

    def bindings(self) -> Iterable[Binding]:
        """C-FIND-RQ for the Modality Worklist Information Model - FIND."""
        return (
            Binding(
                command_field=CommandField.C_FIND_RQ,
                handler=self.handle,
                sop_classes=frozenset({MODALITY_WORKLIST_FIND}),
            ),
        )

    async def handle(self, request: IncomingRequest) -> AsyncIterator[Reply]:
        """Answer one worklist C-FIND-RQ."""
        assert isinstance(request.message, CFindRQ)
        log = request.association.log
        syntax = str(request.context.transfer_syntax)
        data = await request.dataset_bytes()
        try:
            identifier = decode_dataset(data or b"", syntax)
            if self.charsets is not None:
                identifier = self.charsets.decoding(identifier)
            identifier = converted(identifier)
        except (DatasetError, ConversionError) as exc:
            log.info("worklist C-FIND refused: %s", logsafe(exc, ERROR_LIMIT))
            yield failure(
                request, Situation.UNABLE_TO_PROCESS, _UNABLE_TO_PROCESS, f"identifier: {exc}"
            )
            return
        steps = identifier.get(SCHEDULED_PROCEDURE_STEP_SEQUENCE)
        if "QueryRetrieveLevel" in identifier or (
            steps is not None and steps.VR == "SQ" and len(steps.value) > 1
        ):
            yield failure(
                request,
                Situation.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
                Status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
                "not a Modality Worklist identifier",
            )
            return
        partial = has_unmatched_keys(identifier, self.support)
        requester = requester_charsets(identifier)
        count = 0
        try:
            async for item in self._items(identifier):
                if request.is_cancelled:
                    log.info("worklist C-FIND cancelled after %d match(es)", count)
                    yield Reply(status=Status.CANCEL)
                    return
                for response in match_worklist((item,), identifier, support=self.support):
                    count += 1
                    status = Status.PENDING_WARNING if partial else Status.PENDING
                    answer = response
                    if self.charsets is not None:
                        answer = self.charsets.answer(response, requester, log)
                    yield Reply(status=status, dataset=encode_dataset(answer, syntax))
                await asyncio.sleep(0)  # let a C-CANCEL in
        except OSError as exc:  # the worklist database failed
            log.error("worklist C-FIND failed: %s", logsafe(exc, ERROR_LIMIT))
            yield failure(
                request,
                Situation.PROCESSING_FAILURE,
                _UNABLE_TO_PROCESS,
                "the worklist cannot be read",
            )
            return
        if request.is_cancelled:
            yield Reply(status=Status.CANCEL)
            return
        log.info("worklist C-FIND: %d match(es)", count)
        yield Reply(status=Status.SUCCESS)

    async def _items(self, identifier: Dataset) -> AsyncIterator[Dataset]:
        if isinstance(self.source, WorklistStore):
            async for item in self.source.candidates(identifier, self.support):
                yield item
        else:
            for item in self.source:
                yield item
