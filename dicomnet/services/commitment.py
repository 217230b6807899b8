"""Storage Commitment Push Model, SCU and SCP (PS3.4 Annex J; N-ACTION and N-EVENT-REPORT).

The SCU asks the SCP to take responsibility for instances it stored: an
N-ACTION-RQ (Action Type ID 1) on the well-known SOP instance
``1.2.840.10008.1.20.1.1`` carries a Transaction UID and the Referenced SOP
Sequence. The SCP answers at once (N-ACTION-RSP: "request received") and later
sends the outcome as an N-EVENT-REPORT-RQ: Event Type ID 1 when every instance
is committed, 2 when some failed, with the Failed SOP Sequence giving a
Failure Reason (PS3.3 C.14.1.1) per failed instance.

SCP (:class:`CommitmentSCP`): whether an instance is committed is decided by a
pluggable *verdict* (:data:`Verdict`); :func:`store_verdict` looks the
instance up in a :class:`~dicomnet.storage.FolderStore` or
:class:`~dicomnet.storage.MemoryStore` (0112H no such object instance, 0119H
class/instance conflict). The report goes out, by :class:`ReportMode`,

* ``SAME_OR_NEW``: on the association of the N-ACTION while it is still
  established and has a context for the class on which we are SCP, otherwise
  on a new association;
* ``NEW`` (LifeSys): always on a new association;
* ``SAME``: only on the association of the N-ACTION (lost if it has ended).

A new association is requested to the AE title that sent the N-ACTION, at the
address found in ``destinations``, proposing the SCP role for the class by
SCP/SCU Role Selection (PS3.4 J.3.3.1.3 note; PS3.7 D.3.3.4).

SCU (:class:`CommitmentSCU`): register it as a service on the AE that sends
the N-ACTION (reports on the same association) and on the AE that serves
incoming associations (reports on a new association; its policy must accept
the class with ``scu_role=True``). :meth:`CommitmentSCU.request_commitment`
returns the Transaction UID; :meth:`CommitmentSCU.wait_for_report` its
:class:`CommitmentResult`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from dicomnet.dimse.commands import CommandField, NActionRQ, NEventReportRQ
from dicomnet.dimse.comments import error_comment
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.status import Status, StatusCategory, category
from dicomnet.errors import DicomNetError, LocalError, NegotiationError
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.policy import ProposedContext
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.source import SourceError, read_file_meta

from .base import Binding, IncomingRequest, Reply

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.negotiation import NegotiatedContext

__all__ = [
    "ACTION_REQUEST_COMMITMENT",
    "EVENT_ALL_COMMITTED",
    "EVENT_SOME_FAILED",
    "REPORTED_KEPT",
    "STORAGE_COMMITMENT_INSTANCE",
    "STORAGE_COMMITMENT_PUSH_MODEL",
    "UNCLAIMED_KEPT",
    "AssociationRequestor",
    "CommitmentError",
    "CommitmentRequest",
    "CommitmentResult",
    "CommitmentSCP",
    "CommitmentSCU",
    "FailedInstance",
    "FailureReason",
    "InstanceRef",
    "ReportMode",
    "Verdict",
    "decode_action_information",
    "decode_event_information",
    "encode_action_information",
    "encode_event_information",
    "evaluate",
    "instance_refs",
    "request_commitment",
    "send_event_report",
    "store_verdict",
]

_log = logging.getLogger("dicomnet.services.commitment")

#: Storage Commitment Push Model SOP Class (PS3.4 J.3).
STORAGE_COMMITMENT_PUSH_MODEL: Final = "1.2.840.10008.1.20.1"
#: Its well-known SOP Instance (PS3.4 J.3.5).
STORAGE_COMMITMENT_INSTANCE: Final = "1.2.840.10008.1.20.1.1"
#: Action Type ID of "Request Storage Commitment" (PS3.4 Table J.3-1).
ACTION_REQUEST_COMMITMENT: Final = 1
#: Event Type IDs of the report (PS3.4 Table J.3-2).
EVENT_ALL_COMMITTED: Final = 1
EVENT_SOME_FAILED: Final = 2

#: How many delivered results :attr:`CommitmentSCP.reported` keeps.
REPORTED_KEPT: Final = 1000
#: How many received reports :class:`CommitmentSCU` keeps for a later :meth:`wait_for_report`.
UNCLAIMED_KEPT: Final = 1000

_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
_IMPLICIT_LE: Final = "1.2.840.10008.1.2"


class FailureReason(IntEnum):
    """Failure Reason (0008,1197) values for Storage Commitment (PS3.3 C.14.1.1)."""

    PROCESSING_FAILURE = 0x0110
    NO_SUCH_OBJECT_INSTANCE = 0x0112
    RESOURCE_LIMITATION = 0x0213
    REFERENCED_SOP_CLASS_NOT_SUPPORTED = 0x0122
    CLASS_INSTANCE_CONFLICT = 0x0119
    DUPLICATE_TRANSACTION_UID = 0x0131


class CommitmentError(DicomNetError):
    """A commitment request or report was refused or malformed; ``status`` is the DIMSE status."""

    def __init__(self, message: str, status: int = Status.PROCESSING_FAILURE) -> None:
        self.status = status
        super().__init__(message)


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """One SOP instance named in a commitment request or report."""

    sop_class_uid: str
    sop_instance_uid: str


@dataclass(frozen=True, slots=True)
class FailedInstance:
    """An instance the SCP did not commit, with its Failure Reason (see :class:`FailureReason`)."""

    sop_class_uid: str
    sop_instance_uid: str
    reason: int


@dataclass(frozen=True, slots=True)
class CommitmentRequest:
    """What an N-ACTION-RQ asks: commit ``instances`` under ``transaction_uid``."""

    transaction_uid: str
    instances: tuple[InstanceRef, ...]


@dataclass(frozen=True, slots=True)
class CommitmentResult:
    """The outcome of one transaction, as carried by the N-EVENT-REPORT."""

    transaction_uid: str
    committed: tuple[InstanceRef, ...]
    failed: tuple[FailedInstance, ...] = ()
    retrieve_ae_title: str | None = None

    @property
    def event_type_id(self) -> int:
        """1 when every instance is committed, 2 when some failed."""
        return EVENT_SOME_FAILED if self.failed else EVENT_ALL_COMMITTED

    @property
    def all_committed(self) -> bool:
        """Whether no instance failed."""
        return not self.failed


class _HasSopUids(Protocol):
    @property
    def sop_class_uid(self) -> str: ...

    @property
    def sop_instance_uid(self) -> str: ...


InstanceLike: TypeAlias = InstanceRef | tuple[str, str] | _HasSopUids


def instance_refs(instances: Iterable[InstanceLike]) -> tuple[InstanceRef, ...]:
    """:class:`InstanceRef` values from refs, ``(class UID, instance UID)`` pairs, or
    anything with ``sop_class_uid`` and ``sop_instance_uid`` (a ``StoreResult``,
    an ``InstanceSource``)."""
    refs: list[InstanceRef] = []
    for item in instances:
        if isinstance(item, InstanceRef):
            refs.append(item)
        elif isinstance(item, tuple):
            refs.append(InstanceRef(str(item[0]), str(item[1])))
        else:
            refs.append(InstanceRef(str(item.sop_class_uid), str(item.sop_instance_uid)))
    return tuple(refs)


# ---------------------------------------------------------------- data sets


def _ref_item(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    item = Dataset()
    item.ReferencedSOPClassUID = sop_class_uid
    item.ReferencedSOPInstanceUID = sop_instance_uid
    return item


def encode_action_information(request: CommitmentRequest, transfer_syntax_uid: str) -> bytes:
    """The N-ACTION-RQ data set (PS3.4 Table J.3-1) in ``transfer_syntax_uid``."""
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    ds.TransactionUID = request.transaction_uid
    ds.ReferencedSOPSequence = [
        _ref_item(ref.sop_class_uid, ref.sop_instance_uid) for ref in request.instances
    ]
    return encode_dataset(ds, transfer_syntax_uid)


def encode_event_information(result: CommitmentResult, transfer_syntax_uid: str) -> bytes:
    """The N-EVENT-REPORT-RQ data set (PS3.4 Table J.3-2) in ``transfer_syntax_uid``.

    The Referenced SOP Sequence is left out when nothing was committed (event
    type 2), the Failed SOP Sequence when nothing failed (event type 1).
    """
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    ds.TransactionUID = result.transaction_uid
    if result.retrieve_ae_title:
        ds.RetrieveAETitle = result.retrieve_ae_title
    if result.committed or not result.failed:
        ds.ReferencedSOPSequence = [
            _ref_item(ref.sop_class_uid, ref.sop_instance_uid) for ref in result.committed
        ]
    if result.failed:
        items = []
        for failed in result.failed:
            item = _ref_item(failed.sop_class_uid, failed.sop_instance_uid)
            item.FailureReason = int(failed.reason)
            items.append(item)
        ds.FailedSOPSequence = items
    return encode_dataset(ds, transfer_syntax_uid)


def _decode(data: bytes | None, transfer_syntax_uid: str) -> Dataset:
    if not data:
        raise CommitmentError("no data set", Status.MISSING_ATTRIBUTE)
    try:
        return decode_dataset(data, transfer_syntax_uid)
    except DatasetError as exc:
        raise CommitmentError(f"undecodable data set: {exc}", Status.PROCESSING_FAILURE) from exc


def _text(ds: Dataset, keyword: str, *, required: bool = True) -> str | None:
    """A single-valued string element; missing/empty raise 0120H/0121H when required."""
    try:
        if keyword not in ds:
            if required:
                raise CommitmentError(f"{keyword} missing", Status.MISSING_ATTRIBUTE)
            return None
        value = ds.data_element(keyword)
        text = "" if value is None or value.value is None else str(value.value).strip()
    except CommitmentError:
        raise
    except Exception as exc:  # pydicom raises many types for malformed values
        raise CommitmentError(f"{keyword}: {exc}", Status.INVALID_ARGUMENT_VALUE) from exc
    if not text:
        if required:
            raise CommitmentError(f"{keyword} empty", Status.MISSING_ATTRIBUTE_VALUE)
        return None
    return text


def _sequence(ds: Dataset, keyword: str) -> list[Dataset] | None:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if keyword not in ds:
        return None
    try:
        value = ds.data_element(keyword)
        items = [] if value is None or value.value is None else list(value.value)
    except Exception as exc:
        raise CommitmentError(f"{keyword}: {exc}", Status.INVALID_ARGUMENT_VALUE) from exc
    if not all(isinstance(item, Dataset) for item in items):
        raise CommitmentError(f"{keyword} is not a sequence", Status.INVALID_ARGUMENT_VALUE)
    return items


def _refs(items: Sequence[Dataset]) -> list[InstanceRef]:
    refs = []
    for item in items:
        sop_class = _text(item, "ReferencedSOPClassUID")
        sop_instance = _text(item, "ReferencedSOPInstanceUID")
        assert sop_class is not None and sop_instance is not None
        refs.append(InstanceRef(sop_class, sop_instance))
    return refs


def decode_action_information(data: bytes | None, transfer_syntax_uid: str) -> CommitmentRequest:
    """Read an N-ACTION-RQ data set; raises :class:`CommitmentError` with the status to answer."""
    ds = _decode(data, transfer_syntax_uid)
    transaction = _text(ds, "TransactionUID")
    items = _sequence(ds, "ReferencedSOPSequence")
    if items is None:
        raise CommitmentError("ReferencedSOPSequence missing", Status.MISSING_ATTRIBUTE)
    if not items:
        raise CommitmentError("ReferencedSOPSequence empty", Status.MISSING_ATTRIBUTE_VALUE)
    assert transaction is not None
    return CommitmentRequest(transaction, tuple(_refs(items)))


def decode_event_information(data: bytes | None, transfer_syntax_uid: str) -> CommitmentResult:
    """Read an N-EVENT-REPORT-RQ data set; raises :class:`CommitmentError` when malformed."""
    ds = _decode(data, transfer_syntax_uid)
    transaction = _text(ds, "TransactionUID")
    assert transaction is not None
    committed = _refs(_sequence(ds, "ReferencedSOPSequence") or [])
    failed = []
    for item in _sequence(ds, "FailedSOPSequence") or []:
        ref = _refs([item])[0]
        try:
            reason = int(item.FailureReason) if "FailureReason" in item else None
        except Exception as exc:
            raise CommitmentError(f"FailureReason: {exc}", Status.INVALID_ARGUMENT_VALUE) from exc
        failed.append(
            FailedInstance(
                ref.sop_class_uid,
                ref.sop_instance_uid,
                FailureReason.PROCESSING_FAILURE if reason is None else reason,
            )
        )
    retrieve = _text(ds, "RetrieveAETitle", required=False)
    return CommitmentResult(transaction, tuple(committed), tuple(failed), retrieve)


# ---------------------------------------------------------------- the verdict

#: Decides one instance: ``None`` when it is committed, else its Failure Reason.
#: May be a plain function or a coroutine function.
Verdict: TypeAlias = Callable[[InstanceRef], "Awaitable[int | None] | int | None"]


def store_verdict(store: FolderStore | MemoryStore | Any) -> Verdict:
    """A :data:`Verdict` that looks instances up in ``store``.

    For a :class:`FolderStore` or :class:`MemoryStore` the stored SOP class is
    compared too (0119H class/instance conflict); any other object is asked
    ``uid in store`` only. Missing instances fail with 0112H.
    """

    def verdict(ref: InstanceRef) -> int | None:
        uid = ref.sop_instance_uid
        if isinstance(store, MemoryStore):
            held = store.instances.get(uid)
            if held is None:
                return FailureReason.NO_SUCH_OBJECT_INSTANCE
            stored_class = held.info.sop_class_uid
        elif isinstance(store, FolderStore):
            path = store.path_for(uid)
            if not path.is_file():
                return FailureReason.NO_SUCH_OBJECT_INSTANCE
            try:
                meta = read_file_meta(path)
            except (OSError, SourceError) as exc:
                _log.warning("cannot read %s: %s", path, exc)
                return FailureReason.PROCESSING_FAILURE
            if meta is None or meta.sop_instance_uid != uid:
                return FailureReason.PROCESSING_FAILURE
            stored_class = meta.sop_class_uid
        else:
            return None if uid in store else FailureReason.NO_SUCH_OBJECT_INSTANCE
        if stored_class != ref.sop_class_uid:
            return FailureReason.CLASS_INSTANCE_CONFLICT
        return None

    return verdict


async def evaluate(request: CommitmentRequest, verdict: Verdict) -> CommitmentResult:
    """Apply ``verdict`` to every instance of ``request``; a verdict that raises is 0110H."""
    committed: list[InstanceRef] = []
    failed: list[FailedInstance] = []
    for ref in request.instances:
        try:
            outcome = verdict(ref)
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except Exception:
            _log.exception("commitment verdict for %s raised", logsafe(ref.sop_instance_uid))
            outcome = FailureReason.PROCESSING_FAILURE
        if outcome is None:
            committed.append(ref)
        else:
            failed.append(FailedInstance(ref.sop_class_uid, ref.sop_instance_uid, int(outcome)))
    return CommitmentResult(request.transaction_uid, tuple(committed), tuple(failed))


# ---------------------------------------------------------------- sending


def _report_context(assoc: Association) -> NegotiatedContext:
    """The context to send the N-EVENT-REPORT on: one where we are SCP of the class."""
    negotiated = assoc.negotiated
    context = negotiated.context_for(STORAGE_COMMITMENT_PUSH_MODEL, role="scp")
    if context is not None:
        return context
    for context in negotiated.contexts:
        if context.abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL:
            # The acceptor did not answer our role selection item; send anyway, as
            # most SCUs that accepted the context expect the report on it.
            assoc.log.warning("commitment context %d: SCP role not agreed", context.context_id)
            return context
    raise NegotiationError("no accepted presentation context for Storage Commitment")


def _can_report_on(assoc: Association) -> bool:
    if not assoc.is_established:
        return False
    return assoc.negotiated.context_for(STORAGE_COMMITMENT_PUSH_MODEL, role="scp") is not None


async def send_event_report(assoc: Association, result: CommitmentResult) -> int:
    """Send ``result`` as an N-EVENT-REPORT-RQ on ``assoc``; returns the response status."""
    context = _report_context(assoc)
    data = encode_event_information(result, context.transfer_syntax)
    message = NEventReportRQ(
        message_id=1,
        has_dataset=True,
        affected_sop_class_uid=STORAGE_COMMITMENT_PUSH_MODEL,
        affected_sop_instance_uid=STORAGE_COMMITMENT_INSTANCE,
        event_type_id=result.event_type_id,
    )
    response = await assoc.send_request(message, data, context=context)
    status = response.status
    # PS3.4 J.3.3.1.3 leaves what the SCU does to the SCU; a failure answer is only logged.
    failed = category(status) is StatusCategory.FAILURE
    assoc.log.log(
        logging.WARNING if failed else logging.INFO,
        "commitment report %s (event %d, %d committed, %d failed): status 0x%04X",
        result.transaction_uid,
        result.event_type_id,
        len(result.committed),
        len(result.failed),
        status,
    )
    return status


async def request_commitment(
    assoc: Association,
    instances: Iterable[InstanceLike],
    *,
    transaction_uid: str | None = None,
) -> str:
    """Send the N-ACTION-RQ asking to commit ``instances``; returns the Transaction UID.

    A new ``2.25`` UID is made unless ``transaction_uid`` is given. Raises
    :class:`CommitmentError` when the SCP answers with a failure status (the
    report then never comes) and :class:`~dicomnet.errors.NegotiationError`
    when the class was not negotiated.
    """
    refs = instance_refs(instances)
    if not refs:
        raise LocalError("a commitment request needs at least one instance")
    uid = transaction_uid or f"2.25.{uuid.uuid4().int}"
    context = assoc.context_for(STORAGE_COMMITMENT_PUSH_MODEL)
    data = encode_action_information(CommitmentRequest(uid, refs), context.transfer_syntax)
    message = NActionRQ(
        message_id=1,
        has_dataset=True,
        requested_sop_class_uid=STORAGE_COMMITMENT_PUSH_MODEL,
        requested_sop_instance_uid=STORAGE_COMMITMENT_INSTANCE,
        action_type_id=ACTION_REQUEST_COMMITMENT,
    )
    response = await assoc.send_request(message, data, context=context)
    status = response.status
    if category(status) not in (StatusCategory.SUCCESS, StatusCategory.WARNING):
        comment = response.message.error_comment
        raise CommitmentError(
            f"commitment request refused: status 0x{status:04X}"
            + (f" ({comment})" if comment else ""),
            status,
        )
    assoc.log.info("commitment requested for %d instance(s): %s", len(refs), uid)
    return uid


# ---------------------------------------------------------------- SCP


class ReportMode(Enum):
    """Where :class:`CommitmentSCP` sends the N-EVENT-REPORT."""

    SAME_OR_NEW = "same-or-new"  # the N-ACTION's association while usable, else a new one
    NEW = "new"  # always a new association (LifeSys)
    SAME = "same"  # the N-ACTION's association only


class AssociationRequestor(Protocol):
    """Something that opens associations, such as :class:`dicomnet.ae.AE`."""

    def associate(
        self, host: str, port: int, *, called_ae: str, contexts: Sequence[ProposedContext]
    ) -> Awaitable[Association]:
        """Request an association to ``host:port``."""
        ...


class CommitmentSCP:
    """The Storage Commitment Push Model SCP: answers N-ACTION-RQ, then sends the report.

    ``verdict`` decides each instance (default: :func:`store_verdict` of
    ``store``; one of them is required). ``mode`` says where the report goes
    (:class:`ReportMode`); a new association is opened with ``requestor``
    (usually the serving :class:`~dicomnet.ae.AE`) to the address that
    ``destinations`` gives for the requesting AE title (or, for a title not
    in it, to ``peer_port`` at the requestor's own IP address), proposing
    ``transfer_syntaxes``. Reports are sent by background tasks:
    :meth:`drain` waits for them, :meth:`close` cancels them.
    """

    def __init__(
        self,
        verdict: Verdict | None = None,
        *,
        store: Any = None,
        mode: ReportMode = ReportMode.SAME_OR_NEW,
        destinations: Mapping[str, tuple[str, int]] | None = None,
        requestor: AssociationRequestor | None = None,
        peer_port: int | None = None,
        transfer_syntaxes: Sequence[str] = (_EXPLICIT_LE, _IMPLICIT_LE),
    ) -> None:
        if verdict is None:
            if store is None:
                raise LocalError("CommitmentSCP needs a verdict or a store")
            verdict = store_verdict(store)
        self.verdict = verdict
        self.mode = mode
        self.destinations = dict(destinations or {})
        self.requestor = requestor
        self.peer_port = peer_port
        self.transfer_syntaxes = tuple(transfer_syntaxes)
        #: The latest results whose report was answered (any status), oldest first.
        self.reported: deque[CommitmentResult] = deque(maxlen=REPORTED_KEPT)
        self._tasks: set[asyncio.Task[None]] = set()

    def bindings(self) -> Iterable[Binding]:
        """N-ACTION for the Storage Commitment Push Model class."""
        return [
            Binding(
                command_field=CommandField.N_ACTION_RQ,
                handler=self.handle_action,
                sop_classes=frozenset({STORAGE_COMMITMENT_PUSH_MODEL}),
            )
        ]

    async def handle_action(self, request: IncomingRequest) -> Reply:
        """Check the N-ACTION-RQ, answer it, and start the report in the background."""
        message = request.message
        assert isinstance(message, NActionRQ)
        assoc = request.association
        data = await request.dataset_bytes()
        if message.action_type_id != ACTION_REQUEST_COMMITMENT:
            return _failure(Status.NO_SUCH_ACTION, f"action type {message.action_type_id}")
        if message.requested_sop_instance_uid != STORAGE_COMMITMENT_INSTANCE:
            return _failure(Status.NO_SUCH_SOP_INSTANCE, "not the well-known instance")
        try:
            commitment = decode_action_information(data, request.context.transfer_syntax)
        except CommitmentError as exc:
            assoc.log.warning("bad commitment request: %s", logsafe(exc, ERROR_LIMIT))
            return _failure(exc.status, str(exc))
        assoc.log.info(
            "commitment request %s for %d instance(s)",
            logsafe(commitment.transaction_uid),
            len(commitment.instances),
        )
        return await self._accept(assoc, commitment)

    async def _accept(self, assoc: Association, commitment: CommitmentRequest) -> Reply:
        """A well-formed request: start its report in the background, answer Success."""
        self._start(self._report(assoc, commitment))
        return Reply(status=Status.SUCCESS)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a report task (awaited by :meth:`drain`, cancelled by :meth:`close`)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, assoc: Association | None, result: CommitmentResult, peer: str, peer_host: str | None
    ) -> None:
        """Send ``result`` where :attr:`mode` says (``assoc``: the request's, if any); raises."""
        if assoc is not None and self.mode is not ReportMode.NEW and _can_report_on(assoc):
            try:
                await send_event_report(assoc, result)
                self.reported.append(result)
                return
            except DicomNetError as exc:
                if self.mode is ReportMode.SAME or assoc.is_established:
                    raise
                assoc.log.info("association ended before the report: %s", logsafe(exc, ERROR_LIMIT))
        elif self.mode is ReportMode.SAME:
            raise CommitmentError("the association of the request has ended")
        await self._report_on_new(peer, peer_host, result)
        self.reported.append(result)

    async def _report(self, assoc: Association, commitment: CommitmentRequest) -> None:
        peer = assoc.peer_ae_title
        peer_host = None if not assoc.peer_address else str(assoc.peer_address[0])
        result = await evaluate(commitment, self.verdict)
        try:
            await self._deliver(assoc, result, peer, peer_host)
        except Exception as exc:
            _log.error(
                "commitment report %s to %s not delivered: %s",
                logsafe(result.transaction_uid),
                logsafe(peer),
                logsafe(exc, ERROR_LIMIT),
            )

    async def _report_on_new(
        self, peer: str, peer_host: str | None, result: CommitmentResult
    ) -> None:
        address = self.destinations.get(peer)
        if address is None and self.peer_port is not None and peer_host:
            address = (peer_host, self.peer_port)
        if address is None:
            raise CommitmentError(f"no address known for AE title {peer!r}")
        if self.requestor is None:
            raise CommitmentError("no requestor to open a new association with")
        context = ProposedContext(
            abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL,
            transfer_syntaxes=self.transfer_syntaxes,
            scu_role=False,
            scp_role=True,
        )
        host, port = address
        assoc = await self.requestor.associate(host, port, called_ae=peer, contexts=[context])
        try:
            await send_event_report(assoc, result)
        except BaseException:
            await assoc.abort()
            raise
        try:
            await assoc.release()
        except DicomNetError as exc:  # the report was answered: it is delivered
            assoc.log.info("release after the report: %s", logsafe(exc, ERROR_LIMIT))

    async def drain(self) -> None:
        """Wait until every report started so far has been sent (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Cancel reports still being sent."""
        for task in list(self._tasks):
            task.cancel()


def _failure(status: int, comment: str) -> Reply:
    return Reply(status=status, fields={"error_comment": error_comment(comment)})


# ---------------------------------------------------------------- SCU


class CommitmentSCU:
    """The Storage Commitment Push Model SCU: sends requests, receives the reports.

    Add it as a service to every AE on which reports may arrive (the one that
    requests, for reports on the same association, and the serving one, for
    reports on a new association). ``on_report`` is called (and awaited if it
    returns an awaitable) with every report received, before it is answered.
    A report that arrives before anyone waits for it is kept (the latest
    :data:`UNCLAIMED_KEPT` of them) for :meth:`wait_for_report`.
    """

    def __init__(
        self,
        on_report: Callable[[CommitmentResult, Association], Awaitable[None] | None] | None = None,
    ) -> None:
        self.on_report = on_report
        self._results: dict[str, asyncio.Future[CommitmentResult]] = {}

    def bindings(self) -> Iterable[Binding]:
        """N-EVENT-REPORT for the Storage Commitment Push Model class."""
        return [
            Binding(
                command_field=CommandField.N_EVENT_REPORT_RQ,
                handler=self.handle_report,
                sop_classes=frozenset({STORAGE_COMMITMENT_PUSH_MODEL}),
            )
        ]

    def _future(self, transaction_uid: str) -> asyncio.Future[CommitmentResult]:
        future = self._results.get(transaction_uid)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._results[transaction_uid] = future
        return future

    async def request_commitment(
        self,
        assoc: Association,
        instances: Iterable[InstanceLike],
        *,
        transaction_uid: str | None = None,
    ) -> str:
        """:func:`request_commitment`, ready for a report that comes before the response."""
        uid = transaction_uid or f"2.25.{uuid.uuid4().int}"
        self._future(uid)
        try:
            return await request_commitment(assoc, instances, transaction_uid=uid)
        except BaseException:
            future = self._results.pop(uid, None)
            if future is not None and not future.done():
                future.cancel()
            raise

    async def wait_for_report(
        self, transaction_uid: str, timeout: float | None = None
    ) -> CommitmentResult:
        """The report of ``transaction_uid`` (waits for it; raises ``TimeoutError``)."""
        future = self._future(transaction_uid)
        try:
            async with asyncio.timeout(timeout):
                result = await asyncio.shield(future)
        finally:
            if future.done():
                self._results.pop(transaction_uid, None)
        return result

    def pending(self) -> tuple[str, ...]:
        """Transaction UIDs whose report has not been taken yet."""
        return tuple(uid for uid, future in self._results.items() if not future.done())

    async def handle_report(self, request: IncomingRequest) -> Reply:
        """Answer one N-EVENT-REPORT-RQ and hand its result to the waiter."""
        message = request.message
        assert isinstance(message, NEventReportRQ)
        assoc = request.association
        data = await request.dataset_bytes()
        if message.event_type_id not in (EVENT_ALL_COMMITTED, EVENT_SOME_FAILED):
            return _failure(Status.NO_SUCH_EVENT_TYPE, f"event type {message.event_type_id}")
        try:
            result = decode_event_information(data, request.context.transfer_syntax)
        except CommitmentError as exc:
            assoc.log.warning("bad commitment report: %s", logsafe(exc, ERROR_LIMIT))
            return _failure(exc.status, str(exc))
        assoc.log.info(
            "commitment report %s: %d committed, %d failed",
            logsafe(result.transaction_uid),
            len(result.committed),
            len(result.failed),
        )
        if self.on_report is not None:
            outcome = self.on_report(result, assoc)
            if inspect.isawaitable(outcome):
                await outcome
        future = self._future(result.transaction_uid)
        if not future.done():
            future.set_result(result)
        self._forget_oldest_unclaimed()
        return Reply(status=Status.SUCCESS)

    def _forget_oldest_unclaimed(self) -> None:
        """Keep at most :data:`UNCLAIMED_KEPT` reports that nobody has taken yet."""
        unclaimed = [uid for uid, future in self._results.items() if future.done()]
        for uid in unclaimed[: max(0, len(unclaimed) - UNCLAIMED_KEPT)]:
            del self._results[uid]
