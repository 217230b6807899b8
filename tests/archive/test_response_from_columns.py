"""C-FIND responses written from the index columns: when they are, and that the bytes agree."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset

from dicomnet.archive import SqliteIndex, entry_from_file, entry_from_header
from dicomnet.archive.encode import encode_identifier
from dicomnet.archive.entry import header_charset, level_header
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.query import parse_query
from dicomnet.query.models import STUDY_ROOT

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
CT = "1.2.840.10008.5.1.4.1.1.2"


def instance(number: int, name: str, *, charset: str | None = "ISO_IR 100") -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = f"1.2.3.4.{number}"
    ds.StudyDate = "20200305"
    ds.StudyTime = "101500"
    ds.AccessionNumber = f"ACC{number}"
    ds.Modality = "CT" if number % 2 else "MR"
    ds.PatientName = name
    ds.PatientID = f"PID{number}"
    ds.OperatorsName = "SMITH^ANNA"
    ds.StudyInstanceUID = f"1.2.3.{number}"
    ds.SeriesInstanceUID = f"1.2.3.{number}.1"
    ds.InstanceNumber = "1"
    return ds


def query(**keys: str):  # type: ignore[no-untyped-def]
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return parse_query(ds, STUDY_ROOT)


@pytest.fixture
async def index(tmp_path: Path):  # type: ignore[no-untyped-def]
    idx = await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False)
    names = ["Müller^Jörg", "DOE^JOHN", "Lefèvre^Chloé"]
    entries = [
        entry_from_header(
            instance(n, name, charset=None if name.isascii() else "ISO_IR 100"),
            sop_instance_uid=f"1.2.3.4.{n}",
            sop_class_uid=CT,
            transfer_syntax_uid=EXPLICIT_LE,
            path=f"/x/{n}.dcm",
            size=0,
        )
        for n, name in enumerate(names)
    ]
    await idx.put_many(entries)
    try:
        yield idx
    finally:
        await idx.close()


async def test_column_keys_are_written_without_pydicom_and_agree(index: SqliteIndex) -> None:
    q = query(
        StudyInstanceUID="",
        PatientName="",
        StudyDate="20200301-20200331",
        AccessionNumber="",
        ModalitiesInStudy="",
        NumberOfStudyRelatedInstances="",
        RetrieveAETitle="",
    )
    matches = [m async for m in index.matches(q, retrieve_ae_title="ARCHIVE")]
    assert len(matches) == 3
    for match in matches:
        for syntax in (EXPLICIT_LE, IMPLICIT_LE):
            direct = match.encoded(syntax)
            assert direct is not None
            assert direct == encode_dataset(match.identifier, syntax)
        assert match.encoded(BIG_ENDIAN) is None  # left to pydicom
    names = {str(m.identifier.PatientName) for m in matches}
    assert names == {"Müller^Jörg", "DOE^JOHN", "Lefèvre^Chloé"}
    latin = next(m for m in matches if "ü" in str(m.identifier.PatientName))
    assert latin.identifier.SpecificCharacterSet == "ISO_IR 100"
    assert "Müller^Jörg".encode("latin_1") in (latin.encoded(EXPLICIT_LE) or b"")


async def test_a_key_without_column_is_answered_from_the_header(index: SqliteIndex) -> None:
    q = query(StudyInstanceUID="", PatientName="DOE*", OperatorsName="")
    matches = [m async for m in index.matches(q)]
    assert len(matches) == 1
    assert matches[0].encoded(EXPLICIT_LE) is None
    assert str(matches[0].identifier.OperatorsName) == "SMITH^ANNA"


async def test_wildcards_still_finished_by_the_matcher(index: SqliteIndex) -> None:
    q = query(StudyInstanceUID="", PatientName="m?ller*", ModalitiesInStudy="CT")
    found = [m.identifier async for m in index.matches(q)]
    assert [str(ds.PatientName) for ds in found] == []  # Müller's study is MR
    q = query(StudyInstanceUID="", PatientName="m?ller*", ModalitiesInStudy="MR")
    found = [m.identifier async for m in index.matches(q)]
    assert [str(ds.PatientName) for ds in found] == ["Müller^Jörg"]
    q = query(StudyInstanceUID="", PatientName="l*", ModalitiesInStudy="MR")
    found = [m.identifier async for m in index.matches(q)]
    assert [str(ds.PatientName) for ds in found] == ["Lefèvre^Chloé"]


def test_header_charset_read_from_each_kind_of_kept_header(tmp_path: Path) -> None:
    ds = instance(1, "Müller^Jörg")
    assert header_charset(level_header(ds, "IMAGE")) == "ISO_IR 100"
    assert header_charset(level_header(instance(2, "DOE", charset=None), "IMAGE")) is None
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 100"]
    assert header_charset(level_header(ds, "IMAGE")) == ["", "ISO 2022 IR 100"]
    for syntax in (EXPLICIT_LE, IMPLICIT_LE, BIG_ENDIAN):
        part10 = instance(3, "Müller^Jörg")
        part10.file_meta = FileMetaDataset()
        part10.file_meta.MediaStorageSOPClassUID = CT
        part10.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.3"
        part10.file_meta.TransferSyntaxUID = syntax
        path = tmp_path / f"{syntax}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dcmwrite(path, part10, enforce_file_format=True)
        kept = entry_from_file(path).headers["STUDY"]
        assert kept[128:132] == b"DICM"
        assert header_charset(kept) == "ISO_IR 100", syntax
    with pytest.raises(ValueError):
        header_charset(b"DNH\x02" + b"\x08\x00\x00\x00UN\x00\x00\xff\xff\xff\xff")


def test_encoder_declines_what_it_cannot_write_exactly() -> None:
    name = [(0x00100010, "PN", "Müller")]
    assert encode_identifier(name, EXPLICIT_LE, "ISO_IR 100") is not None
    assert encode_identifier(name, EXPLICIT_LE, None) is None  # not ASCII, no charset
    assert encode_identifier(name, EXPLICIT_LE, "ISO 2022 IR 87") is None
    assert encode_identifier(name, BIG_ENDIAN, "ISO_IR 100") is None
    assert encode_identifier([(0x00081030, "UT", "x")], EXPLICIT_LE, None) is None
    uid = encode_identifier([(0x0020000D, "UI", "1.2.3")], EXPLICIT_LE, None)
    assert uid == b"\x20\x00\x0d\x00UI\x06\x001.2.3\x00"


async def test_only_the_computed_attributes_asked_for_are_selected(index: SqliteIndex) -> None:
    from dicomnet.archive.plan import plan_query

    counts = query(StudyInstanceUID="", NumberOfStudyRelatedInstances="")
    assert plan_query(counts).computed == ("instances",)
    assert "sop_class" not in plan_query(counts).sql  # SOP Classes in Study not computed
    both = query(
        StudyInstanceUID="", PatientName="", ModalitiesInStudy="", NumberOfStudyRelatedSeries=""
    )
    assert plan_query(both).computed == ("series", "modalities")
    assert plan_query(query(StudyInstanceUID="")).computed == ()
    for q in (counts, both):
        for match in [m async for m in index.matches(q)]:
            plain = match.elements()
            assert plain is not None
            assert encode_identifier(plain[0], EXPLICIT_LE, plain[1]) == encode_dataset(
                match.identifier, EXPLICIT_LE
            )
    found = {
        str(m.identifier.PatientName): (m.identifier.ModalitiesInStudy, m.elements())
        async for m in index.matches(both)
    }
    modality, plain = found["DOE^JOHN"]
    assert modality == "CT"
    assert plain is not None
    assert (0x00080061, "CS", ["CT"]) in plain[0]
    assert (0x00201206, "IS", "1") in plain[0]
