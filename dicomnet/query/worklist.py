"""Modality Worklist items and their matching (PS3.4 K.6.1).

A :class:`WorklistSource` holds worklist items (pydicom Datasets, each with a
Scheduled Procedure Step Sequence) loaded from a folder of DICOM files
(DCMTK's ``.wl`` files are DICOM files) or of JSON files in the DICOM JSON
model (PS3.18 F.2, read with :meth:`pydicom.dataset.Dataset.from_json`).

:func:`match_worklist` yields the response identifier for each item that
matches a query: top-level keys and the keys inside the query's Scheduled
Procedure Step Sequence item (date and time ranges, Modality, Scheduled
Station AE Title, ...). Only the Scheduled Procedure Steps that match are
returned. With a ``support`` map (tag -> matching types, e.g. from the
``lifesys-mwl`` profile) only the listed keys are matched, with the listed
matching types; every other key is returned without being matched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .matching import MatchType, converted, match_element, matching_type

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = [
    "SCHEDULED_PROCEDURE_STEP_SEQUENCE",
    "WorklistSource",
    "has_unmatched_keys",
    "match_worklist",
]

_log = logging.getLogger("dicomnet.query")

SCHEDULED_PROCEDURE_STEP_SEQUENCE = 0x00400100
_SPECIFIC_CHARACTER_SET = 0x00080005


class WorklistSource:
    """Worklist items in memory; :meth:`from_folder` loads DICOM and JSON files."""

    def __init__(self, items: Iterable[Dataset] = ()) -> None:
        self.items: list[Dataset] = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Dataset]:
        return iter(list(self.items))

    def add(self, item: Dataset) -> None:
        """Add one worklist item."""
        self.items.append(item)

    def add_file(self, path: str | os.PathLike[str]) -> Dataset:
        """Load one item: ``.json`` files in the DICOM JSON model, others as DICOM files."""
        from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)
        from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)

        file = Path(path)
        if file.suffix.lower() == ".json":
            try:
                item = Dataset.from_json(json.loads(file.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                raise ValueError(f"{file}: not a DICOM JSON data set: {exc}") from exc
        else:
            try:
                item = Dataset(dcmread(file, force=file.suffix.lower() == ".wl"))
            except (InvalidDicomError, EOFError) as exc:
                raise ValueError(f"{file}: not a DICOM file: {exc}") from exc
        self.add(item)
        return item

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str]) -> WorklistSource:
        """Every worklist file directly in ``root`` (unreadable files are skipped, logged)."""
        source = cls()
        for file in sorted(Path(root).iterdir()):
            if not file.is_file() or file.name.startswith("."):
                continue
            try:
                source.add_file(file)
            except (OSError, ValueError) as exc:
                _log.warning("worklist item not loaded: %s", exc)
        return source


def _allowed(support: Mapping[int, frozenset[str]] | None, key: DataElement) -> bool:
    """Whether ``key`` is matched (not only returned) under ``support``."""
    if support is None:
        return True
    types = support.get(int(key.tag))
    if types is None:
        return key.VR == "SQ"  # a sequence key is walked; its items' keys decide
    kind = matching_type(key.VR, key.value)
    return kind is MatchType.UNIVERSAL or not types or kind.value in types


def has_unmatched_keys(keys: Dataset, support: Mapping[int, frozenset[str]] | None) -> bool:
    """Whether ``keys`` hold a value the SCP will not match on under ``support``."""
    if support is None:
        return False
    for key in converted(keys):
        if key.VR == "SQ":
            if key.value and has_unmatched_keys(key.value[0], support):
                return True
            continue
        asked = matching_type(key.VR, key.value) is not MatchType.UNIVERSAL
        if int(key.tag) != _SPECIFIC_CHARACTER_SET and asked and not _allowed(support, key):
            return True
    return False


def _matches(keys: Dataset, item: Dataset, support: Mapping[int, frozenset[str]] | None) -> bool:
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

    for key in keys:
        tag = int(key.tag)
        if tag == _SPECIFIC_CHARACTER_SET or not _allowed(support, key):
            continue
        if key.VR == "SQ" and key.value and len(key.value[0]):
            found = item.get(tag)
            steps = found.value if isinstance(found, DataElement) and found.VR == "SQ" else []
            if not any(_matches(key.value[0], step, support) for step in steps):
                return False
            continue
        if not match_element(key, item.get(tag)):
            return False
    return True


def _response(
    keys: Dataset, item: Dataset, support: Mapping[int, frozenset[str]] | None
) -> Dataset:
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    out = Dataset()
    for key in keys:
        tag = int(key.tag)
        found = item.get(tag)
        if not isinstance(found, DataElement):
            out.add(DataElement(tag, key.VR, [] if key.VR == "SQ" else None))
        elif key.VR == "SQ" and found.VR == "SQ":
            wanted = key.value[0] if key.value else Dataset()
            steps = [s for s in found.value if _matches(wanted, s, support)]
            if len(wanted):
                steps = [_response(wanted, s, support) for s in steps]
            out.add(DataElement(tag, "SQ", steps))
        else:
            out.add(DataElement(found.tag, found.VR, found.value))
    charset = item.get(_SPECIFIC_CHARACTER_SET)
    if isinstance(charset, DataElement):
        out.add(DataElement(_SPECIFIC_CHARACTER_SET, "CS", charset.value))
    return out


def match_worklist(
    source: Iterable[Dataset],
    identifier: Dataset,
    *,
    support: Mapping[int, frozenset[str]] | None = None,
) -> Iterator[Dataset]:
    """The response identifier of every item of ``source`` that matches ``identifier``."""
    keys = converted(identifier)
    for item in source:
        if _matches(keys, item, support):
            yield _response(keys, item, support)
