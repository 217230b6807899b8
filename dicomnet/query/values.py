"""Checks of one key's value against its Value Representation (PS3.5 6.2), for identifiers.

:func:`value_problem` says why a key of a C-FIND/C-MOVE/C-GET identifier
cannot be a valid query value, or returns ``None``. It checks what would
otherwise silently match nothing: a VR other than the attribute's own (an
Explicit VR identifier may say anything), UIDs that are not digits and dots
or longer than 64 characters (wildcards are not allowed in UIDs, PS3.4
C.2.2.2.4), dates, times, integer and decimal strings that are not numbers
(single values and either end of a range; a date may stop after its year or
month, as the matcher allows), and text values longer than their VR allows.
Values that pass may still match nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement


__all__ = ["value_problem"]

#: Longest value per text VR (PS3.5 Table 6.2-1); wildcards count as characters.
_MAX_LENGTH: Final = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "UI": 64, "AS": 4}
_UID: Final = re.compile(r"[0-9.]+")
_DATE: Final = re.compile(r"\d{4}(\d{2}(\d{2})?)?|\d{4}\.\d{2}\.\d{2}")
_TIME: Final = re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?|\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
_IS: Final = re.compile(r"[+-]?\d{1,12}")
_DS: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_AS: Final = re.compile(r"\d{3}[DWMY]")
_FORMATS: Final = {"UI": _UID, "IS": _IS, "DS": _DS, "AS": _AS}
_RANGES: Final = {"DA": _DATE, "TM": _TIME}


def _values(element: DataElement) -> list[str]:
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    value = element.value
    items = list(value) if isinstance(value, MultiValue) else [value]
    return [str(v).strip(" \0") for v in items if v is not None]


def _range_problem(text: str, pattern: re.Pattern[str]) -> bool:
    if text.count("-") > 1:
        return True
    low, _, high = text.partition("-")
    parts = [part.strip() for part in (low, high) if part.strip()]
    if not parts:
        return True
    return not all(pattern.fullmatch(part) for part in parts)


def value_problem(element: DataElement) -> str | None:
    """Why ``element`` cannot be a query key value, or ``None`` when it can (see module doc)."""
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)

    vr = str(element.VR)
    try:
        expected = str(dictionary_VR(element.tag))
    except KeyError:
        expected = vr
    if vr not in (expected, "UN") and " or " not in expected and expected != "UN":
        return f"has VR {vr}, not {expected}"
    if vr == "SQ" or isinstance(element.value, bytes | bytearray):
        return None
    for text in _values(element):
        if not text:
            continue
        limit = _MAX_LENGTH.get(vr)
        if limit is not None and len(text) > limit:
            return f"value of {len(text)} characters (at most {limit} for {vr})"
        pattern = _FORMATS.get(vr)
        if pattern is not None and not pattern.fullmatch(text):
            return f"{text[:64]!r} is not a valid {vr} value"
        pattern = _RANGES.get(vr)
        if pattern is not None and _range_problem(text, pattern):
            return f"{text[:64]!r} is not a valid {vr} value or range"
    return None
