"""DCMTK storescu -> ``dicomnet serve`` (a child process): stored data sets match the files."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from helpers.peers import dcmtk_program
from storage.test_scp_support import (
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    inflated,
    jpeg_baseline_file,
    make_dataset,
    part10_dataset_bytes,
    write_part10,
)

from dicomnet.storage.filenames import instance_filename

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    port: int
    output: Path
    log: Path


@pytest.fixture
async def dicomnet_serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    output = tmp_path / "received"
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dicomnet.cli.serve",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--aet",
            "DICOMNET",
            "--output",
            str(output),
            "--no-fsync",
            "-v",
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            cwd=ROOT,
        )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.startswith(b"listening on "), line + log.read_bytes()
        yield ServeProcess(process, int(line.split()[-1]), output, log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0, log.read_text(errors="replace")


async def storescu(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        dcmtk_program("storescu"),
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


SYNTAX_OPTIONS = {
    IMPLICIT_LE: "-xi",
    EXPLICIT_LE: "-xe",
    EXPLICIT_BE: "-xb",
    DEFLATED: "-xd",
}


@pytest.mark.parametrize("ts", list(SYNTAX_OPTIONS))
async def test_storescu_to_dicomnet_serve(
    dicomnet_serve: ServeProcess, tmp_path: Path, ts: str
) -> None:
    dcmtk_program("storescu")
    ds = make_dataset(pixels=64 * 64)
    path = tmp_path / "sent.dcm"
    sent = write_part10(ds, ts, str(path))
    code, out = await storescu(
        "-aec",
        "DICOMNET",
        SYNTAX_OPTIONS[ts],
        "-v",
        "127.0.0.1",
        str(dicomnet_serve.port),
        str(path),
    )
    assert code == 0, out
    stored_path = dicomnet_serve.output / instance_filename(str(ds.SOPInstanceUID))
    stored = part10_dataset_bytes(stored_path.read_bytes())
    meta = pydicom.dcmread(stored_path, stop_before_pixels=True).file_meta
    assert meta.TransferSyntaxUID == ts
    assert meta.SourceApplicationEntityTitle == "STORESCU"
    if ts == DEFLATED:
        # DCMTK deflates again with its own settings: compare the data set inside.
        assert inflated(stored) == inflated(sent)
    else:
        assert stored == sent


async def test_storescu_jpeg_baseline_to_dicomnet_serve(dicomnet_serve: ServeProcess) -> None:
    dcmtk_program("storescu")
    jpeg = jpeg_baseline_file()
    if jpeg is None:
        pytest.skip("pydicom test data not installed")
    code, out = await storescu(
        "-aec", "DICOMNET", "-xy", "127.0.0.1", str(dicomnet_serve.port), jpeg
    )
    assert code == 0, out
    uid = str(pydicom.dcmread(jpeg, stop_before_pixels=True).SOPInstanceUID)
    stored_path = dicomnet_serve.output / instance_filename(uid)
    assert part10_dataset_bytes(stored_path.read_bytes()) == part10_dataset_bytes(
        Path(jpeg).read_bytes()
    )
    assert pydicom.dcmread(stored_path).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"


async def test_several_files_and_echo_on_one_server(
    dicomnet_serve: ServeProcess, tmp_path: Path
) -> None:
    dcmtk_program("storescu")
    paths = []
    for index in range(5):
        path = tmp_path / f"f{index}.dcm"
        write_part10(make_dataset(pixels=100 * 100), EXPLICIT_LE, str(path))
        paths.append(str(path))
    code, out = await storescu("-aec", "DICOMNET", "127.0.0.1", str(dicomnet_serve.port), *paths)
    assert code == 0, out
    assert len(list(dicomnet_serve.output.glob("*.dcm"))) == 5
    process = await asyncio.create_subprocess_exec(
        dcmtk_program("echoscu"),
        "-aec",
        "DICOMNET",
        "127.0.0.1",
        str(dicomnet_serve.port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out_bytes, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out_bytes
