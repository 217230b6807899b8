"""Data for the ``web`` suite: a study of large images, and instances to store.

The find suite's archive (:mod:`benchmarks.find_data`, loaded by
:func:`benchmarks.find_peers.load_dicomnet`) holds index rows only; the
retrieve rows need files, so :func:`add_image_study` writes a study of
``count`` 16-bit images into the same folder and indexes them.
:func:`write_instances` makes small images with fresh UIDs for the store
rows (a new set per run, so nothing is a duplicate).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from pydicom.uid import generate_uid

from dicomnet.archive import SqliteIndex, entry_from_file
from dicomnet.storage.synthetic import make_image, write_part10

__all__ = [
    "BIG_STUDY",
    "IMAGE_STUDY",
    "add_big_study",
    "add_image_study",
    "big_instance",
    "write_instances",
]

IMAGE_STUDY: Final = "1.2.826.0.1.3680043.8.498.9.777"
BIG_STUDY: Final = "1.2.826.0.1.3680043.8.498.9.778"
_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"


def _image(number: int, rows: int, study: str, series: str) -> object:
    ds = make_image(rows=rows, columns=rows, sop_instance_uid=generate_uid(), seed=number)
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientID = "WEBBENCH"
    ds.PatientName = "WEB^BENCH"
    ds.InstanceNumber = str(number)
    return ds


async def _index(folder: Path, files: list[Path]) -> None:
    index = await SqliteIndex.open(folder / ".index" / "index.sqlite", fsync=False)
    try:
        await index.put_many([entry_from_file(path) for path in files])
    finally:
        await index.close()


def add_image_study(folder: Path, count: int, rows: int = 512) -> tuple[int, list[Path]]:
    """Write and index ``count`` images of ``rows`` x ``rows`` x 16 bits; (bytes, files)."""
    series = f"{IMAGE_STUDY}.1"
    template = _image(1, rows, IMAGE_STUDY, series)
    files = []
    for number in range(1, count + 1):
        ds = template.copy()  # type: ignore[attr-defined]
        ds.SOPInstanceUID = f"{series}.{number}"
        ds.InstanceNumber = str(number)
        files.append(write_part10(folder / f"{ds.SOPInstanceUID}.dcm", ds, _EXPLICIT_LE))
    asyncio.run(_index(folder, files))
    return sum(path.stat().st_size for path in files), files


def write_instances(folder: Path, count: int, rows: int = 64) -> list[Path]:
    """``count`` small images with fresh UIDs (one new study) as Part 10 files."""
    folder.mkdir(parents=True, exist_ok=True)
    study = generate_uid()
    series = generate_uid()
    template = _image(1, rows, study, series)
    files = []
    for number in range(1, count + 1):
        ds = template.copy()  # type: ignore[attr-defined]
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = str(number)
        files.append(write_part10(folder / f"{number:05d}.dcm", ds, _EXPLICIT_LE))
    return files


def big_instance(
    path: Path, size: int, *, study: str | None = None, uid: str | None = None
) -> Path:
    """One instance whose Pixel Data is ``size`` bytes of zeros."""
    ds = make_image(rows=8, columns=8, sop_instance_uid=uid or generate_uid())
    ds.StudyInstanceUID = study or generate_uid()
    ds.PatientID = "WEBBIG"
    ds.Rows, ds.Columns = 1024, size // (1024 * 2)
    ds.PixelData = bytes(1024 * ds.Columns * 2)
    ds["PixelData"].VR = "OW"
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_part10(path, ds, _EXPLICIT_LE)


def add_big_study(folder: Path, total: int, per_file: int) -> int:
    """Write and index a study of ``total`` bytes in files of ``per_file``; the bytes written."""
    series = f"{BIG_STUDY}.1"
    files = [
        big_instance(folder / f"big-{n}.dcm", per_file, study=BIG_STUDY, uid=f"{series}.{n}")
        for n in range(1, max(1, total // per_file) + 1)
    ]
    asyncio.run(_index(folder, files))
    return sum(path.stat().st_size for path in files)
