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
B000,   warnings are never produced by this service; a ``decide`` hook returns
B006,   them (it sees the committed instance and may answer any status)
B007
======  ============================================================================

The A900/C000 check walks the element headers of the whole data set while
the fragments stream through (:mod:`dicomnet.dimse.walker`; values are
skipped, not read; deflated syntaxes are inflated on the way), so a data set
that does not end exactly at an element boundary is refused, and nothing of
it is kept. Only private or unknown transfer syntaxes are not checked.

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
from typing import Final

from dicomnet.dimse.commands import CommandField, CStoreRQ
from dicomnet.dimse.status import Status
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.filenames import is_valid_uid
from dicomnet.storage.sinks import (
    DuplicateRefused,
    InstanceInfo,
    InstanceStore,
    StorageError,
    StorageSink,
    StoredInstance,
)

from .base import Binding, DataStream, IncomingRequest, Reply
from .dataset_check import DatasetCheck
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

    def bindings(self) -> Iterable[Binding]:
        """C-STORE-RQ, for the configured SOP classes or all."""
        return (
            Binding(
                command_field=CommandField.C_STORE_RQ,
                handler=self.handle,
                sop_classes=self.sop_classes,
            ),
        )

    async def handle(self, request: IncomingRequest) -> Reply:
        """Answer one C-STORE-RQ."""
        message = request.message
        if not isinstance(message, CStoreRQ):
            return Reply(status=Status.UNRECOGNIZED_OPERATION)
        reply = await self._store(request, message)
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

    async def _store(self, request: IncomingRequest, message: CStoreRQ) -> Reply:
        log = request.association.log
        stream = request.data
        if stream is None:
            return _failure(Status.CANNOT_UNDERSTAND, "C-STORE-RQ without a data set")
        info = instance_info(request)
        uid = info.sop_instance_uid
        try:
            sink = await self.store.open_sink(info)
        except DuplicateRefused:
            stream.discard_rest()
            log.warning("duplicate SOP instance %s refused", logsafe(uid))
            return _failure(DUPLICATE_REFUSED, f"duplicate SOP Instance refused: {uid}")
        except OSError as exc:
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(Status.OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}")
        except StorageError as exc:
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(Status.CANNOT_UNDERSTAND, str(exc))
        try:
            failure, detail = await self._receive(stream, sink, info)
            if failure is not None:
                await sink.discard()
                stream.discard_rest()
                log.warning(
                    "instance %s not stored: %s", logsafe(uid), logsafe(detail, ERROR_LIMIT)
                )
                return failure
            stored = await sink.commit(info)
        except DuplicateRefused:
            await sink.discard()
            log.warning("duplicate SOP instance %s refused", logsafe(uid))
            return _failure(DUPLICATE_REFUSED, f"duplicate SOP Instance refused: {uid}")
        except OSError as exc:
            await sink.discard()
            stream.discard_rest()
            log.error("cannot store %s: %s", logsafe(uid), logsafe(exc, ERROR_LIMIT))
            return _failure(Status.OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}")
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
        if self.decide is not None:
            outcome = await self.decide(request, stored)
            return outcome if isinstance(outcome, Reply) else Reply(status=int(outcome))
        return Reply(status=Status.SUCCESS)

    async def _receive(
        self, stream: DataStream, sink: StorageSink, info: InstanceInfo
    ) -> tuple[Reply | None, str]:
        """Write the data set into ``sink``; a failure (and why, in full) if it is refused."""
        check = DatasetCheck(info) if self.check_dataset else None
        write_views = getattr(sink, "write_views", None)
        if write_views is not None:
            # The sink writes synchronously: fragments go from the receive buffer
            # to it as they arrive, neither copied nor queued.
            writer = _DirectWriter(write_views, check)
            stream.consume_with(writer)
            await stream.finished()
            if writer.error is not None:
                raise writer.error
            if writer.failure is not None:
                return writer.failure, check.detail if check is not None else ""
            if check is None:
                return None, ""
            return check.finish(), check.detail
        chunks: AsyncIterator[bytes] = aiter(stream)
        # Fragments already received are written together (one write of up to
        # WRITE_BATCH bytes instead of one per 16 KB PDV); nothing waits in the
        # batch while the stream waits for the network.
        batch: list[bytes] = []
        size = 0
        async for chunk in chunks:
            if check is not None and not check.done:
                failure = check.feed(chunk)
                if failure is not None:
                    return failure, check.detail
            batch.append(chunk)
            size += len(chunk)
            if size >= WRITE_BATCH or not stream.pending:
                await sink.write(batch[0] if len(batch) == 1 else b"".join(batch))
                batch.clear()
                size = 0
        if batch:
            await sink.write(b"".join(batch))
        if check is None:
            return None, ""
        return check.finish(), check.detail


class _DirectWriter:
    """The consumer of a data stream writing into a synchronous sink (``write_views``)."""

    __slots__ = ("check", "error", "failure", "write_views")

    def __init__(
        self, write_views: Callable[[list[memoryview]], None], check: DatasetCheck | None
    ) -> None:
        self.write_views = write_views
        self.check = check
        self.failure: Reply | None = None
        self.error: OSError | None = None

    def __call__(self, views: list[memoryview]) -> bool:
        check = self.check
        if check is not None and not check.done:
            for view in views:
                failure = check.feed(view)
                if failure is not None:
                    self.failure = failure
                    return True
        try:
            self.write_views(views)
        except OSError as exc:
            self.error = exc
            return True
        return False


# ------------------------------------------------------------------ policy
