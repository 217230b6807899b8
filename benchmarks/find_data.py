"""Synthetic archives for the ``find`` suite, and the answers their queries must get.

An archive of ``patients`` patients has 2 studies each, one series per study
and 5 instances per series. Everything follows from the patient number and a
seed, so a row never needs to be held for long: :meth:`Archive.studies`
yields the studies one by one (a million instances never sit in memory).

Names come from 100 family names (some in Latin-1: Müller, García, ...), one
family per patient in turn, so a family-name wildcard matches 1% of the
patients. Study dates spread over ten years (2015-2024).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

__all__ = [
    "CT_IMAGE",
    "INSTANCES_PER_SERIES",
    "STUDIES_PER_PATIENT",
    "Archive",
    "Query",
    "Study",
]

CT_IMAGE: Final = "1.2.840.10008.5.1.4.1.1.2"
STUDIES_PER_PATIENT: Final = 2
INSTANCES_PER_SERIES: Final = 5
_ROOT: Final = "1.2.826.0.1.3680043.8.498.9"
_FAMILIES: Final = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCÍA",
    "MILLER",
    "DAVIS",
    "RODRÍGUEZ",
    "MARTÍNEZ",
    "HERNÁNDEZ",
    "LÓPEZ",
    "GONZÁLEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "PÉREZ",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "SÁNCHEZ",
    "CLARK",
    "RAMÍREZ",
    "LEWIS",
    "ROBINSON",
    "WALKER",
    "YOUNG",
    "ALLEN",
    "KING",
    "WRIGHT",
    "SCOTT",
    "TORRES",
    "NGUYEN",
    "HILL",
    "FLORES",
    "GREEN",
    "ADAMS",
    "NELSON",
    "BAKER",
    "HALL",
    "RIVERA",
    "CAMPBELL",
    "MITCHELL",
    "CARTER",
    "ROBERTS",
    "MÜLLER",
    "SCHMIDT",
    "SCHNEIDER",
    "FISCHER",
    "WEBER",
    "MEYER",
    "WAGNER",
    "BECKER",
    "SCHULZ",
    "HOFFMANN",
    "SCHÄFER",
    "KOCH",
    "BAUER",
    "RICHTER",
    "KLEIN",
    "WOLF",
    "SCHRÖDER",
    "NEUMANN",
    "SCHWARZ",
    "ZIMMERMANN",
    "BRAUN",
    "KRÜGER",
    "HOFMANN",
    "HARTMANN",
    "LANGE",
    "SCHMITT",
    "WERNER",
    "KRAUSE",
    "MEIER",
    "LEHMANN",
    "DUBOIS",
    "LEFÈVRE",
    "FAURE",
    "GIRARD",
    "BONNET",
    "FRANÇOIS",
    "MOREAU",
    "LAURENT",
    "SIMON",
    "MICHEL",
    "JOHANSSON",
    "ANDERSSON",
    "KARLSSON",
    "NILSSON",
    "ERIKSSON",
    "LARSSON",
    "OLSSON",
    "PERSSON",
    "SVENSSON",
    "ØSTERGAARD",
]
_GIVEN: Final = [
    "ANNA",
    "JOHN",
    "MARÍA",
    "PETER",
    "JOSÉ",
    "LENA",
    "JÖRG",
    "SØREN",
    "CHLOÉ",
    "DAVID",
    "EMMA",
    "LUCAS",
    "SOFÍA",
    "NOAH",
    "MIA",
]
_MODALITIES: Final = ("CT", "MR", "US", "CR")
_DESCRIPTIONS: Final = ("CT HEAD", "MR KNEE", "US ABDOMEN", "CHEST PA", "CT THORAX")
_FIRST_DAY: Final = dt.date(2015, 1, 1)
_DAYS: Final = 3652


@dataclass(frozen=True, slots=True)
class Study:
    """One synthetic study (one series of five CT instances)."""

    patient: int
    number: int
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_uid: str
    study_date: str
    study_time: str
    accession: str
    description: str
    referring: str
    series_uid: str
    modality: str

    @property
    def latin1(self) -> bool:
        """True when a name needs ISO_IR 100."""
        return any(ord(c) > 127 for c in self.patient_name + self.referring)

    def sop_uid(self, instance: int) -> str:
        """The SOP Instance UID of instance ``instance`` (1-based)."""
        return f"{self.series_uid}.{instance}"

    def dataset(self, instance: int) -> Dataset:
        """Instance ``instance`` as a Part 10 data set (no pixel data)."""
        ds = Dataset()
        if self.latin1:
            ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID = CT_IMAGE
        ds.SOPInstanceUID = self.sop_uid(instance)
        ds.StudyDate = self.study_date
        ds.StudyTime = self.study_time
        ds.AccessionNumber = self.accession
        ds.Modality = self.modality
        ds.ReferringPhysicianName = self.referring
        ds.StudyDescription = self.description
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.PatientBirthDate = self.birth_date
        ds.PatientSex = self.sex
        ds.StudyInstanceUID = self.study_uid
        ds.SeriesInstanceUID = self.series_uid
        ds.StudyID = str(self.number + 1)
        ds.SeriesNumber = "1"
        ds.InstanceNumber = str(instance)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        return ds


@dataclass(frozen=True, slots=True)
class Query:
    """One benchmark query: its findscu keys and the answer count the archive must give."""

    name: str
    level: str
    keys: tuple[tuple[str, str], ...]
    expected: int
    #: A C-MOVE (sub-operations expected) rather than a C-FIND.
    move: bool = False
    #: Selective (complete in under 20 ms is the target) rather than "all".
    selective: bool = True


class Archive:
    """``patients`` x 2 studies x 1 series x 5 instances, reproducible from ``seed``."""

    def __init__(self, patients: int, seed: int = 9) -> None:
        self.patients = patients
        self.seed = seed

    @property
    def instances(self) -> int:
        """How many instances the archive holds."""
        return self.patients * STUDIES_PER_PATIENT * INSTANCES_PER_SERIES

    @property
    def study_count(self) -> int:
        """How many studies the archive holds."""
        return self.patients * STUDIES_PER_PATIENT

    def patient_studies(self, patient: int) -> list[Study]:
        """The studies of patient number ``patient``."""
        rng = random.Random(self.seed * 1_000_003 + patient)
        family = _FAMILIES[patient % len(_FAMILIES)]
        name = f"{family}^{_GIVEN[(patient // len(_FAMILIES)) % len(_GIVEN)]}"
        birth = _FIRST_DAY - dt.timedelta(days=rng.randrange(365 * 80))
        sex = rng.choice("MF")
        studies = []
        for number in range(STUDIES_PER_PATIENT):
            day = _FIRST_DAY + dt.timedelta(days=rng.randrange(_DAYS))
            study_uid = f"{_ROOT}.{patient}.{number + 1}"
            studies.append(
                Study(
                    patient=patient,
                    number=number,
                    patient_id=f"P{patient:07d}",
                    patient_name=name,
                    birth_date=birth.strftime("%Y%m%d"),
                    sex=sex,
                    study_uid=study_uid,
                    study_date=day.strftime("%Y%m%d"),
                    study_time=f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}00",
                    accession=f"A{patient:07d}{number}",
                    description=rng.choice(_DESCRIPTIONS),
                    referring=f"{rng.choice(_FAMILIES)}^{rng.choice(_GIVEN)}",
                    series_uid=f"{study_uid}.1",
                    modality=rng.choice(_MODALITIES),
                )
            )
        return studies

    def studies(self) -> Iterator[Study]:
        """Every study, patient by patient."""
        for patient in range(self.patients):
            yield from self.patient_studies(patient)

    # ------------------------------------------------------------------ queries

    def queries(self) -> list[Query]:
        """The suite's queries with the counts this archive must answer."""
        family = "WILSON"  # one family of 100: 1% of the patients
        month_low, month_high = "20200301", "20200331"
        rng = random.Random(self.seed)
        picked = sorted(rng.sample(range(self.study_count), min(20, self.study_count)))
        named = dated = 0
        uids: list[str] = []
        picked_set = set(picked)
        for index, study in enumerate(self.studies()):
            if study.patient_name.startswith(family + "^"):
                named += 1
            if month_low <= study.study_date <= month_high:
                dated += 1
            if index in picked_set:
                uids.append(study.study_uid)
        middle = self.patient_studies(self.patients // 2)[0]
        returned = (
            ("PatientName", ""),
            ("PatientID", ""),
            ("StudyDate", ""),
            ("StudyTime", ""),
            ("AccessionNumber", ""),
            ("StudyID", ""),
        )
        study_uid = ("StudyInstanceUID", "")
        return [
            Query(
                "patient name wildcard",
                "STUDY",
                (
                    *(k for k in returned if k[0] != "PatientName"),
                    study_uid,
                    ("PatientName", f"{family}^*"),
                ),
                named,
            ),
            Query(
                "one-month date range",
                "STUDY",
                (
                    *(k for k in returned if k[0] != "StudyDate"),
                    study_uid,
                    ("StudyDate", f"{month_low}-{month_high}"),
                ),
                dated,
            ),
            Query(
                "20 Study Instance UIDs",
                "STUDY",
                (*returned, ("StudyInstanceUID", "\\".join(uids))),
                len(uids),
            ),
            Query(
                "all studies", "STUDY", (*returned, study_uid), self.study_count, selective=False
            ),
            Query(
                "image level, one series",
                "IMAGE",
                (
                    ("StudyInstanceUID", middle.study_uid),
                    ("SeriesInstanceUID", middle.series_uid),
                    ("SOPInstanceUID", ""),
                    ("InstanceNumber", ""),
                ),
                INSTANCES_PER_SERIES,
            ),
            Query(
                "C-MOVE one study",
                "STUDY",
                (("StudyInstanceUID", self.moved_study().study_uid),),
                INSTANCES_PER_SERIES,
                move=True,
            ),
        ]

    def moved_study(self) -> Study:
        """The study the C-MOVE row retrieves (its files exist in every peer's archive)."""
        return self.patient_studies(0)[0]
