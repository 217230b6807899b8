"""PDV framing: cutting a DIMSE message into P-DATA-TF PDUs, and putting it back together.

Sending (:func:`fragment_message`): a message is a command set and an optional
data set. Each is cut into presentation data value (PDV) fragments (PS3.8
§9.3.5 and Annex E) and the fragments are packed into P-DATA-TF PDUs whose
PDU-length field never exceeds the peer's Maximum Length Received. Every PDU
comes out as a list of buffers ready for ``transport.writelines``: PDU and PDV
headers are small new ``bytes``, payloads are memoryview slices of the caller's
buffers (never copied).

Receiving (:class:`Reassembler`): P-DATA-TF PDUs go in, :class:`Fragment` values
come out. A command set is handed over once, whole; a data set is handed over
fragment by fragment as it arrives (streaming), without copying. The message
sequence rules of PS3.8 Annex E are enforced and violations raise
:class:`~dicomnet_pdu.errors.RemoteProtocolError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from .codes import AbortReason
from .errors import LocalProtocolError, RemoteProtocolError
from .layout import PDataRun, ReadableData
from .pdus import PDV, PDataTF

__all__ = [
    "DEFAULT_MAX_COMMAND_SET",
    "PDU_HEADER_LENGTH",
    "PDV_HEADER_LENGTH",
    "UNLIMITED_PDU_LENGTH",
    "DataParts",
    "Fragment",
    "OutItem",
    "Reassembler",
    "command_pdu",
    "fragment_message",
    "whole_message",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview
Segment: TypeAlias = bytes | memoryview
#: What :func:`fragment_message` yields: one PDU as a list of buffers, or a data set
#: laid out straight into the sender's buffers (a :class:`~dicomnet_pdu.layout.PDataRun`,
#: yielded again until it is done).
OutItem: TypeAlias = "list[Segment] | PDataRun"

PDU_HEADER_LENGTH = 6
"""PDU type, reserved byte and 4-byte PDU length."""

PDV_HEADER_LENGTH = 6
"""4-byte item length, presentation context ID and message control header."""

UNLIMITED_PDU_LENGTH = 4 * 1024 * 1024
"""PDU-length used when the peer sets no limit (Maximum Length Received of 0).

The standard allows a single PDV of any size then, but one huge PDU would hold
a whole data set as one write and one receive; 4 MiB keeps PDUs large enough
for throughput and small enough for flow control to act between them.
"""

DEFAULT_MAX_COMMAND_SET = 16384
"""Largest command set a :class:`Reassembler` accepts by default, in bytes of its PDVs.

