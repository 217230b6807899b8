"""Small made-up archives for the query and Q/R service tests."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset

from dicomnet.storage.synthetic import make_image, write_part10

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

STUDY_A = "1.2.826.0.1.3680043.8.498.71.1"
STUDY_B = "1.2.826.0.1.3680043.8.498.71.2"
STUDY_C = "1.2.826.0.1.3680043.8.498.71.3"
SERIES_A1 = STUDY_A + ".1"
SERIES_A2 = STUDY_A + ".2"
SERIES_B1 = STUDY_B + ".1"
SERIES_C1 = STUDY_C + ".1"


def instance(
    number: int,
    *,
    patient_id: str,
    patient_name: str,
    study: str,
    series: str,
    modality: str,
    study_date: str,
    sop_class: str = CT,
) -> Dataset:
    """A tiny image with the given patient/study/series attributes."""
    ds = make_image(rows=4, columns=4, sop_class_uid=sop_class, seed=number)
    ds.SOPInstanceUID = f"{series}.{number}"
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.StudyID = f"S{study[-1]}"
    ds.AccessionNumber = f"ACC{study[-1]}"
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = series[-1]
    ds.Modality = modality
    ds.InstanceNumber = str(number)
    return ds


def archive_datasets() -> list[Dataset]:
    """Five instances: patient P1 with two studies (CT+MR, CT), patient P2 with one (US)."""
    return [
        instance(
            1,
            patient_id="P1",
            patient_name="DOE^JOHN",
            study=STUDY_A,
            series=SERIES_A1,
            modality="CT",
            study_date="20240110",
        ),
        instance(
            2,
            patient_id="P1",
            patient_name="DOE^JOHN",
            study=STUDY_A,
            series=SERIES_A1,
            modality="CT",
            study_date="20240110",
        ),
        instance(
            3,
            patient_id="P1",
            patient_name="DOE^JOHN",
            study=STUDY_A,
            series=SERIES_A2,
            modality="MR",
            study_date="20240110",
        ),
        instance(
            4,
            patient_id="P1",
            patient_name="DOE^JOHN",
            study=STUDY_B,
            series=SERIES_B1,
            modality="CT",
            study_date="20240305",
        ),
        instance(
            5,
            patient_id="P2",
            patient_name="ROE^JANE",
            study=STUDY_C,
            series=SERIES_C1,
            modality="US",
            study_date="20231231",
        ),
    ]


def write_archive(folder: Path) -> list[Path]:
    """The archive as Part 10 files (Explicit and Implicit VR LE alternating)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_part10(folder / f"i{n}.dcm", ds, EXPLICIT_LE if n % 2 else IMPLICIT_LE)
        for n, ds in enumerate(archive_datasets())
    ]
