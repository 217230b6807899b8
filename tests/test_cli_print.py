"""``dicomnet printer`` and ``dicomnet print``: films printed end to end, grayscale and colour."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pydicom
import pytest
from helpers.printer import write_image
from helpers.programs import ROOT
from interop.test_print_dcmtk import Printer, dcmprscp  # noqa: F401 (the fixture)

from dicomnet.ae import Server
from dicomnet.cli import print_film, printer
from dicomnet.cli.main import build_parser


async def run_print(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["print", *argv])
    capsys.readouterr()
    code = await print_film.print_films(args)
    out, err = capsys.readouterr()
    return code, out, err


@asynccontextmanager
async def cli_printer(output: Path, *options: str) -> AsyncIterator[Server]:
    """``dicomnet printer`` run in this loop until the block ends."""
    args = build_parser().parse_args(
        ["printer", "--port", "0", "--host", "127.0.0.1", "--output", str(output), *options]
    )
    ready: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(printer.serve_printer(args, ready=ready.set_result, stop=stop))
    try:
        yield await asyncio.wait_for(ready, 30)
    finally:
        stop.set()
        assert await task == 0


def timeouts() -> list[str]:
    return ["-to", "30", "-ta", "30", "-td", "30"]


async def test_print_grayscale_and_color_on_dicomnet_printer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ramp = np.tile(np.linspace(0, 255, 50).round().astype(np.uint8), (40, 1))
    gray = [write_image(tmp_path / f"g{n}.dcm", ramp // (n + 1)) for n in range(3)]
    rgb = np.zeros((30, 30, 3), np.uint8)
    rgb[..., 1] = 180
    colour = write_image(tmp_path / "c.dcm", rgb)
    films = tmp_path / "films"
    async with cli_printer(films, "--dpi", "20", "--pdf", "--printer-events") as server:
        peer = ["127.0.0.1", str(server.port), "--called-ae", "PRINTSCP", *timeouts()]
        code, out, err = await run_print(
            capsys,
            *peer,
            *map(str, gray),
            "--format",
            "STANDARD\\2,2",
            "--copies",
            "3",
            "--priority",
            "HIGH",
            "--medium",
            "PAPER",
            "--film-size",
            "10INX12IN",
            "--orientation",
            "LANDSCAPE",
            "--label",
            "CLI",
            "--status",
        )
        assert code == 0, err
        assert "printer DICOMNET: NORMAL NORMAL" in out
        assert "printed 3 image(s) on one grayscale film (STANDARD\\2,2)" in out
        code, out, err = await run_print(
            capsys, *peer, str(colour), "--color", "--session-print", "--polarity", "REVERSE"
        )
        assert code == 0, err
        assert "color film" in out
        # A display format the printer does not have: failure status, exit 1.
        code, _, err = await run_print(capsys, *peer, str(colour), "--format", "SLIDE")
        assert code == 1 and "0x0106" in err
    pngs = sorted(films.glob("*.png"))
    assert len(pngs) == 2 and len(list(films.glob("*.pdf"))) == 2
    first = json.loads(pngs[0].with_suffix(".json").read_text())
    assert (first["copies"], first["priority"], first["medium"], first["label"]) == (
        3,
        "HIGH",
        "PAPER",
        "CLI",
    )
    assert (first["orientation"], first["film_size"]) == ("LANDSCAPE", "10INX12IN")
    assert len(first["image_boxes"]) == 3
    from PIL import Image

    with Image.open(pngs[0]) as image:
        assert image.size == (240, 200) and image.mode == "L"
    with Image.open(pngs[1]) as image:
        assert image.mode == "RGB"
        # REVERSE: (0, 180, 0) prints as (255, 75, 255).
        assert image.getpixel((image.width // 2, image.height // 2)) == (255, 75, 255)


async def test_print_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    code, _, err = await run_print(capsys, "127.0.0.1", "1", str(junk))
    assert code == 2 and "junk.dcm" in err
    image = write_image(tmp_path / "a.dcm", np.zeros((4, 4), np.uint8))
    async with cli_printer(tmp_path / "films") as server:
        code, _, err = await run_print(
            capsys, "127.0.0.1", str(server.port), *timeouts(), str(image), str(image)
        )
    assert code == 2 and "2 image(s) for 1 image box(es)" in err


@pytest.mark.interop
async def test_print_grayscale_on_dcmprscp(
    dcmprscp: Printer,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pixels = (np.arange(32 * 24).reshape(32, 24) % 200).astype(np.uint8)
    image = write_image(tmp_path / "a.dcm", pixels)
    code, _, err = await run_print(
        capsys,
        "127.0.0.1",
        str(dcmprscp.port),
        "--called-ae",
        "PRINTSCP",
        *timeouts(),
        str(image),
        "--film-size",
        "8INX10IN",
        "--medium",
        "PAPER",
    )
    assert code == 0, err
    (hardcopy,) = dcmprscp.spool.glob("HG_*.dcm")
    assert pydicom.dcmread(hardcopy).PixelData == pixels.tobytes()


async def test_printer_command_runs_until_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dicomnet.cli.main",
        "printer",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--output",
        str(tmp_path / "films"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.startswith(b"listening on "), line
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    bad = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dicomnet.cli.main",
        "printer",
        "--dpi",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    out, _ = await asyncio.wait_for(bad.communicate(), 60)
    assert bad.returncode == 2 and b"--dpi" in out
