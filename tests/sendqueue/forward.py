"""Shared pieces of the forwarding tests: a system with a send queue, instances to store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from pydicom.uid import generate_uid

from dicomnet.ae import AE
from dicomnet.queue import JobState
from dicomnet.storage.scu import StoreResult, proposed_contexts_for, store_all
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.systems import RunningSystem, load_system, start_system

HOST_DEST = "127.0.0.1"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

SYSTEM = """
[system]
name = "router"
[resources]
store = "inbox"
index = true
{resources_extra}
[queue]
profile = "dicomark-send-queue"
mode = "{mode}"
poll = 0.2
[[queue.destination]]
name = "dest"
ae_title = "DEST"
max_attempts = {max_attempts}
backoff = {backoff}
backoff_max = 1.0
jitter = 0.0
send_timeout = {send_timeout}
{extra}
[[queue.route]]
to = ["dest"]
[[ae]]
name = "inbound"
profile = "dicomark-inbound"
port = 0
services = ["storage"]
{ae_extra}
"""


def write_system(
    folder: Path,
    *,
    mode: str = "async",
    max_attempts: int = 5,
    backoff: float = 0.05,
    send_timeout: float = 5.0,
    extra: str = "",
    ae_extra: str = "",
    resources_extra: str = "",
) -> Path:
    path = folder / "router.toml"
    path.write_text(
        SYSTEM.format(
            mode=mode,
            max_attempts=max_attempts,
            backoff=backoff,
            send_timeout=send_timeout,
            extra=extra,
            ae_extra=ae_extra,
            resources_extra=resources_extra,
        )
    )
    return path


async def start_router(
    folder: Path, destination: tuple[str, int], **options: object
) -> RunningSystem:
    spec = load_system(write_system(folder, **options))  # type: ignore[arg-type]
    return await start_system(
        spec, host="127.0.0.1", root=folder, fsync=False, destinations=[("DEST", destination)]
    )


def make_files(
    folder: Path, count: int, *, syntax: str = EXPLICIT_LE, rows: int = 32
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        ds = make_image(rows=rows, columns=rows, seed=n, sop_instance_uid=generate_uid())
        path = folder / f"{n:04d}.dcm"
        write_part10(path, ds, syntax)
        files.append(path)
    return files


async def send_files(
    port: int, files: Sequence[Path], called: str = "DICOMARK"
) -> list[StoreResult]:
    sources = [InstanceSource.from_path(f) for f in files]
    contexts = proposed_contexts_for(sources, (EXPLICIT_LE, IMPLICIT_LE))
    async with AE("SOURCE").associate(
        "127.0.0.1", port, called_ae=called, contexts=contexts
    ) as association:
        return await store_all(association, sources)


async def wait_for_states(
    running: RunningSystem, wanted: set[JobState], count: int, timeout: float = 60.0
) -> None:
    """Until ``count`` jobs are in one of ``wanted`` (fails the test after ``timeout``)."""
    store = running.resources.queue_store
    assert store is not None

    async def done() -> bool:
        counts = await store.counts()
        return sum(c.counts[s.value] for c in counts for s in wanted) >= count

    async with asyncio.timeout(timeout):
        while not await done():
            await asyncio.sleep(0.05)


def data_set_bytes(path: Path) -> bytes:
    """The data set of a Part 10 file (what follows the file meta information)."""
    source = InstanceSource.from_path(path)
    return b"".join(source.chunks())
