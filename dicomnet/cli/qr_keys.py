"""``-k`` keys of the query commands (``find``, ``mwl``, ``move``, ``get``), as findscu takes them.

A key names an attribute by keyword (``PatientName``) or tag (``0010,0010``,
``(0010,0010)`` or ``00100010``), optionally inside sequence items
(``ScheduledProcedureStepSequence[0].Modality``, ``(0040,0100)[0].(0008,0060)``),
followed by ``=VALUE`` to match on, or nothing to ask for the attribute to be
returned (an empty value: universal matching). ``KEY=`` is the same as ``KEY``.
A sequence named without an item (``-k ReferencedStudySequence``) is sent
empty. Values are text as they would appear in the data set, ``\\`` separating
several values (a list of UIDs); numbers are converted for binary VRs (US,
UL, FL, ...). A value that is not ASCII adds Specific Character Set (ISO_IR
100, or ISO_IR 192 when Latin-1 cannot hold it) unless a key gives one.

:func:`build_identifier` puts the keys into a pydicom Dataset on top of the
usual return keys of the query level (leave them out with ``defaults=False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


__all__ = [
    "DEFAULT_KEYS",
    "LEVELS",
    "WORKLIST_KEYS",
    "WORKLIST_STEP_KEYS",
    "BadKey",
    "Key",
    "build_identifier",
    "build_worklist_identifier",
    "parse_key",
    "with_character_set",
]

QUERY_RETRIEVE_LEVEL: Final = 0x00080052
SPECIFIC_CHARACTER_SET: Final = 0x00080005
#: Query/Retrieve levels (PS3.4 C.6).
LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")

#: Return keys asked for at each level unless ``defaults=False`` (PS3.4 C.6.1.1.2-5 and
#: C.6.2.1: the unique key of the level and of those above it, and the required keys).
DEFAULT_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "PATIENT": ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "PatientName",
        "PatientID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances",
        "StudyInstanceUID",
    ),
    "SERIES": (
        "PatientID",
        "StudyInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
        "SeriesInstanceUID",
    ),
    "IMAGE": (
        "PatientID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "InstanceNumber",
        "SOPClassUID",
        "SOPInstanceUID",
    ),
}
#: Worklist return keys outside the Scheduled Procedure Step Sequence (PS3.4 K.6.1.2.2) ...
WORKLIST_KEYS: Final = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "StudyInstanceUID",
)
#: ... and inside its one item.
WORKLIST_STEP_KEYS: Final = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID",
)
SCHEDULED_PROCEDURE_STEP_SEQUENCE: Final = 0x00400100

_INTEGER_VRS: Final = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "AT"})
_FLOAT_VRS: Final = frozenset({"FL", "FD"})
#: VRs a command-line text value cannot be given for.
_UNSUPPORTED_VRS: Final = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"})
_TAG: Final = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
_ITEM: Final = re.compile(r"^(.*)\[(\d+)\]$")


class BadKey(ValueError):
    """A ``-k`` key that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Key:
    """One ``-k``: the path of (tag, item index) down to ``tag``, and the value.

    ``path`` holds the sequences above the attribute with the item index in
    each; ``value`` is ``None`` for a key without ``=``.
    """

    path: tuple[tuple[int, int], ...]
    tag: int
    value: str | None

    @property
    def keyword(self) -> str:
        """The attribute's keyword (its tag as ``(gggg,eeee)`` when it has none)."""
        from pydicom.datadict import keyword_for_tag  # noqa: PLC0415 (loaded on first use)

        return keyword_for_tag(self.tag) or f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"


def _tag_of(text: str) -> int:
    from pydicom.datadict import dictionary_VR, tag_for_keyword  # noqa: PLC0415

    match = _TAG.match(text.strip())
    if match:
        tag = int(match.group(1), 16) << 16 | int(match.group(2), 16)
    else:
        found = tag_for_keyword(text.strip())
        if found is None:
            raise BadKey(f"not a DICOM keyword or tag: {text.strip()!r}")
        tag = found
    try:
        dictionary_VR(tag)
    except KeyError:
        raise BadKey(f"{text.strip()!r}: not in the data dictionary (its VR is unknown)") from None
    return tag


def parse_key(text: str) -> Key:
    """Parse one ``-k`` argument; raises :class:`BadKey` for one that cannot be used."""
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)

    name, equals, value = text.partition("=")
    if not name.strip():
        raise BadKey(f"no attribute in key {text!r}")
    parts = name.strip().split(".")
    path: list[tuple[int, int]] = []
    for part in parts[:-1]:
        match = _ITEM.match(part)
        if match is None:
            raise BadKey(f"{part!r} in {text!r}: a sequence needs an item index, as in SEQ[0]")
        tag = _tag_of(match.group(1))
        if dictionary_VR(tag) != "SQ":
            raise BadKey(f"{match.group(1)!r} in {text!r} is not a sequence")
        path.append((tag, int(match.group(2))))
    tag = _tag_of(parts[-1])
    vr = _vr(tag)
    if vr == "SQ" and value:
        raise BadKey(f"{parts[-1]!r} is a sequence: give keys inside it, as in SEQ[0].KEY=V")
    if tag == QUERY_RETRIEVE_LEVEL and value:
        value = value.strip().upper()
    if value and vr in _UNSUPPORTED_VRS:
        raise BadKey(f"{parts[-1]!r} has VR {vr}: no value can be given on the command line")
    if value:
        _convert(vr, value, text)
    return Key(tuple(path), tag, value if equals and value else None)


