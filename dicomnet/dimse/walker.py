"""Incremental check of a data set's element framing, fed fragment by fragment.

A :class:`DatasetWalker` reads the element and item headers of a data set
(PS3.5 §7) as its bytes arrive, in pieces cut anywhere, and skips every value
without looking at it or copying it: a fragment that falls entirely inside a
value (most of the Pixel Data) costs one subtraction. Between two calls it
keeps at most the start of one header (under 12 bytes) and a stack of the
sequences and items it is inside.

It refuses (raises :class:`FramingError`):

* a data set that does not end exactly at an element boundary with every
  sequence and item closed (:meth:`DatasetWalker.finish`): a value, header,
  item or sequence cut short, or a length that runs past the end;
* an element or item whose length runs past the defined-length item or
  sequence that holds it, and an item that fills its sequence unevenly;
* elements out of ascending tag order or repeated within a data set or item
  (PS3.5 §7.1), delimiters where none belongs, anything but items inside a
  sequence or in encapsulated Pixel Data, an encapsulated fragment of
  undefined length, a delimiter with a non-zero length;
* an Explicit VR that PS3.5 Table 6.2-1 does not define, an undefined length
  on a VR other than SQ, UN, OB and OW (PS3.5 §7.1.2), and a binary number
  (US, SS, UL, SL, FL, FD, SV, UV) whose length is not a multiple of its size;
* an encoding that contradicts the transfer syntax: Pixel Data (7FE0,0010)
  of undefined length (encapsulated) in a native syntax, and top-level Pixel
  Data of defined length (native) in an encapsulated one (PS3.5 §8.2, A.4).
  Pixel Data nested in a sequence (an icon) may be native in an encapsulated
  syntax and is not checked there;
* sequences nested deeper than :data:`MAX_DEPTH`.

Inside an Explicit VR data set, a UN element of undefined length holds an
Implicit VR Little Endian sequence (PS3.5 §6.2.2): the walker switches
encoding for its items. In Implicit VR a defined-length value is skipped
(without a dictionary a sequence cannot be told from bytes), an
undefined-length one is a sequence, or encapsulated fragments for Pixel Data.

:class:`InflatingWalker` inflates a deflated data set (PS3.5 A.5) as it
arrives, in bounded pieces, and walks the inflated bytes.

The walker does not know the data dictionary and does not read values,
except that it can capture the values of a few top-level elements
(``capture``, e.g. the SOP Class and Instance UIDs) of at most
:data:`CAPTURE_LIMIT` bytes each, and notes where the top-level pixel data
starts (:attr:`DatasetWalker.pixel_offset`: the end of the header).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import Final, NoReturn

__all__ = [
    "CAPTURE_LIMIT",
    "MAX_DEPTH",
    "PIXEL_TAGS",
    "DatasetWalker",
    "FramingError",
    "InflatingWalker",
    "Walker",
]

#: Sequences nested deeper than this are refused.
MAX_DEPTH: Final = 64
#: Captured values longer than this are not captured.
CAPTURE_LIMIT: Final = 1024
#: Inflated bytes produced per zlib call (bounds memory against a deflate bomb).
INFLATE_PIECE: Final = 256 * 1024

PIXEL_DATA: Final = 0x7FE00010
#: Float Pixel Data, Double Float Pixel Data, Pixel Data: the first one ends the header.
PIXEL_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, PIXEL_DATA})
_FIRST_PIXEL_TAG: Final = 0x7FE00008
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD
_UNDEFINED: Final = 0xFFFFFFFF

# Explicit VRs whose length field is 4 bytes after 2 reserved ones (PS3.5 §7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# The other VRs of PS3.5 Table 6.2-1 (2-byte length).
_SHORT_VRS: Final = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT",
        b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)  # fmt: skip
# Binary numbers: the size of one value, which the value length must be a multiple of.
_NUMBER_SIZES: Final = {
    b"US": 2, b"SS": 2, b"UL": 4, b"SL": 4, b"FL": 4, b"FD": 8, b"SV": 8, b"UV": 8,
}  # fmt: skip

# Explicit VR -> (4-byte length?, size of one binary number or 0).
_VR_INFO: Final = {vr: (vr in _LONG_VRS, _NUMBER_SIZES.get(vr, 0)) for vr in _LONG_VRS | _SHORT_VRS}
# The VRs the fast path of DatasetWalker._walk may take (not SQ: it opens a sequence).
_PLAIN_VR_INFO: Final = {vr: info for vr, info in _VR_INFO.items() if vr != b"SQ"}

# Frame kinds: what the walker is inside.
_DATASET: Final = 0  # the data set itself (ends with the stream)
_ITEM_KIND: Final = 1  # an item of a sequence: elements
_SEQUENCE: Final = 2  # a sequence value: items
_FRAGMENTS: Final = 3  # encapsulated Pixel Data: fragments (items skipped whole)

# Why a data set is refused, in a few words (FramingError.reason).
TRUNCATED: Final = "data set truncated"
OVERRUN: Final = "length runs past its item or sequence"
OUT_OF_ORDER: Final = "elements out of order"
BAD_VR: Final = "unknown VR"
BAD_LENGTH: Final = "impossible value length"
STRUCTURE: Final = "bad sequence or item structure"
TOO_DEEP: Final = "sequences nested too deep"
ENCAPSULATED_PIXELS: Final = "encapsulated Pixel Data on a native syntax"
NATIVE_PIXELS: Final = "native Pixel Data on an encapsulated syntax"
BAD_DEFLATE: Final = "bad deflate stream"

# By little-endianness: tag and 4-byte length (Implicit VR, items, delimiters);
# tag, VR and 2-byte length (Explicit VR); the 4-byte length of a long VR.
_HEAD = (struct.Struct(">HHI"), struct.Struct("<HHI"))
_EXPLICIT_HEAD = (struct.Struct(">HH2sH"), struct.Struct("<HH2sH"))
_U32 = (struct.Struct(">I"), struct.Struct("<I"))


class FramingError(ValueError):
    """The bytes are not a well-framed data set of the expected encoding.

    ``offset`` is where in the (inflated) data set the problem was found,
    ``tag`` the element at fault when one is known (``0xggggeeee``), and
    ``reason`` one of the short phrases of this module (:data:`TRUNCATED`...)
    that fits in an Error Comment with the offset.
    """

    def __init__(self, message: str, *, offset: int, reason: str, tag: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset
        self.reason = reason
        self.tag = tag


def tag_text(tag: int) -> str:
    """``(gggg,eeee)``."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class _Frame:
    """A data set, item, sequence or fragment list being walked."""

    __slots__ = (
        "end",
        "explicit",
        "explicit_head",
        "head",
        "kind",
        "last_tag",
        "limit",
        "little",
        "long_length",
        "tag",
    )

    def __init__(
        self, kind: int, tag: int, end: int, limit: int, *, explicit: bool, little: bool
    ) -> None:
        self.kind = kind
        self.tag = tag  # the sequence or Pixel Data element this frame belongs to
        self.end = end  # absolute offset where it ends; -1: undefined length
        self.limit = limit  # nothing inside may pass this offset; -1: no limit known
        self.explicit = explicit
        self.little = little
        self.head = _HEAD[little]
        self.explicit_head = _EXPLICIT_HEAD[little]
        self.long_length = _U32[little]
        self.last_tag = -1

    def copy(self) -> _Frame:
        """A frame in this one's state."""
        twin = _Frame(
            self.kind, self.tag, self.end, self.limit, explicit=self.explicit, little=self.little
        )
        twin.last_tag = self.last_tag
        return twin


