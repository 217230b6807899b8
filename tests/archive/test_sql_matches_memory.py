"""Property: the SQL path and the in-memory matcher give the same answers.

A random archive (patients, studies, series, instances with names in ASCII
and Latin-1, dates, times, modalities, text with GLOB/LIKE metacharacters)
is put both into an :class:`InstanceIndex` and an index (SQLite, PostgreSQL); random
identifiers at random levels of the three models must get the same response
identifiers from both, and a retrieve the same instances.
"""

from __future__ import annotations

import asyncio
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomnet.archive import entry_from_header
from dicomnet.archive.backends import open_index
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.query import InstanceIndex, QueryError, find_matches, parse_query, select_instances
from dicomnet.query.index import InstanceRecord
from dicomnet.query.models import PATIENT_ROOT, PATIENT_STUDY_ONLY, STUDY_ROOT

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
ROOT = "1.2.826.0.1.3680043.8.498.77"
NAMES = ["DOE^JOHN", "doe^john", "DOE^JANE^^", "Müller^Jörg", "MÜLLER^JÖRG", "O[BRIEN", "A_B%C", ""]
DATES = ["20150101", "20191231", "20200229", "20200301", "2020.03.02", "20241120", ""]
TIMES = ["101500", "1015", "235959.123", "07:30:00", ""]
MODALITIES = ["CT", "MR", "US", "", "ct"]
TEXTS = ["HEAD", "head", "Chest [PA]", "a*b", "A?B", "", "X_Y%"]
SOP_CLASSES = [
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.7",
]

instance_attrs = st.fixed_dictionaries(
    {"sop_class": st.sampled_from(SOP_CLASSES), "number": st.integers(1, 3)}
)
series_attrs = st.fixed_dictionaries(
    {
        "modality": st.sampled_from(MODALITIES),
        "description": st.sampled_from(TEXTS),
        "instances": st.lists(instance_attrs, min_size=1, max_size=3),
    }
)
study_attrs = st.fixed_dictionaries(
    {
        "date": st.sampled_from(DATES),
        "time": st.sampled_from(TIMES),
        "accession": st.sampled_from(["A1", "A2", "a1", ""]),
        "description": st.sampled_from(TEXTS),
        "referring": st.sampled_from(NAMES),
        "series": st.lists(series_attrs, min_size=1, max_size=2),
    }
)
patient_attrs = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "birth": st.sampled_from(DATES),
        "sex": st.sampled_from(["M", "F", "O", ""]),
        "studies": st.lists(study_attrs, min_size=1, max_size=3),
    }
)
archives = st.lists(patient_attrs, min_size=1, max_size=4)


def build(patients: list[dict]) -> list[Dataset]:
    datasets = []
    for p, patient in enumerate(patients):
        for s, study in enumerate(patient["studies"]):
            for r, series in enumerate(study["series"]):
                for i, inst in enumerate(series["instances"]):
                    ds = Dataset()
                    if any(ord(c) > 127 for c in patient["name"] + study["referring"]):
                        ds.SpecificCharacterSet = "ISO_IR 100"
                    ds.SOPClassUID = inst["sop_class"]
                    ds.SOPInstanceUID = f"{ROOT}.{p}.{s}.{r}.{i}"
                    ds.PatientID = f"PID{p}"
                    for keyword, value in (
                        ("PatientName", patient["name"]),
                        ("PatientBirthDate", patient["birth"]),
                        ("PatientSex", patient["sex"]),
                        ("StudyDate", study["date"]),
                        ("StudyTime", study["time"]),
                        ("AccessionNumber", study["accession"]),
                        ("StudyDescription", study["description"]),
                        ("ReferringPhysicianName", study["referring"]),
                        ("Modality", series["modality"]),
                        ("SeriesDescription", series["description"]),
                    ):
                        if value:
                            setattr(ds, keyword, value)
                    ds.StudyInstanceUID = f"{ROOT}.{p}.{s}"
                    ds.StudyID = f"{s}"
                    ds.SeriesInstanceUID = f"{ROOT}.{p}.{s}.{r}"
                    ds.SeriesNumber = str(r + 1)
                    ds.InstanceNumber = str(inst["number"])
                    datasets.append(ds)
    return datasets


