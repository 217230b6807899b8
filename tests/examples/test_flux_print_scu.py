"""Flux Print SCU example against DCMTK dcmprscp: files printed, refusals abort."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pydicom
import pytest
from interop.test_print_dcmtk import Printer, dcmprscp  # noqa: F401 (the fixture)

from .support import CT_IMAGE, make_dataset, run_example, write_instance

pytestmark = pytest.mark.interop

HARDCOPY_GRAYSCALE = "1.2.840.10008.5.1.1.29"


def printer_args(printer: Printer) -> list[str]:
    return ["--port", str(printer.port), "--called-ae", "PRINTSCP", "--timeout", "20"]


def hardcopies(printer: Printer) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path) for path in sorted(printer.spool.glob("HG_*.dcm"))]


async def test_prints_a_file_with_status(dcmprscp: Printer, tmp_path: Path) -> None:  # noqa: F811
    path = write_instance(make_dataset(), tmp_path / "image.dcm")
    code, out = await run_example(
        "flux_print_scu.py",
        *printer_args(dcmprscp),
        "--status",
        "--film-size",
        "8INX10IN",
        "--medium",
        "PAPER",
        path,
    )
    assert code == 0, out
    assert "NORMAL" in out
    assert "printed 1 image(s)" in out
    (hardcopy,) = hardcopies(dcmprscp)
    assert hardcopy.SOPClassUID == HARDCOPY_GRAYSCALE
    assert hardcopy.PixelData == bytes(range(64))  # make_dataset's 8x8 pixels, unchanged
    (stored,) = dcmprscp.spool.glob("SP_*.dcm")
    box = pydicom.dcmread(stored).FilmBoxContentSequence[0]
    assert box.FilmSizeID == "8INX10IN"


async def test_prints_two_files_on_one_film_by_session(
    dcmprscp: Printer,  # noqa: F811
    tmp_path: Path,
) -> None:
    first = write_instance(make_dataset(), tmp_path / "a.dcm")
    ct = make_dataset(sop_class=CT_IMAGE)
    ct.BitsAllocated, ct.BitsStored, ct.HighBit, ct.PixelRepresentation = 16, 16, 15, 1
    ct.PixelData = (np.arange(64, dtype=np.int16).reshape(8, 8) * 50 - 1000).tobytes()
    ct.RescaleSlope, ct.RescaleIntercept = 1, -1024
    second = write_instance(ct, tmp_path / "b.dcm")
    code, out = await run_example(
        "flux_print_scu.py",
        *printer_args(dcmprscp),
        "--format",
        "STANDARD\\1,2",
        "--print-session",
        first,
        second,
    )
    assert code == 0, out
    images = hardcopies(dcmprscp)
    assert len(images) == 2
    # The 16-bit signed CT image was rendered to 8 bits: its full range, darkest to brightest.
    rendered = [i for i in images if bytes(i.PixelData) != bytes(range(64))]
    assert len(rendered) == 1
    pixels = np.frombuffer(rendered[0].PixelData, np.uint8)
    assert (rendered[0].BitsStored, int(pixels.min()), int(pixels.max())) == (8, 0, 255)


async def test_failure_status_aborts(dcmprscp: Printer, tmp_path: Path) -> None:  # noqa: F811
    path = write_instance(make_dataset(), tmp_path / "image.dcm")
    code, out = await run_example(
        "flux_print_scu.py", *printer_args(dcmprscp), "--format", "STANDARD\\5,5", path
    )
    assert code == 1, out
    assert "Film Box N-CREATE failed" in out
    assert "association aborted" in out
    assert not list(dcmprscp.spool.glob("*.dcm"))


async def test_too_many_files_and_unreadable_file(dcmprscp: Printer, tmp_path: Path) -> None:  # noqa: F811
    path = write_instance(make_dataset(), tmp_path / "image.dcm")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    # Both at once: each run is mostly interpreter start-up.
    (code, out), (junk_code, junk_out) = await asyncio.gather(
        run_example("flux_print_scu.py", *printer_args(dcmprscp), path, path),
        run_example("flux_print_scu.py", *printer_args(dcmprscp), junk),
    )
    assert code == 2, out
    assert "2 image(s) for 1 image box(es)" in out
    assert junk_code == 2, junk_out
    assert "junk.dcm" in junk_out
