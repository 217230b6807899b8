"""DCMTK storescu -> ``dicomnet serve`` (a child process): stored data sets match the files."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
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
    process: subprocess.Popen[bytes]
    port: int
    output: Path
    log: Path


@pytest.fixture(scope="module")
def dicomnet_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One ``dicomnet serve`` for the module (each test stores its own instances)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    output = tmp_path / "received"
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
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
            ],
            stdout=subprocess.PIPE,
            stderr=log_file,
            cwd=ROOT,
        )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith(b"listening on "), line + log.read_bytes()
        yield ServeProcess(process, int(line.split()[-1]), output, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        process.stdout.close()
    assert code == 0, log.read_text(errors="replace")


@pytest.fixture(scope="module")
def storescu_path() -> str:
    return dcmtk_program("storescu")


async def run(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
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
    dicomnet_serve: ServeProcess, storescu_path: str, tmp_path: Path, ts: str
) -> None:
    ds = make_dataset(pixels=64 * 64)
    path = tmp_path / "sent.dcm"
    sent = write_part10(ds, ts, str(path))
    code, out = await run(
        storescu_path,
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


async def test_storescu_jpeg_baseline_to_dicomnet_serve(
    dicomnet_serve: ServeProcess, storescu_path: str
) -> None:
    jpeg = jpeg_baseline_file()
    if jpeg is None:
        pytest.skip("pydicom test data not installed")
    code, out = await run(
        storescu_path, "-aec", "DICOMNET", "-xy", "127.0.0.1", str(dicomnet_serve.port), jpeg
    )
    assert code == 0, out
    uid = str(pydicom.dcmread(jpeg, stop_before_pixels=True).SOPInstanceUID)
    stored_path = dicomnet_serve.output / instance_filename(uid)
    assert part10_dataset_bytes(stored_path.read_bytes()) == part10_dataset_bytes(
        Path(jpeg).read_bytes()
    )
    assert pydicom.dcmread(stored_path).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"


async def test_several_files_and_echo_on_one_server(
    dicomnet_serve: ServeProcess, storescu_path: str, tmp_path: Path
) -> None:
    paths, uids = [], []
    for index in range(5):
        ds = make_dataset(pixels=100 * 100)
        path = tmp_path / f"f{index}.dcm"
        write_part10(ds, EXPLICIT_LE, str(path))
        paths.append(str(path))
        uids.append(str(ds.SOPInstanceUID))
    code, out = await run(
        storescu_path, "-aec", "DICOMNET", "127.0.0.1", str(dicomnet_serve.port), *paths
    )
    assert code == 0, out
    for uid in uids:
        assert (dicomnet_serve.output / instance_filename(uid)).is_file()
    code, out = await run(
        dcmtk_program("echoscu"), "-aec", "DICOMNET", "127.0.0.1", str(dicomnet_serve.port)
    )
    assert code == 0, out
    assert not list((dicomnet_serve.output / ".incoming").iterdir())
