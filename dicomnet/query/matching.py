"""Attribute matching for C-FIND and the retrieve services (PS3.4 C.2.2.2).

A *key* is an element of a query identifier; its value decides the matching
type (:func:`matching_type`):

* universal (U): zero length, or a lone ``*`` where wildcards are allowed -
  every entity matches and the key only asks for the value to be returned;
* single value (S): the value must equal the entity's (PN values compare
  without regard to case; leading and trailing spaces never count);
* wildcard (*): ``*`` matches any run of characters, ``?`` one character, for
  the text VRs of C.2.2.2.4;
* range (R): ``a-b``, ``-b`` or ``a-`` for DA, TM and DT;
* list of UIDs (L): backslash-separated UIDs, any of which may match;
* sequence (SQ): a one-item sequence whose item holds keys; an empty item is
  universal.

Other VRs with backslash-separated values match when any one matches. An
entity without a value for a non-universal key does not match.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset


__all__ = [
    "RANGE_VRS",
    "WILDCARD_VRS",
    "ConversionError",
    "MatchType",
    "converted",
    "element_strings",
    "match_dataset",
    "match_element",
    "match_strings",
    "matching_type",
]

#: VRs where ``*`` and ``?`` are wildcards (PS3.4 C.2.2.2.4).
WILDCARD_VRS: Final = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
#: VRs that allow range matching (PS3.4 C.2.2.2.5).
RANGE_VRS: Final = frozenset({"DA", "TM", "DT"})


class MatchType(Enum):
    """The matching types of PS3.4 C.2.2.2, by the letters conformance statements use."""

    SINGLE = "S"
    UNIVERSAL = "U"
    WILDCARD = "*"
    RANGE = "R"
    LIST = "L"
    SEQUENCE = "SQ"


def _strip(text: str) -> str:
    return text.strip(" \0")


def matching_type(vr: str, value: str | Sequence[Dataset] | None) -> MatchType:
    """The matching type a key of ``vr`` with ``value`` asks for (its raw string form)."""
    if vr == "SQ":
        if not value or isinstance(value, str):
            return MatchType.UNIVERSAL
        item = value[0]
        return MatchType.SEQUENCE if len(item) else MatchType.UNIVERSAL
    text = "" if value is None else _strip(str(value))
    if not text:
        return MatchType.UNIVERSAL
    if vr == "UI" and "\\" in text:
        return MatchType.LIST
    if vr in WILDCARD_VRS and ("*" in text or "?" in text):
        if set(text) == {"*"}:
            return MatchType.UNIVERSAL
        return MatchType.WILDCARD
    if vr in RANGE_VRS and "-" in text:
        return MatchType.RANGE
    return MatchType.SINGLE


def element_strings(element: DataElement | None) -> list[str]:
    """The values of an element as strings (empty list when absent or empty)."""
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    if element is None or element.value is None or element.value == "":
        return []
    value: Any = element.value
    if element.VR == "SQ":
        return []
    if isinstance(value, bytes | bytearray):
        return [_strip(value.decode("latin-1"))]
    values = list(value) if isinstance(value, MultiValue) else [value]
    return [text for text in (_strip(str(v)) for v in values) if text]


@lru_cache(maxsize=512)
def _wildcard(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold else 0))


def _pn_fold(text: str) -> str:
    # Trailing empty name components are insignificant: "DOE^JOHN^^" is "DOE^JOHN".
    return text.rstrip("^ =").casefold()


def _normal_date(text: str) -> str:
    return text.replace(".", "")  # ACR-NEMA style YYYY.MM.DD


def _normal_time(text: str) -> str:
    return text.replace(":", "")


def _bounds(vr: str, text: str) -> tuple[str, str]:
    low, _, high = text.partition("-")
    return _strip(low), _strip(high)


def _compare_key(vr: str, value: str, *, upper: bool) -> str:
    """A sortable form; an upper bound is padded so partial values cover their span."""
    if vr == "DA":
        value = _normal_date(value)
    elif vr == "TM":
        value = _normal_time(value)
    elif vr == "DT":
        value = value.split("+")[0].split("-")[0] if value[:1].isdigit() else value
    if vr in ("TM", "DT"):
        if upper:
            return value + "\uffff"  # 10 covers 1000.000000 ... 1059.999999
        return value
    return value


def _in_range(vr: str, key: str, candidate: str) -> bool:
    low, high = _bounds(vr, key)
    value = _compare_key(vr, candidate, upper=False)
    if low and value < _compare_key(vr, low, upper=False):
        return False
    return not (high and value > _compare_key(vr, high, upper=True))


def _single(vr: str, key: str, candidate: str) -> bool:
    if vr == "PN":
        return _pn_fold(key) == _pn_fold(candidate)
    if vr == "DA":
        return _normal_date(key) == _normal_date(candidate)
    if vr == "TM":
        # A time key matches the times it is a prefix of at its own precision.
        key_t, value_t = _normal_time(key), _normal_time(candidate)
        return value_t.startswith(key_t) if "." not in key_t else value_t == key_t
    if vr in ("IS", "DS"):
        try:
            return float(key) == float(candidate)
        except ValueError:
            return key == candidate
    return key == candidate


def match_strings(vr: str, key: str, candidates: Iterable[str]) -> bool:
    """Whether an entity whose values are ``candidates`` matches the key string ``key``."""
    kind = matching_type(vr, key)
    if kind is MatchType.UNIVERSAL:
        return True
    values = list(candidates)
    if not values:
        return False
    text = _strip(key)
    if kind is MatchType.LIST:
        wanted = {_strip(v) for v in text.split("\\")}
        return any(v in wanted for v in values)
    alternatives = [_strip(k) for k in text.split("\\")] if vr not in ("LT", "ST", "UT") else [text]
    for alternative in alternatives:
        sub = matching_type(vr, alternative)
        for value in values:
            if sub is MatchType.UNIVERSAL:
                return True
            if sub is MatchType.WILDCARD:
                fold = vr == "PN"
                pattern = _wildcard(_pn_fold(alternative) if fold else alternative, fold)
                if pattern.fullmatch(_pn_fold(value) if fold else value):
                    return True
            elif sub is MatchType.RANGE:
                if _in_range(vr, alternative, value):
                    return True
            elif _single(vr, alternative, value):
                return True
    return False


def match_element(key: DataElement, candidate: DataElement | None) -> bool:
    """Whether ``candidate`` (the entity's element, or ``None``) matches the key element.

    Sequence keys match when any item of the candidate sequence matches every
    key of the key's first item.
    """
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    if key.VR == "SQ":
        if matching_type("SQ", key.value) is MatchType.UNIVERSAL:
            return True
        if candidate is None or candidate.VR != "SQ" or not candidate.value:
            return False
        key_item: Dataset = key.value[0]
        return any(match_dataset(key_item, item) for item in candidate.value)
    raw = key.value
    if raw is None:
        return True
    text = "\\".join(str(v) for v in raw) if isinstance(raw, MultiValue) else str(raw)
    return match_strings(str(key.VR), text, element_strings(candidate))


def match_dataset(keys: Dataset, candidate: Dataset) -> bool:
    """Whether ``candidate`` matches every key of ``keys`` (Specific Character Set ignored)."""
    for element in keys:
        if element.tag == 0x00080005:
            continue
        if not match_element(element, candidate.get(element.tag)):
            return False
    return True


class ConversionError(ValueError):
    """An element of an identifier holds a value that cannot be converted.

    ``tag`` is the element (group << 16 | element), of the top level data set
    when the value is inside a sequence.
    """

    def __init__(self, tag: int, reason: str) -> None:
        super().__init__(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {reason}")
        self.tag = tag


def converted(identifier: Dataset) -> Dataset:
    """A copy of ``identifier`` with every element (sequence items too) decoded now.

    Wildcards are not valid CS/SH characters, so pydicom would warn when it
    converts such values; they are converted here with those warnings off.
    A value pydicom cannot convert (an unknown VR, a binary number of the
    wrong length, ...) raises :class:`ConversionError`.
    """
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = Dataset()
        for tag in sorted(identifier.keys()):
            try:
                _add(out, identifier[tag])
            except Exception as exc:  # whatever pydicom raises for bytes it cannot convert
                raise ConversionError(int(tag), f"{type(exc).__name__}: {exc}") from exc
        return out


def _convert(ds: Dataset) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    out = Dataset()
    for element in ds:
        _add(out, element)
    return out


def _add(out: Dataset, element: DataElement) -> None:
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    if element.tag.group != 0x0002:
        if element.VR == "SQ":
            out.add(DataElement(element.tag, "SQ", [_convert(item) for item in element.value]))
        else:
            out.add(element)
