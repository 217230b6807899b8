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
C000    cannot understand: the data set does not start like a data set of the
        negotiated transfer syntax (empty, truncated, out-of-order tags, bad VR)
C111    duplicate refused (``Duplicate.REFUSE``): a "cannot understand" failure
        from the Cxxx range of Table B.2-1, whose low bits recall the general
        Duplicate SOP Instance status 0111H of PS3.7 Annex C; the Error Comment
        says so
B000,   warnings are never produced by this service; a ``decide`` hook returns
B006,   them (it sees the committed instance and may answer any status)
B007
======  ============================================================================

The SOP class check reads only the first elements of the data set (up to
(0008,0018), within the first 64 KiB) while the fragments stream through;
deflated syntaxes, and data sets with a sequence of undefined length before
(0008,0018), are not checked.

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
import re
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Final

from dicomnet.dimse.commands import CommandField, CStoreRQ
from dicomnet.dimse.comments import error_comment
from dicomnet.dimse.dataset import (
    transfer_syntax_encoding,
)
from dicomnet.dimse.errors import DatasetError
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

__all__ = [
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "DUPLICATE_REFUSED",
    "DatasetStartCheck",
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


def _failure(status: int, comment: str, *, offending: tuple[int, ...] = ()) -> Reply:
    fields: dict[str, object] = {"error_comment": error_comment(comment)}
    if offending:
        fields["offending_element"] = offending
    return Reply(status=status, fields=fields)


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
    check of the data set's first elements.
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
            failure = await self._receive(stream, sink, info)
            if failure is not None:
                await sink.discard()
                stream.discard_rest()
                log.warning(
                    "instance %s not stored: %s",
                    logsafe(uid),
                    logsafe(failure.fields["error_comment"], ERROR_LIMIT),
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
    ) -> Reply | None:
        check = DatasetStartCheck(info) if self.check_dataset else None
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
                    return failure
            batch.append(chunk)
            size += len(chunk)
            if size >= WRITE_BATCH or not stream.pending:
                await sink.write(batch[0] if len(batch) == 1 else b"".join(batch))
                batch.clear()
                size = 0
        if batch:
            await sink.write(b"".join(batch))
        return None if check is None else check.finish()


# ------------------------------------------------------------------ data set check

_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_VR_RE: Final = re.compile(rb"[A-Z]{2}")
_UNDEFINED: Final = 0xFFFFFFFF
_SOP_CLASS_TAG: Final = 0x00080016
_SOP_INSTANCE_TAG: Final = 0x00080018


class DatasetStartCheck:
    """Reads a data set's first elements, as fragments arrive, up to (0008,0018).

    :meth:`feed` and :meth:`finish` return a failure :class:`Reply` (A900 or
    C000) as soon as one is certain, else ``None``; :attr:`done` is set once
    the check has decided or given up (deflated or unknown transfer syntax,
    a sequence of undefined length first, nothing decided within
    :attr:`LIMIT` bytes).
    """

    #: Bytes of the data set start kept for the check.
    LIMIT: Final = 64 * 1024

    def __init__(self, info: InstanceInfo) -> None:
        self._expected = {
            _SOP_CLASS_TAG: info.sop_class_uid,
            _SOP_INSTANCE_TAG: info.sop_instance_uid,
        }
        self.done = False
        self._buf = bytearray()
        self._offset = 0
        self._last_tag = -1
        try:
            implicit, little, deflated = transfer_syntax_encoding(info.transfer_syntax_uid)
        except DatasetError:
            implicit, little, deflated = True, True, True
        self.done = deflated
        self._explicit = not implicit
        endian = "<" if little else ">"
        self._tag = struct.Struct(endian + "HH")
        self._u16 = struct.Struct(endian + "H")
        self._u32 = struct.Struct(endian + "I")

    def feed(self, chunk: bytes | bytearray | memoryview) -> Reply | None:
        """Look at the next fragment."""
        if self.done:
            return None
        room = self.LIMIT - len(self._buf)
        self._buf += memoryview(chunk)[:room]
        verdict = self._scan(final=False)
        if not self.done and len(self._buf) >= self.LIMIT:
            self.done = True
        return verdict

    def finish(self) -> Reply | None:
        """The data set is complete."""
        if self.done:
            return None
        return self._scan(final=True)

    def _fail(self, status: int, comment: str, tag: int | None = None) -> Reply:
        self.done = True
        return _failure(status, comment, offending=() if tag is None else (tag,))

    def _scan(self, *, final: bool) -> Reply | None:
        buf = self._buf
        while True:
            offset = self._offset
            available = len(buf) - offset
            if available < 8 or (self._explicit and available < 12 and _long_vr(buf, offset)):
                if not final:
                    return None
                if not buf:
                    return self._fail(Status.CANNOT_UNDERSTAND, "empty data set")
                if available:
                    return self._fail(Status.CANNOT_UNDERSTAND, "data set ends inside an element")
                self.done = True
                return None
            group, element = self._tag.unpack_from(buf, offset)
            tag = group << 16 | element
            if tag <= self._last_tag or group == 0xFFFE:
                return self._fail(
                    Status.CANNOT_UNDERSTAND,
                    f"element ({group:04X},{element:04X}) out of place",
                    tag,
                )
            if self._explicit:
                vr = bytes(buf[offset + 4 : offset + 6])
                if _VR_RE.fullmatch(vr) is None:
                    return self._fail(
                        Status.CANNOT_UNDERSTAND,
                        f"no explicit VR at ({group:04X},{element:04X})",
                        tag,
                    )
                if vr in _LONG_VRS:
                    length, header = self._u32.unpack_from(buf, offset + 8)[0], 12
                else:
                    length, header = self._u16.unpack_from(buf, offset + 6)[0], 8
            else:
                length, header = self._u32.unpack_from(buf, offset + 4)[0], 8
            if tag > _SOP_INSTANCE_TAG:
                self.done = True
                return None
            end = offset + header + length
            if length == _UNDEFINED or end > self.LIMIT:
                self.done = True  # cannot skip it within the bytes kept: no opinion
                return None
            expected = self._expected.get(tag)
            if expected is not None:
                if len(buf) < end:
                    if final:
                        return self._fail(
                            Status.CANNOT_UNDERSTAND, "data set ends inside an element", tag
                        )
                    return None
                value = bytes(buf[offset + header : end]).rstrip(b"\0 ").decode("ascii", "replace")
                if value != expected:
                    name = "SOP Class" if tag == _SOP_CLASS_TAG else "SOP Instance"
                    return self._fail(
                        Status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
                        f"{name} UID {value} differs from the command's",
                        tag,
                    )
            self._offset = end
            self._last_tag = tag


def _long_vr(buf: bytearray, offset: int) -> bool:
    return len(buf) >= offset + 6 and bytes(buf[offset + 4 : offset + 6]) in _LONG_VRS


# ------------------------------------------------------------------ policy