def uid_values(datasets: list[Dataset], keyword: str) -> st.SearchStrategy[str]:
    known = sorted({str(ds.get(keyword, "")) for ds in datasets})
    single = st.sampled_from([*known, f"{ROOT}.9.9"])
    many = st.lists(st.sampled_from(known), min_size=2, max_size=4).map("\\".join)
    return st.one_of(st.just(""), single, many)


def pattern(values: list[str]) -> st.SearchStrategy[str]:
    """Values, their case variants, prefixes with *, ? in place of a character, lists."""

    def wild(value: str, cut: int, star: bool) -> str:
        cut = min(cut, len(value))
        if star:
            return value[:cut] + "*"
        return value[:cut] + "?" + value[cut + 1 :] if cut < len(value) else value + "?"

    base = st.sampled_from(values)
    return st.one_of(
        st.just(""),
        base,
        base.map(str.lower),
        st.builds(wild, base, st.integers(0, 6), st.booleans()),
        st.lists(base, min_size=2, max_size=2).map("\\".join),
        st.just("*"),
    )


def date_keys(values: list[str]) -> st.SearchStrategy[str]:
    plain = [v for v in values if v]
    base = st.sampled_from(plain)
    return st.one_of(
        st.just(""),
        base,
        st.builds(lambda a, b: f"{a}-{b}", base, base),
        base.map(lambda a: f"{a}-"),
        base.map(lambda a: f"-{a}"),
    )


def time_keys() -> st.SearchStrategy[str]:
    base = st.sampled_from(["10", "1015", "101500", "0730", "235959.123", "12"])
    return st.one_of(
        st.just(""),
        base,
        st.builds(lambda a, b: f"{a}-{b}", base, base),
        base.map(lambda a: f"{a}-"),
        base.map(lambda a: f"-{a}"),
    )


LEVEL_KEYS = {
    "PATIENT": {
        "PatientName": pattern(NAMES[:-1]),
        "PatientID": pattern(["PID0", "PID1", "PID2"]),
        "PatientBirthDate": date_keys(DATES),
        "PatientSex": pattern(["M", "F", "O"]),
        "NumberOfPatientRelatedStudies": st.sampled_from(["", "1", "2"]),
        "NumberOfPatientRelatedInstances": st.just(""),
        "NumberOfPatientRelatedSeries": st.just(""),
    },
    "STUDY": {
        "StudyDate": date_keys(DATES),
        "StudyTime": time_keys(),
        "AccessionNumber": pattern(["A1", "A2"]),
        "StudyDescription": pattern(TEXTS[:-1]),
        "ReferringPhysicianName": pattern(NAMES[:-1]),
        "StudyID": pattern(["0", "1", "2"]),
        "ModalitiesInStudy": pattern(["CT", "MR", "US"]),
        "SOPClassesInStudy": st.just(""),
        "NumberOfStudyRelatedInstances": st.sampled_from(["", "1", "3"]),
        "NumberOfStudyRelatedSeries": st.just(""),
        "RetrieveAETitle": st.just(""),
    },
    "SERIES": {
        "Modality": pattern(MODALITIES[:-1]),
        "SeriesDescription": pattern(TEXTS[:-1]),
        "SeriesNumber": st.sampled_from(["", "1", "2"]),
        "NumberOfSeriesRelatedInstances": st.just(""),
    },
    "IMAGE": {
        "InstanceNumber": st.sampled_from(["", "1", "2", "3"]),
        "SOPClassUID": st.sampled_from(["", *SOP_CLASSES]),
    },
}
UNIQUE = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
MODELS = [PATIENT_ROOT, STUDY_ROOT, PATIENT_STUDY_ONLY]


