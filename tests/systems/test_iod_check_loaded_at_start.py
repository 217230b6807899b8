"""A system whose Storage SCP checks the IOD (DicomArk's Inbound Server) loads what the check
needs when it starts, not during its first C-STORE (a forwarding router paid a pydicom import
inside its first instance)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys
from dicomnet.systems import load_system, start_system

async def main(root):
    spec = load_system("dicomark")
    running = await start_system(spec, host="127.0.0.1", root=root, any_port=True, fsync=False)
    try:
        print("pydicom.uid" in sys.modules)
    finally:
        await running.close()

asyncio.run(main(sys.argv[1]))
"""


def test_the_iod_check_is_ready_before_the_first_instance(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr
