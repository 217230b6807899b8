"""DCMTK's print spooler (dcmpsprt + dcmprscu) → dicomnet's Print SCP: grayscale films rendered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.peers import dcmtk_program
from helpers.printer import PRINTER_TITLE, running_printer, write_image
from helpers.programs import run_program

pytestmark = pytest.mark.interop

#: dcmpstat.cfg (see ``man dcmpstat.cfg``) naming dicomnet's printer as a remote DICOM
#: printer (Type = PRINTER) for dcmprscu; dcmpsprt writes its Stored Print and Hardcopy
#: Grayscale objects into the database folder, from which dcmprscu prints them.
CONFIG = """\
[[GENERAL]]
[APPLICATION]
LogDirectory = {root}/log
LogFile = general.log
LogLevel = WARN
[PRINT]
Directory = {root}/spool
DetailedLog = false
BinaryLog = false
MinPrintResolution = 16\\16
MaxPrintResolution = 8192\\8192
DefaultIllumination = 2000
DefaultReflection = 10
[DATABASE]
Directory = {root}/db
[LUT]
Directory = {root}/lut
[[COMMUNICATION]]
[DICOMNET]
Aetitle = {title}
Description = dicomnet film printer
Hostname = localhost
Port = {port}
Type = PRINTER
DisplayFormat = 1,1\\2,1\\2,2
FilmSizeID = 8INX10IN\\14INX17IN
MagnificationType = REPLICATE\\BILINEAR\\CUBIC\\NONE
MediumType = PAPER\\BLUE FILM
FilmDestination = MAGAZINE\\PROCESSOR
ImplicitOnly = false
MaxPDU = 16384
MaxDensity = 320
MinDensity = 20
Supports12Bit = true
SupportsPresentationLUT = false
SupportsDecimateCrop = true
SupportsImageSize = false
SupportsTrim = true
BorderDensity = BLACK\\WHITE
EmptyImageDensity = BLACK\\WHITE
Annotation = 2\\ANNOTATION
"""


def ramp_image(path: Path, *, across: bool) -> Path:
    """A 64 x 64 MONOCHROME2 image, dark to bright left to right (or top to bottom)."""
    ramp = np.tile(np.linspace(0, 255, 64).round().astype(np.uint8), (64, 1))
    return write_image(path, ramp if across else ramp.T.copy())


async def test_dcmpsprt_and_dcmprscu_print_a_grayscale_film(tmp_path: Path) -> None:
    dcmpsprt, dcmprscu = dcmtk_program("dcmpsprt"), dcmtk_program("dcmprscu")
    for folder in ("log", "spool", "db", "lut"):
        (tmp_path / folder).mkdir()
    first = ramp_image(tmp_path / "across.dcm", across=True)
    second = ramp_image(tmp_path / "down.dcm", across=False)
    async with running_printer(tmp_path / "films", dpi=40) as printer:
        config = tmp_path / "dcmpstat.cfg"
        config.write_text(CONFIG.format(root=tmp_path, port=printer.port, title=PRINTER_TITLE))
        code, out = await run_program(
            dcmpsprt,
            "-c",
            str(config),
            "-p",
            "DICOMNET",
            "--layout",
            "2",
            "1",
            "--landscape",
            "--filmsize",
            "8INX10IN",
            "--trim",
            "--annotation",
            "DCMTK FILM",
            "--magnification",
            "REPLICATE",
            "-pd",
            "-pn",
            "-pl",
            str(first),
            str(second),
            timeout=120,
        )
        assert code == 0, out
        (stored_print,) = (tmp_path / "db").glob("SP_*.dcm")
        code, out = await run_program(
            dcmprscu,
            "-c",
            str(config),
            "-p",
            "DICOMNET",
            "--copies",
            "2",
            "--medium-type",
            "PAPER",
            str(stored_print),
            timeout=120,
        )
        assert code == 0, out
        assert "E:" not in out, out
        (png,) = printer.films()
        picture = printer.picture()
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["calling_ae"] and info["copies"] == 2 and info["medium"] == "PAPER"
    assert (info["image_display_format"], info["orientation"]) == ("STANDARD\\2,1", "LANDSCAPE")
    assert info["film_size"] == "8INX10IN" and info["trim"] is True
    assert [box["position"] for box in info["image_boxes"]] == [1, 2]
    assert "DCMTK FILM" in "".join(info["annotations"].values())
    # 10 x 8 inches at 40 dpi; left box brightens to the right, right box downwards.
    assert picture.shape == (320, 400)
    left, right = picture[:, :200].astype(int), picture[:, 200:].astype(int)
    assert left[150, 150] - left[150, 40] > 100
    assert right[230, 100] - right[70, 100] > 100
