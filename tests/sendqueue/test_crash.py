"""kill -9 of ``dicomnet serve --system dicomark`` at random points while it receives and
forwards: after a restart, every instance it acknowledged reaches the destination (DCMTK
storescp). Nothing acknowledged is lost; duplicates at the destination are allowed.

A client stores INSTANCES instances, paced so that the run spans the kills, and sends again
whatever was not acknowledged when the server died. The server is killed KILLS times, each
time at a random moment (0-0.6 s) after it said it was ready, while it ingests and forwards;
then it runs until the queue is empty. ``--no-fsync``: kill -9 ends the process, not the
machine, so what SQLite (WAL) and the files wrote survives without syncs.

QUEUE_CRASH_KILLS / QUEUE_CRASH_INSTANCES override the counts (default 100 and 500). The
same runs with the index (and the jobs) in PostgreSQL: the system file with ``index_url``
(a fifth of the kills and instances, to keep the suite's time).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port, wait_port_open
from helpers.programs import ROOT
from pydicom import dcmread

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError
from dicomnet.storage.scu import proposed_contexts_for, store_many
from dicomnet.storage.source import InstanceSource
from sendqueue.forward import EXPLICIT_LE, IMPLICIT_LE, make_files

pytestmark = [pytest.mark.interop, pytest.mark.slow]

KILLS = int(os.environ.get("QUEUE_CRASH_KILLS", "100"))
INSTANCES = int(os.environ.get("QUEUE_CRASH_INSTANCES", "500"))
#: Seconds between two stores of the client (spreads the instances over the kills).
CLIENT_PACE = 0.06
_MAIN = "import sys; from dicomnet.cli.main import main; sys.exit(main())"


class Server:
    """The router process, restarted after each kill; ``port`` is set while it runs."""

    def __init__(self, root: Path, destination: int, system: str = "dicomark") -> None:
        self.root = root
        self.destination = destination
        self.system = system
        self.port: int | None = None
        self.up = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        log = open(self.root / "serve.log", "ab")  # noqa: SIM115 (the child writes to it)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MAIN,
            "serve", "--system", self.system, "--root", str(self.root), "--any-port",
            "--host", "127.0.0.1", "--no-fsync", "--no-uvloop",
            "--destination", f"BACKUP=127.0.0.1:{self.destination}",
            stdout=asyncio.subprocess.PIPE, stderr=log, cwd=self.root,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        log.close()
        assert self.process.stdout is not None
        port = None
        async with asyncio.timeout(60):
            while True:
                line = (await self.process.stdout.readline()).decode()
                assert line, f"server ended: {(self.root / 'serve.log').read_text()[-2000:]}"
                if "listening on" in line:
                    port = int(line.rsplit(" ", 1)[1])
                if line.startswith("ready:"):
                    break
        self.port = port
        self.starts += 1
        self.up.set()

    async def kill(self) -> None:
        self.up.clear()
        self.port = None
        assert self.process is not None
        self.process.kill()  # SIGKILL
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def _client(server: Server, files: list[Path], acknowledged: set[str]) -> None:
    sources = {InstanceSource.from_path(f).sop_instance_uid: f for f in files}
    while len(acknowledged) < len(sources):
        await server.up.wait()
        port = server.port
        if port is None:
            continue
        pending = [InstanceSource.from_path(f) for u, f in sources.items() if u not in acknowledged]
        contexts = proposed_contexts_for(pending, (EXPLICIT_LE, IMPLICIT_LE))
        try:
            async with AE("MODALITY").associate(
                "127.0.0.1", port, called_ae="DICOMARK", contexts=contexts
            ) as association:
                for source in pending:
                    async for result in store_many(association, [source], window=1):
                        if result.ok:
                            acknowledged.add(result.sop_instance_uid)
                    await asyncio.sleep(CLIENT_PACE)
        except (OSError, DicomNetError):
            await asyncio.sleep(0.05)  # the server died; wait for the next one


def _received(folder: Path) -> set[str]:
    uids = set()
    for path in folder.iterdir():
        try:
            uids.add(str(dcmread(path, stop_before_pixels=True).SOPInstanceUID))
        except Exception:  # a file storescp is still writing
            continue
    return uids


async def test_kill_9_at_random_points_loses_no_acknowledged_instance(
    tmp_path: Path, index_location
) -> None:
    kills, instances, system = KILLS, INSTANCES, "dicomark"
    if isinstance(index_location, str):  # PostgreSQL: the system file names the database
        kills, instances = max(1, KILLS // 5), max(10, INSTANCES // 5)
        text = (ROOT / "conformance" / "systems" / "dicomark.toml").read_text()
        text = text.replace("[resources]\n", f'[resources]\nindex_url = "{index_location}"\n', 1)
        assert index_location in text
        system = str(tmp_path / "dicomark-postgresql.toml")
        Path(system).write_text(text)
    storescp = dcmtk_program("storescp")
    received = tmp_path / "received"
    received.mkdir()
    port = free_port()
    destination = await asyncio.create_subprocess_exec(
        storescp, "-od", str(received), "-aet", "BACKUP", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    rng = random.Random(20261205)
    files = make_files(tmp_path / "src", instances)
    server = Server(tmp_path, port, system)
    acknowledged: set[str] = set()
    try:
        await wait_port_open("127.0.0.1", port)
        await server.start()
        client = asyncio.ensure_future(_client(server, files, acknowledged))
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            await server.kill()
            await server.start()
        async with asyncio.timeout(300):
            await client
            while not acknowledged <= _received(received):
                await asyncio.sleep(0.25)
    finally:
        await server.stop()
        destination.kill()
        await destination.wait()
    assert server.starts == kills + 1
    assert len(acknowledged) == instances
    assert acknowledged <= _received(received)
