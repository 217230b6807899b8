"""Tag and VR of the attributes the Q/R models and the index name at import time.

The data dictionary of PS3.6 for just these keywords, so that the models and the
index schema are built without loading pydicom (whose import costs about 30 MB of
a server's resident size). ``tests/query/test_keywords.py`` checks every row
against pydicom's dictionary.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KEYWORDS", "tag_of", "vr_of"]

#: Keyword -> (tag, VR) (PS3.6 Table 6-1).
KEYWORDS: Final[dict[str, tuple[int, str]]] = {
    "SOPClassUID": (0x00080016, "UI"),
    "SOPInstanceUID": (0x00080018, "UI"),
    "StudyDate": (0x00080020, "DA"),
    "SeriesDate": (0x00080021, "DA"),
    "ContentDate": (0x00080023, "DA"),
    "StudyTime": (0x00080030, "TM"),
    "SeriesTime": (0x00080031, "TM"),
    "ContentTime": (0x00080033, "TM"),
    "AccessionNumber": (0x00080050, "SH"),
    "Modality": (0x00080060, "CS"),
    "ModalitiesInStudy": (0x00080061, "CS"),
    "SOPClassesInStudy": (0x00080062, "UI"),
    "ReferringPhysicianName": (0x00080090, "PN"),
    "StudyDescription": (0x00081030, "LO"),
    "ProcedureCodeSequence": (0x00081032, "SQ"),
    "SeriesDescription": (0x0008103E, "LO"),
    "NameOfPhysiciansReadingStudy": (0x00081060, "PN"),
    "AdmittingDiagnosesDescription": (0x00081080, "LO"),
    "PatientName": (0x00100010, "PN"),
    "PatientID": (0x00100020, "LO"),
    "IssuerOfPatientID": (0x00100021, "LO"),
    "PatientBirthDate": (0x00100030, "DA"),
    "PatientBirthTime": (0x00100032, "TM"),
    "PatientSex": (0x00100040, "CS"),
    "OtherPatientNames": (0x00101001, "PN"),
    "OtherPatientIDsSequence": (0x00101002, "SQ"),
    "PatientAge": (0x00101010, "AS"),
    "PatientSize": (0x00101020, "DS"),
    "PatientWeight": (0x00101030, "DS"),
    "EthnicGroup": (0x00102160, "SH"),
    "Occupation": (0x00102180, "SH"),
    "AdditionalPatientHistory": (0x001021B0, "LT"),
    "PatientComments": (0x00104000, "LT"),
    "BodyPartExamined": (0x00180015, "CS"),
    "StudyInstanceUID": (0x0020000D, "UI"),
    "SeriesInstanceUID": (0x0020000E, "UI"),
    "StudyID": (0x00200010, "SH"),
    "SeriesNumber": (0x00200011, "IS"),
    "InstanceNumber": (0x00200013, "IS"),
    "OtherStudyNumbers": (0x00201070, "IS"),
    "NumberOfPatientRelatedStudies": (0x00201200, "IS"),
    "NumberOfPatientRelatedSeries": (0x00201202, "IS"),
    "NumberOfPatientRelatedInstances": (0x00201204, "IS"),
    "NumberOfStudyRelatedSeries": (0x00201206, "IS"),
    "NumberOfStudyRelatedInstances": (0x00201208, "IS"),
    "NumberOfSeriesRelatedInstances": (0x00201209, "IS"),
    "NumberOfFrames": (0x00280008, "IS"),
    "Rows": (0x00280010, "US"),
    "Columns": (0x00280011, "US"),
    "PerformedProcedureStepStartDate": (0x00400244, "DA"),
    "PerformedProcedureStepStartTime": (0x00400245, "TM"),
    "RequestAttributesSequence": (0x00400275, "SQ"),
    "ConceptNameCodeSequence": (0x0040A043, "SQ"),
    "CompletionFlag": (0x0040A491, "CS"),
    "VerificationFlag": (0x0040A493, "CS"),
    "ContentTemplateSequence": (0x0040A504, "SQ"),
}


def tag_of(keyword: str) -> int:
    """The tag of ``keyword`` (``KeyError`` for a keyword this table does not hold)."""
    return KEYWORDS[keyword][0]


def vr_of(keyword: str) -> str:
    """The VR of ``keyword`` (``KeyError`` for a keyword this table does not hold)."""
    return KEYWORDS[keyword][1]
