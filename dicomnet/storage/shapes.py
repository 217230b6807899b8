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
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

__all__ = ["MAX_SHAPES", "CheckedShapes"]

#: Shapes kept at once; the oldest goes first.
MAX_SHAPES: Final = 8


class _Shape:
    """The header bytes of a data set that passed, and how to cut them from a look-alike."""

    __slots__ = ("_count", "_cut", "headers")

    def __init__(self, data: bytes, headers: list[slice]) -> None:
        self._count = len(headers)
        # One C call cuts every header out (a tuple of them; one alone when there is one).
        self._cut: Callable[[bytes], Any] = itemgetter(*headers) if headers else bytes
        self.headers = self._joined(data)

    def _joined(self, data: bytes) -> bytes:
        if self._count == 0:
            return b""
        parts = self._cut(data)
        return bytes(parts) if self._count == 1 else b"".join(parts)

    def matches(self, data: bytes) -> bool:
        return self._joined(data) == self.headers


class CheckedShapes:
    """The shapes of the last :data:`MAX_SHAPES` data sets that passed the walk."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, int], _Shape] = {}

    def passed(self, transfer_syntax_uid: str, data: bytes) -> bool:
        """Whether ``data`` has the shape of a data set that passed (so it passes)."""
        shape = self._shapes.get((transfer_syntax_uid, len(data)))
        return shape is not None and shape.matches(data)

    def remember(self, transfer_syntax_uid: str, data: bytes, headers: list[slice]) -> None:
        """``data`` passed a walk that read ``headers`` (the walker's record)."""
        key = (transfer_syntax_uid, len(data))
        if key not in self._shapes and len(self._shapes) >= MAX_SHAPES:
            del self._shapes[next(iter(self._shapes))]
        self._shapes[key] = _Shape(data, headers)
