"""Incremental PDU framing: bytes from the network in any split, whole PDUs out.

Each fed piece is copied once, into an immutable ``bytes`` block (the caller
may reuse its buffer at once). A PDU that lies within one block is decoded
from a memoryview slice of it, without a further copy; only a PDU spanning
blocks is joined, once, when its last byte has arrived. So framing costs one
copy of the received bytes plus one of the PDUs that straddle reads, and is
linear in the bytes received whatever the split. Size limits are checked on
the 6-byte PDU header, before the body is waited for, so a peer announcing a
huge PDU is refused at once.

A caller that keeps the bytes itself can *lend* them instead (:meth:`PDUFramer.lend`
... :meth:`PDUFramer.take_back`): nothing is copied, the complete PDUs at the
start of the lent buffer are parsed in place, and the caller keeps the
incomplete rest and lends it again, followed by the next bytes read.
:meth:`PDUFramer.take_pdata` takes the common P-DATA-TF (one PDV filling the
PDU) without building PDU objects: one header unpack per PDU.
"""

from __future__ import annotations

from collections import deque
from struct import Struct
from typing import Final, TypeAlias

from .associate_cache import AssociateCache
from .codec import ASSOCIATE_FIXED_LENGTH, PDU_HEADER, PDU_HEADER_LENGTH, decode_pdu
from .codes import AbortReason, PDUType
from .errors import LocalProtocolError, RemoteProtocolError
from .pdus import PDU

__all__ = ["PDUFramer", "PDataScan"]

BytesLike: TypeAlias = bytes | bytearray | memoryview

_MAX_U32 = 0xFFFFFFFF
_PDV_HEADER_LENGTH = 6  # item-length, context ID, message control header
_FIXED_FOUR = frozenset(
    {PDUType.ASSOCIATE_RJ, PDUType.RELEASE_RQ, PDUType.RELEASE_RP, PDUType.ABORT}
)
_ASSOCIATE = frozenset({PDUType.ASSOCIATE_RQ, PDUType.ASSOCIATE_AC})
#: PDU header and the header of its first PDV: type, length, item length, context ID, control.
_PDATA_HEAD = Struct(">BxLLBB")
_P_DATA_TF = int(PDUType.P_DATA_TF)
#: The PDU header's unpacking, bound once (a method called on an imported name is looked
#: up as a module's attribute would be: a bound method made at each call).
_pdu_header: Final = PDU_HEADER.unpack_from

#: One received PDV (or a run of them): presentation context ID, control header, payload.
PDVItem: TypeAlias = tuple[int, int, memoryview]


class PDataScan:
    """Take the PDV of each complete single-PDV P-DATA-TF in a buffer (:meth:`scan`).

    ``limit``: the largest PDU-length accepted (0 for none). The loop of
    :meth:`PDUFramer.take_pdata`, for a buffer of the caller's too. A run of
    P-DATA-TF repeats one header (length, context and control of its PDV), so
    the last header that passed every check is kept, across calls: a header
    equal to it passes the same checks and is not looked at field by field.
    """

    __slots__ = ("_limit", "_passed")

    def __init__(self, limit: int) -> None:
        self._limit = limit or _MAX_U32
        # The last header that passed, its PDV's context ID and control header, its PDU's size.
        self._passed: tuple[tuple[int, ...], int, int, int] = ((), 0, 0, 0)

    def set_limit(self, limit: int) -> None:
        """Change the largest PDU-length accepted (0 for none)."""
        self._limit = limit or _MAX_U32
        self._passed = ((), 0, 0, 0)

    def scan(self, block: memoryview, offset: int, out: list[PDVItem]) -> tuple[int, bool]:
        """Append the PDV of each complete single-PDV P-DATA-TF from ``offset`` on to ``out``.

        Returns where it stopped and whether the PDU there is a P-DATA-TF
        whose headers are in and pass every check but whose data is not all in
        yet. Anything else at that point (another PDU type, a PDU over the
        limit or malformed, fewer than 12 bytes) is left for
        :meth:`PDUFramer.next_pdu` to return or refuse.
        """
        end = len(block)
        unpack = _PDATA_HEAD.unpack_from
        append = out.append
        passed, context_id, control, size = self._passed
        while end - offset >= 12:
            head = unpack(block, offset)
            if head != passed:
                pdu_type, length, item, context_id, control = head
                if (
                    pdu_type != _P_DATA_TF
                    or length > self._limit
                    or item + 4 != length
                    or item < 2
                    or not context_id
                ):
                    return offset, False
                passed = head
                size = 6 + length
                self._passed = (head, context_id, control, size)
            stop = offset + size
            if stop > end:
                return offset, True
            append((context_id, control, block[offset + 12 : stop]))
            offset = stop
        return offset, False


