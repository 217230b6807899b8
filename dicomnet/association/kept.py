"""What the associations of one AE keep for each other: memos of the services above.

A service that learns something about its own data while it works on one association
(the Storage SCU: which data set shapes passed the check before sending) may keep it
for the AE's next associations, where the same files or look-alikes are sent again.
:class:`KeptByAE` holds one object per kind, made on first use; the association layer
does not know what they are. Each kind must be bounded and hold only what is true
whatever the peer (a verdict on bytes, say), never what one association negotiated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["KeptByAE"]

_T = TypeVar("_T")


class KeptByAE:
    """One object per kind, shared by the associations of an AE."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[type, object] = {}

    def get(self, kind: type[_T], make: Callable[[], _T]) -> _T:
        """The kept object of ``kind``, made by ``make`` when there is none yet."""
        kept = self._kept.get(kind)
        if kept is None:
            kept = self._kept[kind] = make()
        assert isinstance(kept, kind)
        return kept
