"""Worklist items kept in the archive's database: the SQL narrows, the matcher decides."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from query.worklist_items import item, items, write_items

from dicomnet.archive.backends import AnyWorklist, open_index, open_worklist
from dicomnet.archive.worklist_sqlite import plan_worklist
from dicomnet.conformance import load_profile
from dicomnet.query.worklist import WorklistSource, match_worklist
from dicomnet.services.mwl import support_from_profile

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on odd test values

LIFESYS = support_from_profile(load_profile("lifesys-mwl").query_keys)


def query(top: dict[str, str] | None = None, **step_keys: str) -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword in ("PatientName", "PatientID", "AccessionNumber"):
            setattr(ds, keyword, (top or {}).get(keyword, ""))
        step = Dataset()
        for keyword in ("Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate"):
            setattr(step, keyword, step_keys.get(keyword, ""))
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def odd_items() -> list[Dataset]:
    """Items whose keys the columns cannot hold exactly (they must still be found)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _odd_items()


def _odd_items() -> list[Dataset]:
    two_steps = item(4, name="MULTI^STEP", modality="MR", station="MR1", date="20240110")
    later = Dataset()
    later.Modality = "CT"
    later.ScheduledStationAETitle = "CT1"
    later.ScheduledProcedureStepStartDate = "2024.01.17"  # ACR-NEMA style date
    two_steps.ScheduledProcedureStepSequence.append(later)
    no_date = item(5, name="NO^DATE", modality="CT", station="CT1", date="")
    multi = item(6, name="MULTI^VALUE", modality="CT", station="CT1", date="20240110")
    multi.ScheduledProcedureStepSequence[0].Modality = ["CT", "PT"]
    return [*items(), two_steps, no_date, multi]


async def answers(worklist: AnyWorklist, identifier: Dataset, support: object = None) -> list[str]:
    found = []
    async for candidate in worklist.candidates(identifier, support):  # type: ignore[arg-type]
        found.extend(
            str(r.PatientID) for r in match_worklist([candidate], identifier, support=support)
        )  # type: ignore[arg-type]
    return sorted(found)


def expected(identifier: Dataset, support: object = None) -> list[str]:
    source = WorklistSource(odd_items())
    return sorted(str(r.PatientID) for r in match_worklist(source, identifier, support=support))  # type: ignore[arg-type]


QUERIES = [
    query(),
    query(Modality="CT"),
    query(Modality="PT"),
    query(ScheduledStationAETitle="CT1", ScheduledProcedureStepStartDate="20240117"),
    query(ScheduledProcedureStepStartDate="20240111-"),
    query(ScheduledProcedureStepStartDate="-20240110"),
    query(ScheduledProcedureStepStartDate="20240110-20240110", Modality="MR"),
    query({"PatientID": "WL2"}),
    query({"AccessionNumber": "A3"}, Modality="CT"),
    query({"PatientName": "doe*"}),
    query({"PatientID": "WL1\\WL3"}),
    query(Modality="C*"),
]


async def test_sql_and_memory_give_the_same_answers(index_location) -> None:
    async with await open_index(index_location) as index:
        worklist = await open_worklist(index)
        try:
            for each in odd_items():
                await worklist.add(each)
            for identifier in QUERIES:
                for support in (None, LIFESYS):
                    assert await answers(worklist, identifier, support) == expected(
                        identifier, support
                    ), identifier
            # The SQL narrows where it can: one Patient ID, a modality, a date range.
            sql, params = plan_worklist(query({"PatientID": "WL2"}, Modality="CT"))
            assert "patient_id = ?" in sql and "modality = ?" in sql and params == ["WL2", "CT"]
            sql, params = plan_worklist(query(ScheduledProcedureStepStartDate="20240101-20240131"))
            assert params == ["20240101", "20240131"]
        finally:
            await worklist.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    modality=st.sampled_from(["", "CT", "MR", "PT", "C?"]),
    station=st.sampled_from(["", "CT1", "MR1", "XX"]),
    date=st.sampled_from(
        [
            "",
            "20240110",
            "20240117",
            "2024.01.17",
            "20240111-",
            "-20240110",
            "20240101-20240131",
            "20240110\\20240117",
            "bad-date",
        ]
    ),
    patient=st.sampled_from(["", "WL1", "WL4", "WL*"]),
    lifesys=st.booleans(),
)
async def test_random_queries_sql_equals_memory(
    index_location, *, modality: str, station: str, date: str, patient: str, lifesys: bool
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        identifier = query(
            {"PatientID": patient},
            Modality=modality,
            ScheduledStationAETitle=station,
            ScheduledProcedureStepStartDate=date,
        )
    support = LIFESYS if lifesys else None
    async with await open_index(index_location, fsync=False) as index:
        worklist = await open_worklist(index)
        try:
            if await worklist.count() == 0:
                for each in odd_items():
                    await worklist.add(each)
            assert await answers(worklist, identifier, support) == expected(identifier, support)
        finally:
            await worklist.close()


async def test_add_replace_remove_and_files(tmp_path: Path, index_location) -> None:
    write_items(tmp_path / "wl")
    async with await open_index(index_location) as index:
        worklist = await open_worklist(index)
        try:
            keys = [
                await worklist.add_file(tmp_path / "wl" / name)
                for name in ("item1.wl", "item2.wl", "item3.json")
            ]
            assert await worklist.count() == 3
            # The same item again replaces the first copy (same identity).
            again = await worklist.add_file(tmp_path / "wl" / "item1.wl")
            entries = await worklist.entries()
            assert [e.key for e in entries] == [keys[1], keys[2], again]
            assert sorted(str(e.item.PatientID) for e in entries) == ["WL1", "WL2", "WL3"]
            assert str(entries[-1].item.PatientName) == "DOE^JOHN"
            with pytest.raises(ValueError, match="not a DICOM file"):
                await worklist.add_file(tmp_path / "wl" / "readme.txt")
            with pytest.raises(ValueError, match="Scheduled Procedure Step"):
                await worklist.add(Dataset())
            assert await worklist.remove(keys[1]) and not await worklist.remove(keys[1])
            assert await worklist.count() == 2
        finally:
            await worklist.close()
        # Kept in the index's file: another connection sees it.
        reopened = await open_worklist(index)
        try:
            assert await worklist_ids(reopened) == ["WL1", "WL3"]
        finally:
            await reopened.close()


async def worklist_ids(worklist: AnyWorklist) -> list[str]:
    return sorted(str(e.item.PatientID) for e in await worklist.entries())
