"""The Query/Retrieve Service Class (PS3.4 Annex C): C-FIND, C-MOVE and C-GET.

SCP: :class:`QueryRetrieveService` answers the FIND, MOVE and GET SOP classes
of the Patient Root, Study Root and Patient/Study Only models over an
:class:`~dicomnet.query.index.InstanceIndex`, or any
:class:`~dicomnet.query.source.QuerySource` (such as the SQLite index of
:mod:`dicomnet.archive`).

========  =========================================================================
C-FIND    one pending response per match (FF00; FF01 when optional keys of the
          identifier are not supported), then 0000; FE00 after a C-CANCEL;
          A900 when the identifier does not fit the model or level; C001 when
          the identifier cannot be decoded or matching fails; A700 for an
          identifier over MAX_IDENTIFIER_BYTES or a key with more than
          MAX_KEY_VALUES values (A701 for C-MOVE and C-GET); 0122 when the
          Affected SOP Class is not the presentation context's (all three)
C-MOVE    sub-operations (C-STORE) on a new association to the Move Destination
          (looked up in ``destinations``; unknown: A801); a pending response
          after each sub-operation with the remaining/completed/failed/warning
          counts; final 0000, B000 (some failed or warned; the Failed SOP
          Instance UID List (0008,0058) is in the identifier), A702 (nothing
          could be sent, e.g. the destination refused the association), FE00
          after a C-CANCEL; C002 without a Move Destination
C-GET     the same with the C-STOREs on the requesting association: the
          requestor must have proposed the storage SOP classes with the SCP role
          (role selection, PS3.7 D.3.3.4); instances whose SOP class has no such
          context count as failed
========  =========================================================================

SCU: :func:`find` (``async for identifier in find(assoc, query, model=...)``),
:func:`move` and :func:`get` yield what the peer answers; :func:`get_contexts`
and :func:`retrieve_accepted_contexts` build the presentation contexts C-GET
needs on each side.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from dicomnet.dimse.commands import CFindRQ, CGetRQ, CMoveRQ, CommandField, DimseRequest, Priority
from dicomnet.dimse.comments import error_comment
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import Status, StatusCategory
from dicomnet.errors import DicomNetError, NegotiationError
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.policy import Policy
from dicomnet.query.charsets import CharsetPolicy, leading_charset, requester_charsets
from dicomnet.query.constraints import QueryConstraint, violated
from dicomnet.query.index import InstanceIndex, InstanceRecord
from dicomnet.query.models import MODELS, InformationModel, Operation
from dicomnet.query.query import KeySupport, QueryError, parse_query
from dicomnet.query.source import MemorySource, QuerySource
from dicomnet.status_policy import Outcome, Situation
from dicomnet.storage.scu import store
from dicomnet.storage.source import SourceError
from dicomnet.storage.transcode import TranscodeError

from .answers import failure
from .base import Binding, IncomingRequest, Reply
from .qr_classes import FIND, GET, MODALITY_WORKLIST_FIND, MOVE, NATIVE, sop_class_for
from .qr_retrieve import (
    RetrieveProgress,
    RetrieveResults,
    get,
    get_contexts,
    move,
    retrieve_accepted_contexts,
)
from .suboperations import OnFailure, RetrieveRules, WarningIs, suboperation_contexts

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.association.requests import Response

__all__ = [
    "FIND",
    "GET",
    "MODALITY_WORKLIST_FIND",
    "MOVE",
    "NATIVE",
    "FindResults",
    "QueryRetrieveService",
    "RetrieveProgress",
    "RetrieveResults",
    "find",
    "get",
    "get_contexts",
    "move",
    "relational_extended_check",
    "retrieve_accepted_contexts",
    "sop_class_for",
]

_log = logging.getLogger("dicomnet.qr")

UNABLE_TO_PROCESS: Final = 0xC001
NO_MOVE_DESTINATION: Final = 0xC002
#: B000 in a C-MOVE/C-GET-RSP: sub-operations complete, one or more failures or warnings.
SUBOPERATIONS_COMPLETE_WITH_FAILURES: Final = 0xB000
FAILED_SOP_INSTANCE_UID_LIST: Final = 0x00080058
#: The largest identifier read; a longer one is refused with A700 (C-FIND) or
#: A701 (C-MOVE, C-GET) and its remaining fragments are dropped unread. Room for
#: MAX_KEY_VALUES UIDs of 64 characters and the other keys.
MAX_IDENTIFIER_BYTES: Final = 1 << 20
#: C-FIND pending responses sent between two pauses of the handler: at each pause
#: the association reads what arrived (a C-CANCEL is seen there) and the queued
#: responses are written together (see :mod:`dicomnet.transport`).
FIND_RESPONSES_PER_YIELD: Final = 32


def _failure(status: int, comment: str, offending: int | None = None) -> Reply:
    fields: dict[str, object] = {"error_comment": error_comment(comment)}
    if offending is not None:
        fields["offending_element"] = (offending,)
    return Reply(status=status, fields=fields)


#: How a sub-operation counts, by the outcome the Q/R AE's profile gives its C-STORE status.
_VERDICTS: Final = {
    Outcome.SUCCESS: StatusCategory.SUCCESS,
    Outcome.WARNING: StatusCategory.WARNING,
    Outcome.FAILURE: StatusCategory.FAILURE,
    Outcome.ABORT: StatusCategory.FAILURE,
    Outcome.RETRY: StatusCategory.FAILURE,
}
_UNABLE: Final = Situation.UNABLE_TO_PROCESS
_MISMATCH: Final = Situation.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
#: The situation of a QueryError, by the status PS3.4 gives it.
_QUERY_SITUATIONS: Final[dict[int, Situation]] = {
    Status.DATASET_DOES_NOT_MATCH_SOP_CLASS: _MISMATCH,
    Status.OUT_OF_RESOURCES: Situation.OUT_OF_RESOURCES,
    Status.OUT_OF_RESOURCES_MATCHES: Situation.OUT_OF_RESOURCES,
    UNABLE_TO_PROCESS: _UNABLE,
}


def _query_error(request: IncomingRequest, exc: QueryError) -> Reply:
    situation = _QUERY_SITUATIONS.get(exc.status)
    if situation is None:
        return _failure(exc.status, exc.comment, exc.offending)
    return failure(request, situation, exc.status, exc.comment, exc.offending)


# ------------------------------------------------------------------ SCP


@dataclass(slots=True)
class _Counts:
    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)
    stopped: bool = False  # a failure ended the sub-operations (RetrieveRules.on_failure)

    def fields(self, *, final: bool = False) -> dict[str, object]:
        values: dict[str, object] = {
            "number_of_completed_suboperations": self.completed,
            "number_of_failed_suboperations": self.failed,
            "number_of_warning_suboperations": self.warning,
        }
        if not final:
            values["number_of_remaining_suboperations"] = self.remaining
        return values


class QueryRetrieveService:
    """C-FIND, C-MOVE and C-GET SCP over ``index`` (an InstanceIndex or a QuerySource).

    ``destinations`` maps Move Destination AE titles to ``(host, port)``.
    ``support`` maps a FIND SOP class UID to the keys the SCP supports (see
    :meth:`from_profile`); without it every key is matched. ``relational``
    lets queries leave out the unique keys of the levels above the query
    level (also granted per association by extended negotiation, PS3.4
    C.5.1). ``move_policy`` is the Policy of the sub-operation associations
    (default: the serving association's, with its AE title); ``sop_classes``
    limits the bindings (default: every Q/R SOP class).
    """

    def __init__(
        self,
        index: InstanceIndex | QuerySource,
        *,
        destinations: Mapping[str, tuple[str, int]] | None = None,
        support: Mapping[str, KeySupport] | None = None,
        relational: bool = False,
        move_policy: Policy | None = None,
        sop_classes: Iterable[str] | None = None,
        rules: RetrieveRules | None = None,
        charsets: CharsetPolicy | None = None,
        constraints: Iterable[QueryConstraint] = (),
    ) -> None:
        self.index = index
        #: The AE's declared repertoires: how identifiers are read and answers written
        #: (None: responses keep each stored instance's character set).
        self.charsets = charsets
        #: Conditions a C-FIND identifier must meet (a profile's ``[[query.constraints]]``).
        self.constraints = tuple(constraints)
        #: How sub-operations count warnings and react to a failure (see .suboperations).
        self.rules = rules or RetrieveRules()
        self.source: QuerySource = (
            MemorySource(index) if isinstance(index, InstanceIndex) else index
        )
        self.destinations = dict(destinations or {})
        self.support = dict(support or {})
        self.relational = relational
        self.move_policy = move_policy
        self.sop_classes = frozenset(MODELS if sop_classes is None else sop_classes)
        # The AE that requests sub-operation associations, per AE title (made on first use).
        self._movers: dict[str, Any] = {}

    @classmethod
    def support_from_profile(
        cls,
        query_keys: Iterable[object],
        *,
        with_required: bool = False,
        omit_unsupported: bool = False,
    ) -> dict[str, KeySupport]:
        """Key support per FIND SOP class from a profile's ``query_keys`` (see KeySupport)."""
        keys = list(query_keys)
        models = {str(getattr(key, "model", "")) for key in keys}
        return {
            uid: KeySupport.from_profile(
                keys, uid, with_required=with_required, omit_unsupported=omit_unsupported
            )
            for uid in models
            if uid
        }

    def bindings(self) -> Iterable[Binding]:
        """C-FIND, C-MOVE and C-GET for the configured SOP classes."""

        def of(op: Operation) -> frozenset[str]:
            return frozenset(uid for uid in self.sop_classes if MODELS[uid][1] is op)

        return (
            Binding(
                command_field=CommandField.C_FIND_RQ,
                handler=self.handle_find,
                sop_classes=of(Operation.FIND),
            ),
            Binding(
                command_field=CommandField.C_MOVE_RQ,
                handler=self.handle_move,
                sop_classes=of(Operation.MOVE),
            ),
            Binding(
                command_field=CommandField.C_GET_RQ,
                handler=self.handle_get,
                sop_classes=of(Operation.GET),
            ),
        )

    # -------------------------------------------------------------- shared

    async def _identifier(
        self, request: IncomingRequest, *, retrieve: bool = False
    ) -> Dataset | Reply:
        if request.data is None:
            return failure(request, _UNABLE, UNABLE_TO_PROCESS, "request without an identifier")
        parts: list[bytes] = []
        size = 0
        async for chunk in request.data:
            size += len(chunk)
            if size > MAX_IDENTIFIER_BYTES:
                request.data.discard_rest()
                request.association.log.warning(
                    "identifier refused: more than %d bytes", MAX_IDENTIFIER_BYTES
                )
                return failure(
                    request,
                    Situation.OUT_OF_RESOURCES,
                    Status.OUT_OF_RESOURCES_MATCHES if retrieve else Status.OUT_OF_RESOURCES,
                    f"identifier longer than {MAX_IDENTIFIER_BYTES} bytes",
                )
            parts.append(chunk)
        data = b"".join(parts)
        if not data:
            return failure(request, _UNABLE, UNABLE_TO_PROCESS, "request without an identifier")
        try:
            return decode_dataset(data, str(request.context.transfer_syntax))
        except DatasetError as exc:
            return failure(request, _UNABLE, UNABLE_TO_PROCESS, f"identifier: {exc}")

    @staticmethod
    def _wrong_context(request: IncomingRequest, sop_class: str) -> Reply | None:
        """0122 when the Affected SOP Class is not the presentation context's abstract syntax."""
        abstract = str(request.context.abstract_syntax).rstrip("\0 ")
        if abstract == sop_class:
            return None
        request.association.log.warning(
            "%s sent on the context of %s", logsafe(sop_class), logsafe(abstract)
        )
        return _failure(
            Status.SOP_CLASS_NOT_SUPPORTED,
            f"presentation context is for {abstract}",
        )

    def _relational(self, request: IncomingRequest, sop_class: str) -> bool:
        if self.relational:
            return True
        info = request.association.extended.get(sop_class, b"")
        return bool(info[:1] == b"\x01")

    def _model(self, sop_class: str) -> InformationModel | None:
        found = MODELS.get(sop_class)
        return None if found is None else found[0]

    # -------------------------------------------------------------- C-FIND

    async def handle_find(self, request: IncomingRequest) -> AsyncIterator[Reply]:
        """Answer one C-FIND-RQ: pending responses, then the final one."""
        message = request.message
        assert isinstance(message, CFindRQ)
        sop_class = message.affected_sop_class_uid.rstrip("\0 ")
        model = self._model(sop_class)
        identifier = await self._identifier(request)
        if isinstance(identifier, Reply):
            yield identifier
            return
        if self.charsets is not None:
            identifier = self.charsets.decoding(identifier)
        wrong = self._wrong_context(request, sop_class)
        if wrong is not None:
            yield wrong
            return
        if model is None:
            yield failure(
                request,
                _MISMATCH,
                Status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
                "not a Q/R FIND SOP class",
            )
            return
        broken = violated(self.constraints, sop_class, identifier)
        if broken is not None:
            request.association.log.info("C-FIND refused: %s", broken.describe())
            yield failure(
                request, _MISMATCH, Status.DATASET_DOES_NOT_MATCH_SOP_CLASS, broken.describe()
            )
            return
        try:
            query = parse_query(
                identifier,
                model,
                relational=self._relational(request, sop_class),
                support=self.support.get(sop_class),
            )
        except QueryError as exc:
            request.association.log.info("C-FIND refused: %s", logsafe(exc.comment, ERROR_LIMIT))
            yield _query_error(request, exc)
            return
        syntax = str(request.context.transfer_syntax)
        requester = requester_charsets(identifier)
        count = 0
        try:
            matches = self.source.matches(
                query, retrieve_ae_title=request.association.local_ae_title
            )
            async with aclosing(matches):
                async for match in matches:
                    if request.is_cancelled:
                        request.association.log.info("C-FIND cancelled after %d match(es)", count)
                        yield Reply(status=Status.CANCEL)
                        return
                    count += 1
                    status = Status.PENDING_WARNING if match.partial else Status.PENDING
                    data = match.encoded(syntax)
                    charsets = self.charsets
                    if charsets is not None and (
                        data is None
                        or not charsets.fits_as_stored(leading_charset(data, syntax), requester)
                    ):
                        answer = charsets.answer(
                            match.identifier, requester, request.association.log
                        )
                        data = encode_dataset(answer, syntax)
                    elif data is None:
                        data = encode_dataset(match.identifier, syntax)
                    yield Reply(status=status, dataset=data)
                    if count % FIND_RESPONSES_PER_YIELD == 1:  # the first goes out at once
                        # Let the association read (a C-CANCEL) and write the responses
                        # queued since the last pause (one send call for all of them).
                        await asyncio.sleep(0)
        except (DatasetError, ValueError, TypeError, OSError) as exc:
            request.association.log.error("C-FIND failed: %s", logsafe(exc, ERROR_LIMIT))
            yield failure(
                request, Situation.PROCESSING_FAILURE, UNABLE_TO_PROCESS, f"matching failed: {exc}"
            )
            return
        if request.is_cancelled:
            yield Reply(status=Status.CANCEL)
            return
        request.association.log.info(
            "C-FIND at %s level: %d match(es)", logsafe(query.level), count
        )
        yield Reply(status=Status.SUCCESS)

    # -------------------------------------------------------------- retrieve

    async def _select(
        self, request: IncomingRequest, sop_class: str, identifier: Dataset
    ) -> list[InstanceRecord] | Reply:
        model = self._model(sop_class)
        if model is None:
            return failure(
                request, _MISMATCH, Status.DATASET_DOES_NOT_MATCH_SOP_CLASS, "not a Q/R SOP class"
            )
        # A retrieve is matched relationally unless the profile refuses relational
        # retrieve for the class (Kodak) and it was not negotiated.
        rule = request.association.policy.accepted(sop_class)
        relational = rule is None or rule.relational is not False
        try:
            query = parse_query(
                identifier,
                model,
                relational=relational or self._relational(request, sop_class),
                retrieve=True,
            )
        except QueryError as exc:
            return _query_error(request, exc)
        try:
            return await self.source.instances(query)
        except (DatasetError, ValueError, TypeError, OSError) as exc:
            request.association.log.error(
                "retrieve: selecting instances failed: %s", logsafe(exc, ERROR_LIMIT)
            )
            return failure(
                request,
                Situation.PROCESSING_FAILURE,
                UNABLE_TO_PROCESS,
                f"selecting instances failed: {exc}",
            )

    async def _suboperations(
        self,
        request: IncomingRequest,
        target: Association,
        records: Sequence[InstanceRecord],
        originator: tuple[str, int] | None,
    ) -> AsyncIterator[Reply]:
        counts = _Counts(remaining=len(records))
        log = request.association.log
        for position, record in enumerate(records):
            if request.is_cancelled:
                log.info("retrieve cancelled, %d sub-operation(s) left", counts.remaining)
                yield self._final(request, counts, cancelled=True)
                return
            try:
                result = await store(target, record.source(), move_originator=originator)
                verdict = _VERDICTS[result.outcome]
                stop = result.outcome is Outcome.ABORT
            except (SourceError, TranscodeError, NegotiationError) as exc:
                log.warning(
                    "sub-operation for %s not sent: %s",
                    logsafe(record.sop_instance_uid),
                    logsafe(exc, ERROR_LIMIT),
                )
                verdict = StatusCategory.FAILURE
                stop = False
            except DicomNetError as exc:
                if target is request.association:
                    raise
                # The destination's association failed: this and the rest are not sent.
                log.warning("sub-operation association failed: %s", logsafe(exc, ERROR_LIMIT))
                counts.remaining = 0
                counts.failed += len(records) - position
                counts.failed_uids.extend(r.sop_instance_uid for r in records[position:])
                break
            counts.remaining -= 1
            if verdict is StatusCategory.SUCCESS:
                counts.completed += 1
            elif verdict is StatusCategory.WARNING:
                if self.rules.warning is WarningIs.SUCCESS:
                    counts.completed += 1
                else:
                    counts.warning += 1
            else:
                counts.failed += 1
                counts.failed_uids.append(record.sop_instance_uid)
                if (stop or self.rules.on_failure is OnFailure.STOP) and counts.remaining:
                    log.warning("sub-operation failed: stopping (%d not sent)", counts.remaining)
                    if target is not request.association:
                        target.abort_nowait("sub-operation failed")
                    counts.failed += counts.remaining
                    counts.failed_uids.extend(r.sop_instance_uid for r in records[position + 1 :])
                    counts.remaining = 0
                    counts.stopped = True
                    break
            if counts.remaining:
                yield Reply(status=Status.PENDING, fields=counts.fields())
        yield self._final(request, counts)

    def _final(
        self, request: IncomingRequest, counts: _Counts, *, cancelled: bool = False
    ) -> Reply:
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        dataset = None
        if counts.failed_uids or cancelled:
            failed = Dataset()
            failed.FailedSOPInstanceUIDList = counts.failed_uids
            dataset = encode_dataset(failed, str(request.context.transfer_syntax))
        if cancelled:
            return Reply(status=Status.CANCEL, dataset=dataset, fields=counts.fields())
        status: int
        if counts.failed and (counts.stopped or not (counts.completed or counts.warning)):
            status = Status.OUT_OF_RESOURCES_SUBOPERATIONS
        elif counts.failed or counts.warning:
            status = SUBOPERATIONS_COMPLETE_WITH_FAILURES
        else:
            status = Status.SUCCESS
        request.association.log.info(
            "retrieve done: 0x%04X, %d completed, %d failed, %d warning",
            status,
            counts.completed,
            counts.failed,
            counts.warning,
        )
        return Reply(status=status, dataset=dataset, fields=counts.fields(final=True))

    async def handle_move(self, request: IncomingRequest) -> AsyncIterator[Reply]:
        """Answer one C-MOVE-RQ: sub-operations on a new association to the destination."""
        message = request.message
        assert isinstance(message, CMoveRQ)
        sop_class = message.affected_sop_class_uid.rstrip("\0 ")
        identifier = await self._identifier(request, retrieve=True)
        if isinstance(identifier, Reply):
            yield identifier
            return
        wrong = self._wrong_context(request, sop_class)
        if wrong is not None:
            yield wrong
            return
        destination = (message.move_destination or "").strip()
        if not destination:
            yield _failure(NO_MOVE_DESTINATION, "no Move Destination")
            return
        address = self.destinations.get(destination)
        if address is None:
            request.association.log.warning("unknown move destination %s", logsafe(destination))
            yield _failure(Status.MOVE_DESTINATION_UNKNOWN, f"unknown destination {destination}")
            return
        records = await self._select(request, sop_class, identifier)
        if isinstance(records, Reply):
            yield records
            return
        if not records:
            yield Reply(status=Status.SUCCESS, fields=_Counts(0).fields(final=True))
            return
        # dicomnet.ae imports the services: imported here to keep the layers acyclic.
        from dicomnet.ae import AE  # noqa: PLC0415

        association = request.association
        policy = self.move_policy or association.policy
        sources = []
        for record in records:
            try:
                sources.append(record.source())
            except SourceError:
                continue
        ae = self._movers.get(policy.ae_title)
        if ae is None or ae.policy is not policy:
            ae = self._movers[policy.ae_title] = AE(policy.ae_title, policy)
        try:
            contexts = suboperation_contexts(sources, policy.proposed_contexts)
            sub = await ae.associate(
                address[0], address[1], called_ae=destination, contexts=contexts
            )
        except (OSError, DicomNetError) as exc:
            association.log.warning(
                "cannot associate with %s: %s", logsafe(destination), logsafe(exc, ERROR_LIMIT)
            )
            counts = _Counts(remaining=0, failed=len(records))
            counts.failed_uids = [r.sop_instance_uid for r in records]
            reply = self._final(request, counts)
            yield Reply(
                status=Status.OUT_OF_RESOURCES_SUBOPERATIONS,
                dataset=reply.dataset,
                fields=reply.fields,
            )
            return
        originator = (association.peer_ae_title, message.message_id)
        try:
            async for reply in self._suboperations(request, sub, records, originator):
                yield reply
        finally:
            if sub.is_established:
                try:
                    await sub.release()
                except DicomNetError:
                    sub.abort_nowait("release failed")

    async def handle_get(self, request: IncomingRequest) -> AsyncIterator[Reply]:
        """Answer one C-GET-RQ: C-STORE sub-operations on the same association."""
        message = request.message
        assert isinstance(message, CGetRQ)
        sop_class = message.affected_sop_class_uid.rstrip("\0 ")
        identifier = await self._identifier(request, retrieve=True)
        if isinstance(identifier, Reply):
            yield identifier
            return
        wrong = self._wrong_context(request, sop_class)
        if wrong is not None:
            yield wrong
            return
        records = await self._select(request, sop_class, identifier)
        if isinstance(records, Reply):
            yield records
            return
        async for reply in self._suboperations(request, request.association, records, None):
            yield reply


def relational_extended_check(sop_class_uid: str, info: bytes) -> bytes | None:
    """An acceptor's extended-negotiation hook granting relational queries and retrieves.

    For a Q/R FIND, MOVE or GET SOP class whose requestor asks for relational
    queries or retrieve (first byte 1, PS3.4 C.5.1.1, C.5.2.1), the answer
    agrees; date-time matching and the other FIND flags are declined (0).
    """
    if sop_class_uid not in MODELS or not info:
        return None
    return b"\x01" + b"\x00" * (len(info) - 1) if info[:1] == b"\x01" else b"\x00" * len(info)


# ------------------------------------------------------------------ SCU


class FindResults:
    """The matches of one C-FIND, as an async iterator of decoded identifiers.

    After the iteration, :attr:`final` is the last response (its ``status``
    says whether matching completed); :meth:`cancel` sends C-CANCEL-RQ.
    """

    def __init__(self, association: Association, request: DimseRequest, identifier: Dataset):
        self._association = association
        sop_class = str(getattr(request, "affected_sop_class_uid", ""))
        self._context = association.context_for(sop_class)
        self._syntax = str(self._context.transfer_syntax)
        # In the AE's declared character set, named in (0008,0005), when not ASCII.
        identifier = CharsetPolicy(association.policy.character_sets).request(
            identifier, association.log, named=association.policy.name_charset_in_requests
        )
        self._stream = association.send_request(
            request, encode_dataset(identifier, self._syntax), context=self._context
        )
        #: The final response, once it arrived.
        self.final: Response | None = None
        #: How many pending responses arrived.
        self.pending = 0
        #: How many of them were FF01 (optional keys not supported by the SCP).
        self.partial = 0

    @property
    def status(self) -> int | None:
        """The final status (``None`` until it arrived)."""
        return None if self.final is None else self.final.status

    async def cancel(self) -> None:
        """Ask the SCP to stop (C-CANCEL-RQ); the final response is then FE00."""
        await self._stream.cancel()

    def __aiter__(self) -> AsyncIterator[Dataset]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Dataset]:
        async for response in self._stream:
            if response.is_pending:
                self.pending += 1
                self.partial += response.status == Status.PENDING_WARNING
                if response.dataset is not None:
                    yield decode_dataset(response.dataset, self._syntax)
            else:
                self.final = response
                outcome = self._association.policy.statuses.treat("C-FIND", response.status)
                if outcome is Outcome.ABORT and self._association.is_established:
                    # The profile says this final status ends the association (Flux).
                    self._association.log.error(
                        "C-FIND failed (0x%04X): aborting the association", response.status
                    )
                    self._association.abort_nowait(f"C-FIND status 0x{response.status:04X}")


def find(
    association: Association,
    identifier: Dataset,
    *,
    model: str = "study",
    priority: int = Priority.MEDIUM,
) -> FindResults:
    """C-FIND ``identifier``: ``async for match in find(...)`` yields each match's identifier.

    ``model`` is a SOP class UID or patient / study / patient-study /
    worklist. The final status is in the returned object's ``status``.
    """
    sop_class = sop_class_for(model, Operation.FIND)
    request = CFindRQ(message_id=1, affected_sop_class_uid=sop_class, priority=priority)
    return FindResults(association, request, identifier)
