"""The SQLite index's tables: one per Q/R level, the indexed keys as columns.

Each level row keeps, besides its columns, ``attrs``: the header of the
instance that created the row (minus the attributes of the levels below and
large binary values), encoded in Explicit VR Little Endian. Attributes that
have no column are matched and returned from it, so any attribute stays
available without a schema change.

Column kinds say how a key translates to SQL (see :mod:`.plan`):

``uid``   single value or a list of UIDs (``=`` / ``IN``)
``text``  single value or wildcard, case-sensitive (``=`` / ``GLOB``)
``pn``    like ``text`` on a folded copy (case and trailing ``^`` ignored)
``date``  single value or range on ``YYYYMMDD``
``time``  prefix or range on ``HHMMSS.FFFFFF``
``other`` kept for the record, matched by the in-memory matcher only

``pending`` is the journal of files being moved into place (see
:mod:`.recover`): a row is added before the rename and removed in the
transaction that adds the instance. ``doomed`` lists the files of deleted
rows, added in the transaction that deletes the rows and removed once the
files are gone (see :func:`~dicomnet.archive.rebuild.delete_from_archive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dicomnet.query.keywords import tag_of, vr_of

__all__ = ["COLUMNS", "LEVEL_TABLES", "SCHEMA", "SCHEMA_VERSION", "Column", "column_for"]

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Column:
    """One indexed attribute: its table (level), column name and kind."""

    level: str
    keyword: str
    name: str
    kind: str

    @property
    def tag(self) -> int:
        """The attribute's tag."""
        return tag_of(self.keyword)

    @property
    def vr(self) -> str:
        """The attribute's VR (from the data dictionary)."""
        return vr_of(self.keyword)


#: Level -> table name.
LEVEL_TABLES: Final = {
    "PATIENT": "patient",
    "STUDY": "study",
    "SERIES": "series",
    "IMAGE": "instance",
}

_SPEC: Final = (
    ("PATIENT", "PatientID", "patient_id", "text"),
    ("PATIENT", "PatientName", "patient_name", "pn"),
    ("PATIENT", "IssuerOfPatientID", "issuer", "text"),
    ("PATIENT", "PatientBirthDate", "birth_date", "date"),
    ("PATIENT", "PatientSex", "sex", "text"),
    ("STUDY", "StudyInstanceUID", "study_uid", "uid"),
    ("STUDY", "StudyDate", "study_date", "date"),
    ("STUDY", "StudyTime", "study_time", "time"),
    ("STUDY", "AccessionNumber", "accession", "text"),
    ("STUDY", "StudyID", "study_id", "text"),
    ("STUDY", "ReferringPhysicianName", "referring", "pn"),
    ("STUDY", "StudyDescription", "study_description", "text"),
    ("SERIES", "SeriesInstanceUID", "series_uid", "uid"),
    ("SERIES", "Modality", "modality", "text"),
    ("SERIES", "SeriesNumber", "series_number", "other"),
    ("SERIES", "SeriesDescription", "series_description", "text"),
    ("SERIES", "BodyPartExamined", "body_part", "text"),
    ("SERIES", "SeriesDate", "series_date", "date"),
    ("IMAGE", "SOPInstanceUID", "sop_uid", "uid"),
    ("IMAGE", "SOPClassUID", "sop_class", "uid"),
    ("IMAGE", "InstanceNumber", "instance_number", "other"),
    ("IMAGE", "ContentDate", "content_date", "date"),
)

#: Every indexed column, by tag.
COLUMNS: Final = {column.tag: column for column in (Column(*spec) for spec in _SPEC)}


def column_for(tag: int) -> Column | None:
    """The column that indexes ``tag``, if any."""
    return COLUMNS.get(tag)


def _columns_sql(level: str) -> str:
    parts = []
    for column in COLUMNS.values():
        if column.level != level:
            continue
        parts.append(f"{column.name} TEXT NOT NULL DEFAULT ''")
        if column.kind == "pn":
            parts.append(f"{column.name}_fold TEXT NOT NULL DEFAULT ''")
    return ",\n    ".join(parts)


#: The DDL, run at start-up (every statement is idempotent).
SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY, uid TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doomed (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS patient (
    pk INTEGER PRIMARY KEY,
    {_columns_sql("PATIENT")},
    attrs BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS patient_key ON patient(patient_id);
CREATE INDEX IF NOT EXISTS patient_name_fold ON patient(patient_name_fold);
CREATE TABLE IF NOT EXISTS study (
    pk INTEGER PRIMARY KEY,
    patient_fk INTEGER NOT NULL REFERENCES patient(pk),
    {_columns_sql("STUDY")},
    attrs BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS study_key ON study(study_uid);
CREATE INDEX IF NOT EXISTS study_patient ON study(patient_fk);
CREATE INDEX IF NOT EXISTS study_date ON study(study_date);
CREATE INDEX IF NOT EXISTS study_accession ON study(accession);
CREATE TABLE IF NOT EXISTS series (
    pk INTEGER PRIMARY KEY,
    study_fk INTEGER NOT NULL REFERENCES study(pk),
    {_columns_sql("SERIES")},
    attrs BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS series_key ON series(series_uid);
CREATE INDEX IF NOT EXISTS series_study ON series(study_fk);
CREATE TABLE IF NOT EXISTS instance (
    pk INTEGER PRIMARY KEY,
    series_fk INTEGER NOT NULL REFERENCES series(pk),
    {_columns_sql("IMAGE")},
    transfer_syntax TEXT NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    source_ae TEXT NOT NULL,
    received REAL NOT NULL,
    attrs BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS instance_key ON instance(sop_uid);
CREATE INDEX IF NOT EXISTS instance_series ON instance(series_fk);
"""
