"""The index's cache of series rows (parents skipped for a known series) changes no row.

Both backends remember the row key of each series they wrote, so that an
instance joining it inserts its own row only. The same stores, deletions and
replacements, run once with that cache and once with it emptied before every
call, must leave the same patients, studies, series and instances: a parent
keeps the values of its first instance (a changed name on a later one does
not rewrite it), and a deletion forgets what it removed.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from query.fixtures import SERIES_A1, SERIES_A2, STUDY_A, instance

from dicomnet.archive import entry_from_header
from dicomnet.archive.backends import open_index
from dicomnet.query import parse_query
from dicomnet.query.models import PATIENT_ROOT

EXPLICIT_LE = "1.2.840.10008.1.2.1"

_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"),
    "STUDY": ("StudyInstanceUID", "StudyDate", "StudyID", "AccessionNumber", "StudyDescription"),
    "SERIES": ("SeriesInstanceUID", "Modality", "SeriesNumber"),
    "IMAGE": ("SOPInstanceUID", "InstanceNumber"),
}


def _ds(number: int, series: str, **values: object) -> Dataset:
    ds = instance(
        number,
        patient_id="P1",
        patient_name="DOE^JOHN",
        study=STUDY_A,
        series=series,
        modality="CT",
        study_date="20240110",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    return ds


def _entry(ds: Dataset, path: str) -> Any:
    return entry_from_header(
        ds,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        transfer_syntax_uid=EXPLICIT_LE,
        path=path,
        size=1,
        received=1.0,
    )


def _steps() -> list[Callable[[Any], Awaitable[object]]]:
    first = _ds(1, SERIES_A1)
    renamed = _ds(2, SERIES_A1, PatientName="CHANGED^NAME", StudyDescription="other")
    again = _ds(3, SERIES_A1, PatientName="THIRD^NAME", Modality="MR")
    other_series = _ds(4, SERIES_A2, PatientName="FOURTH^NAME")
    same_series = _ds(5, SERIES_A1)
    moved = _ds(1, SERIES_A2)  # the first instance again, in the other series
    last = _ds(6, SERIES_A1, PatientSex="F")
    return [
        lambda ix: ix.put(_entry(first, "/1.dcm")),
        # A second instance of the series with other patient and study values.
        lambda ix: ix.put(_entry(renamed, "/2.dcm")),
        # The series (and with it study and patient) deleted, then stored into again.
        lambda ix: ix.delete(series_uid=SERIES_A1),
        lambda ix: ix.put(_entry(again, "/3.dcm")),
        lambda ix: ix.put_many([_entry(other_series, "/4.dcm"), _entry(same_series, "/5.dcm")]),
        lambda ix: ix.put(_entry(moved, "/1b.dcm")),  # a replacement
        lambda ix: ix.delete(sop_instance_uid=str(again.SOPInstanceUID)),
        lambda ix: ix.delete(study_uid=STUDY_A),
        lambda ix: ix.put(_entry(last, "/6.dcm")),
        lambda ix: ix.put(_entry(same_series, "/5b.dcm")),
    ]


async def _state(index: Any) -> list[list[tuple[str, ...]]]:
    state = []
    for level, keys in _KEYS.items():
        identifier = Dataset()
        identifier.QueryRetrieveLevel = level
        for lower in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
            for keyword in _KEYS[lower]:
                setattr(identifier, keyword, "")
            if lower == level:
                break
        query = parse_query(identifier, PATIENT_ROOT, relational=True)
        rows = [
            tuple(str(m.identifier.get(k, "")) for k in sorted(identifier.dir()) if k in keys)
            async for m in index.matches(query)
        ]
        state.append(sorted(rows))
    records = [await index.locate(str(_ds(n, SERIES_A1).SOPInstanceUID)) for n in range(1, 7)]
    state.append([(str(r.path) if r else "",) for r in records])
    return state


async def test_rows_with_the_cache_equal_rows_without_it(tmp_path: Path, index_location) -> None:
    states = []
    for cached in (True, False):
        location = index_location
        if isinstance(location, Path):
            location = location.parent / f"{cached}" / location.name
        else:  # one PostgreSQL database: emptied between the two runs
            location = index_location
        async with await open_index(location, fsync=False) as index:
            await index.clear()
            seen = []
            for step in _steps():
                if not cached:
                    index._series_keys.clear()
                await step(index)
                seen.append(await _state(index))
            states.append(seen)
    assert states[0] == states[1]
    # (Patient rows: birth date, ID, name, sex.) The renamed second instance did not
    # rewrite the patient; the series deleted and stored into again came back with the
    # values of its new first instance, and so did the study deleted.
    assert states[0][1][0] == [("19700101", "P1", "DOE^JOHN", "O")]
    assert states[0][3][0] == [("19700101", "P1", "THIRD^NAME", "O")]
    assert states[0][3][2] == [("MR", SERIES_A1, "1")]
    assert states[0][-1][0] == [("19700101", "P1", "DOE^JOHN", "F")]