def _convert(vr: str, text: str, key: str) -> object:
    """The value of ``text`` for an element of ``vr`` (a number for a binary VR)."""
    values = text.split("\\")
    try:
        if vr in _INTEGER_VRS:
            numbers: list[object] = [int(v, 16 if vr == "AT" else 10) for v in values]
        elif vr in _FLOAT_VRS:
            numbers = [float(v) for v in values]
        else:
            return text
    except ValueError:
        raise BadKey(f"{key!r}: {text!r} is not a number (VR {vr})") from None
    return numbers[0] if len(numbers) == 1 else numbers


def _vr(tag: int) -> str:
    """The tag's VR in the dictionary; the first of an ambiguous one (``US or SS``: US)."""
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)

    return str(dictionary_VR(tag)).split(" or ")[0]


def _set(ds: Dataset, tag: int, value: str | None) -> None:
    from pydicom.datadict import keyword_for_tag  # noqa: PLC0415 (loaded on first use)
    from pydicom.sequence import Sequence as DicomSequence  # noqa: PLC0415 (loaded on first use)

    vr = _vr(tag)
    if vr == "SQ":
        if tag not in ds:
            ds.add_new(tag, vr, DicomSequence())
        return
    ds.add_new(tag, vr, None if value is None else _convert(vr, value, keyword_for_tag(tag)))


def _item(ds: Dataset, tag: int, index: int) -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)
    from pydicom.sequence import Sequence as DicomSequence  # noqa: PLC0415 (loaded on first use)

    if tag not in ds or ds[tag].VR != "SQ" or ds[tag].value is None:
        ds.add_new(tag, "SQ", DicomSequence())
    items = ds[tag].value
    while len(items) <= index:
        items.append(Dataset())
    item: Dataset = items[index]
    return item


def apply_keys(ds: Dataset, keys: Iterable[Key]) -> Dataset:
    """Put every key into ``ds`` (later keys win over earlier ones and over ``ds``)."""
    for key in keys:
        target = ds
        for tag, index in key.path:
            target = _item(target, tag, index)
        _set(target, key.tag, key.value)
    return ds


def with_character_set(ds: Dataset, keys: Iterable[Key]) -> Dataset:
    """Add Specific Character Set when a value is not ASCII (and no key gives one).

    ISO_IR 100 (Latin-1) when every value fits it, which more SCPs support,
    else ISO_IR 192 (UTF-8).
    """
    if SPECIFIC_CHARACTER_SET in ds:
        return ds
    text = "".join(key.value or "" for key in keys)
    if text.isascii():
        return ds
    try:
        text.encode("latin-1")
        ds.SpecificCharacterSet = "ISO_IR 100"
    except UnicodeEncodeError:
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


def level_of(keys: Sequence[Key]) -> str | None:
    """The Query/Retrieve Level a key gives (the last one), or ``None``."""
    level = None
    for key in keys:
        if not key.path and key.tag == QUERY_RETRIEVE_LEVEL and key.value:
            level = key.value
    return level


def build_identifier(level: str, keys: Sequence[Key], *, defaults: bool = True) -> Dataset:
    """A Q/R identifier at ``level``: its usual return keys (with ``defaults``), then ``keys``.

    Raises :class:`BadKey` when a key gives another Query/Retrieve Level.
    """
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    level = level.upper()
    if level not in LEVELS:
        raise BadKey(f"unknown query level {level!r} (one of {', '.join(LEVELS)})")
    given = level_of(keys)
    if given is not None and given != level:
        raise BadKey(f"-k QueryRetrieveLevel={given} contradicts the level {level}")
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    if defaults:
        for keyword in DEFAULT_KEYS[level]:
            ds.add_new(keyword, dictionary_VR(keyword), None)
    return with_character_set(apply_keys(ds, keys), keys)


def build_worklist_identifier(keys: Sequence[Key], *, defaults: bool = True) -> Dataset:
    """A Modality Worklist identifier: its usual return keys (with ``defaults``), then ``keys``.

    A key without a sequence path whose attribute belongs in the Scheduled
    Procedure Step (Modality, ScheduledStationAETitle, ...) goes into the
    sequence's one item, as the worklist model has it. Raises
    :class:`BadKey` for a Query/Retrieve Level (worklist queries have none).
    """
    from pydicom.datadict import dictionary_VR, tag_for_keyword  # noqa: PLC0415
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if level_of(keys) is not None:
        raise BadKey("a worklist query has no QueryRetrieveLevel")
    step_tags = {tag_for_keyword(keyword) for keyword in WORKLIST_STEP_KEYS}
    placed = [
        Key(((SCHEDULED_PROCEDURE_STEP_SEQUENCE, 0),), key.tag, key.value)
        if not key.path and key.tag in step_tags
        else key
        for key in keys
    ]
    ds = Dataset()
    if defaults:
        for keyword in WORKLIST_KEYS:
            ds.add_new(keyword, dictionary_VR(keyword), None)
        step = _item(ds, SCHEDULED_PROCEDURE_STEP_SEQUENCE, 0)
        for keyword in WORKLIST_STEP_KEYS:
            step.add_new(keyword, dictionary_VR(keyword), None)
    return with_character_set(apply_keys(ds, placed), keys)
