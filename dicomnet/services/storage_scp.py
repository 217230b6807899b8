"""The Storage Service Class, SCP side (PS3.4 Annex B; C-STORE, PS3.7 §9.1.1).

:class:`StorageService` answers C-STORE-RQ by streaming each data set into a
sink of an :class:`~dicomnet.storage.sinks.InstanceStore` as its fragments
arrive (a folder, memory, or anything with ``open_sink``), and committing it
when the last fragment is in. The data set is kept as received, in the
negotiated transfer syntax (no decoding, no transcoding).

Statuses (PS3.4 Table B.2-1):

======  ============================================================================
0000    stored (also for a duplicate dropped under ``Duplicate.KEEP_FIRST``: the
        instance is held, which is what the SCU needs to know)
A700    out of resources: the store raised :class:`OSError` (disk full, permissions);
        nothing of the instance is kept
A900    data set does not match SOP class: the data set's own SOP Class UID
        (0008,0016) or SOP Instance UID (0008,0018) contradicts the command;
        Offending Element names which
C000    cannot understand: the data set is not a well-framed data set of the
        negotiated transfer syntax (empty, cut short, a length that overruns,
        out-of-order tags, bad VR, Pixel Data encapsulated on a native context
        or native on an encapsulated one); see
        :mod:`dicomnet.services.dataset_check`
C111    duplicate refused (``Duplicate.REFUSE``): a "cannot understand" failure
        from the Cxxx range of Table B.2-1, whose low bits recall the general
        Duplicate SOP Instance status 0111H of PS3.7 Annex C; the Error Comment
        says so
B007    stored, but not conformant to its IOD, when the profile answers the
        ``not-iod-conformant`` situation with a warning (LifeSys); a failure code
        there refuses it instead (see :mod:`dicomnet.services.iod_check`)
B000,   otherwise a ``decide`` hook returns them (it sees the committed instance
B006    and may answer any status)
======  ============================================================================

Each non-success answer is a *situation* (:class:`dicomnet.status_policy.Situation`);
the AE's profile may give it another code (LifeSys and MedDream answer a failed
file system operation with 0110) or have the association aborted after it
(DicomArk). The codes above are those without a profile rule.

The A900/C000 check walks the element headers of the whole data set while
the fragments stream through (:mod:`dicomnet.dimse.walker`; values are
skipped, not read; deflated syntaxes are inflated on the way), so a data set
that does not end exactly at an element boundary is refused, and nothing of
it is kept. Only private or unknown transfer syntaxes are not checked. A data
set that arrived whole and has the shape of one that passed (same syntax and
length, same bytes at every element header; :class:`~dicomnet.storage.shapes.WalkedShapes`)
gets the walk's answer without a walk: only its UIDs are compared.

A SOP Instance UID that is not a valid UID is stored (under a hashed file
name in a folder store, see :mod:`dicomnet.storage.filenames`) and the
response then leaves out Affected SOP Class/Instance UID (both are optional
in C-STORE-RSP) rather than echo a malformed UID.

If the association ends while the data set is still arriving, the sink is
discarded: nothing partial is kept, and instances stored earlier are not
touched.

The Policy of a general purpose Storage SCP comes from the conformance data:
:func:`dicomnet.conformance.defaults.storage_policy`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any, Final

from dicomnet.dimse.commands import CommandField, CStoreRQ
from dicomnet.dimse.status import Status, StatusCategory, category
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.status_policy import Situation, StatusPolicy
from dicomnet.storage.filenames import is_valid_uid
from dicomnet.storage.shapes import WalkedShapes
from dicomnet.storage.sinks import (
    DuplicateRefused,
    InstanceInfo,
    InstanceStore,
    SeriesMemo,
    StorageError,
    StorageSink,
    StoredInstance,
)

from .base import Binding, DataStream, IncomingRequest, Reply
from .coercion import BITS_ALLOCATED, OwToOb
from .dataset_check import DatasetCheck, capture_set
from .dataset_check import failure as _failure

__all__ = [
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "DUPLICATE_REFUSED",
    "DatasetCheck",
    "Decide",
    "StorageService",
    "instance_info",
]

_log = logging.getLogger("dicomnet.storage")

#: Received data set bytes gathered into one sink write, at most (about).
WRITE_BATCH: Final = 1024 * 1024
#: Status for a duplicate under ``Duplicate.REFUSE`` (see the module docstring).
DUPLICATE_REFUSED: Final = 0xC111
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1.99"

#: ``decide(request, stored)``: the response status (or Reply) for a committed instance.
Decide = Callable[[IncomingRequest, StoredInstance], Awaitable[int | Reply]]


def instance_info(request: IncomingRequest) -> InstanceInfo:
    """What a C-STORE-RQ tells of its instance before the data set arrives."""
    message = request.message
    assert isinstance(message, CStoreRQ)
    association = request.association
    policy = association.policy
    return InstanceInfo(
        sop_class_uid=message.affected_sop_class_uid.rstrip("\0 "),
        sop_instance_uid=message.affected_sop_instance_uid.rstrip("\0 "),
        transfer_syntax_uid=str(request.context.transfer_syntax),
        source_ae_title=association.peer_ae_title,
        called_ae_title=association.local_ae_title,
        implementation_class_uid=policy.implementation_class_uid,
        implementation_version_name=policy.implementation_version_name,
    )


class StorageService:
    """C-STORE SCP writing into ``store``.

    ``sop_classes`` limits the bindings to those SOP classes (default: every
    C-STORE-RQ, whatever was negotiated). ``decide``, when given, is awaited
    after each successful commit with the request and the
    :class:`~dicomnet.storage.sinks.StoredInstance` (whose ``outcome`` tells
    stored / replaced / duplicate kept); its result is the response status
    (an ``int`` or a :class:`~dicomnet.services.base.Reply`), e.g. a B000,
    B006 or B007 warning. ``check_dataset=False`` turns off the A900/C000
    check of the data set (see :mod:`dicomnet.services.dataset_check`).

    Its handler is bound ``inline`` (see :mod:`dicomnet.services.base`): the
    store's ``open_sink``, the sink and ``decide`` run inside the receive
    callback until they first wait, so on Python 3.11 they must not need a
    current task before that (``asyncio.timeout``). A store whose commits
    always wait (``store.commit_waits`` true: an index's group commit, an
    fsync in the commit executor) gets a task per request from the start
    instead, which costs less than starting inline and handing over at the wait;
    unless it says its waits never need a current task (``store.resumable_waits``,
    as the folder store and the indexed store do) and there is no ``decide``:
    then the handler starts inline, and a wait of it on a plain future (the
    group commit, the commit thread) goes on from that future's completion,
    without a task.
    """

    def __init__(
        self,
        store: InstanceStore,
        *,
        sop_classes: Iterable[str] | None = None,
        decide: Decide | None = None,
        check_dataset: bool = True,
    ) -> None:
        self.store = store
        self.sop_classes = None if sop_classes is None else frozenset(sop_classes)
        self.decide = decide
        self.check_dataset = check_dataset
        # (iod, coercing, the sink's header_tags) -> the check's capture set, made once,
        # and the shapes of whole data sets that passed the check with it.
        self._captures: dict[
            tuple[bool, bool, tuple[int, ...]], tuple[frozenset[int], WalkedShapes]
        ] = {}

    def bindings(self) -> Iterable[Binding]:
        """C-STORE-RQ, for the configured SOP classes or all."""
        # A store whose waits need no current task (``store.resumable_waits``), and no
        # ``decide`` (which may): inline, and resumed from the futures it waits on.
        resumable = self.decide is None and getattr(self.store, "resumable_waits", False)
        return (
            Binding(
                command_field=CommandField.C_STORE_RQ,
                handler=self.handle,
                sop_classes=self.sop_classes,
                inline=resumable or not getattr(self.store, "commit_waits", False),
                resumable=resumable,
            ),
        )

    async def handle(self, request: IncomingRequest) -> Reply:
        """Answer one C-STORE-RQ."""
        message = request.message
        if not isinstance(message, CStoreRQ):
            return Reply(status=Status.UNRECOGNIZED_OPERATION)
        reply, situation = await self._store(request, message)
        if situation is not None:
            reply = _as_profile_says(request, reply, situation)
        if not (
            is_valid_uid(message.affected_sop_instance_uid)
            and is_valid_uid(message.affected_sop_class_uid)
        ):
            fields = {
                **reply.fields,
                "affected_sop_class_uid": None,
                "affected_sop_instance_uid": None,
            }
            reply = replace(reply, fields=fields)
        return reply

    async def _store(
        self, request: IncomingRequest, message: CStoreRQ
    ) -> tuple[Reply, Situation | None]:
        """The reply, and the situation it answers when that is not a plain success."""
        log = request.association.log
        stream = request.data
        if stream is None:
            return _failure(
                Status.CANNOT_UNDERSTAND, "C-STORE-RQ without a data set"
            ), Situation.CANNOT_UNDERSTAND
        info = instance_info(request)
        uid = info.sop_instance_uid
        try:
            sink = await self.store.open_sink(info)
        except DuplicateRefused:
            stream.discard_rest()
            log.warning("duplicate SOP instance %s refused", logsafe(uid))
            return _failure(DUPLICATE_REFUSED, f"duplicate SOP Instance refused: {uid}"), None
        except OSError as exc:
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(
                Status.OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}"
            ), Situation.OUT_OF_RESOURCES
        except StorageError as exc:
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(Status.CANNOT_UNDERSTAND, str(exc)), Situation.PROCESSING_FAILURE
        statuses = request.association.policy.statuses
        iod = self.check_dataset and statuses.names("C-STORE", Situation.NOT_IOD_CONFORMANT)
        coercer = self._coercer(request.association.policy.coerce_ow_to_ob_8bit, info)
        warning: Reply | None = None
        try:
            failure, detail, problems = await self._receive(
                stream, sink, info, iod=iod, coercer=coercer, association=request.association
            )
            situation = None
            if failure is None and problems:
                failure, warning = _not_conformant(statuses, problems)
                detail = "; ".join(problems)
                situation = Situation.NOT_IOD_CONFORMANT
            if failure is not None:
                await sink.discard()
                stream.discard_rest()
                log.warning(
                    "instance %s not stored: %s", logsafe(uid), logsafe(detail, ERROR_LIMIT)
                )
                return failure, situation or _SITUATION_OF.get(failure.status)
            if warning is not None:
                log.warning(
                    "instance %s does not conform to its IOD: %s",
                    logsafe(uid),
                    logsafe("; ".join(problems), ERROR_LIMIT),
                )
            stored = await sink.commit(info)
        except DuplicateRefused:
            await sink.discard()
            log.warning("duplicate SOP instance %s refused", logsafe(uid))
            return _failure(DUPLICATE_REFUSED, f"duplicate SOP Instance refused: {uid}"), None
        except OSError as exc:
            await sink.discard()
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(
                Status.OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}"
            ), Situation.OUT_OF_RESOURCES
        except BaseException as exc:
            # Association ended mid-data-set (the stream raised) or the task
            # was cancelled: drop the partial instance, let the error go on.
            await sink.discard()
            log.info(
                "instance %s not stored: %s",
                logsafe(uid),
                logsafe(exc or type(exc).__name__, ERROR_LIMIT),
            )
            raise
        if log.isEnabledFor(logging.INFO):  # the arguments cost more than the call
            log.info(
                "%s %s (%d bytes) at %s",
                stored.outcome.value,
                logsafe(uid),
                stored.size,
                stored.location,
            )
        if warning is None and coercer is not None and coercer.coerced:
            log.info("%s: 8-bit Pixel Data coerced from OW to OB", logsafe(uid))
            code = statuses.status("C-STORE", Situation.COERCION, Status.COERCION_OF_DATA_ELEMENTS)
            warning = _failure(code, "Pixel Data (7FE0,0010) coerced from OW to OB")
        if self.decide is not None:
            outcome = await self.decide(request, stored)
            reply = outcome if isinstance(outcome, Reply) else Reply(status=int(outcome))
            if warning is None or reply.status != Status.SUCCESS:
                return reply, None
        if warning is not None:
            return warning, None
        return Reply(status=Status.SUCCESS), None

    def _coercer(self, wanted: bool, info: InstanceInfo) -> OwToOb | None:
        """The OW -> OB coercion of this data set, when the profile asks and the syntax allows."""
        syntax = info.transfer_syntax_uid
        if not (wanted and self.check_dataset and syntax in _EXPLICIT_NATIVE):
            return None
        return OwToOb(big_endian=syntax == _EXPLICIT_NATIVE[1])

    async def _receive(
        self,
        stream: DataStream,
        sink: StorageSink,
        info: InstanceInfo,
        *,
        iod: bool = False,
        coercer: OwToOb | None = None,
        association: object = None,
    ) -> tuple[Reply | None, str, list[str]]:
        """Write the data set into ``sink``; a failure (and why, in full) if it is refused.

        The third item lists what does not conform to the IOD (when ``iod``).
        ``coercer`` rewrites the bytes on their way (see :mod:`.coercion`).
        A sink that names ``series_tags`` gets ``association``'s series memo with
        the walk, and is walked for ``series_tags`` alone once the memo holds a series
        (see :mod:`dicomnet.storage.sinks`).
        """
        check = None
        write_views = getattr(sink, "write_views", None)
        direct = write_views is not None and coercer is None
        # The whole data set is in (one fragment): it is checked in one go, and not
        # walked when it looks like one that passed (WalkedShapes).
        whole = direct and stream.complete and stream.pending == 1
        memo: SeriesMemo | None = None
        partial = False
        if self.check_dataset:
            # Header elements the sink wants from the walk (WalkedHeader): the index's columns.
            wanted: tuple[int, ...] = getattr(sink, "header_tags", ())
            fewer: tuple[int, ...] | None = getattr(sink, "series_tags", None)
            if fewer is not None:
                # The association's memo of the series walked whole in this syntax (one
                # per syntax: a sink may leave a syntax's memo empty, when it could not
                # read a series new to it from the bytes); kept for that association.
                state: dict[object, Any] | None = getattr(association, "service_state", None)
                if state is not None:
                    memo_key = (self, info.transfer_syntax_uid)
                    memo = state.get(memo_key)
                    if memo is None:
                        memo = state[memo_key] = {}
                if memo:  # (a series walked whole in this association: fewer values)
                    wanted, partial = fewer, True
            key = (iod, coercer is not None, wanted)
            known = self._captures.get(key)
            if known is None:
                more = (BITS_ALLOCATED,) if coercer is not None else ()
                known = capture_set(iod=iod, capture=more + wanted), WalkedShapes()
                self._captures[key] = known
            capture, shapes = known
            check = DatasetCheck(info, iod=iod, capture=capture, shapes=shapes if direct else None)
        if direct:
            assert write_views is not None
            # The sink writes synchronously: fragments go from the receive buffer
            # to it as they arrive, neither copied nor queued. (A coercion rewrites
            # bytes and holds some back: it takes the path below.)
            writer = _DirectWriter(write_views, check, whole=whole)
            stream.consume_with(writer)
            await stream.finished()
            if writer.error is not None:
                raise writer.error
            if writer.failure is not None:
                return writer.failure, check.detail if check is not None else "", []
            return _finished(check, iod, sink, memo, partial)
        chunks: AsyncIterator[bytes] = aiter(stream)
        # Fragments already received are written together (one write of up to
        # WRITE_BATCH bytes instead of one per 16 KB PDV); nothing waits in the
        # batch while the stream waits for the network.
        batch: list[bytes] = []
        size = 0
        async for received in chunks:
            if check is not None and not check.done:
                failure = check.feed(received)
                if failure is not None:
                    return failure, check.detail, []
            chunk = received
            if coercer is not None and check is not None and check.walker is not None:
                walker = check.walker
                chunk = coercer.feed(received, walker.pixel_header, walker.captured)
            batch.append(chunk)
            size += len(chunk)
            if size >= WRITE_BATCH or not stream.pending:
                await sink.write(batch[0] if len(batch) == 1 else b"".join(batch))
                batch.clear()
                size = 0
        if coercer is not None:
            batch.append(coercer.finish())
        if batch:
            await sink.write(b"".join(batch))
        return _finished(check, iod, sink, memo, partial)


def _finished(
    check: DatasetCheck | None,
    iod: bool,
    sink: StorageSink,
    memo: SeriesMemo | None = None,
    partial: bool = False,
) -> tuple[Reply | None, str, list[str]]:
    """After the last fragment: the check's failure, or what does not fit the IOD.

    A sink that asks for the header walked (``header_walked``) gets it here.
    """
    if check is None:
        return None, "", []
    failure = check.finish()
    if failure is None:
        _hand_header(check, sink, memo, partial)
    if failure is not None or not iod:
        return failure, check.detail, []
    return None, "", check.iod_problems()


def _hand_header(
    check: DatasetCheck, sink: StorageSink, memo: SeriesMemo | None, partial: bool
) -> None:
    """Give the sink what the walk of the (complete, well-framed) data set saw of its header
    (with the association's series memo, to a sink that names ``series_tags``)."""
    walked: Callable[..., None] | None = getattr(sink, "header_walked", None)
    if walked is None:
        return
    header = check.walked()
    if header is not None:
        if memo is None:
            walked(header)
        else:
            walked(header, memo, partial)


#: Explicit VR Little Endian, Explicit VR Big Endian: the syntaxes whose VR can be coerced.
_EXPLICIT_NATIVE: Final = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")

#: The situation a failure of the data set check answers (for the profile's status).
_SITUATION_OF: Final[dict[int, Situation]] = {
    Status.CANNOT_UNDERSTAND: Situation.CANNOT_UNDERSTAND,
    Status.DATASET_DOES_NOT_MATCH_SOP_CLASS: Situation.DATASET_DOES_NOT_MATCH_SOP_CLASS,
}


def _not_conformant(
    statuses: StatusPolicy, problems: list[str]
) -> tuple[Reply | None, Reply | None]:
    """(failure, warning) for a data set that does not conform to its IOD.

    The profile's code for ``not-iod-conformant`` decides: a warning (LifeSys
    B007) stores the instance and answers it; a failure (or none stated: A900)
    refuses it.
    """
    code = statuses.status(
        "C-STORE", Situation.NOT_IOD_CONFORMANT, Status.DATASET_DOES_NOT_MATCH_SOP_CLASS
    )
    reply = _failure(code, "not conformant to the IOD: " + "; ".join(problems))
    if category(code) is StatusCategory.WARNING:
        return None, reply
    return reply, None


def _as_profile_says(request: IncomingRequest, reply: Reply, situation: Situation) -> Reply:
    """``reply`` with the profile's status for ``situation``; abort afterwards if it says so."""
    statuses = request.association.policy.statuses
    code = statuses.status("C-STORE", situation, reply.status)
    if code != reply.status:
        reply = replace(reply, status=code)
    if statuses.aborts("C-STORE", situation):
        request.association.log.error(
            "instance not stored (%s, 0x%04X): aborting", situation.value, reply.status
        )
        request.association.abort_nowait(f"instance not stored: {situation.value}")
    return reply


class _DirectWriter:
    """The consumer of a data stream writing into a synchronous sink (``write_views``)."""

    __slots__ = ("check", "error", "failure", "whole", "write_views")

    def __init__(
        self,
        write_views: Callable[[list[memoryview]], None],
        check: DatasetCheck | None,
        *,
        whole: bool = False,
    ) -> None:
        self.write_views = write_views
        self.check = check
        # The first call brings the whole data set (DatasetCheck.feed_whole).
        self.whole = whole
        self.failure: Reply | None = None
        self.error: OSError | None = None

    def __call__(self, views: list[memoryview]) -> bool:
        check = self.check
        whole, self.whole = self.whole, False
        if whole and check is not None and len(views) == 1:
            self.failure = check.feed_whole(views[0])
            if self.failure is not None:
                return True
        elif check is not None and not check.skip(total := sum(map(len, views))):
            for view in views:
                failure = check.feed(view)
                if failure is not None:
                    self.failure = failure
                    return True
                total -= len(view)
                if total and check.skip(total):
                    break  # the rest lies inside one value (Pixel Data)
        try:
            self.write_views(views)
        except OSError as exc:
            self.error = exc
            return True
        return False


# ------------------------------------------------------------------ policy
