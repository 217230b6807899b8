"""Running the example programs as subprocesses, and small DICOM files to feed them."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, generate_uid

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"

#: Longest a test waits for a program (startup included); tests normally take far less.
TIMEOUT = 60.0


def make_dataset(
    *,
    sop_class: str = SECONDARY_CAPTURE,
    patient_id: str = "PID-1",
    patient_name: str = "Doe^Jane",
    study_uid: str | None = None,
    series_uid: str | None = None,
    instance_number: int = 1,
) -> Dataset:
    """A small 8-bit image with the keys the query examples look at."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.AccessionNumber = "ACC-1"
    ds.StudyID = "S1"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "OT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.ConversionType = "WSD"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 8
    ds.Columns = 8
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(64))
    return ds


def write_instance(ds: Dataset, path: Path, transfer_syntax: str = EXPLICIT_LE) -> Path:
    """Save ``ds`` as a Part 10 file in ``transfer_syntax``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


async def run_program(*argv: str | Path, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run a program to completion; its exit code and output (stdout and stderr together)."""
    process = await asyncio.create_subprocess_exec(
        *map(str, argv),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def run_example(name: str, *args: str | Path, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run ``examples/NAME`` with this interpreter; exit code and output."""
    return await run_program(sys.executable, EXAMPLES / name, *args, timeout=timeout)


@dataclass
class RunningServer:
    """A server example started by :func:`server_example`."""

    process: asyncio.subprocess.Process
    port: int
    log: Path
    #: What the program printed after ``listening on PORT`` (filled in when it has stopped).
    output: str = ""
    exit_code: int | None = None


@asynccontextmanager
async def server_example(name: str, *args: str | Path, log: Path) -> AsyncIterator[RunningServer]:
    """Start a server example on an ephemeral port; stop it with SIGTERM on leaving.

    The program's stderr goes to ``log``; the port is read from its
    ``listening on PORT`` line.
    """
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / name),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *map(str, args),
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            cwd=ROOT,
        )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert line.startswith(b"listening on "), line + log.read_bytes()
        server = RunningServer(process, int(line.split()[-1]), log)
        yield server
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
        server.output = rest.decode(errors="replace")
        server.exit_code = process.returncode
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass
class Archive:
    """A DCMTK ``dcmqrscp`` serving ``files`` as AE ``title`` on ``port``."""

    title: str
    port: int
    log: Path


@asynccontextmanager
async def dcmqrscp_archive(
    tmp_path: Path,
    files: list[Path],
    *,
    title: str = "ARCHIVE",
    hosts: dict[str, int] | None = None,
    options: tuple[str, ...] = (),
) -> AsyncIterator[Archive]:
    """Run DCMTK's Query/Retrieve SCP over ``files`` (indexed with ``dcmqridx``).

    ``hosts`` maps move destination AE titles to loopback ports (the
    configuration file's HostTable); ``options`` go to ``dcmqrscp``.
    """
    from helpers.peers import dcmtk_program, free_port, wait_port_open

    dcmqrscp = dcmtk_program("dcmqrscp")
    dcmqridx = dcmtk_program("dcmqridx")
    storage = tmp_path / "archive-db"
    storage.mkdir()
    indexed = []
    for number, source in enumerate(files):
        target = storage / f"img{number}.dcm"
        target.write_bytes(source.read_bytes())
        indexed.append(target)
    code, out = await run_program(dcmqridx, storage, *indexed)
    assert code == 0, out
    port = free_port()
    host_lines = "\n".join(
        f"dest{number} = ({aet}, 127.0.0.1, {dest_port})"
        for number, (aet, dest_port) in enumerate((hosts or {}).items())
    )
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(
        f"""NetworkTCPPort  = {port}
MaxPDUSize      = 16384
MaxAssociations = 16

HostTable BEGIN
{host_lines}
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
{title} {storage} RW (100, 1024mb) ANY
AETable END
"""
    )
    log = tmp_path / "dcmqrscp.log"
    with log.open("wb") as log_file:
        # Not --single-process: DCMTK 3.6.7 crashes after the first release in that mode.
        process = await asyncio.create_subprocess_exec(
            dcmqrscp, "-c", str(config), "-v", *options, str(port), stdout=log_file, stderr=log_file
        )
    try:
        await wait_port_open("127.0.0.1", port)
        yield Archive(title, port, log)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), TIMEOUT)