A command set holds a few UIDs, numbers and at most an attribute list or a
64-character comment: a few hundred bytes, rarely more than a kilobyte.
"""

_MAX_LENGTH_FIELD = 0xFFFFFFFF
_P_DATA_TF = 0x04
_COMMAND_BIT = 0x01
_LAST_BIT = 0x02

_pack_pdu_header = struct.Struct(">BBI").pack
_pack_pdv_header = struct.Struct(">IBB").pack
# A P-DATA-TF header and the header of its one PDV, in one call.
_pack_pdu_pdv_headers = struct.Struct(">BBIIBB").pack
_EMPTY = memoryview(b"")


def _as_bytes_view(chunk: BytesLike) -> memoryview:
    view = memoryview(chunk)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


class _Source:
    """Bytes drawn from a sequence of chunks, pulled one chunk at a time."""

    __slots__ = ("_chunks", "_current", "_pos")

    def __init__(self, chunks: Iterator[BytesLike]) -> None:
        self._chunks = chunks
        self._current = _EMPTY
        self._pos = 0

    def _has_more(self) -> bool:
        """Whether unread bytes remain, pulling chunks (skipping empty ones) as needed."""
        while self._pos >= len(self._current):
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._current = _as_bytes_view(chunk)
            self._pos = 0
        return True

    def take(self, limit: int, out: list[Segment]) -> int:
        """Append up to ``limit`` bytes to ``out`` as slices; return how many were taken.

        Stops as soon as ``limit`` is reached, so it never pulls a chunk it does
        not need.
        """
        taken = 0
        while taken < limit and self._has_more():
            current = self._current
            pos = self._pos
            count = min(len(current) - pos, limit - taken)
            out.append(current if count == len(current) else current[pos : pos + count])
            self._pos = pos + count
            taken += count
        return taken

    def exhausted(self) -> bool:
        """True when no bytes remain (looks ahead by at most one chunk)."""
        return not self._has_more()


def fragment_message(
    context_id: int,
    command: BytesLike,
    dataset: BytesLike | Iterable[BytesLike] | None,
    *,
    max_pdu_length: int,
    pack_command_and_data: bool = False,
    max_pdvs_per_pdu: int = 0,
) -> Iterator[OutItem]:
    """Cut one DIMSE message into P-DATA-TF PDUs, each yielded as a list of buffers.

    Each list is the complete wire form of one P-DATA-TF: its 6-byte header,
    then for every PDV a 6-byte PDV header followed by one or more memoryview
    slices of the caller's buffers (a PDV may span several data set chunks).

    ``max_pdu_length`` is the peer's Maximum Length Received: the PDU-length
    field of every PDU is at most this value. ``0`` means no limit, in which
    case :data:`UNLIMITED_PDU_LENGTH` is used so that large data sets are still
    cut. A value that leaves no room for one payload byte (below 7) is refused.

    The command is always sent, in as many fragments as it needs. ``dataset``
    ``None`` means the message has no data set. Otherwise it is a buffer or an
    iterable of buffers (for instance a file read in pieces); the iterable is
    consumed lazily as PDUs are taken from the generator, never more than one
    chunk ahead of what has been yielded (that look-ahead is how the last
    fragment is recognised). Consecutive small chunks share one PDV. An empty
    data set (``b""`` or an empty iterable) is sent as one last data fragment
    of length 0, so the receiver still sees where the message ends.

    Each data stream fills a PDU with a single PDV, so several PDVs share a PDU
    only when ``pack_command_and_data`` is true: the last command fragment and
    the first data fragment then travel in one PDU if the first data fragment
    gets at least one byte of room. ``max_pdvs_per_pdu`` caps the PDVs in one
    PDU (``0`` = as many as fit); ``1`` therefore disables packing.

    A data set given as a :class:`~dicomnet_pdu.layout.ReadableData` (a file's
    data set) is, unless packed with the command, yielded after the command's PDUs
    as a :class:`~dicomnet_pdu.layout.PDataRun` until that is done: the sender lays
    the same PDUs out in its own buffer and has the data read into it. The
    ReadableData is closed when the generator ends.

    Raises :class:`LocalProtocolError` (at call time, not on iteration) for an
    invalid context ID, PDU length or PDV count.
    """
    if not 1 <= context_id <= 255 or not context_id & 1:
        raise LocalProtocolError(f"presentation context ID must be odd, 1..255: {context_id}")
    if max_pdu_length < 0 or 0 < max_pdu_length <= PDV_HEADER_LENGTH:
        raise LocalProtocolError(f"maximum PDU length too small: {max_pdu_length}")
    if max_pdvs_per_pdu < 0:
        raise LocalProtocolError(f"maximum PDVs per PDU must not be negative: {max_pdvs_per_pdu}")
    limit = min(max_pdu_length or UNLIMITED_PDU_LENGTH, _MAX_LENGTH_FIELD)
    if type(command) is bytes and 0 < len(command) <= limit - PDV_HEADER_LENGTH:
        # A small message (a response, a small C-STORE): one PDU for the command and
        # one for the data set, exactly as the general path below cuts them.
        if dataset is None:
            return iter((_one_pdv_pdu(context_id, _COMMAND_BIT | _LAST_BIT, command),))
        if (
            type(dataset) is bytes
            and not pack_command_and_data
            and 0 < len(dataset) <= limit - PDV_HEADER_LENGTH
        ):
            return iter(
                (
                    _one_pdv_pdu(context_id, _COMMAND_BIT | _LAST_BIT, command),
                    _one_pdv_pdu(context_id, _LAST_BIT, dataset),
                )
            )
    pack = pack_command_and_data and max_pdvs_per_pdu != 1
    if isinstance(dataset, ReadableData) and not pack:
        return _laid_out(context_id, command, dataset, limit, max_pdvs_per_pdu)
    streams: list[tuple[int, _Source]] = [(_COMMAND_BIT, _Source(iter((command,))))]
    if dataset is not None:
        if isinstance(dataset, bytes | bytearray | memoryview):
            chunks: Iterator[BytesLike] = iter((dataset,))
        else:
            chunks = iter(dataset)
        streams.append((0, _Source(chunks)))
    return _pdus(context_id, streams, limit, pack, max_pdvs_per_pdu)


def _laid_out(
    context_id: int, command: BytesLike, data: ReadableData, limit: int, max_pdvs: int
) -> Iterator[OutItem]:
    """The command's PDUs, then the data set as one :class:`PDataRun` until it is done."""
    try:
        if type(command) is bytes and 0 < len(command) <= limit - PDV_HEADER_LENGTH:
            yield _one_pdv_pdu(context_id, _COMMAND_BIT | _LAST_BIT, command)
        else:
            command_stream = [(_COMMAND_BIT, _Source(iter((command,))))]
            yield from _pdus(context_id, command_stream, limit, False, max_pdvs)
        run = PDataRun(context_id, data, limit - PDV_HEADER_LENGTH)
        while not run.done:
            yield run
    finally:
        data.close()


