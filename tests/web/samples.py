"""A few made-up studies with pictures worth looking at, written as Part 10 files.

* DOE^JANE (PAT-1): a CT study (2024-03-01) with a 3-image phantom series
  (HU with rescale -1024, window 40/400 in the data set), a 6-frame
  MONOCHROME2 cine series (a disc that moves) and an RGB colour-bar series;
* ROE^RICHARD (PAT-2): an MR study (2023-11-20), one 2-image series without a
  window (the viewer starts from the pixel range);
* DOE^JANE also has a structured-report-like instance without pixel data in the
  CT study (rendering it is 406, the study's other images still render).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet.archive import SqliteIndex, entry_from_file
from dicomnet.storage.synthetic import write_part10
from dicomnet.web import WebArchive, create_app

ROOT = "/dicomweb"

EXPLICIT = "1.2.840.10008.1.2.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
MF_SC_GRAY = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


@dataclass
class Samples:
    """UIDs of what :func:`write_samples` wrote."""

    files: list[Path] = field(default_factory=list)
    ct_study: str = ""
    ct_series: str = ""
    ct_instances: list[str] = field(default_factory=list)
    cine_series: str = ""
    cine_instance: str = ""
    color_series: str = ""
    color_instance: str = ""
    sr_series: str = ""
    sr_instance: str = ""
    mr_study: str = ""
    mr_series: str = ""
    mr_instances: list[str] = field(default_factory=list)


def _base(
    patient: tuple[str, str, str, str],
    study: str,
    series: str,
    *,
    sop_class: str,
    modality: str,
    series_number: int,
    instance_number: int,
    description: str,
) -> Dataset:
    name, pid, date, study_description = patient
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = date
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = f"ACC{pid[-1]}{series_number}"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study_description
    ds.Modality = modality
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.InstanceNumber = instance_number
    return ds


def _pixels(ds: Dataset, frames: np.ndarray, *, signed: bool = False) -> None:
    """Put (frames, rows, columns[, 3]) into ``ds`` as native pixel data."""
    color = frames.ndim == 4
    ds.Rows, ds.Columns = frames.shape[1], frames.shape[2]
    ds.SamplesPerPixel = 3 if color else 1
    bits = 8 if frames.dtype.itemsize == 1 else 16
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    if color:
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
    if frames.shape[0] > 1:
        ds.NumberOfFrames = frames.shape[0]
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 100
    ds.PixelData = frames.tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"


def phantom(size: int = 256, slice_index: int = 0) -> np.ndarray:
    """A CT-like phantom in stored values (HU + 1024): air, body, organs, bone ring."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2
    r = np.hypot(x - c, y - c) / (size / 2)
    hu = np.full((size, size), -1000.0)
    body = r < 0.85
    hu[body] = (40 + 15 * np.sin(x / 9.0))[body]  # soft tissue with texture
    hu[(r > 0.72) & (r < 0.85)] = 900  # a bone ring
    hu[np.hypot(x - c * 0.65, y - c) < size * 0.12] = -700  # a lung-like hole
    hu[np.hypot(x - c * 1.35, y - c * (0.9 + 0.05 * slice_index)) < size * 0.08] = 80  # organ
    hu[np.hypot(x - c, y - c * 1.45) < size * 0.05] = 300  # contrast vessel
    return np.clip(hu + 1024, 0, 4095).astype(np.uint16)


