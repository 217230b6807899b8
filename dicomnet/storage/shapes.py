"""Data sets already checked, by their framing: a look-alike needs no second walk.

Before a data set is sent it is walked to its end (:meth:`InstanceSource.check
<dicomnet.storage.source.InstanceSource.check>`, :mod:`dicomnet.dimse.walker`). The
walk reads the element, item and delimiter headers and nothing else: where it goes
and what it decides follow from those bytes, their offsets and the data set's
length. So a data set in the same transfer syntax, of the same length, whose bytes
at every header offset of one that passed are the same, passes too - and that is
one comparison of a few hundred bytes instead of a walk. Instances of one series
written by one modality usually look like that: the same elements in the same
order, only values (UIDs, numbers of the same length, pixels) differ.

A :class:`CheckedShapes` keeps the last few shapes that passed; it belongs to one
batch of sends (:func:`dicomnet.storage.scu.store_many`), never to the process.
A data set that differs anywhere in a header, or in length, is walked in full.

The Storage SCP does the same for a data set that arrived whole (one fragment:
small instances) with :class:`WalkedShapes`, one per capture set of its
:class:`~dicomnet.services.storage_scp.StorageService`. Its walk also captures
values (the SOP Class and Instance UIDs it compares with the command, the index's
columns); a look-alike has each of them at the same place (right after the same
header), so they are cut from there. A shape is kept only when every captured
value's place is certain.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

from .sinks import WalkedHeader

if TYPE_CHECKING:
    from dicomnet.dimse.walker import DatasetWalker

__all__ = ["MAX_SHAPES", "CheckedShapes", "WalkedShapes"]

#: Shapes kept at once; the oldest goes first.
MAX_SHAPES: Final = 8
#: Lengths remembered to decide whether a walk is worth recording (WalkedShapes).
_SEEN_LENGTHS: Final = 64
_EXPLICIT_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"
_TAG_LITTLE: Final = struct.Struct("<HH")
_TAG_BIG: Final = struct.Struct(">HH")
#: A data set or fragment as the Storage SCP has it.
_Data = bytes | bytearray | memoryview


class _HeaderBytes:
    """The header bytes of a data set (or of its first fragment) that a look-alike repeats."""

    __slots__ = ("_count", "_cut", "headers")

    def __init__(self, data: _Data, headers: list[slice]) -> None:
        self._count = len(headers)
        # One C call cuts every header out (a tuple of them; one alone when there is one).
        self._cut: Callable[[Any], Any] = itemgetter(*headers) if headers else bytes
        self.headers = self._joined(data)

    def _joined(self, data: _Data) -> bytes:
        if self._count == 0:
            return b""
        parts = self._cut(data)
        return bytes(parts) if self._count == 1 else b"".join(parts)

    def matches(self, data: _Data) -> bool:
        # _joined's work without its call (once per look-alike data set, on both sides).
        count = self._count
        if count > 1:
            return b"".join(self._cut(data)) == self.headers
        return (bytes(self._cut(data)) if count else b"") == self.headers


class _WalkedShape(_HeaderBytes):
    """A whole data set that passed a walk with captures: its header bytes, and where
    the captured values lie (which a look-alike has at the same places)."""

    __slots__ = ("_cut_values", "_span", "_tags", "pixel_offset", "uncaptured", "values")

    def __init__(
        self,
        data: _Data,
        headers: list[slice],
        values: dict[int, slice],
        uncaptured: frozenset[int],
        pixel_offset: int | None,
    ) -> None:
        super().__init__(data, headers)
        self.values = values
        self.uncaptured = uncaptured
        self.pixel_offset = pixel_offset
        # The values are cut from one copy of the bytes up to the last of them, by one
        # C call (a tuple of them, when there are two or more).
        self._tags = tuple(values)
        self._span = max((where.stop for where in values.values()), default=0)
        self._cut_values: Callable[[bytes], Any] | None = (
            itemgetter(*values.values()) if len(values) > 1 else None
        )

    def walked(self, data: _Data) -> WalkedHeader | None:
        """What the walk of ``data`` would see, if it has this shape."""
        if not self.matches(data):
            return None
        head = bytes(data[: self._span])
        cut = self._cut_values
        if cut is not None:
            values = dict(zip(self._tags, cut(head), strict=True))
        else:
            values = {tag: head[where] for tag, where in self.values.items()}
        return WalkedHeader(values, self.uncaptured, self.pixel_offset, len(data))


class _PrefixShape(_HeaderBytes):
    """The first fragment of a data set whose walk went on past it: its header bytes,
    where its captured values lie, and a copy of the walker as it was after it."""

    __slots__ = ("values", "walker")

    def __init__(
        self,
        data: _Data,
        headers: list[slice],
        values: dict[int, slice],
        walker: DatasetWalker,
    ) -> None:
        super().__init__(data, headers)
        self.values = values
        self.walker = walker

    def resumed(self, data: _Data) -> DatasetWalker | None:
        """A walker in the state the walk of ``data`` would leave, if it has this shape."""
        if not self.matches(data):
            return None
        walker = self.walker.copy()
        captured = walker.captured
        for tag, where in self.values.items():
            captured[tag] = bytes(data[where])
        return walker


class _PrefixShapes:
    """First fragments of data sets walked before (see :class:`_PrefixShape`)."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, int], _PrefixShape] = {}

    def resumed(self, transfer_syntax_uid: str, data: _Data) -> DatasetWalker | None:
        """A walker past ``data`` (the first fragment of a data set), if it has a known shape."""
        shape = self._prefixes.get((transfer_syntax_uid, len(data)))
        return None if shape is None else shape.resumed(data)

    def remember_prefix(self, transfer_syntax_uid: str, data: _Data, walker: DatasetWalker) -> None:
        """``walker`` (made with ``record``) walked ``data``, the first fragment of a data
        set, without fault: a look-alike's walk may go on from a copy of it.

        Not when the fragment ends inside a header or a captured value (those bytes
        are not among the headers compared; see :attr:`DatasetWalker.at_rest`).
        """
        headers = walker.headers
        if headers is None or walker.offset != len(data) or not walker.at_rest:
            return
        values = _value_places(transfer_syntax_uid, data, headers, walker.captured)
        if values is None:
            return
        shape = _PrefixShape(data, headers, values, walker.copy())
        _keep(self._prefixes, (transfer_syntax_uid, len(data)), shape)


