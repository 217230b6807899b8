"""dicomnet's own Print SCP for tests: a running printer that renders into a folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomnet.ae import AE, Server
from dicomnet.conformance import load_profile
from dicomnet.policy import Policy
from dicomnet.print.model import PrinterSettings
from dicomnet.print.render import FilmRenderer
from dicomnet.services.print_scp import PrintSCP

PRINTER_TITLE = "PRINTSCP"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


@dataclass
class RunningPrinter:
    """A dicomnet Print SCP listening on ``port``; films go to ``output``."""

    server: Server
    scp: PrintSCP
    renderer: FilmRenderer
    output: Path

    @property
    def port(self) -> int:
        return self.server.port

    def films(self) -> list[Path]:
        return [film.png for film in self.renderer.films]

    def picture(self, index: int = -1) -> np.ndarray[Any, Any]:
        """Film ``index`` as an array (rows x columns, or x 3 for colour)."""
        with Image.open(self.films()[index]) as image:
            return np.asarray(image)


def printer_policy() -> Policy:
    """The dicomnet-printer profile with timeouts a loaded machine can meet."""
    policy = load_profile("dicomnet-printer").policy()
    return replace(policy, timers=replace(policy.timers, dimse=30.0, associate=30.0))


def flux_policy() -> Policy:
    """The Flux Print SCU profile with timeouts a loaded machine can meet."""
    policy = load_profile("flux-print-scu").policy()
    return replace(policy, timers=replace(policy.timers, dimse=30.0, associate=30.0))


@asynccontextmanager
async def running_printer(
    output: Path, *, dpi: float = 50.0, settings: PrinterSettings | None = None, **options: Any
) -> AsyncIterator[RunningPrinter]:
    """Serve a Print SCP on a free loopback port while the block runs."""
    settings = settings or PrinterSettings(dpi=dpi)
    renderer = FilmRenderer(output, settings)
    scp = PrintSCP(renderer, settings, **options)
    ae = AE(PRINTER_TITLE, printer_policy(), handlers=[scp])
    server = await ae.serve("127.0.0.1", 0)
    try:
        yield RunningPrinter(server, scp, renderer, output)
    finally:
        scp.close()
        server.close()
        await server.wait_closed()


def write_image(path: Path, pixels: np.ndarray[Any, Any]) -> Path:
    """``pixels`` (rows x columns uint8, or x 3 for RGB) as a Secondary Capture Part 10 file."""
    ds = Dataset()
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.PatientName, ds.Modality = "PRINT-1", "Film^Test", "OT"
    color = pixels.ndim == 3
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = "RGB" if color else "MONOCHROME2"
    if color:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path
