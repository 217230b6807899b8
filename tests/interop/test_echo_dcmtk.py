"""C-ECHO against DCMTK: echoscu -> dicomnet SCP, and ``dicomnet echo`` -> storescp."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from helpers.certs import make_certs
from helpers.peers import dcmtk_program, free_port, wait_port_open
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.policy import AETitlePolicy
from dicomnet.transport import server_tls_context

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


async def run_program(*argv: str, timeout: float = 30) -> tuple[int, str]:
    """Run a program to completion; return its exit code and combined output."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_echoscu_to_dicomnet() -> None:
    # Debian's DCMTK 3.6.7 client refuses IPv6 literals ("Illegal service parameter"), so
    # IPv6 interop is shown with pynetdicom (test_echo_pynetdicom.py) instead.
    echoscu = dcmtk_program("echoscu")
    async with await AE("DICOMNET").serve("127.0.0.1", 0) as server:
        code, out = await run_program(
            echoscu, "-aec", "DICOMNET", "-v", "127.0.0.1", str(server.port)
        )
    assert code == 0, out
    assert "Received Echo Response (Success)" in out


async def test_echoscu_rejected_for_wrong_called_ae() -> None:
    echoscu = dcmtk_program("echoscu")
    policy = make_policy("DICOMNET", ae_titles=AETitlePolicy(called_ae_titles=("DICOMNET",)))
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        code, out = await run_program(echoscu, "-aec", "NOBODY", "127.0.0.1", str(server.port))
    assert code != 0
    assert "Called AE Title Not Recognized" in out, out
    assert "Rejected Permanent" in out, out


async def test_echoscu_tls_to_dicomnet(tmp_path: Path) -> None:
    echoscu = dcmtk_program("echoscu")
    certs = make_certs(tmp_path)
    ctx = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    async with await AE("DICOMNET").serve("127.0.0.1", 0, ssl=ctx) as server:
        code, out = await run_program(
            echoscu,
            "-aec",
            "DICOMNET",
            "+tls",
            str(certs.client_key),
            str(certs.client_cert),
            "+cf",
            str(certs.ca),
            "-v",
            "127.0.0.1",
            str(server.port),
        )
    assert code == 0, out
    assert "Received Echo Response (Success)" in out


async def test_dicomnet_echo_cli_to_storescp() -> None:
    storescp = dcmtk_program("storescp")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        storescp,
        "-aet",
        "STORESCP",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(wait_port_open("127.0.0.1", port), 20)
        env_python = sys.executable
        code, out = await run_program(
            env_python,
            "-m",
            "dicomnet.cli.main",
            "echo",
            "-aec",
            "STORESCP",
            "--repeat",
            "2",
            "127.0.0.1",
            str(port),
        )
        assert code == 0, out
        assert out.count("C-ECHO response: 0x0000 (Success)") == 2
        # storescp accepts any called AE title but answers only Verification/Storage:
        # a wrong port is a connection error (exit 6), not a hang.
        code, out = await run_program(
            env_python, "-m", "dicomnet.cli.main", "echo", "127.0.0.1", str(free_port())
        )
        assert code == 6, out
    finally:
        process.terminate()
        await process.wait()


async def test_dicomnet_echo_cli_to_storescp_over_tls(tmp_path: Path) -> None:
    storescp = dcmtk_program("storescp")
    certs = make_certs(tmp_path)
    port = free_port()
    # storescp requires and verifies our client certificate by default (-rc).
    process = await asyncio.create_subprocess_exec(
        storescp,
        "-aet",
        "STORESCP",
        "+tls",
        str(certs.server_key),
        str(certs.server_cert),
        "+cf",
        str(certs.ca),
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(wait_port_open("127.0.0.1", port), 20)
        tls = ["--tls-ca", str(certs.ca), "--tls-cert", str(certs.client_cert)]
        code, out = await run_program(
            sys.executable,
            "-m",
            "dicomnet.cli.main",
            "echo",
            "-aec",
            "STORESCP",
            *tls,
            "--tls-key",
            str(certs.client_key),
            "localhost",
            str(port),
        )
        assert code == 0, out
        assert "C-ECHO response: 0x0000 (Success)" in out
        # Without a client certificate storescp refuses the handshake: a network failure.
        code, out = await run_program(
            sys.executable,
            "-m",
            "dicomnet.cli.main",
            "echo",
            "--tls-ca",
            str(certs.ca),
            "localhost",
            str(port),
        )
        assert code in (4, 6), out
    finally:
        process.terminate()
        await process.wait()
