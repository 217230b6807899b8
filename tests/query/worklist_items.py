"""Made-up worklist items for the worklist tests."""

from __future__ import annotations

import json
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian


def item(
    number: int, *, name: str, modality: str, station: str, date: str, time: str = "090000"
) -> Dataset:
    """One worklist item with one Scheduled Procedure Step."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = name
    ds.PatientID = f"WL{number}"
    ds.AccessionNumber = f"A{number}"
    ds.RequestedProcedureID = f"RP{number}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.90.{number}"
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = station
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = time
    step.ScheduledProcedureStepID = f"SPS{number}"
    step.ScheduledPerformingPhysicianName = "HOUSE^GREGORY"
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def items() -> list[Dataset]:
    """Three items: a CT and an MR on one day, a CT a week later."""
    return [
        item(1, name="DOE^JOHN", modality="CT", station="CT1", date="20240110"),
        item(2, name="ROE^JANE", modality="MR", station="MR1", date="20240110", time="140000"),
        item(3, name="POE^EDGAR", modality="CT", station="CT1", date="20240117"),
    ]


def write_items(folder: Path) -> None:
    """Items 1 and 2 as DICOM files (``.wl``), item 3 as DICOM JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second, third = items()
    for number, ds in ((1, first), (2, second)):
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
        ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.3.{number}"
        ds.save_as(folder / f"item{number}.wl", enforce_file_format=True)
    (folder / "item3.json").write_text(json.dumps(third.to_json_dict()))
    (folder / "readme.txt").write_text("not a worklist item")