def _check_limit(value: int, what: str) -> int:
    if not 0 <= value <= _MAX_U32:
        raise LocalProtocolError(f"{what} must be in [0, 4294967295], got {value}")
    return value


class PDUFramer:
    """Split a byte stream into PDUs (PS3.8 §9.3.1 header: type, reserved, length).

    ``max_pdata_length`` is the Maximum Length Received we announced: the
    PDU-length of a P-DATA-TF may not exceed it (0 means no limit).
    ``max_associate_length`` bounds the other PDUs, which carry no payload.
    With ``associate_cache``, A-ASSOCIATE-RQ/AC PDUs are decoded through it
    (equal bytes seen before give the PDU decoded then).

    PDUs returned may refer to the framer's blocks through memoryviews (the
    PDV payloads of a P-DATA-TF); the blocks are immutable, so they stay valid
    whatever is fed afterwards.

    After a :class:`RemoteProtocolError` the framer is broken: every later call
    raises the same error (the association is to be aborted).
    """

    __slots__ = (
        "_associate_cache",
        "_blocks",
        "_buffered",
        "_error",
        "_lent",
        "_max_associate",
        "_max_pdata",
        "_offset",
        "_scan",
    )

    def __init__(
        self,
        *,
        max_pdata_length: int = 16384,
        max_associate_length: int = 1 << 20,
        associate_cache: AssociateCache | None = None,
    ) -> None:
        self._associate_cache = associate_cache
        self._max_pdata = _check_limit(max_pdata_length, "max_pdata_length")
        self._scan = PDataScan(self._max_pdata)
        self._max_associate = _check_limit(max_associate_length, "max_associate_length")
        self._blocks: deque[memoryview] = deque()  # received, not yet fully returned
        self._offset = 0  # read position in the first block
        self._buffered = 0
        self._lent = 0  # length of the buffer lent by lend(), until take_back()
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Number of received bytes held that are not yet returned as a PDU."""
        return self._buffered

    @property
    def max_pdata_length(self) -> int:
        """Current limit on the P-DATA-TF PDU-length (0: no limit)."""
        return self._max_pdata

    def set_max_pdata_length(self, length: int) -> None:
        """Change the P-DATA-TF limit (e.g. once the association is negotiated)."""
        self._max_pdata = _check_limit(length, "max_pdata_length")
        self._scan.set_limit(length)

    def feed(self, data: BytesLike) -> None:
        """Append received bytes (copied: the caller may reuse ``data`` afterwards).

        Raises:
            RemoteProtocolError: if the header of the next PDU is complete and
                breaks a limit; nothing more is kept in that case.
        """
        if self._error is not None:
            raise self._error
        if self._lent:
            raise LocalProtocolError("feed() while a lent buffer is being parsed")
        if data:
            block = memoryview(bytes(data))
            self._blocks.append(block)
            self._buffered += len(block)
            self._peek_length()

    def lend(self, data: memoryview) -> None:
        """Parse ``data`` in place, without copying it, until :meth:`take_back`.

        PDUs returned meanwhile refer to ``data``: the caller must not change
        it while they are in use. Only allowed while nothing is buffered (a
        caller that lends, always lends). The size limits are checked as the
        PDUs are taken (:meth:`take_pdata` stops before a PDU over them,
        :meth:`next_pdu` refuses it), not here: a lender always takes next.
        """
        if self._error is not None:
            raise self._error
        if self._blocks:
            raise LocalProtocolError("lend() while fed bytes are buffered")
        if data:
            self._blocks.append(data)
            self._buffered = self._lent = len(data)

    def take_back(self) -> int:
        """End a :meth:`lend`: how many bytes of it were consumed (complete PDUs).

        The rest (an incomplete PDU) is forgotten: the caller lends it again
        with the bytes that follow it.
        """
        consumed = self._lent - self._buffered if self._error is None else self._lent
        self._blocks.clear()
        self._offset = 0
        self._buffered = 0
        self._lent = 0
        return consumed

    def take_pdata(self, out: list[PDVItem]) -> bool:
        """Append the PDV of each complete single-PDV P-DATA-TF at the read position to ``out``.

        Stops at the first PDU that is anything else, incomplete, over a limit
        or malformed (:meth:`next_pdu` then returns or refuses it). The
        payloads are slices of the received buffer, not copies. True when it
        stopped at a P-DATA-TF whose headers are in and pass every check but
        whose data is not all in yet: :meth:`next_pdu` would return ``None``.
        """
        if self._error is not None or not self._blocks:
            return False
        block = self._blocks[0]
        start = self._offset
        offset, incomplete = self._scan.scan(block, start, out)
        if offset == start:
            return incomplete
        self._buffered -= offset - start
        if offset == len(block):
            self._blocks.popleft()
            self._offset = 0
        else:
            self._offset = offset
        return incomplete

    def next_pdu(self) -> PDU | None:
        """The next complete PDU, or None until all of its bytes have been fed.

        Raises:
            RemoteProtocolError: malformed or over-limit PDU (abort source 2 and
                the PS3.8 reason to send).
        """
        if self._error is not None:
            raise self._error
        total = self._peek_length()
        if total is None or self._buffered < total:
            return None
        first = self._blocks[0]
        start = self._offset
        end = start + total
        if end <= len(first):
            chunk: BytesLike = first[start:end]
            self._buffered -= total
            if end == len(first):
                self._blocks.popleft()
                self._offset = 0
            else:
                self._offset = end
        else:
            chunk = self._take_spanning(total)
        try:
            cache = self._associate_cache
            if cache is not None and chunk[0] in _ASSOCIATE:
                return cache.decode(chunk)
            return decode_pdu(chunk)
        except RemoteProtocolError as exc:
            self._fail(exc)
            raise

    def _take_spanning(self, total: int) -> bytes:
        """The next ``total`` bytes, which run past the first block, joined into one."""
        blocks = self._blocks
        parts = [blocks.popleft()[self._offset :]]
        have = len(parts[0])
        while have < total:
            block = blocks[0]
            need = total - have
            if len(block) <= need:
                parts.append(blocks.popleft())
                have += len(block)
                self._offset = 0
            else:
                parts.append(block[:need])
                have = total
                self._offset = need
        self._buffered -= total
        return b"".join(parts)

    def _header(self) -> bytes:
        """The 6 header bytes at the read position, which run past the first block (at
        least 6 bytes are buffered)."""
        first = self._blocks[0]
        head = bytearray(first[self._offset :])
        for block in list(self._blocks)[1:]:
            head += block[: PDU_HEADER_LENGTH - len(head)]
            if len(head) >= PDU_HEADER_LENGTH:
                break
        return bytes(head)

    def _fail(self, exc: RemoteProtocolError) -> None:
        self._error = exc
        self._blocks.clear()
        self._offset = 0
        self._buffered = 0

    def _peek_length(self) -> int | None:
        """Whole length of the PDU at the read offset, once its header is in; limits checked."""
        if self._buffered < PDU_HEADER_LENGTH:
            return None
        first = self._blocks[0]
        if len(first) - self._offset >= PDU_HEADER_LENGTH:
            pdu_type, length = _pdu_header(first, self._offset)
        else:  # the header spans fed blocks
            pdu_type, length = _pdu_header(self._header())
        problem: str | None = None
        unrecognized = False
        if pdu_type == _P_DATA_TF:
            if self._max_pdata and length > self._max_pdata:
                problem = f"P-DATA-TF of {length} bytes exceeds our maximum of {self._max_pdata}"
            elif length < _PDV_HEADER_LENGTH:
                problem = f"P-DATA-TF of {length} bytes cannot hold a PDV"
        elif pdu_type in _ASSOCIATE:
            if length > self._max_associate:
                problem = f"A-ASSOCIATE PDU of {length} bytes exceeds {self._max_associate}"
            elif length < ASSOCIATE_FIXED_LENGTH:
                problem = f"A-ASSOCIATE PDU of {length} bytes is shorter than its fixed fields"
        elif pdu_type in _FIXED_FOUR:
            if length != 4:
                problem = f"PDU type 0x{pdu_type:02X} must have length 4, not {length}"
        else:
            problem = f"unknown PDU type 0x{pdu_type:02X}"
            unrecognized = True
        if problem is not None:
            reason = (
                AbortReason.UNRECOGNIZED_PDU
                if unrecognized
                else AbortReason.INVALID_PDU_PARAMETER_VALUE
            )
            exc = RemoteProtocolError(problem, abort_reason=reason)
            self._fail(exc)
            raise exc
        return PDU_HEADER_LENGTH + int(length)
