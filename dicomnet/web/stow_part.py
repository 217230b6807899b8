"""One STOW-RS part stored through the archive's ingest, as a C-STORE data set is.

A :class:`PartStore` takes the bytes of one ``application/dicom`` part (a
Part 10 file) as they arrive: it reads the File Meta Information from the
first bytes, opens a sink of the archive's ingest store (the Storage SCP's:
index, duplicates policy), walks the data set as it streams into the sink
(:mod:`dicomnet.dimse.walker`: cut short, overrunning, or contradicting its
transfer syntax is C000; a data set whose SOP Class or Instance UID is not
the meta information's, or whose Study Instance UID is not the one the
request names, is A900) and commits it only once the part is whole. Any
failure discards the sink, so nothing is kept of a refused or incomplete
part. The outcome is a :class:`PartResult` with the PS3.4 status used as
Failure Reason (0008,1197).
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from typing import Final

from dicomnet.dimse.dataset import dataset_walker
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.walker import FramingError, Walker
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.sinks import (
    DuplicateRefused,
    InstanceInfo,
    InstanceStore,
    Outcome,
    StorageError,
    StorageSink,
)
from dicomnet.storage.source import SourceError, parse_file_meta

__all__ = ["CANNOT_UNDERSTAND", "PartResult", "PartStore"]

_log = logging.getLogger("dicomnet.web")

#: Failure Reason values (PS3.4 Table B.2-1 statuses, as PS3.18 Annex I uses them).
OUT_OF_RESOURCES: Final = 0xA700
DOES_NOT_MATCH: Final = 0xA900
CANNOT_UNDERSTAND: Final = 0xC000
DUPLICATE_REFUSED: Final = 0xC111
_SOP_CLASS: Final = 0x00080016
_SOP_INSTANCE: Final = 0x00080018
_STUDY: Final = 0x0020000D
_SERIES: Final = 0x0020000E
_META_START: Final = 132
#: Data set bytes collected before one write to the sink.
_WRITE_BATCH: Final = 256 * 1024
_MAX_META: Final = 64 * 1024


@dataclass(slots=True)
class PartResult:
    """What became of one part."""

    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_uid: str = ""
    series_uid: str = ""
    #: ``None``: stored; else the Failure Reason.
    failure: int | None = None
    reason: str = ""
    outcome: Outcome | None = None


class PartStore:
    """Receives one part into ``store`` (see the module docstring)."""

    def __init__(self, store: InstanceStore, *, study_uid: str | None = None) -> None:
        self.store = store
        self.study_uid = study_uid
        self.result = PartResult()
        self._head = bytearray()
        self._info: InstanceInfo | None = None
        self._sink: StorageSink | None = None
        self._walker: Walker | None = None
        self._batch: list[bytes] = []
        self._batched = 0
        self._received = 0

    @property
    def failed(self) -> bool:
        """A failure is decided (the rest of the part is ignored)."""
        return self.result.failure is not None

    async def feed(self, data: bytes) -> None:
        """The next bytes of the part."""
        if self.failed:
            return
        if self._info is None:
            self._head += data
            offset = self._meta_end()
            if offset is None:
                return
            head, self._head = bytes(self._head), bytearray()
            await self._open(head, offset)
            if self.failed:
                return
            data = head[offset:]
            if not data:
                return
        self._walk(data)
        if self.failed:
            await self._discard()
            return
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= _WRITE_BATCH:
            await self._flush()

    def _meta_end(self) -> int | None:
        """Where the data set starts, once the meta group is in (fails the part if bad)."""
        head = self._head
        if len(head) < _META_START + 12:
            return None
        if head[128:132] != b"DICM":
            self._fail(CANNOT_UNDERSTAND, "not a DICOM Part 10 file (no DICM prefix)")
            return None
        if head[132:136] != b"\x02\x00\x00\x00" or head[136:138] != b"UL":
            self._fail(CANNOT_UNDERSTAND, "File Meta Information without its group length")
            return None
        (length,) = struct.unpack("<L", head[140:144])
        end = 144 + length
        if length > _MAX_META:
            self._fail(CANNOT_UNDERSTAND, "File Meta Information too long")
            return None
        return end if len(head) >= end else None

    async def _open(self, head: bytes, offset: int) -> None:
        try:
            meta = parse_file_meta(io.BytesIO(head[:offset]))
        except (SourceError, ValueError, struct.error) as exc:
            self._fail(CANNOT_UNDERSTAND, f"unreadable File Meta Information: {exc}")
            return
        if meta is None or not meta.sop_instance_uid or not meta.transfer_syntax_uid:
            self._fail(CANNOT_UNDERSTAND, "File Meta Information incomplete")
            return
        self.result.sop_class_uid = meta.sop_class_uid
        self.result.sop_instance_uid = meta.sop_instance_uid
        info = InstanceInfo(
            sop_class_uid=meta.sop_class_uid,
            sop_instance_uid=meta.sop_instance_uid,
            transfer_syntax_uid=meta.transfer_syntax_uid,
            source_ae_title="",
        )
        try:
            self._walker = dataset_walker(
                info.transfer_syntax_uid, capture=(_SOP_CLASS, _SOP_INSTANCE, _STUDY, _SERIES)
            )
        except DatasetError:
            self._fail(CANNOT_UNDERSTAND, f"unknown transfer syntax {info.transfer_syntax_uid}")
            return
        try:
            self._sink = await self.store.open_sink(info)
        except DuplicateRefused:
            self._fail(DUPLICATE_REFUSED, "duplicate SOP Instance refused")
            return
        except OSError as exc:
            self._fail(OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}")
            return
        except StorageError as exc:
            self._fail(CANNOT_UNDERSTAND, str(exc))
            return
        self._info = info

    def _walk(self, data: bytes) -> None:
        walker = self._walker
        if walker is None:
            return
        self._received += len(data)
        try:
            walker.feed(data)
        except FramingError as exc:
            self._fail(CANNOT_UNDERSTAND, f"{exc.reason} at byte {exc.offset}")
            return
        self._compare(walker.captured)

    def _compare(self, captured: dict[int, bytes]) -> None:
        expected = {
            _SOP_CLASS: self.result.sop_class_uid,
            _SOP_INSTANCE: self.result.sop_instance_uid,
        }
        for tag, raw in captured.items():
            value = raw.rstrip(b"\0 ").decode("ascii", "replace")
            if tag == _SERIES:
                self.result.series_uid = value
            elif tag == _STUDY:
                self.result.study_uid = value
                if self.study_uid is not None and value != self.study_uid:
                    self._fail(DOES_NOT_MATCH, "Study Instance UID differs from the request's")
                    return
            elif value != expected[tag]:
                self._fail(DOES_NOT_MATCH, f"data set UID {tag:08X} differs from the meta's")
                return

    async def _flush(self) -> None:
        if self._sink is None or not self._batch:
            return
        data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
        self._batch.clear()
        self._batched = 0
        try:
            await self._sink.write(data)
        except OSError as exc:
            self._fail(OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}")
            await self._discard()

    async def finish(self) -> PartResult:
        """The part is whole: check the data set's end and commit it."""
        if self.failed:
            await self._discard()
            return self.result
        if self._info is None:
            self._fail(CANNOT_UNDERSTAND, "part too short for a DICOM Part 10 file")
            return self.result
        walker = self._walker
        if not self._received:
            self._fail(CANNOT_UNDERSTAND, "empty data set")
        elif walker is not None:
            try:
                walker.finish()
            except FramingError as exc:
                self._fail(CANNOT_UNDERSTAND, f"{exc.reason} at byte {exc.offset}")
            else:
                self._compare(walker.captured)
                if _SOP_INSTANCE not in walker.captured and not self.failed:
                    self._fail(DOES_NOT_MATCH, "data set without SOP Instance UID")
        if self.failed:
            await self._discard()
            return self.result
        await self._flush()
        sink = self._sink
        if sink is None or self.failed:
            await self._discard()
            return self.result
        try:
            stored = await sink.commit(self._info)
        except DuplicateRefused:
            await self._discard()
            self._fail(DUPLICATE_REFUSED, "duplicate SOP Instance refused")
            return self.result
        except OSError as exc:
            await self._discard()
            self._fail(OUT_OF_RESOURCES, f"cannot store: {exc.strerror or exc}")
            return self.result
        self._sink = None
        self.result.outcome = stored.outcome
        return self.result

    async def abort(self) -> None:
        """The body ended or failed before the part was whole: keep nothing of it."""
        await self._discard()

    async def _discard(self) -> None:
        sink, self._sink = self._sink, None
        self._batch.clear()
        if sink is not None:
            try:
                await sink.discard()
            except OSError as exc:
                _log.warning("STOW-RS: discarding a part failed: %s", logsafe(exc, ERROR_LIMIT))

    def _fail(self, status: int, reason: str) -> None:
        if self.result.failure is None:
            self.result.failure = status
            self.result.reason = reason
            _log.warning(
                "STOW-RS: %s not stored: %s",
                logsafe(self.result.sop_instance_uid or "part"),
                logsafe(reason, ERROR_LIMIT),
            )
