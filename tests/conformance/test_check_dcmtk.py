"""``dicomnet conformance check`` against DCMTK's storescp (a real, independent peer)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port, wait_port_open

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


async def test_meddream_storage_client_contexts_against_storescp() -> None:
    storescp = dcmtk_program("storescp")
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        storescp, "-aet", "STORESCP", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(wait_port_open("127.0.0.1", port), 20)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dicomnet.cli.main", "conformance", "check",
            "meddream-storage-client", "--host", "127.0.0.1", "--port", str(port),
            "--called-ae", "STORESCP",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        out_bytes, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        server.terminate()
        await server.wait()
    out = out_bytes.decode()
    # storescp accepts the uncompressed syntaxes only (without +xa) and knows no Storage
    # Commitment: some contexts are refused, so the exit code is 1.
    assert process.returncode == 1, out
    assert (
        "accepted  CT Image Storage (1.2.840.10008.5.1.4.1.1.2): Implicit VR Little Endian"
        " (1.2.840.10008.1.2)"
    ) in out
    assert "accepted  Verification SOP Class (1.2.840.10008.1.1)" in out
    assert "rejected  Storage Commitment Push Model SOP Class" in out
    # MR is proposed twice (Implicit VR LE; JPEG Lossless): only the first is accepted.
    mr = [line for line in out.splitlines() if "(1.2.840.10008.5.1.4.1.1.4)" in line]
    assert len(mr) == 2 and mr[0].startswith("accepted") and mr[1].startswith("rejected"), out
    assert "of 21 presentation contexts accepted" in out
