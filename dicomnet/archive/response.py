"""Where each element of a C-FIND response comes from, worked out once per query.

When every key of a query is held in an index column or is a computed
attribute (plus Query/Retrieve Level, Specific Character Set read from the
kept header's first bytes, and Retrieve AE Title), :func:`response_layout`
gives a :class:`Layout` that writes each response straight from the row
(:func:`~.encode.encode_identifier`), the same bytes :func:`respond` and
pydicom would give. Otherwise it gives ``None`` and responses are built as
pydicom Datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from dicomnet.query.query import Query, key_verdict

from .encode import Element, encode_identifier
from .entry import header_charset
from .plan import COMPUTED_NAMES, Plan
from .schema import COLUMNS

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

__all__ = ["Layout", "response_layout"]

_SPECIFIC_CHARACTER_SET: Final = 0x00080005
_QUERY_RETRIEVE_LEVEL: Final = 0x00080052
_RETRIEVE_AE_TITLE: Final = 0x00080054
_COMPUTED: Final = frozenset(
    {0x00080061, 0x00080062, 0x00201200, 0x00201202, 0x00201204, 0x00201206, 0x00201208}
    | {0x00201209}
)
_VR: Final = {tag: column.vr for tag, column in COLUMNS.items()}


@dataclass(frozen=True, slots=True)
class _Slot:
    """One response element: ``kind`` says where its value comes from."""

    tag: int
    #: "level", "charset", "fixed", "empty", "column", "count", "codes", "computed"
    kind: str
    vr: str
    value: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    """The elements of every response of one query, in tag order."""

    slots: tuple[_Slot, ...]

    def elements(
        self,
        row: tuple[Any, ...],
        lookup: Callable[[int], DataElement | None],
    ) -> tuple[list[Element], str | list[str] | None] | None:
        """The response of ``row`` as (tag, VR, value) in tag order, and its character set.

        ``None`` when the header's character set cannot be read (use pydicom).
        """
        elements: list[Element] = []
        charset: str | list[str] | None = None
        for slot in self.slots:
            kind = slot.kind
            if kind == "column":
                value = row[slot.position]
                if value:
                    elements.append((slot.tag, slot.vr, str(value)))
                else:
                    elements.append((slot.tag, slot.value, None))
            elif kind == "charset":
                try:
                    charset = header_charset(row[1])
                except ValueError:
                    return None
                if charset is not None:
                    elements.append((slot.tag, "CS", charset))
            elif kind == "count":
                elements.append((slot.tag, "IS", str(int(row[slot.position] or 0))))
            elif kind == "codes":
                codes = sorted({c for c in str(row[slot.position] or "").split(",") if c})
                elements.append((slot.tag, slot.vr, codes))
            elif kind == "computed":
                from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

                found = lookup(slot.tag)
                if found is None:
                    elements.append((slot.tag, slot.value, None))
                    continue
                raw = found.value
                text: str | list[str] | None
                if isinstance(raw, (MultiValue, list)):
                    text = [str(v) for v in raw]
                else:
                    text = None if raw is None else str(raw)
                elements.append((slot.tag, str(found.VR), text))
            elif kind == "empty":
                elements.append((slot.tag, slot.vr, None))
            else:  # "level", "fixed"
                elements.append((slot.tag, slot.vr, slot.value))
        return elements, charset

    def encode(
        self,
        row: tuple[Any, ...],
        lookup: Callable[[int], DataElement | None],
        transfer_syntax_uid: str,
    ) -> bytes | None:
        """The response of ``row`` in ``transfer_syntax_uid``, or ``None`` (use pydicom)."""
        found = self.elements(row, lookup)
        if found is None:
            return None
        elements, charset = found
        return encode_identifier(elements, transfer_syntax_uid, charset)


def _computed_slot(tag: int, vr: str, level: str, plan: Plan) -> _Slot:
    """A computed attribute's slot: straight from its SQL column when the plan has it."""
    name = COMPUTED_NAMES.get(level, {}).get(tag)
    if name is not None and name in plan.computed:
        position = 2 + plan.computed.index(name)
        if name in ("modalities", "sop_classes"):
            return _Slot(tag, "codes", "CS" if name == "modalities" else "UI", vr, position)
        return _Slot(tag, "count", "IS", vr, position)
    return _Slot(tag, "computed", vr, vr)


def response_layout(query: Query, plan: Plan, retrieve_ae_title: str | None) -> Layout | None:
    """The layout of ``query``'s responses, or ``None`` when a key needs the kept header."""
    positions = {tag: 2 + len(plan.computed) + n for n, tag in enumerate(plan.columns)}
    slots = [
        _Slot(_QUERY_RETRIEVE_LEVEL, "level", "CS", query.level),
        _Slot(_SPECIFIC_CHARACTER_SET, "charset", "CS"),
    ]
    omit = query.support is not None and query.support.omit_unsupported
    for key in query.keys:
        tag = int(key.tag)
        vr = str(key.VR)
        if tag == _SPECIFIC_CHARACTER_SET or vr == "SQ":
            return None
        if tag == _RETRIEVE_AE_TITLE and retrieve_ae_title:
            slots.append(_Slot(tag, "fixed", "AE", retrieve_ae_title))
        elif key_verdict(query, key) == "empty":
            if not omit:
                slots.append(_Slot(tag, "empty", vr))
        elif tag in positions:
            slots.append(_Slot(tag, "column", _VR[tag], vr, positions[tag]))
        elif tag in _COMPUTED and plan.computed:
            slots.append(_computed_slot(tag, vr, query.level, plan))
        else:
            return None
    slots.sort(key=lambda slot: slot.tag)
    return Layout(tuple(slots))