class DatasetWalker:
    """Walks one data set; :meth:`feed` its bytes in order, then :meth:`finish`.

    ``implicit``/``little`` give the encoding; ``encapsulated`` says the
    transfer syntax carries Pixel Data in fragments. Both methods raise
    :class:`FramingError` as soon as the bytes cannot be a data set of that
    encoding; after that every call raises the same error.
    """

    def __init__(
        self,
        *,
        implicit: bool,
        little: bool,
        encapsulated: bool = False,
        capture: Iterable[int] = (),
        record: bool = False,
    ) -> None:
        self.encapsulated = encapsulated
        #: With ``record``: where every element, item and delimiter header read so far
        #: lies, as slices of the data set. The walk depends on nothing else (and on the
        #: length), so a data set with the same bytes there walks the same way.
        self.headers: list[slice] | None = [] if record else None
        #: Bytes fed so far (the offset of the next byte).
        self.offset = 0
        #: Values of the ``capture`` elements seen so far (top level, as received).
        self.captured: dict[int, bytes] = {}
        #: The top-level Pixel Data header once seen in an explicit VR data set:
        #: (offset of the header, VR, value length).
        self.pixel_header: tuple[int, bytes, int] | None = None
        #: Offset of the first top-level element of :data:`PIXEL_TAGS` once seen (any
        #: encoding): where the data set's header ends.
        self.pixel_offset: int | None = None
        #: ``capture`` elements present at top level whose value was not captured
        #: (longer than CAPTURE_LIMIT, or of undefined length).
        self.uncaptured: set[int] = set()
        self._capture = frozenset(capture)
        self._capturing: bytearray | None = None
        self._capture_tag = 0
        self._skip = 0  # bytes of the current value still to come
        self._value_tag = 0  # the element whose value is being skipped
        self._pending = b""  # the start of a header cut by the end of a fragment
        self._stack = [_Frame(_DATASET, 0, -1, -1, explicit=not implicit, little=little)]
        self._error: FramingError | None = None

    @property
    def depth(self) -> int:
        """Sequences and items open (0: at the top level of the data set)."""
        return len(self._stack) - 1

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Walk the next bytes of the data set."""
        if self._error is not None:
            raise self._error
        n = chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)
        skip = self._skip
        if skip >= n and self._capturing is None:
            # Inside a value (the common case for bulk data): nothing to look at.
            self._skip = skip - n
            self.offset += n
            return
        try:
            self._walk(chunk if isinstance(chunk, memoryview) else memoryview(chunk))
        except FramingError as exc:
            self._error = exc
            raise

    @property
    def skippable(self) -> int:
        """Bytes ahead that are inside a value and need not be read: :meth:`skip` them."""
        return self._skip if self._capturing is None and self._error is None else 0

    @property
    def at_rest(self) -> bool:
        """Whether the bytes fed so far end neither inside a header nor inside a value
        being captured (nor in an error): then a :meth:`copy` is all the walk's state."""
        return not self._pending and self._capturing is None and self._error is None

    def copy(self) -> DatasetWalker:
        """A walker in this one's state that walks on on its own (no headers recorded).

        A data set whose first bytes have the same headers (at the same offsets) as
        those this one walked reaches this state too, captured values aside.
        """
        twin = object.__new__(DatasetWalker)
        twin.__dict__.update(self.__dict__)  # the mutable parts are copied below
        twin.headers = None
        twin.captured = dict(self.captured)
        twin.uncaptured = set(self.uncaptured)
        twin._capturing = None if self._capturing is None else bytearray(self._capturing)
        twin._stack = [frame.copy() for frame in self._stack]
        return twin

    def skip(self, n: int) -> None:
        """Count ``n`` bytes (at most :attr:`skippable`) as walked without seeing them."""
        if not 0 <= n <= self.skippable:
            raise ValueError(f"cannot skip {n} bytes here ({self.skippable} skippable)")
        self._skip -= n
        self.offset += n

    def finish(self) -> None:
        """The data set ended: raise unless it ended at an element boundary, all closed."""
        if self._error is not None:
            raise self._error
        try:
            self._close_frames(self.offset)
            if self._pending:
                self._fail("data set ends inside an element header", self.offset, TRUNCATED)
            if self._skip:
                self._fail(
                    f"data set ends inside the value of {tag_text(self._value_tag)}:"
                    f" {self._skip} bytes of it missing",
                    self.offset,
                    TRUNCATED,
                    self._value_tag,
                )
            if len(self._stack) > 1:
                frame = self._stack[-1]
                what = {
                    _ITEM_KIND: "an item of",
                    _SEQUENCE: "the sequence",
                    _FRAGMENTS: "the encapsulated fragments of",
                }[frame.kind]
                self._fail(
                    f"data set ends inside {what} {tag_text(frame.tag)}",
                    self.offset,
                    TRUNCATED,
                    frame.tag,
                )
        except FramingError as exc:
            self._error = exc
            raise

    # ------------------------------------------------------------ internals

    def _fail(self, message: str, offset: int, reason: str, tag: int | None = None) -> NoReturn:
        raise FramingError(message, offset=offset, reason=reason, tag=tag)

    def _walk(self, view: memoryview) -> None:
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        n = len(view)
        base = self.offset  # absolute offset of view[0]
        self.offset = base + n
        pos = 0
        if self._skip:
            pos = self._skip_value(view, 0, n)
            if self._skip:
                return
        if self._pending:
            pending = self._pending
            joined = pending + bytes(view[: 12 - len(pending)])
            at = base - len(pending)
            self._close_frames(at)
            size = self._header(joined, 0, len(joined), at)
            if not size:
                self._pending = joined
                return
            if self.headers is not None:
                self.headers.append(slice(at, at + size))
            self._pending = b""
            pos = size - len(pending)
            if self._skip:
                pos = self._skip_value(view, pos, n)
                if self._skip:
                    return
        stack = self._stack
        plain = _PLAIN_VR_INFO
        capture = self._capture
        captured = self.captured
        headers = self.headers
        while pos < n:
            at = base + pos
            frame = stack[-1]
            while frame.end == at:  # leave the items and sequences that end here
                stack.pop()
                frame = stack[-1]
            if frame.explicit and frame.kind <= _ITEM_KIND and n - pos >= 12:
                # Fast path: an ordinary Explicit VR element of defined length.
                # Anything else (or anything wrong) goes to _header, which
                # reads the same header again and decides.
                group, element, vr, length = frame.explicit_head.unpack_from(view, pos)
                tag = group << 16 | element
                info = plain.get(vr)
                if info is not None and frame.last_tag < tag < _FIRST_PIXEL_TAG:
                    long, number = info
                    size = 8
                    if long:
                        length = frame.long_length.unpack_from(view, pos + 8)[0]
                        size = 12
                    limit = frame.limit
                    if (
                        length != _UNDEFINED
                        and not (number and length % number)
                        and (limit < 0 or at + size + length <= limit)
                    ):
                        if tag not in capture:
                            if headers is not None:
                                headers.append(slice(at, at + size))
                            frame.last_tag = tag
                            pos += size + length
                            if pos > n:
                                self._skip = pos - n
                                self._value_tag = tag
                                pos = n
                            continue
                        end = pos + size + length
                        if frame.kind == _DATASET and end <= n and length <= CAPTURE_LIMIT:
                            # A value to capture, all of it in this view.
                            if headers is not None:
                                headers.append(slice(at, at + size))
                            frame.last_tag = tag
                            captured[tag] = view[pos + size : end].tobytes()
                            pos = end
                            continue
            size = self._header(view, pos, n - pos, at)
            if not size:
                self._pending = bytes(view[pos:])
                return
            if headers is not None:
                headers.append(slice(at, at + size))
            pos += size
            skip = self._skip
            if skip:
                if self._capturing is None and pos + skip <= n:
                    pos += skip
                    self._skip = 0
                else:
                    pos = self._skip_value(view, pos, n)
        self._close_frames(base + n)

    def _skip_value(self, view: memoryview, pos: int, n: int) -> int:
        """Skip what the current value has in ``view[pos:n]``; return the new position."""
        take = min(self._skip, n - pos)
        self._skip -= take
        capturing = self._capturing
        if capturing is not None:
            capturing += view[pos : pos + take]
            if not self._skip:
                self.captured[self._capture_tag] = bytes(capturing)
                self._capturing = None
        return pos + take

    def _close_frames(self, at: int) -> None:
        """Leave the defined-length items and sequences that end at ``at``."""
        stack = self._stack
        while stack[-1].end == at:
            stack.pop()

    def _push(
        self, kind: int, tag: int, end: int, parent: _Frame, *, explicit: bool, little: bool
    ) -> None:
        if len(self._stack) > 2 * MAX_DEPTH:
            self._fail(f"sequences nested deeper than {MAX_DEPTH}", self.offset, TOO_DEEP, tag)
        limit = end if end >= 0 else parent.limit
        self._stack.append(_Frame(kind, tag, end, limit, explicit=explicit, little=little))

    def _header(self, buf: bytes | memoryview, pos: int, avail: int, at: int) -> int:
        """Read the header at ``buf[pos:]``; return its size, or 0 if it is not all there."""
        if avail < 8:
            return 0
        frame = self._stack[-1]
        if frame.explicit:
            group, element, vr, length = frame.explicit_head.unpack_from(buf, pos)
            if group == 0xFFFE:
                length = frame.head.unpack_from(buf, pos)[2]
        else:
            group, element, length = frame.head.unpack_from(buf, pos)
            vr = b""
        tag = group << 16 | element
        limit = frame.limit
        if limit >= 0 and at + 8 > limit:
            self._fail(
                f"header at offset {at} runs past the end of {tag_text(frame.tag)}",
                at,
                OVERRUN,
                frame.tag,
            )
        if group == 0xFFFE:
            self._delimiter(frame, tag, length, at)
            return 8
        kind = frame.kind
        if kind >= _SEQUENCE:
            what = "sequence" if kind == _SEQUENCE else "encapsulated Pixel Data"
            self._fail(
                f"{tag_text(tag)} at offset {at} inside the {what} {tag_text(frame.tag)}"
                " where an item belongs",
                at,
                STRUCTURE,
                frame.tag,
            )
        if tag <= frame.last_tag:
            self._fail(
                f"element {tag_text(tag)} at offset {at} out of order"
                f" (after {tag_text(frame.last_tag)})",
                at,
                OUT_OF_ORDER,
                tag,
            )
        size = 8
        number = 0
        if vr:
            info = _VR_INFO.get(vr)
            if info is None:
                self._fail(f"unknown VR {vr!r} in {tag_text(tag)} at offset {at}", at, BAD_VR, tag)
            long, number = info
            if long:
                if avail < 12:
                    return 0
                length = frame.long_length.unpack_from(buf, pos + 8)[0]
                size = 12
        frame.last_tag = tag
        if tag in PIXEL_TAGS and frame.kind == _DATASET:
            if self.pixel_offset is None:
                self.pixel_offset = at
            if tag == PIXEL_DATA and vr:
                self.pixel_header = (at, vr, length)
        if length == _UNDEFINED:
            self._undefined(frame, tag, vr, at + size)
            return size
        if limit >= 0 and at + size + length > limit:
            self._fail(
                f"element {tag_text(tag)} length {length} runs past the end of"
                f" {tag_text(frame.tag)}",
                at,
                OVERRUN,
                tag,
            )
        if number and length % number:
            self._fail(
                f"element {tag_text(tag)} {vr.decode()} length {length}"
                f" is not a multiple of {number}",
                at,
                BAD_LENGTH,
                tag,
            )
        if tag == PIXEL_DATA and self.encapsulated and frame.kind == _DATASET:
            self._fail(
                "native (defined-length) Pixel Data in an encapsulated transfer syntax",
                at,
                NATIVE_PIXELS,
                tag,
            )
        if vr == b"SQ":
            if length:
                end = at + size + length
                self._push(_SEQUENCE, tag, end, frame, explicit=True, little=frame.little)
            return size
        if length:
            self._skip = length
            self._value_tag = tag
            if tag in self._capture and frame.kind == _DATASET:
                if length <= CAPTURE_LIMIT:
                    self._capturing = bytearray()
                    self._capture_tag = tag
                else:
                    self.uncaptured.add(tag)
        elif tag in self._capture and frame.kind == _DATASET:
            self.captured[tag] = b""
        return size

    def _undefined(self, frame: _Frame, tag: int, vr: bytes, at: int) -> None:
        """An element of undefined length: enter its sequence or fragments."""
        explicit, little = frame.explicit, frame.little
        if explicit:
            if vr == b"SQ":
                kind = _SEQUENCE
            elif vr == b"UN":
                kind, explicit, little = _SEQUENCE, False, True
            elif vr in (b"OB", b"OW"):
                kind = _FRAGMENTS
            else:
                self._fail(
                    f"element {tag_text(tag)} {vr.decode()} has undefined length",
                    at - 12,
                    BAD_LENGTH,
                    tag,
                )
        else:
            kind = _FRAGMENTS if tag == PIXEL_DATA else _SEQUENCE
        if tag == PIXEL_DATA and not self.encapsulated:
            self._fail(
                "encapsulated (undefined-length) Pixel Data in a native transfer syntax",
                at,
                ENCAPSULATED_PIXELS,
                tag,
            )
        if tag in self._capture and frame.kind == _DATASET:
            self.uncaptured.add(tag)
        self._push(kind, tag, -1, frame, explicit=explicit, little=little)

    def _delimiter(self, frame: _Frame, tag: int, length: int, at: int) -> None:
        """An item or delimitation item header (always tag and 4-byte length)."""
        kind = frame.kind
        if kind == _SEQUENCE and tag == _ITEM:
            if length == _UNDEFINED:
                self._push(
                    _ITEM_KIND, frame.tag, -1, frame, explicit=frame.explicit, little=frame.little
                )
                return
            end = at + 8 + length
            if frame.limit >= 0 and end > frame.limit:
                self._fail(
                    f"item length {length} runs past the end of {tag_text(frame.tag)}",
                    at,
                    OVERRUN,
                    frame.tag,
                )
            if length:
                self._push(
                    _ITEM_KIND, frame.tag, end, frame, explicit=frame.explicit, little=frame.little
                )
            return
        if kind == _FRAGMENTS and tag == _ITEM:
            if length == _UNDEFINED:
                self._fail("encapsulated fragment of undefined length", at, BAD_LENGTH, frame.tag)
            if frame.limit >= 0 and at + 8 + length > frame.limit:
                self._fail(f"fragment length {length} runs past its item", at, OVERRUN, frame.tag)
            self._skip = length
            self._value_tag = frame.tag
            return
        ends = (
            (tag == _SEQUENCE_END and kind in (_SEQUENCE, _FRAGMENTS))
            or (tag == _ITEM_END and kind == _ITEM_KIND)
        ) and frame.end < 0
        if not ends:
            self._fail(
                f"unexpected {tag_text(tag)} at offset {at}", at, STRUCTURE, frame.tag or None
            )
        if length:
            self._fail(
                f"{tag_text(tag)} at offset {at} has length {length}, not 0",
                at,
                STRUCTURE,
                frame.tag,
            )
        self._stack.pop()


