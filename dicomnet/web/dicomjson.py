"""DICOM JSON (PS3.18 Annex F): data sets as JSON objects.

Each attribute is a member named by its tag (eight upper-case hex digits)
holding ``vr`` and, when it has a value, ``Value`` (a list: strings, numbers,
person-name objects, nested data sets), ``InlineBinary`` (base64) or
``BulkDataURI``. Empty values inside a multi-valued attribute are ``null``.
IS, DS and the binary number VRs are JSON numbers; a DS or IS whose text is
not a number is sent as the string it is (the standard's JSON has no way to
say it otherwise). Attributes are in tag order.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any, Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["BulkDataHandler", "dataset_to_json", "dumps", "element_to_json"]

#: Given an element's tag path (outermost first), the URI of its bulk data, or
#: ``None`` to send the value inline.
BulkDataHandler = Callable[[tuple[int, ...], DataElement], str | None]

_BINARY: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_INTEGERS: Final = frozenset({"SL", "SS", "UL", "US", "SV", "UV"})
_FLOATS: Final = frozenset({"FL", "FD"})
_PN_GROUPS: Final = ("Alphabetic", "Ideographic", "Phonetic")


def _values(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    if isinstance(value, str) and value == "":
        return []
    return [value]


def _number(value: object, integral: bool) -> Any:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip()) if integral else float(str(value).strip())
    except ValueError:
        if integral:
            try:
                as_float = float(str(value).strip())
            except ValueError:
                return str(value)
            return int(as_float) if as_float.is_integer() else as_float
        return str(value)
    if isinstance(number, float):
        if not math.isfinite(number):
            return str(value)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
    return number


def _person_name(value: object) -> dict[str, str] | None:
    text = str(value) if value is not None else ""
    if not text:
        return None
    groups = text.split("=")
    return {name: group for name, group in zip(_PN_GROUPS, groups, strict=False) if group}


def _string(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def element_to_json(
    element: DataElement,
    *,
    bulk: BulkDataHandler | None = None,
    path: tuple[int, ...] = (),
) -> dict[str, Any]:
    """The JSON object of one attribute (``path``: the tags of the sequences it is in)."""
    vr = str(element.VR)
    if vr in ("US or SS", "US or OW", "US or SS or OW", "OB or OW"):
        choices = vr.split(" or ")
        vr = choices[-1] if element.tag == 0x7FE00010 else choices[0]
    out: dict[str, Any] = {"vr": vr}
    tag = int(element.tag)
    value = element.value
    if vr == "SQ":
        items = [dataset_to_json(item, bulk=bulk, path=(*path, tag)) for item in value or ()]
        if items:
            out["Value"] = items
        return out
    if vr in _BINARY or (vr in ("OB or OW", "US or OW") and isinstance(value, bytes)):
        if value is None or value == b"":
            return out
        uri = bulk((*path, tag), element) if bulk is not None else None
        if uri is not None:
            out["BulkDataURI"] = uri
        else:
            data = value if isinstance(value, bytes | bytearray) else bytes(value)
            out["InlineBinary"] = base64.b64encode(data).decode("ascii")
        return out
    values = _values(value)
    if not values:
        return out
    converted: list[Any]
    if vr == "PN":
        converted = [_person_name(v) for v in values]
    elif vr in ("IS", "DS"):
        converted = [_number(v, vr == "IS") for v in values]
    elif vr in _INTEGERS:
        converted = [None if v is None else int(v) for v in values]
    elif vr in _FLOATS:
        converted = [None if v is None else _number(v, False) for v in values]
    elif vr == "AT":
        converted = [None if v is None else f"{int(v):08X}" for v in values]
    else:
        converted = [_string(v) for v in values]
    if any(v is not None for v in converted):
        out["Value"] = converted
    return out


def dataset_to_json(
    ds: Dataset, *, bulk: BulkDataHandler | None = None, path: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The DICOM JSON object of a data set (file meta information left out)."""
    result: dict[str, Any] = {}
    for element in ds:
        tag = int(element.tag)
        if tag >> 16 == 0x0002 or element.tag.element == 0x0000:
            continue  # file meta and group lengths are not part of a data set's JSON
        result[f"{tag:08X}"] = element_to_json(element, bulk=bulk, path=path)
    return result


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
