"""Conditions a C-FIND identifier must meet beyond PS3.4, as a statement sets them.

LifeSys (003, §"Query/Retrieve AE" C-FIND conformance) answers a Patient Root
or Patient/Study Only PATIENT-level query only when Patient ID (0010,0020)
has at least a partial value or Patient's Name (0010,0010) is present, and a
Study Root query only when a study attribute, the Patient ID or the Patient's
Name has a value. :class:`QueryConstraint` is one such condition, read from
a profile's ``[[query.constraints]]``; :func:`violated` says which one an
identifier breaks.

A key "has a value" when it is present with something other than nothing or
``*`` alone (universal matching); a partial value such as ``SMI*`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


__all__ = ["QueryConstraint", "violated"]

#: Keys that never count as a "value" of a query level.
_NOT_MATCHING = frozenset({0x00080005, 0x00080052})  # Specific Character Set, Q/R Level


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConstraint:
    """At ``level`` of the ``models``, one of ``value_in`` must have a value, unless one of
    ``unless_present`` is in the identifier or (``unless_level_value``) another key has one."""

    models: tuple[str, ...]
    level: str
    value_in: tuple[int, ...]
    unless_present: tuple[int, ...] = ()
    unless_level_value: bool = False
    note: str = ""

    def describe(self) -> str:
        """The rule in words, for an Error Comment."""
        keys = " or ".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in self.value_in)
        return self.note or f"{keys} must have a value at {self.level} level"


def _has_value(identifier: Dataset, tag: int) -> bool:
    if tag not in identifier:
        return False
    value = identifier[tag].value
    if value is None:
        return False
    text = str(value).strip().strip("\0")
    return bool(text) and text.strip("*") != ""


def violated(
    constraints: Iterable[QueryConstraint], sop_class_uid: str, identifier: Dataset
) -> QueryConstraint | None:
    """The first constraint ``identifier`` (a C-FIND identifier) breaks, or None."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    for rule in constraints:
        if sop_class_uid not in rule.models or rule.level != level:
            continue
        if any(_has_value(identifier, tag) for tag in rule.value_in):
            continue
        if any(tag in identifier for tag in rule.unless_present):
            continue
        if rule.unless_level_value:
            others = (
                int(tag)
                for tag in identifier.keys()  # noqa: SIM118 (keys(): no decoding)
                if int(tag) not in _NOT_MATCHING and int(tag) not in rule.value_in
            )
            if any(_has_value(identifier, tag) for tag in others):
                continue
        return rule
    return None
