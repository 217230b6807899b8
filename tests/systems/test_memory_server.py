"""The in-memory Storage SCP: bounded by a memory limit (A700 past it, Kodak Memory-Server
§3.2.3.2.2), and its images found and retrieved while it runs (DCMTK peers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from helpers.programs import run_program
from pydicom.data import get_testdata_file

from dicomnet.systems import load_system, start_system

SYSTEM = """
[system]
name = "memory"
[resources]
index = false
[destinations]
MOVESCU = "127.0.0.1:{move_port}"
[[ae]]
name = "memory"
profile = "{profile}"
port = 0
services = {services}
memory_limit = {limit}
"""


def _system(tmp_path: Path, profile: str, services: str, limit: int, move_port: int = 1) -> Path:
    path = tmp_path / "memory.toml"
    path.write_text(
        SYSTEM.format(profile=profile, services=services, limit=limit, move_port=move_port)
    )
    return path


async def test_memory_limit_answers_the_profiles_failure(tmp_path: Path) -> None:
    storescu = dcmtk_program("storescu")
    ct, mr = get_testdata_file("CT_small.dcm"), get_testdata_file("MR_small.dcm")
    assert ct is not None and mr is not None
    spec = load_system(_system(tmp_path, "kodak-memory-server", '["memory-storage"]', 45_000))
    running = await start_system(spec, host="127.0.0.1", root=tmp_path)
    try:
        port = str(running.ports["memory"])
        code, out = await run_program(storescu, "-aec", "MEMORY_SERVER", "127.0.0.1", port, ct)
        assert code == 0, out  # about 40 KB: held
        code, out = await run_program(
            storescu, "-v", "-aec", "MEMORY_SERVER", "127.0.0.1", port, mr
        )
        assert "Refused: OutOfResources" in out or "0xa700" in out.lower(), out
        store = running.memory_store("memory")
        assert len(store) == 1 and store.held_bytes <= 45_000
        assert store.receiving_bytes == 0  # the refused one left nothing behind
    finally:
        await running.close()


async def test_memory_held_images_are_found_and_moved(tmp_path: Path) -> None:
    storescu, findscu, movescu = (dcmtk_program(p) for p in ("storescu", "findscu", "movescu"))
    ct = get_testdata_file("CT_small.dcm")
    assert ct is not None
    move_port = free_port()
    path = _system(tmp_path, "dicomnet-serve", '["memory-storage", "qr"]', 10_000_000, move_port)
    running = await start_system(load_system(path), host="127.0.0.1", root=tmp_path)
    try:
        port = str(running.ports["memory"])
        code, out = await run_program(storescu, "-aec", "DICOMNET", "127.0.0.1", port, ct)
        assert code == 0, out
        code, out = await run_program(
            findscu, "-v", "-S", "-aec", "DICOMNET", "-k", "QueryRetrieveLevel=STUDY",
            "-k", "StudyInstanceUID", "-k", "PatientName", "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        assert "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" in out, out
        received = tmp_path / "received"
        received.mkdir()
        code, out = await run_program(
            movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "DICOMNET", "-aem", "MOVESCU",
            "--port", str(move_port), "-od", str(received),
            "-k", "QueryRetrieveLevel=STUDY",
            "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
            "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        assert len(list(received.iterdir())) == 1, out
    finally:
        await running.close()


@pytest.mark.parametrize("limit", [0])
def test_memory_limit_must_be_positive(tmp_path: Path, limit: int) -> None:
    from dicomnet.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="memory_limit"):
        load_system(_system(tmp_path, "kodak-memory-server", '["memory-storage"]', limit))