def whole_message(
    context_id: int,
    command: bytes,
    dataset: BytesLike | Iterable[BytesLike] | None,
    *,
    max_pdu_length: int,
    pack_command_and_data: bool = False,
) -> tuple[list[Segment], int] | None:
    """A small message's P-DATA-TF PDUs, all at once: their buffers in one list and their
    size in bytes; ``None`` for any other message (cut it with :func:`fragment_message`).

    Small: ``command`` and ``dataset`` (``bytes``, or ``None``) each fit one PDV of a
    PDU of ``max_pdu_length`` and are not packed together. The PDUs are the ones
    :func:`fragment_message` yields for it (the command's PDU, then the data set's), their
    headers packed two by two; the payloads are not copied.
    """
    room = min(max_pdu_length or UNLIMITED_PDU_LENGTH, _MAX_LENGTH_FIELD) - PDV_HEADER_LENGTH
    size = len(command)
    if (
        type(command) is not bytes
        or not 0 < size <= room
        or not 0 < context_id <= 255
        or not context_id & 1
    ):
        return None
    segments = _one_pdv_pdu(context_id, _COMMAND_BIT | _LAST_BIT, command)
    if dataset is None:
        return segments, size + PDU_HEADER_LENGTH + PDV_HEADER_LENGTH
    if type(dataset) is not bytes or pack_command_and_data:
        return None
    length = len(dataset)
    if not 0 < length <= room:
        return None
    segments += _one_pdv_pdu(context_id, _LAST_BIT, dataset)
    return segments, size + length + 2 * (PDU_HEADER_LENGTH + PDV_HEADER_LENGTH)


def command_pdu(context_id: int, command: bytes) -> list[Segment]:
    """The P-DATA-TF of a whole command set in one PDV (a message without a data set whose
    command fits the PDU), as :func:`fragment_message` gives it."""
    return _one_pdv_pdu(context_id, _COMMAND_BIT | _LAST_BIT, command)


def _one_pdv_pdu(context_id: int, control: int, payload: bytes) -> list[Segment]:
    """A P-DATA-TF of one PDV holding all of ``payload``."""
    size = len(payload)
    headers = _pack_pdu_pdv_headers(
        _P_DATA_TF, 0, size + PDV_HEADER_LENGTH, size + 2, context_id, control
    )
    return [headers, payload]


def _pdus(
    context_id: int,
    streams: list[tuple[int, _Source]],
    limit: int,
    pack: bool,
    max_pdvs: int,
) -> Iterator[list[Segment]]:
    segments: list[Segment] = [b""]  # slot 0 becomes the PDU header
    used = 0  # the PDU-length value so far
    pdvs = 0
    for control, source in streams:
        while True:
            if pdvs and (limit - used <= PDV_HEADER_LENGTH or (max_pdvs and pdvs >= max_pdvs)):
                segments[0] = _pack_pdu_header(_P_DATA_TF, 0, used)
                yield segments
                segments, used, pdvs = [b""], 0, 0
            header_at = len(segments)
            segments.append(b"")
            count = source.take(limit - used - PDV_HEADER_LENGTH, segments)
            last = source.exhausted()
            segments[header_at] = _pack_pdv_header(
                count + 2, context_id, (control | _LAST_BIT) if last else control
            )
            used += PDV_HEADER_LENGTH + count
            pdvs += 1
            if last:
                break
            segments[0] = _pack_pdu_header(_P_DATA_TF, 0, used)
            yield segments
            segments, used, pdvs = [b""], 0, 0
        if not pack:
            segments[0] = _pack_pdu_header(_P_DATA_TF, 0, used)
            yield segments
            segments, used, pdvs = [b""], 0, 0
    if pdvs:
        segments[0] = _pack_pdu_header(_P_DATA_TF, 0, used)
        yield segments