class CheckedShapes(_PrefixShapes):
    """The shapes of the last :data:`MAX_SHAPES` data sets that passed the walk (and of
    the first pieces of the last files walked piece by piece, see :meth:`resumed`)."""

    def __init__(self) -> None:
        super().__init__()
        self._shapes: dict[tuple[str, int], _HeaderBytes] = {}

    def passed(self, transfer_syntax_uid: str, data: bytes) -> bool:
        """Whether ``data`` has the shape of a data set that passed (so it passes)."""
        shape = self._shapes.get((transfer_syntax_uid, len(data)))
        if shape is None:
            return False
        # shape.matches(data) without its call: once per instance a Storage SCU sends.
        if shape._count > 1:
            return b"".join(shape._cut(data)) == shape.headers
        return shape.matches(data)

    def remember(self, transfer_syntax_uid: str, data: bytes, headers: list[slice]) -> None:
        """``data`` passed a walk that read ``headers`` (the walker's record)."""
        _keep(self._shapes, (transfer_syntax_uid, len(data)), _HeaderBytes(data, headers))


class WalkedShapes(_PrefixShapes):
    """The Storage SCP's memo of data sets that passed the walk with their captures
    (one per capture set; see :class:`~dicomnet.services.dataset_check.DatasetCheck`).

    :meth:`walked` gives what the walk of a whole look-alike (same syntax, same
    length, same bytes at every header) would give - its captured values cut from
    the places the walk found them - without walking it. :meth:`resumed` does the
    same for the first fragment of a data set that arrives in several (a CT
    slice: its header, then Pixel Data): a walker in the state the walk of that
    fragment would leave, which walks on. Holds the last :data:`MAX_SHAPES` of each.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shapes: dict[tuple[str, int], _WalkedShape] = {}
        # The last lengths seen (whole or first fragment): a shape is recorded only for a
        # length that came before, so a stream of unlike data sets pays nothing for it.
        self._seen: dict[tuple[str, int, bool], None] = {}

    def worth_recording(self, transfer_syntax_uid: str, length: int, *, whole: bool) -> bool:
        """Whether to record the walk of a data set (``whole``) or first fragment of
        ``length`` bytes: only when one of that length came before."""
        key = (transfer_syntax_uid, length, whole)
        if key in self._seen:
            return True
        if len(self._seen) >= _SEEN_LENGTHS:
            del self._seen[next(iter(self._seen))]
        self._seen[key] = None
        return False

    def walked(self, transfer_syntax_uid: str, data: _Data) -> WalkedHeader | None:
        """The walk's result for ``data`` (the whole data set) if it has a known shape."""
        shape = self._shapes.get((transfer_syntax_uid, len(data)))
        return None if shape is None else shape.walked(data)

    def remember(self, transfer_syntax_uid: str, data: _Data, walker: DatasetWalker) -> None:
        """``data`` (the whole data set) passed the walk of ``walker`` (made with ``record``).

        Nothing is remembered when a captured value's place cannot be told for certain.
        """
        headers = walker.headers
        if headers is None or walker.offset != len(data):
            return
        values = _value_places(transfer_syntax_uid, data, headers, walker.captured)
        if values is None:
            return
        shape = _WalkedShape(
            data, headers, values, frozenset(walker.uncaptured), walker.pixel_offset
        )
        _keep(self._shapes, (transfer_syntax_uid, len(data)), shape)


def _keep(shapes: dict[tuple[str, int], Any], key: tuple[str, int], shape: object) -> None:
    if key not in shapes and len(shapes) >= MAX_SHAPES:
        del shapes[next(iter(shapes))]
    shapes[key] = shape


def _value_places(
    transfer_syntax_uid: str,
    data: _Data,
    headers: list[slice],
    captured: dict[int, bytes],
) -> dict[int, slice] | None:
    """Where each captured value lies in ``data``; None when one's place is not certain.

    A value follows its element's header: the one header of that tag followed by
    those bytes (a nested element of the same tag could look alike: then None).
    """
    tag_struct = _TAG_BIG if transfer_syntax_uid == _EXPLICIT_BIG_ENDIAN else _TAG_LITTLE
    wanted = {tag_struct.pack(tag >> 16, tag & 0xFFFF): tag for tag in captured}
    found: dict[int, list[slice]] = {}
    for header in headers:  # one pass, however many values were captured
        tag = wanted.get(bytes(data[header.start : header.start + 4]))
        if tag is not None:
            found.setdefault(tag, []).append(header)
    values: dict[int, slice] = {}
    for tag, value in captured.items():
        places = [
            slice(header.stop, header.stop + len(value))
            for header in found.get(tag, ())
            if data[header.stop : header.stop + len(value)] == value
        ]
        if len(places) != 1:
            return None
        values[tag] = places[0]
    return values
