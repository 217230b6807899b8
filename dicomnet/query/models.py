"""Query/Retrieve information models and their levels (PS3.4 C.3, C.6).

Each model (Patient Root, Study Root, Patient/Study Only) is a hierarchy of
levels; every level has a unique key and a set of attributes that belong to
it. An attribute not listed at any level is taken to belong to the level it
is asked at (an optional key of that level).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from .keywords import tag_of

__all__ = [
    "LEVEL_ATTRIBUTES",
    "MODELS",
    "REQUIRED_KEYS",
    "UNIQUE_KEYS",
    "InformationModel",
    "Operation",
    "level_of",
    "model_for",
]


class Operation(Enum):
    """Which DIMSE-C service a Q/R SOP class is for."""

    FIND = "FIND"
    MOVE = "MOVE"
    GET = "GET"


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(tag_of(keyword) for keyword in keywords)


#: The unique key of each level (PS3.4 C.6.1.1 and C.6.2.1).
UNIQUE_KEYS: Final = {
    "PATIENT": 0x00100020,  # Patient ID
    "STUDY": 0x0020000D,  # Study Instance UID
    "SERIES": 0x0020000E,  # Series Instance UID
    "IMAGE": 0x00080018,  # SOP Instance UID
}

#: Attributes of each level, as the Patient Root tables list them (PS3.4 C.6.1.1.2-5).
LEVEL_ATTRIBUTES: Final = {
    "PATIENT": _tags(
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "OtherPatientIDsSequence",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientSex",
        "OtherPatientNames",
        "EthnicGroup",
        "PatientComments",
        "NumberOfPatientRelatedStudies",
        "NumberOfPatientRelatedSeries",
        "NumberOfPatientRelatedInstances",
    ),
    "STUDY": _tags(
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyInstanceUID",
        "ReferringPhysicianName",
        "StudyDescription",
        "ProcedureCodeSequence",
        "NameOfPhysiciansReadingStudy",
        "AdmittingDiagnosesDescription",
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "Occupation",
        "AdditionalPatientHistory",
        "OtherStudyNumbers",
        "ModalitiesInStudy",
        "SOPClassesInStudy",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    "SERIES": _tags(
        "Modality",
        "SeriesNumber",
        "SeriesInstanceUID",
        "SeriesDescription",
        "BodyPartExamined",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
        "RequestAttributesSequence",
        "NumberOfSeriesRelatedInstances",
        "SeriesDate",
        "SeriesTime",
    ),
    "IMAGE": _tags(
        "InstanceNumber",
        "SOPInstanceUID",
        "SOPClassUID",
        "ContentDate",
        "ContentTime",
        "CompletionFlag",
        "VerificationFlag",
        "ContentTemplateSequence",
        "ConceptNameCodeSequence",
        "NumberOfFrames",
        "Rows",
        "Columns",
    ),
}

#: The Required and Unique keys of the Q/R models (PS3.4 Tables C.6-1 to C.6-4, C.6-5 to C.6-7).
REQUIRED_KEYS: Final = _tags(
    "PatientName",
    "PatientID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesInstanceUID",
    "InstanceNumber",
    "SOPInstanceUID",
)

_ALWAYS_ALLOWED: Final = frozenset({0x00080005, 0x00080052, 0x00080056, 0x00080054})


@dataclass(frozen=True, slots=True)
class InformationModel:
    """One Query/Retrieve information model: its name and levels, top first."""

    name: str
    levels: tuple[str, ...]

    def level_index(self, level: str) -> int:
        """Position of ``level`` (0 = top); raises ``ValueError`` if not in the model."""
        return self.levels.index(level)

    def home_level(self, tag: int, query_level: str) -> str | None:
        """The level an attribute belongs to in this model (``None``: not a Q/R attribute).

        Patient attributes live at STUDY level in Study Root. Attributes not
        listed anywhere belong to ``query_level``.
        """
        if tag in _ALWAYS_ALLOWED:
            return None
        found = level_of(tag)
        if found is None:
            return query_level
        if found == "PATIENT" and "PATIENT" not in self.levels:
            return self.levels[0]
        return found


def level_of(tag: int) -> str | None:
    """The Patient Root level an attribute is listed at, if any."""
    for level, tags in LEVEL_ATTRIBUTES.items():
        if tag in tags:
            return level
    return None


PATIENT_ROOT: Final = InformationModel("Patient Root", ("PATIENT", "STUDY", "SERIES", "IMAGE"))
STUDY_ROOT: Final = InformationModel("Study Root", ("STUDY", "SERIES", "IMAGE"))
PATIENT_STUDY_ONLY: Final = InformationModel("Patient/Study Only", ("PATIENT", "STUDY"))

#: SOP class UID -> (model, operation) for the Q/R SOP classes (PS3.4 C.6).
MODELS: Final = {
    "1.2.840.10008.5.1.4.1.2.1.1": (PATIENT_ROOT, Operation.FIND),
    "1.2.840.10008.5.1.4.1.2.1.2": (PATIENT_ROOT, Operation.MOVE),
    "1.2.840.10008.5.1.4.1.2.1.3": (PATIENT_ROOT, Operation.GET),
    "1.2.840.10008.5.1.4.1.2.2.1": (STUDY_ROOT, Operation.FIND),
    "1.2.840.10008.5.1.4.1.2.2.2": (STUDY_ROOT, Operation.MOVE),
    "1.2.840.10008.5.1.4.1.2.2.3": (STUDY_ROOT, Operation.GET),
    "1.2.840.10008.5.1.4.1.2.3.1": (PATIENT_STUDY_ONLY, Operation.FIND),
    "1.2.840.10008.5.1.4.1.2.3.2": (PATIENT_STUDY_ONLY, Operation.MOVE),
    "1.2.840.10008.5.1.4.1.2.3.3": (PATIENT_STUDY_ONLY, Operation.GET),
}


def model_for(sop_class_uid: str) -> tuple[InformationModel, Operation] | None:
    """The information model and operation of a Q/R SOP class, or ``None``."""
    return MODELS.get(sop_class_uid)


#: The FIND, MOVE and GET SOP classes by model name, for SCU helpers.
SOP_CLASSES: Final = {(model.name, op): uid for uid, (model, op) in MODELS.items()}
