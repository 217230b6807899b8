"""Running external peer programs (DCMTK tools) from async tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

#: The repository root (programs run there, so relative paths resolve alike).
ROOT = Path(__file__).resolve().parents[2]


async def run_program(*argv: str, timeout: float = 30) -> tuple[int, str]:
    """Run a program to completion; return its exit code and combined output."""
    process = await start_program(*argv)
    return await finish_program(process, timeout=timeout)


async def start_program(*argv: str) -> asyncio.subprocess.Process:
    """Start a program with stdout and stderr captured together."""
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT
    )


async def finish_program(
    process: asyncio.subprocess.Process, *, timeout: float = 30
) -> tuple[int, str]:
    """Wait for a started program (killed after ``timeout``); its exit code and output."""
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
