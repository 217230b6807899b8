"""The Flux Print SCU example → dicomnet's own Print SCP: grayscale and colour films."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers.printer import PRINTER_TITLE, RunningPrinter, running_printer, write_image

from .support import run_example


def printer_args(printer: RunningPrinter) -> list[str]:
    return ["--port", str(printer.port), "--called-ae", PRINTER_TITLE, "--timeout", "30"]


async def test_flux_prints_grayscale_on_dicomnet(tmp_path: Path) -> None:
    dark = write_image(tmp_path / "dark.dcm", np.full((40, 40), 30, np.uint8))
    light = write_image(tmp_path / "light.dcm", np.full((40, 40), 220, np.uint8))
    async with running_printer(tmp_path / "films", dpi=30) as printer:
        code, out = await run_example(
            "flux_print_scu.py",
            *printer_args(printer),
            "--status",
            "--format",
            "STANDARD\\2,1",
            "--film-size",
            "8INX10IN",
            "--copies",
            "2",
            dark,
            light,
        )
        assert code == 0, out
        assert "NORMAL" in out and "printed 2 image(s)" in out
        (png,) = printer.films()
        picture = printer.picture()
    assert picture.shape == (300, 240)
    assert (int(picture[150, 60]), int(picture[150, 180])) == (30, 220)
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["calling_ae"] == "FLUX_PRINT" and info["copies"] == 2


async def test_flux_prints_color_on_dicomnet(tmp_path: Path) -> None:
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (250, 120, 0)
    rgb[:, 30:] = (0, 90, 250)
    image = write_image(tmp_path / "colour.dcm", rgb)
    async with running_printer(tmp_path / "films", dpi=30) as printer:
        code, out = await run_example(
            "flux_print_scu.py", *printer_args(printer), "--color", "--print-session", image
        )
        assert code == 0, out
        (png,) = printer.films()
        picture = printer.picture()
    # 14 x 17 inches at 30 dpi, the 60 x 40 image widened to the box: orange left, blue right.
    assert picture.shape == (510, 420, 3)
    assert tuple(picture[255, 100]) == (250, 120, 0)
    assert tuple(picture[255, 320]) == (0, 90, 250)
    assert json.loads(png.with_suffix(".json").read_text())["color"] is True