@st.composite
def identifiers(draw: st.DrawFn, datasets: list[Dataset]) -> tuple[object, Dataset]:
    model = draw(st.sampled_from(MODELS))
    level = draw(st.sampled_from(model.levels))
    depth = model.levels.index(level)
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    levels = ["PATIENT", "STUDY", "SERIES", "IMAGE"]
    allowed = levels[: levels.index(level) + 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in allowed:
            if name != "PATIENT" or "PATIENT" in model.levels or level != "PATIENT":
                keys = LEVEL_KEYS[name]
                # Computed attributes are asked at their own level only (as C.3.4 has them).
                for keyword in draw(st.lists(st.sampled_from(sorted(keys)), max_size=3)):
                    if keyword.startswith("Number") and name != level:
                        continue
                    setattr(ds, keyword, draw(keys[keyword]))
            unique = UNIQUE[name]
            if unique == "PatientID" and "PatientID" in ds:
                continue
            if draw(st.booleans()) or name == level:
                if unique == "PatientID":
                    setattr(ds, unique, draw(pattern(["PID0", "PID1", "PID2"])))
                else:
                    setattr(ds, unique, draw(uid_values(datasets, unique)))
    del depth
    return model, ds


def normalized(ds: Dataset) -> Dataset:
    """The identifier as the index answers it: dates and times from their columns.

    The index returns keys held in columns from the column, where a date has
    no dots (ACR-NEMA ``YYYY.MM.DD``) and a time no colons; everything else is
    returned as stored.
    """
    out = Dataset()
    for element in ds:
        if element.VR == "DA" and isinstance(element.value, str):
            out.add_new(element.tag, "DA", element.value.replace(".", ""))
        elif element.VR == "TM" and isinstance(element.value, str):
            out.add_new(element.tag, "TM", element.value.replace(":", ""))
        else:
            out.add(element)
    return out


def canonical(datasets: list[Dataset]) -> list[bytes]:
    return sorted(encode_dataset(normalized(ds), EXPLICIT_LE) for ds in datasets)


async def compare(
    datasets: list[Dataset], cases: list[tuple[object, Dataset]], location: object
) -> None:
    memory = InstanceIndex()
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(location, str):  # one PostgreSQL database, emptied for each example
            index = await open_index(location, fsync=False)
            await index.clear()
        else:
            index = await open_index(Path(folder) / "index.sqlite", fsync=False)
        try:
            entries = []
            for ds in datasets:
                uid = str(ds.SOPInstanceUID)
                memory.add(
                    InstanceRecord(
                        header=ds,
                        sop_class_uid=str(ds.SOPClassUID),
                        sop_instance_uid=uid,
                        transfer_syntax_uid=EXPLICIT_LE,
                        path=Path(f"/archive/{uid}.dcm"),
                    )
                )
                entries.append(
                    entry_from_header(
                        ds,
                        sop_instance_uid=uid,
                        sop_class_uid=str(ds.SOPClassUID),
                        transfer_syntax_uid=EXPLICIT_LE,
                        path=f"/archive/{uid}.dcm",
                        size=0,
                    )
                )
            await index.put_many(entries)
            for model, identifier in cases:
                try:
                    query = parse_query(identifier, model, relational=True)  # type: ignore[arg-type]
                except QueryError:
                    continue
                matches = [m async for m in index.matches(query, retrieve_ae_title="ARCHIVE")]
                got = [m.identifier for m in matches]
                for match in matches:
                    # Responses written straight from the index are the bytes pydicom writes.
                    for syntax in (EXPLICIT_LE, IMPLICIT_LE):
                        direct = match.encoded(syntax)
                        if direct is not None:
                            assert direct == encode_dataset(match.identifier, syntax), identifier
                expected = [
                    m.identifier for m in find_matches(memory, query, retrieve_ae_title="ARCHIVE")
                ]
                assert canonical(got) == canonical(expected), (identifier, len(got), len(expected))
                try:
                    retrieve = parse_query(identifier, model, relational=True, retrieve=True)  # type: ignore[arg-type]
                except QueryError:
                    continue
                want = {r.sop_instance_uid for r in select_instances(memory, retrieve)}
                have = {r.sop_instance_uid for r in await index.instances(retrieve)}
                assert have == want, identifier
        finally:
            await index.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data(), patients=archives)
def test_sql_and_memory_agree(data: st.DataObject, patients: list[dict], index_location) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom notes the deliberately odd values
        datasets = build(patients)
        cases = [data.draw(identifiers(datasets)) for _ in range(8)]
        asyncio.run(compare(datasets, cases, index_location))
