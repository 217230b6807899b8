"""MedDream Storage Client example: store files, request Storage Commitment, wait for the report.

The Storage Server is a dicomnet AE in the test's event loop (the MedDream Storage
Server profile, a memory store and a :class:`CommitmentSCP`); the example runs as a
child process.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dicomnet.ae import AE, Server
from dicomnet.conformance import load_profile
from dicomnet.services.commitment import (
    CommitmentSCP,
    FailureReason,
    InstanceRef,
    ReportMode,
    store_verdict,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore

from .support import EXAMPLES, ROOT, TIMEOUT, make_dataset, write_instance

CLIENT = "DCMSND"


@dataclass
class Archive:
    server: Server
    store: MemoryStore
    scp: CommitmentSCP
    #: Set once the client's report listener port is known: the verdict waits for it.
    ready: asyncio.Event
    #: SOP Instance UIDs the verdict pretends were lost.
    lost: set[str]


@pytest.fixture
async def archive() -> AsyncIterator[Archive]:
    policy = load_profile("meddream-storage-server").policy()
    ae = AE(policy.ae_title, policy)
    store = MemoryStore()
    ready = asyncio.Event()
    lost: set[str] = set()
    in_store = store_verdict(store)

    async def verdict(ref: InstanceRef) -> int | None:
        await ready.wait()
        if ref.sop_instance_uid in lost:
            return FailureReason.NO_SUCH_OBJECT_INSTANCE
        return in_store(ref)  # type: ignore[return-value]

    scp = CommitmentSCP(verdict, requestor=ae)
    ae.add_handler(StorageService(store))
    ae.add_handler(scp)
    async with await ae.serve("127.0.0.1", 0) as server:
        yield Archive(server, store, scp, ready, lost)
        scp.close()


def files(folder: Path, count: int) -> tuple[list[Path], list[str]]:
    paths, uids = [], []
    for number in range(count):
        ds = make_dataset(instance_number=number)
        paths.append(write_instance(ds, folder / f"{number}.dcm"))
        uids.append(str(ds.SOPInstanceUID))
    return paths, uids


async def run_client(archive: Archive, *args: str | Path) -> tuple[int, str]:
    """Run the example; when it prints its listener port, tell the archive where it is."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "meddream_storage_client.py"),
        "--port",
        str(archive.server.port),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        "0",
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            async for raw in process.stdout:
                line = raw.decode(errors="replace")
                lines.append(line)
                if line.startswith("report listener on "):
                    port = int(line.split()[-1])
                    archive.scp.destinations[CLIENT] = ("127.0.0.1", port)
                    archive.ready.set()
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, "".join(lines)


async def test_stores_and_gets_the_report_on_the_same_association(
    archive: Archive, tmp_path: Path
) -> None:
    paths, uids = files(tmp_path, 2)
    code, out = await run_client(archive, "--commit", *paths)
    assert code == 0, out
    assert sorted(archive.store.instances) == sorted(uids)
    assert "committed 2, failed 0" in out
    await archive.scp.drain()
    assert [len(r.committed) for r in archive.scp.reported] == [2]


async def test_report_on_a_new_association_with_a_failure(archive: Archive, tmp_path: Path) -> None:
    archive.scp.mode = ReportMode.NEW
    paths, uids = files(tmp_path, 3)
    archive.lost.add(uids[1])
    code, out = await run_client(archive, "--commit", *paths)
    assert code == 1, out
    assert f"not committed: {uids[1]} (failure reason 0x0112)" in out
    assert "committed 2, failed 1" in out


async def test_no_report_in_time(archive: Archive, tmp_path: Path) -> None:
    archive.scp.mode = ReportMode.NEW
    archive.scp.requestor = None  # the archive cannot open the report association
    paths, _ = files(tmp_path, 1)
    code, out = await run_client(archive, "--commit", "--commit-timeout", "0.5", *paths)
    assert code == 5, out
    assert "no commitment report in time" in out