# Fragment and DataParts are made for every message and every read: not frozen, whose
# __init__ (object.__setattr__ per field) costs about three times as much. They are
# handed over once and never changed.
@dataclass(slots=True)
class Fragment:
    """What the :class:`Reassembler` hands over: a whole command set or one data fragment.

    ``data`` is the received buffer itself for data set fragments (often a
    memoryview into the receive buffer: consume or copy it before the next
    PDU is read) and a ``bytes`` object for a command set.
    """

    context_id: int
    is_command: bool
    is_last: bool
    data: BytesLike


@dataclass(slots=True)
class DataParts:
    """Consecutive data set fragments of one message, as :meth:`Reassembler.feed_items` gives them.

    ``parts`` are the PDV payloads in order, slices of the receive buffer
    (consume or copy them before it changes); ``is_last`` when the last
    one ends the data set.
    """

    context_id: int
    is_last: bool
    parts: list[memoryview]


class Reassembler:
    """Rebuilds DIMSE messages from received P-DATA-TF PDUs (PS3.8 Annex E).

    Command fragments are collected and emitted once, as a single
    ``Fragment(is_command=True, is_last=True)`` holding the whole command set.
    Data set fragments are emitted as they arrive, ``is_last`` on the final one.

    Sequence rules enforced, each violation raising :class:`RemoteProtocolError`:

    * the presentation context ID must be odd (1..255); otherwise the reason is
      ``INVALID_PDU_PARAMETER_VALUE`` (6);
    * a data fragment must follow a complete command on the same context, with
      no other command in between, and a data set must not continue after its
      last fragment;
    * no command fragment may arrive while a data set is incomplete;
    * while a command or data set is incomplete, fragments on any other
      presentation context are refused (messages are not interleaved);
    * a command set may not exceed ``max_command_set`` bytes, counting each of
      its PDVs with its 6-byte item header (so that empty fragments count too).
      Only this much of a command is ever held; beyond it the fragments kept so
      far are dropped and the error carries reason ``NOT_SPECIFIED`` (0):
      the peer broke a local limit, not a PS3.8 rule.

    The sequence errors carry reason ``UNEXPECTED_PDU_PARAMETER`` (5): each
    field is valid on its own but not at that point of the exchange.

    Whether a command announces a data set is a DIMSE matter, left to the
    caller: after a complete command, a data set on its context is allowed but
    not required.
    """

    __slots__ = (
        "_after_command",
        "_command",
        "_command_size",
        "_max_command",
        "_open",
        "_open_is_command",
    )

    def __init__(self, *, max_command_set: int = DEFAULT_MAX_COMMAND_SET) -> None:
        if max_command_set < 1:
            raise LocalProtocolError(f"max_command_set must be positive: {max_command_set}")
        self._open = 0  # context ID of the incomplete command or data set, 0 if none
        self._open_is_command = False
        self._command = bytearray()  # the fragments of an incomplete command set
        self._command_size = 0  # its size as counted against the limit
        self._max_command = max_command_set
        self._after_command = 0  # context whose command ended and whose data set may follow

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete command set held until its last fragment."""
        return len(self._command)

    @property
    def in_message(self) -> bool:
        """True while a command set or data set has been started but not finished."""
        return self._open != 0

    def feed(self, pdata: PDataTF) -> Iterator[Fragment]:
        """Check the PDVs of one P-DATA-TF and yield what they complete, in order.

        Raises :class:`RemoteProtocolError` when the PDVs break the sequence rules.
        """
        pdvs = pdata.pdvs
        if len(pdvs) == 1:
            # The bulk of a data set: one PDV continuing the data set already open.
            pdv = pdvs[0]
            context_id = pdv.context_id
            if not pdv.is_command and context_id == self._open and not self._open_is_command:
                if pdv.is_last:
                    self._open = 0
                    self._after_command = 0
                return iter((Fragment(context_id, False, pdv.is_last, pdv.data),))
        return self._check(pdvs)

    def feed_items(
        self, items: Iterable[tuple[int, int, memoryview]]
    ) -> Iterator[Fragment | DataParts]:
        """Check PDVs given as ``(context ID, control header, payload)``; yield what they complete.

        Like :meth:`feed`, but the data set fragments that continue the open
        data set are handed over together, as one :class:`DataParts` per run of
        them (the bulk of a data set costs no object per PDV).
        """
        parts: list[memoryview] = []
        for context_id, control, data in items:
            if not control & _COMMAND_BIT and (
                (context_id == self._open and not self._open_is_command)
                # The first fragment of the data set its command just announced (the
                # command checked this context ID).
                or (not self._open and context_id == self._after_command)
            ):
                parts.append(data)
                if control & _LAST_BIT:
                    self._open = 0
                    self._after_command = 0
                    yield DataParts(context_id, True, parts)
                    parts = []
                else:
                    self._open = context_id
                    self._open_is_command = False
                continue
            if parts:
                yield DataParts(self._open, False, parts)
                parts = []
            if (
                control == _COMMAND_BIT | _LAST_BIT
                and not self._open
                and context_id & 1
                and 1 <= context_id <= 255
                and not self._command
                and PDV_HEADER_LENGTH + len(data) <= self._max_command
            ):
                # A whole command set in one PDV (the common case): what _check does.
                self._command_size = 0
                self._after_command = context_id
                yield Fragment(context_id, True, True, bytes(data))
                continue
            pdv = PDV(
                context_id=context_id,
                is_command=bool(control & _COMMAND_BIT),
                is_last=bool(control & _LAST_BIT),
                data=data,
            )
            yield from self._check((pdv,))
        if parts:
            yield DataParts(self._open, False, parts)

    def continue_data(self, items: list[tuple[int, int, memoryview]]) -> DataParts | None:
        """:meth:`feed_items` for the usual run: data set fragments that all continue the
        open data set (only the last may end it), as one :class:`DataParts`.

        ``None`` for any other run (nothing is changed then: give it to
        :meth:`feed_items`). A comprehension, not a generator: this is the bulk
        of a data set, once per read.
        """
        context_id = self._open
        if not context_id or self._open_is_command:
            return None
        views = [data for cid, control, data in items if cid == context_id and not control & 3]
        if len(views) == len(items):
            return DataParts(context_id, False, views)
        last_context, last_control, last_data = items[-1]
        if (
            len(views) == len(items) - 1
            and last_context == context_id
            and last_control & (_COMMAND_BIT | _LAST_BIT) == _LAST_BIT
        ):
            # Every fragment before the last passed: the last ends the data set.
            views.append(last_data)
            self._open = 0
            self._after_command = 0
            return DataParts(context_id, True, views)
        return None

    def _check(self, pdvs: Iterable[PDV]) -> Iterator[Fragment]:
        for pdv in pdvs:
            context_id = pdv.context_id
            if not context_id & 1 or not 1 <= context_id <= 255:
                raise RemoteProtocolError(
                    f"presentation context ID must be odd, 1..255: {context_id}",
                    abort_reason=AbortReason.INVALID_PDU_PARAMETER_VALUE,
                )
            if self._open and self._open != context_id:
                raise _unexpected(
                    f"fragment on presentation context {context_id} while a message on"
                    f" context {self._open} is incomplete"
                )
            if pdv.is_command:
                if self._open and not self._open_is_command:
                    raise _unexpected(
                        f"command fragment while a data set on context {context_id} is incomplete"
                    )
                size = self._command_size + PDV_HEADER_LENGTH + len(pdv.data)
                if size > self._max_command:
                    self._command = bytearray()  # give the memory back now
                    self._command_size = 0
                    raise RemoteProtocolError(
                        f"command set on presentation context {context_id} exceeds"
                        f" {self._max_command} bytes",
                        abort_reason=AbortReason.NOT_SPECIFIED,
                    )
                if pdv.is_last:
                    if self._command:
                        self._command += pdv.data
                        command = bytes(self._command)
                        self._command = bytearray()
                    else:
                        command = bytes(pdv.data)
                    self._command_size = 0
                    self._open = 0
                    self._after_command = context_id
                    yield Fragment(context_id, True, True, command)
                else:
                    self._command += pdv.data
                    self._command_size = size
                    self._open = context_id
                    self._open_is_command = True
                    self._after_command = 0
            else:
                if self._open:
                    if self._open_is_command:
                        raise _unexpected(
                            f"data fragment while the command on context {context_id} is incomplete"
                        )
                elif self._after_command != context_id:
                    raise _unexpected(
                        f"data fragment on presentation context {context_id} without a command"
                    )
                if pdv.is_last:
                    self._open = 0
                    self._after_command = 0
                else:
                    self._open = context_id
                    self._open_is_command = False
                yield Fragment(context_id, False, pdv.is_last, pdv.data)


def _unexpected(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, abort_reason=AbortReason.UNEXPECTED_PDU_PARAMETER)
