"""``dicomnet serve --system`` in a subprocess, driven by DCMTK tools.

Storage, Q/R and MWL AEs share one ephemeral port and one index: an instance
stored by storescu to STORE_SCP is found by findscu at QR_SCP at once, and
findscu -W at MWL_SCP answers from the worklist folder, and movescu retrieves it
from QR_SCP to a --destination at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from helpers.programs import ROOT, run_program
from pydicom.data import get_testdata_file
from query.worklist_items import write_items

pytestmark = pytest.mark.interop

TIMEOUT = 30


@dataclass
class Running:
    process: asyncio.subprocess.Process
    ports: dict[str, int]


async def _serve(*args: str, cwd: Path) -> tuple[asyncio.subprocess.Process, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dicomnet.cli.main import main; sys.exit(main())",
        "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith("ready:"):
            break
    return process, lines


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


@pytest.fixture
async def lifesys(tmp_path: Path) -> AsyncIterator[Running]:
    write_items(tmp_path / "lifesys-worklist")
    process, lines = await _serve(
        "--system", "lifesys", "--host", "127.0.0.1", "--any-port", "--no-fsync",
        "--root", str(tmp_path), "--no-uvloop",
        cwd=tmp_path,
    )  # fmt: skip
    ports = {}
    for line in lines:
        match = re.match(r"(\S+) \((\w+)\) listening on (\d+)$", line)
        if match:
            ports[match.group(1)] = int(match.group(3))
    assert set(ports) == {"STORE_SCP", "QR_SCP", "MWL_SCP"}, lines
    try:
        yield Running(process, ports)
    finally:
        assert await _stop(process) == 0


async def test_stored_instance_is_found_at_once_and_worklist_answers(
    lifesys: Running, tmp_path: Path
) -> None:
    storescu, findscu = dcmtk_program("storescu"), dcmtk_program("findscu")
    ports = lifesys.ports
    assert len(set(ports.values())) == 1  # one port, routed by called AE title
    port = str(ports["STORE_SCP"])
    ct = get_testdata_file("CT_small.dcm")
    assert ct is not None
    code, output = await run_program(storescu, "-aec", "STORE_SCP", "127.0.0.1", port, ct)
    assert code == 0, output
    code, output = await run_program(
        findscu, "-v", "-S", "-aec", "QR_SCP",
        "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
        "-k", "PatientName=Compressed*",  # LifeSys: a Study Root query needs a partial value
        "127.0.0.1", port,
    )  # fmt: skip
    assert code == 0, output
    assert "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" in output, output
    assert "CompressedSamples^CT1" in output
    code, output = await run_program(
        findscu, "-v", "-W", "-aec", "MWL_SCP",
        "-k", "PatientName=DOE*", "-k", "AccessionNumber",
        "127.0.0.1", port,
    )  # fmt: skip
    assert code == 0, output
    assert "DOE^JOHN" in output and "[A1]" in output
    assert "ROE^JANE" not in output
    # The Q/R AE title does not serve storage: its profile accepts no storage context.
    code, output = await run_program(storescu, "-aec", "QR_SCP", "127.0.0.1", port, ct)
    assert code != 0


async def test_unknown_called_title_on_a_routed_port_is_rejected(tmp_path: Path) -> None:
    echoscu = dcmtk_program("echoscu")
    system = tmp_path / "kodak-one-port.toml"
    text = (ROOT / "conformance" / "systems" / "kodak.toml").read_text()
    system.write_text(text.replace("port = 11113", "port = 11112"))
    process, lines = await _serve(
        "--system", str(system), "--host", "127.0.0.1", "--any-port", "--no-fsync",
        "--root", str(tmp_path), "--no-uvloop",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        ports = {int(line.split()[-1]) for line in lines if "listening on" in line}
        assert len(ports) == 1, lines
        port = str(ports.pop())
        for title in ("DISK_SERVER", "MEMORY_SERVER"):
            code, output = await run_program(echoscu, "-aec", title, "127.0.0.1", port)
            assert code == 0, output
        code, output = await run_program(echoscu, "-v", "-aec", "NOBODY", "127.0.0.1", port)
        assert code != 0
        assert "Called AE Title Not Recognized" in output, output
    finally:
        assert await _stop(process) == 0


async def test_single_ae_options_conflict_with_system(tmp_path: Path) -> None:
    process, _ = await _serve("--system", "lifesys", "--port", "4000", cwd=tmp_path)
    assert await process.wait() == 2
    assert process.stderr is not None
    assert b"--port" in await process.stderr.read()
    process, _ = await _serve("--system", "nope", cwd=tmp_path)
    assert await process.wait() == 2


async def test_stored_instance_is_moved_at_once_with_movescu(tmp_path: Path) -> None:
    storescu, movescu = dcmtk_program("storescu"), dcmtk_program("movescu")
    receive_port = free_port()
    process, lines = await _serve(
        "--system", "lifesys", "--host", "127.0.0.1", "--any-port", "--no-fsync",
        "--root", str(tmp_path), "--no-uvloop",
        "--destination", f"MOVESCU=127.0.0.1:{receive_port}",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        port = next(line.split()[-1] for line in lines if line.startswith("QR_SCP"))
        ct = get_testdata_file("CT_small.dcm")
        assert ct is not None
        code, output = await run_program(storescu, "-aec", "STORE_SCP", "127.0.0.1", port, ct)
        assert code == 0, output
        received = tmp_path / "received"
        received.mkdir()
        code, output = await run_program(
            movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "QR_SCP", "-aem", "MOVESCU",
            "--port", str(receive_port), "-od", str(received),
            "-k", "QueryRetrieveLevel=STUDY",
            "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
            "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, output
        assert "Received Store Request (MsgID 1, CT)" in output, output
        assert "Received Final Move Response (Success)" in output, output
        assert len(list(received.iterdir())) == 1
    finally:
        assert await _stop(process) == 0


async def test_a_root_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    root = tmp_path / "file"
    root.write_text("not a folder")
    process, _ = await _serve(
        "--system", "meddream", "--host", "127.0.0.1", "--any-port", "--root", str(root),
        cwd=tmp_path,
    )  # fmt: skip
    assert await process.wait() == 2
    assert process.stderr is not None
    assert b"meddream.toml: resources:" in await process.stderr.read()
