"""Query identifiers the tests send."""

from __future__ import annotations

from pydicom.dataset import Dataset


def patient_name_query(name: str) -> Dataset:
    """A PATIENT-level C-FIND identifier matching Patient's Name ``name``, asking for the ID."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "PATIENT"
    ds.PatientName = name
    ds.PatientID = ""
    return ds