def write_samples(folder: Path) -> Samples:
    """Write the sample studies into ``folder`` (one file per instance)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = Samples()
    jane = ("DOE^JANE", "PAT-1", "20240301", "CT CHEST")
    out.ct_study = generate_uid()
    out.ct_series = generate_uid()
    for number in (1, 2, 3):
        ds = _base(
            jane,
            out.ct_study,
            out.ct_series,
            sop_class=CT_IMAGE,
            modality="CT",
            series_number=1,
            instance_number=number,
            description="Phantom axial",
        )
        _pixels(ds, phantom(256, number)[None])
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        out.ct_instances.append(str(ds.SOPInstanceUID))
        out.files.append(write_part10(folder / f"ct{number}.dcm", ds, EXPLICIT))

    out.cine_series = generate_uid()
    ds = _base(
        jane,
        out.ct_study,
        out.cine_series,
        sop_class=MF_SC_GRAY,
        modality="OT",
        series_number=2,
        instance_number=1,
        description="Moving disc cine",
    )
    y, x = np.mgrid[0:128, 0:160]
    frames = np.stack(
        [
            np.where(np.hypot(x - (20 + 24 * f), y - 64) < 18, 3000, 200 + 4 * x).astype(np.uint16)
            for f in range(6)
        ]
    )
    _pixels(ds, frames)
    ds.WindowCenter = 1500
    ds.WindowWidth = 3000
    out.cine_instance = str(ds.SOPInstanceUID)
    out.files.append(write_part10(folder / "cine.dcm", ds, EXPLICIT))

    out.color_series = generate_uid()
    ds = _base(
        jane,
        out.ct_study,
        out.color_series,
        sop_class=SC_IMAGE,
        modality="OT",
        series_number=3,
        instance_number=1,
        description="Colour bars",
    )
    bars = np.zeros((96, 192, 3), dtype=np.uint8)
    colours = [
        (255, 255, 255),
        (255, 255, 0),
        (0, 255, 255),
        (0, 255, 0),
        (255, 0, 255),
        (255, 0, 0),
        (0, 0, 255),
        (0, 0, 0),
    ]
    for i, colour in enumerate(colours):
        bars[:, i * 24 : (i + 1) * 24] = colour
    _pixels(ds, bars[None])
    ds.ConversionType = "WSD"
    out.color_instance = str(ds.SOPInstanceUID)
    out.files.append(write_part10(folder / "colour.dcm", ds, EXPLICIT))

    out.sr_series = generate_uid()
    ds = _base(
        jane,
        out.ct_study,
        out.sr_series,
        sop_class=BASIC_TEXT_SR,
        modality="SR",
        series_number=9,
        instance_number=1,
        description="Report",
    )
    ds.ValueType = "CONTAINER"
    out.sr_instance = str(ds.SOPInstanceUID)
    out.files.append(write_part10(folder / "report.dcm", ds, EXPLICIT))

    richard = ("ROE^RICHARD", "PAT-2", "20231120", "MR HEAD")
    out.mr_study = generate_uid()
    out.mr_series = generate_uid()
    for number in (1, 2):
        ds = _base(
            richard,
            out.mr_study,
            out.mr_series,
            sop_class=MR_IMAGE,
            modality="MR",
            series_number=1,
            instance_number=number,
            description="T1 axial",
        )
        yy, xx = np.mgrid[0:200, 0:180]
        head = np.hypot((xx - 90) / 80, (yy - 100) / 95)
        image = np.where(head < 1, 600 + 300 * np.cos(head * 6 + number), 0)
        _pixels(ds, image.astype(np.uint16)[None])
        out.mr_instances.append(str(ds.SOPInstanceUID))
        out.files.append(write_part10(folder / f"mr{number}.dcm", ds, EXPLICIT))
    return out


@dataclass
class Site:
    """A client on the application serving the samples."""

    client: httpx.AsyncClient
    samples: Samples
    index: SqliteIndex

    def instance(self, series: str, instance: str, study: str | None = None) -> str:
        """The URL of an instance (of the CT study unless ``study`` is given)."""
        study = study or self.samples.ct_study
        return f"{ROOT}/studies/{study}/series/{series}/instances/{instance}"


@contextlib.asynccontextmanager
async def serve_samples(folder: Path) -> AsyncIterator[Site]:
    """The samples written under ``folder``, indexed, and a client on the app over them."""
    samples = write_samples(folder / "files")
    index = await SqliteIndex.open(folder / "index.sqlite", fsync=False)
    try:
        for path in samples.files:
            await index.put(entry_from_file(path))
        archive = WebArchive(index=index, root=folder)
        transport = httpx.ASGITransport(app=create_app(archive))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Site(client, samples, index)
    finally:
        await index.close()