class InflatingWalker:
    """Inflates a deflated data set (PS3.5 A.5) as it arrives and walks the result.

    The deflate stream (raw RFC 1951, no zlib header) may be followed by one
    NUL byte of padding and nothing else.
    """

    def __init__(self, walker: DatasetWalker) -> None:
        self.walker = walker
        self._inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        self._trailing = 0
        #: Deflated bytes fed so far.
        self.offset = 0

    @property
    def captured(self) -> dict[int, bytes]:
        """The captured values of the inner walker."""
        return self.walker.captured

    @property
    def pixel_header(self) -> tuple[int, bytes, int] | None:
        """The inner walker's Pixel Data header (offsets of the inflated data set)."""
        return self.walker.pixel_header

    @property
    def pixel_offset(self) -> int | None:
        """The inner walker's header end (an offset of the inflated data set)."""
        return self.walker.pixel_offset

    @property
    def uncaptured(self) -> set[int]:
        """The capture elements of the inner walker present but not captured."""
        return self.walker.uncaptured

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Inflate and walk the next deflated bytes."""
        self.offset += len(chunk)
        inflater = self._inflater
        if inflater.eof:
            self._after_end(chunk)
            return
        data: bytes | bytearray | memoryview = chunk
        try:
            while data:
                piece = inflater.decompress(data, INFLATE_PIECE)
                if piece:
                    self.walker.feed(piece)
                if inflater.eof:
                    self._after_end(inflater.unused_data)
                    return
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            raise FramingError(
                f"bad deflate stream: {exc}", offset=self.walker.offset, reason=BAD_DEFLATE
            ) from None

    def finish(self) -> None:
        """The deflated data set ended: its stream must be complete and walk to its end."""
        if not self._inflater.eof:
            raise FramingError(
                "deflate stream truncated", offset=self.walker.offset, reason=TRUNCATED
            )
        self.walker.finish()

    def _after_end(self, extra: bytes | bytearray | memoryview) -> None:
        self._trailing += len(extra)
        if self._trailing > 1 or any(extra):
            raise FramingError(
                "deflate stream followed by extra bytes",
                offset=self.walker.offset,
                reason=BAD_DEFLATE,
            )


#: Either walker.
Walker = DatasetWalker | InflatingWalker
