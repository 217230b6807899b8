"""Print SCU against DCMTK's print SCP (dcmprscp): one grayscale film, and a refused film box."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from helpers.peers import dcmtk_program, free_port, wait_port_open

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.errors import AssociationAborted
from dicomnet.policy import Policy
from dicomnet.services.print_scu import PrintError, PrintSession

pytestmark = pytest.mark.interop

STORED_PRINT = "1.2.840.10008.5.1.1.27"
HARDCOPY_GRAYSCALE = "1.2.840.10008.5.1.1.29"

#: dcmpstat.cfg for one local printer (see ``man dcmpstat.cfg``); the job files
#: (Stored Print and Hardcopy Grayscale Image objects) go to SPOOL.
CONFIG = """\
[[GENERAL]]
[APPLICATION]
LogDirectory = {log}
LogFile = general.log
LogLevel = INFO
[PRINT]
Directory = {spool}
DetailedLog = false
BinaryLog = false
MinPrintResolution = 16\\16
MaxPrintResolution = 8192\\8192
DefaultIllumination = 2000
DefaultReflection = 10
DeletePrintJobs = false
AlwaysDeleteTerminateJobs = false
[DATABASE]
Directory = {spool}
[LUT]
Directory = {lut}
[[COMMUNICATION]]
[PRINTSCP]
Aetitle = PRINTSCP
Description = dicomnet interop printer
Hostname = localhost
Port = {port}
Type = LOCALPRINTER
DisplayFormat = 1,1\\1,2\\2,2
FilmSizeID = 8INX10IN\\14INX17IN
MagnificationType = REPLICATE\\BILINEAR\\CUBIC\\NONE
MediumType = PAPER\\CLEAR FILM\\BLUE FILM
FilmDestination = MAGAZINE\\PROCESSOR
ImplicitOnly = false
MaxPDU = 32768
MaxDensity = 320
MinDensity = 20
Supports12Bit = true
SupportsPresentationLUT = false
SupportsDecimateCrop = false
SupportsImageSize = false
SupportsTrim = false
SmoothingType = NONE
ResolutionID = STANDARD\\HIGH
"""


@dataclass
class Printer:
    """A running dcmprscp: its port and the folder its print jobs go to."""

    port: int
    spool: Path
    process: asyncio.subprocess.Process


@pytest.fixture
async def dcmprscp(tmp_path: Path) -> AsyncIterator[Printer]:
    program = dcmtk_program("dcmprscp")
    spool, log, lut = tmp_path / "spool", tmp_path / "log", tmp_path / "lut"
    for folder in (spool, log, lut):
        folder.mkdir()
    port = free_port()
    config = tmp_path / "dcmpstat.cfg"
    config.write_text(CONFIG.format(port=port, spool=spool, log=log, lut=lut))
    output = (tmp_path / "dcmprscp.out").open("wb")
    process = await asyncio.create_subprocess_exec(
        program, "-c", str(config), "-p", "PRINTSCP", stdout=output, stderr=output, cwd=tmp_path
    )
    try:
        await wait_port_open("127.0.0.1", port)
        yield Printer(port, spool, process)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        output.close()


def flux_policy() -> Policy:
    """The Flux Print SCU profile with timeouts a loaded CI machine can meet."""
    policy = load_profile("flux-print-scu").policy()
    return replace(policy, timers=replace(policy.timers, dimse=20.0, associate=20.0))


async def test_one_grayscale_film_is_printed(dcmprscp: Printer) -> None:
    policy = flux_policy()
    ae = AE(policy.ae_title, policy)
    pixels = (np.arange(64 * 48).reshape(64, 48) % 251).astype(np.uint8)
    async with (
        ae.associate("127.0.0.1", dcmprscp.port, called_ae="PRINTSCP") as assoc,
        PrintSession(assoc, NumberOfCopies=1, MediumType="PAPER") as session,
    ):
        status = await session.printer_status()
        film = await session.new_film_box(
            "STANDARD\\1,1", orientation="PORTRAIT", film_size="8INX10IN"
        )
        assert len(film.image_boxes) == 1
        await film.set_image(0, pixels)
        await film.print()
    assert status.status == "NORMAL"

    files = {path.name[:3]: path for path in dcmprscp.spool.glob("*.dcm")}
    assert set(files) == {"SP_", "HG_"}, sorted(dcmprscp.spool.iterdir())
    stored = pydicom.dcmread(files["SP_"])
    assert stored.SOPClassUID == STORED_PRINT
    box = stored.FilmBoxContentSequence[0]
    assert box.ImageDisplayFormat == "STANDARD\\1,1"
    assert box.FilmOrientation == "PORTRAIT"
    assert box.FilmSizeID == "8INX10IN"
    hardcopy = pydicom.dcmread(files["HG_"])
    assert hardcopy.SOPClassUID == HARDCOPY_GRAYSCALE
    assert (hardcopy.Rows, hardcopy.Columns) == pixels.shape
    assert hardcopy.PixelData == pixels.tobytes()


async def test_refused_film_box_raises_and_aborts(dcmprscp: Printer) -> None:
    policy = flux_policy()
    ae = AE(policy.ae_title, policy)
    with pytest.raises(PrintError) as caught:
        async with (
            ae.associate("127.0.0.1", dcmprscp.port, called_ae="PRINTSCP") as assoc,
            PrintSession(assoc) as session,
        ):
            # 5,5 is not among the printer's display formats.
            await session.new_film_box("STANDARD\\5,5")
    assert caught.value.operation == "Film Box N-CREATE"
    assert caught.value.status is not None and caught.value.status.is_failure
    assert isinstance(assoc.error, AssociationAborted)
    assert not list(dcmprscp.spool.glob("*.dcm"))


async def test_film_box_and_session_updates_reach_the_stored_print(dcmprscp: Printer) -> None:
    """N-SET of the film session and of the film box (PS3.4 H.4.1.2.2, H.4.2.2.2):
    dcmprscp accepts both and keeps the film box's in the Stored Print object of the job."""
    policy = flux_policy()
    ae = AE(policy.ae_title, policy)
    pixels = (np.arange(32 * 24).reshape(32, 24) % 251).astype(np.uint8)
    async with (
        ae.associate("127.0.0.1", dcmprscp.port, called_ae="PRINTSCP") as assoc,
        PrintSession(assoc, MediumType="PAPER") as session,
    ):
        await session.update(MediumType="BLUE FILM")
        film = await session.new_film_box(
            "STANDARD\\1,1", film_size="8INX10IN", MagnificationType="REPLICATE"
        )
        await film.update(MagnificationType="CUBIC")
        await film.set_image(0, pixels)
        await film.print()
    assert session.attributes == {"MediumType": "BLUE FILM"}
    (stored,) = dcmprscp.spool.glob("SP_*.dcm")
    box = pydicom.dcmread(stored).FilmBoxContentSequence[0]
    assert box.MagnificationType == "CUBIC"
