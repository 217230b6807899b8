"""Identifier checks and matching over an instance index (PS3.4 C.4.1, C.6)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dicomnet.conformance.profile import load_profile
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.query import (
    InstanceIndex,
    KeySupport,
    QueryError,
    find_matches,
    parse_query,
    select_instances,
)
from dicomnet.query.models import PATIENT_ROOT, PATIENT_STUDY_ONLY, STUDY_ROOT
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo

from .fixtures import (
    EXPLICIT_LE,
    SERIES_A1,
    SERIES_A2,
    STUDY_A,
    STUDY_B,
    STUDY_C,
    archive_datasets,
    write_archive,
)

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


@pytest.fixture
def index(tmp_path: Path) -> InstanceIndex:
    write_archive(tmp_path / "archive")
    (tmp_path / "archive" / "junk.txt").write_text("not dicom")
    return InstanceIndex.from_folder(tmp_path / "archive")


def ident(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wildcards in CS values
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


def found(
    index: InstanceIndex, identifier: Dataset, model=STUDY_ROOT, **kw: object
) -> list[Dataset]:
    query = parse_query(identifier, model, **kw)  # type: ignore[arg-type]
    return [m.identifier for m in find_matches(index, query)]


def test_folder_index_reads_headers_only(index: InstanceIndex) -> None:
    assert len(index) == 5
    record = index.get(SERIES_A1 + ".1")
    assert record is not None and "PixelData" not in record.header
    assert record.source().sop_instance_uid == SERIES_A1 + ".1"


def test_study_level_wildcard_and_date_range(index: InstanceIndex) -> None:
    results = found(
        index,
        ident(
            "STUDY",
            PatientName="doe*",
            StudyDate="20240101-20240201",
            StudyInstanceUID="",
            ModalitiesInStudy="",
            NumberOfStudyRelatedInstances="",
        ),
    )
    assert len(results) == 1
    study = results[0]
    assert study.StudyInstanceUID == STUDY_A
    assert study.QueryRetrieveLevel == "STUDY"
    assert list(study.ModalitiesInStudy) == ["CT", "MR"]
    assert int(study.NumberOfStudyRelatedInstances) == 3
    assert "PatientID" not in study  # only the keys asked for come back


def test_modalities_in_study_matches_any_value(index: InstanceIndex) -> None:
    uids = {
        r.StudyInstanceUID
        for r in found(index, ident("STUDY", ModalitiesInStudy="MR", StudyInstanceUID=""))
    }
    assert uids == {STUDY_A}
    uids = {
        r.StudyInstanceUID
        for r in found(index, ident("STUDY", ModalitiesInStudy="CT", StudyInstanceUID=""))
    }
    assert uids == {STUDY_A, STUDY_B}


def test_series_level_needs_the_study_unique_key(index: InstanceIndex) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(ident("SERIES", SeriesInstanceUID=""), STUDY_ROOT)
    assert info.value.status == 0xA900 and info.value.offending == 0x0020000D
    results = found(
        index, ident("SERIES", StudyInstanceUID=STUDY_A, SeriesInstanceUID="", Modality="")
    )
    assert {(r.SeriesInstanceUID, r.Modality) for r in results} == {
        (SERIES_A1, "CT"),
        (SERIES_A2, "MR"),
    }
    # relational queries may leave it out
    assert len(found(index, ident("SERIES", Modality="CT"), relational=True)) == 2


def test_bad_levels_and_keys_below_the_level(index: InstanceIndex) -> None:
    with pytest.raises(QueryError):
        parse_query(Dataset(), STUDY_ROOT)
    with pytest.raises(QueryError):
        parse_query(ident("PATIENT", PatientID=""), STUDY_ROOT)
    with pytest.raises(QueryError) as info:
        parse_query(ident("STUDY", PatientID="P1", Modality=""), PATIENT_STUDY_ONLY)
    assert info.value.offending == 0x00080060


def test_patient_root_patient_level(index: InstanceIndex) -> None:
    results = found(
        index,
        ident("PATIENT", PatientID="", PatientName="", NumberOfPatientRelatedStudies=""),
        PATIENT_ROOT,
    )
    by_id = {r.PatientID: r for r in results}
    assert set(by_id) == {"P1", "P2"}
    assert int(by_id["P1"].NumberOfPatientRelatedStudies) == 2


def test_uid_list_at_image_level_and_retrieve_selection(index: InstanceIndex) -> None:
    wanted = f"{SERIES_A1}.1\\{SERIES_A2}.3"
    results = found(
        index,
        ident(
            "IMAGE", StudyInstanceUID=STUDY_A, SeriesInstanceUID=SERIES_A1, SOPInstanceUID=wanted
        ),
    )
    assert [r.SOPInstanceUID for r in results] == [f"{SERIES_A1}.1"]
    query = parse_query(
        ident("STUDY", StudyInstanceUID=f"{STUDY_B}\\{STUDY_C}"), STUDY_ROOT, retrieve=True
    )
    assert {r.sop_instance_uid for r in select_instances(index, query)} == {
        f"{STUDY_B}.1.4",
        f"{STUDY_C}.1.5",
    }
    with pytest.raises(QueryError):
        parse_query(ident("STUDY", PatientID="P1"), STUDY_ROOT, retrieve=True)


def test_profile_support_limits_matching(index: InstanceIndex) -> None:
    profile = load_profile("lifesys-qr")
    support = KeySupport.from_profile(profile.query_keys, STUDY_ROOT_FIND)
    # Patient's Sex supports only S and U at Study Root: a wildcard is not used for matching.
    query = parse_query(
        ident("STUDY", PatientSex="X*", StudyInstanceUID="", StudyDescription=""),
        STUDY_ROOT,
        support=support,
    )
    matches = list(find_matches(index, query))
    assert len(matches) == 3 and all(m.partial for m in matches)
    # Study Description is not in Table 1.33: returned empty.
    assert all(m.identifier.StudyDescription in (None, "") for m in matches)
    query = parse_query(
        ident("STUDY", PatientName="ROE*", StudyInstanceUID=""), STUDY_ROOT, support=support
    )
    (match,) = find_matches(index, query)
    assert match.identifier.StudyInstanceUID == STUDY_C and not match.partial


def test_memory_store_index() -> None:
    store = MemoryStore()
    for ds in archive_datasets()[:2]:
        info = InstanceInfo(
            sop_class_uid=ds.SOPClassUID,
            sop_instance_uid=ds.SOPInstanceUID,
            transfer_syntax_uid=EXPLICIT_LE,
        )
        store.install(info, encode_dataset(ds, EXPLICIT_LE))
    index = InstanceIndex.from_memory_store(store)
    assert len(index) == 2
    record = index.get(SERIES_A1 + ".1")
    assert record is not None and record.data is not None
    assert record.source().transfer_syntax_uid == EXPLICIT_LE


def test_kodak_profile_lists_optional_keys_only(index: InstanceIndex) -> None:
    profile = load_profile("kodak-disk-server")
    support = KeySupport.from_profile(
        profile.query_keys, STUDY_ROOT_FIND, with_required=True, omit_unsupported=True
    )
    identifier = ident(
        "STUDY", PatientName="DOE*", StudyInstanceUID="", StudyDescription="", PatientSex=""
    )
    matches = list(find_matches(index, parse_query(identifier, STUDY_ROOT, support=support)))
    assert sorted(m.identifier.StudyInstanceUID for m in matches) == [STUDY_A, STUDY_B]
    assert all("PatientSex" not in m.identifier for m in matches)  # unsupported: left out
    assert all("StudyDescription" in m.identifier for m in matches)


def test_value_that_cannot_be_converted_is_unable_to_process() -> None:
    # Implicit VR: Rows (0028,0010) is US by the dictionary, three bytes cannot be.
    data = bytes.fromhex("08005200060000005354554459202800100003000000010203")
    identifier = decode_dataset(data, "1.2.840.10008.1.2")
    with pytest.raises(QueryError) as info:
        parse_query(identifier, STUDY_ROOT)
    assert info.value.status == 0xC001 and info.value.offending == 0x00280010
    assert "(0028,0010)" in info.value.comment
