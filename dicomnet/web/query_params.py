"""QIDO-RS query parameters (PS3.18 §8.3.4) as a C-FIND identifier.

``{attributeID}={value}`` pairs become keys of the identifier (``attributeID``
is a keyword, eight hex digits, or a dotted path into one sequence item, e.g.
``RequestAttributesSequence.RequestedProcedureID``); ``includefield`` adds
return keys (``all``: every attribute the levels list); ``limit``,
``offset`` and ``fuzzymatching`` are read as such. UID values may list
several UIDs separated by commas or backslashes (list matching). Anything
else is a :class:`ParameterError` (the route answers 400).

The identifier is checked by :func:`dicomnet.query.query.parse_query` (Study
Root, relational), exactly as a C-FIND identifier, and matched by the same
index code: QIDO-RS and C-FIND answer alike.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet.query.models import LEVEL_ATTRIBUTES, STUDY_ROOT
from dicomnet.query.query import Query, QueryError, parse_query

__all__ = ["DEFAULT_KEYS", "ParameterError", "QidoRequest", "attribute_path", "qido_request"]

_HEX_TAG: Final = re.compile(r"^[0-9A-Fa-f]{8}$")


class ParameterError(ValueError):
    """A query parameter QIDO-RS cannot take (answered 400)."""


def _tags(*keywords: str) -> tuple[int, ...]:
    tags = []
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        tags.append(int(tag))
    return tuple(tags)


#: The attributes each level returns by default (PS3.18 Tables 10.6.3-3 to -5),
#: Retrieve URL and Instance Availability added by the route. Timezone Offset From
#: UTC is returned when ``includefield`` asks for it (it has no index column, and
#: asking for it by default would decode every entity's kept header).
DEFAULT_KEYS: Final = {
    "STUDY": _tags(
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyID",
        "StudyInstanceUID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    "SERIES": _tags(
        "Modality",
        "SeriesDescription",
        "SeriesInstanceUID",
        "SeriesNumber",
        "NumberOfSeriesRelatedInstances",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
    ),
    "IMAGE": _tags(
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "BitsAllocated",
        "NumberOfFrames",
    ),
}
_LEVELS: Final = ("STUDY", "SERIES", "IMAGE")
_PATIENT_ATTRIBUTES: Final = LEVEL_ATTRIBUTES["PATIENT"]
_UNIQUE: Final = {"STUDY": 0x0020000D, "SERIES": 0x0020000E, "IMAGE": 0x00080018}
_MAX_LIMIT_TEXT: Final = 9


@dataclass(slots=True)
class QidoRequest:
    """A parsed QIDO-RS search: the checked query and the paging asked for."""

    query: Query
    limit: int | None = None
    offset: int = 0
    fuzzy: bool = False
    #: Tags the response returns (in the identifier, for the record).
    returned: frozenset[int] = field(default_factory=frozenset)


def attribute_path(text: str) -> tuple[int, ...]:
    """The tags of ``attributeID`` (keyword, hex tag, or dotted path), outermost first."""
    tags: list[int] = []
    for piece in text.split("."):
        part = piece.strip()
        if _HEX_TAG.match(part):
            tag = int(part, 16)
        else:
            found = tag_for_keyword(part)
            if found is None:
                raise ParameterError(f"unknown attribute {part!r}")
            tag = int(found)
        tags.append(tag)
    if not tags or len(tags) > 2:
        raise ParameterError(f"attribute path {text!r}: one sequence level at most")
    return tuple(tags)


def _vr(tag: int) -> str:
    if tag >> 16 & 1:
        raise ParameterError(f"private attribute {tag:08X} cannot be searched")
    try:
        vr = str(dictionary_VR(tag))
    except KeyError as exc:
        raise ParameterError(f"unknown attribute {tag:08X}") from exc
    return vr.split(" or ", maxsplit=1)[0]


def _element(tag: int, text: str | None) -> DataElement:
    vr = _vr(tag)
    if vr == "SQ":
        if text:
            raise ParameterError(f"{keyword_for_tag(tag) or f'{tag:08X}'} is a sequence")
        return DataElement(tag, "SQ", [])
    if text is None or text == "":
        return DataElement(tag, vr, None)
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        raise ParameterError(f"{keyword_for_tag(tag) or f'{tag:08X}'} cannot be matched")
    if vr == "UI":
        uids = [u.strip() for u in re.split(r"[,\\]", text) if u.strip()]
        return DataElement(tag, vr, uids[0] if len(uids) == 1 else uids)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the C-FIND checks below say what is wrong
            return DataElement(tag, vr, text)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"{keyword_for_tag(tag) or f'{tag:08X}'}: {exc}") from exc


def _add(identifier: Dataset, path: tuple[int, ...], text: str | None) -> None:
    if len(path) == 1:
        identifier.add(_element(path[0], text))
        return
    outer, inner = path
    if _vr(outer) != "SQ":
        raise ParameterError(f"{keyword_for_tag(outer) or f'{outer:08X}'} is not a sequence")
    element = identifier.get(outer)
    if element is None or not isinstance(element, DataElement):
        element = DataElement(outer, "SQ", [Dataset()])
        identifier.add(element)
    elif not element.value:
        element.value = [Dataset()]
    element.value[0].add(_element(inner, text))


def _count(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > _MAX_LIMIT_TEXT:
        raise ParameterError(f"{name} must be a non-negative integer, not {text!r}")
    return int(text)


def _boolean(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ParameterError(f"{name} must be true or false, not {text!r}")
    return value == "true"


def _levels_returned(level: str, fixed: dict[str, str]) -> list[str]:
    """The levels whose default attributes a search at ``level`` returns.

    A search below the study level that is not restricted to one study (all
    series, all instances) returns the study's attributes too; an instance
    search not restricted to one series returns the series' too.
    """
    levels = [level]
    if level == "IMAGE" and "SERIES" not in fixed:
        levels.append("SERIES")
    if level != "STUDY" and "STUDY" not in fixed:
        levels.append("STUDY")
    return levels


def qido_request(
    level: str, fixed: dict[str, str], params: Iterable[tuple[str, str]]
) -> QidoRequest:
    """The checked search at ``level`` (STUDY, SERIES, IMAGE) with the path's UIDs ``fixed``.

    Raises :class:`ParameterError` for a parameter QIDO-RS does not take or
    a value the C-FIND rules refuse.
    """
    identifier = Dataset()
    limit: int | None = None
    offset = 0
    fuzzy = False
    includes: list[tuple[int, ...]] = []
    include_all = False
    depth = _LEVELS.index(level)
    for name, value in params:
        if name == "limit":
            limit = _count(name, value)
        elif name == "offset":
            offset = _count(name, value)
        elif name == "fuzzymatching":
            fuzzy = _boolean(name, value)
        elif name == "includefield":
            for piece in value.split(","):
                item = piece.strip()
                if item == "all":
                    include_all = True
                elif item:
                    includes.append(attribute_path(item))
        elif name in ("accept", "charset"):
            continue  # media type and character set are negotiated by the route
        else:
            path = attribute_path(name)
            if path[0] in identifier:
                raise ParameterError(f"{name} given twice")
            _add(identifier, path, value)
    for fixed_level, uid in fixed.items():
        tag = _UNIQUE[fixed_level]
        if tag in identifier:
            raise ParameterError(f"{keyword_for_tag(tag)} is given by the path")
        identifier.add(DataElement(tag, "UI", uid))
    wanted: list[int] = []
    for returned_level in _levels_returned(level, fixed):
        wanted.extend(DEFAULT_KEYS[returned_level])
    if include_all:
        for name in ("PATIENT", *_LEVELS[: depth + 1]):
            wanted.extend(sorted(LEVEL_ATTRIBUTES[name]))
    for path in includes:
        if len(path) == 1:
            wanted.append(path[0])
        elif path[0] not in identifier:
            _add(identifier, path, None)
    for tag in wanted:
        if tag in identifier:
            continue
        if _below(tag, depth):
            continue  # asked to return an attribute of a lower level: it has none here
        identifier.add(_element(tag, None))
    identifier.QueryRetrieveLevel = level
    try:
        query = parse_query(identifier, STUDY_ROOT, relational=True)
    except QueryError as exc:
        raise ParameterError(exc.comment) from exc
    return QidoRequest(
        query=query,
        limit=limit,
        offset=offset,
        fuzzy=fuzzy,
        returned=frozenset(int(e.tag) for e in identifier),
    )


def _below(tag: int, depth: int) -> bool:
    home = STUDY_ROOT.home_level(tag, _LEVELS[depth])
    return home is not None and home in _LEVELS and _LEVELS.index(home) > depth
