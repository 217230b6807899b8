"""Crash consistency: the journal, reconcile, and kill -9 during concurrent stores."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program
from pydicom import dcmread
from query.fixtures import write_archive

from dicomnet.archive.backends import open_index
from dicomnet.archive.recover import reconcile
from dicomnet.storage.synthetic import make_image, write_part10

EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
ROOT = Path(__file__).resolve().parents[2]


async def test_reconcile_indexes_journaled_files_and_forgets_missing_ones(
    tmp_path: Path, index_location
) -> None:
    files = write_archive(tmp_path / "store")
    async with await open_index(index_location) as index:
        # A crash after the rename (file present) and one before it (file absent).
        await index.journal(str(files[0]), "uid-0")
        await index.journal(str(tmp_path / "store" / "gone.dcm"), "uid-gone")
    async with await open_index(index_location) as index:
        assert len(await index.journaled()) == 2
        report = await reconcile(index)
        assert report.indexed == [str(files[0])]
        assert report.forgotten == [str(tmp_path / "store" / "gone.dcm")]
        assert await index.journaled() == []
        assert await index.count() == 1


def _write_batch(folder: Path, prefix: str, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        ds = make_image(rows=8, columns=8, sop_class_uid=CT, seed=n)
        ds.SOPInstanceUID = f"{prefix}.{n + 1}"
        ds.PatientID = "CRASH"
        ds.StudyInstanceUID = f"{prefix}.0"
        ds.SeriesInstanceUID = f"{prefix}.0.1"
        write_part10(folder / f"{n}.dcm", ds, EXPLICIT_LE)


def _acknowledged(output: str) -> set[str]:
    """SOP Instance UIDs storescu -v reports a Success response for."""
    acked: set[str] = set()
    current: str | None = None
    for line in output.splitlines():
        sent = re.search(r"Sending file: (\S+)", line)
        if sent:
            current = sent.group(1)
        elif "Received Store Response (Success)" in line and current is not None:
            acked.add(str(dcmread(current, stop_before_pixels=True).SOPInstanceUID))
            current = None
    return acked


async def _start_serve(
    store: Path, layout: str = "flat", index: object = None
) -> tuple[asyncio.subprocess.Process, int]:
    options = ["--index", index] if isinstance(index, str) else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dicomnet.cli.main import main; sys.exit(main())",
        "serve", "--port", "0", "--host", "127.0.0.1", "--output", str(store), "--no-uvloop",
        "--layout", layout, *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    match = re.match(rb"listening on (\d+)", line)
    assert match, line
    return process, int(match.group(1))


def _stored_files(store: Path) -> set[Path]:
    """The instance files in ``store`` (not in its dot folders)."""
    return {p for p in store.rglob("*.dcm") if p.relative_to(store).parts[0][0] != "."}


async def _first_file(store: Path, before: set[Path]) -> None:
    """Wait until ``store`` holds an instance file not in ``before``."""
    async with asyncio.timeout(60):
        while _stored_files(store) <= before:
            await asyncio.sleep(0.01)


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("layout", ["flat", "hierarchical"])
async def test_kill_9_during_concurrent_stores_leaves_index_and_folder_in_agreement(
    tmp_path: Path, layout: str, index_location
) -> None:
    if not isinstance(index_location, str):
        index_location = tmp_path / "store" / ".index" / "index.sqlite"
    storescu = dcmtk_program("storescu")
    store = tmp_path / "store"
    acknowledged: set[str] = set()
    rng = random.Random(9)
    for round_ in range(3):
        sources = []
        for client in range(3):
            folder = tmp_path / f"r{round_}c{client}"
            _write_batch(folder, f"1.2.826.0.1.3680043.8.498.55.{round_}.{client}", 25)
            sources.append(folder)
        server, port = await _start_serve(store, layout, index_location)
        clients = [
            await asyncio.create_subprocess_exec(
                storescu,
                "-v",
                "-aec",
                "DICOMNET",
                "127.0.0.1",
                str(port),
                "+sd",
                str(folder),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for folder in sources
        ]
        # Kill at a random point after the first instance is in (a loaded machine may
        # take longer than any fixed delay to start the clients).
        await _first_file(store, before=_stored_files(store))
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        server.send_signal(signal.SIGKILL)
        await server.wait()
        for client in clients:
            out, _ = await asyncio.wait_for(client.communicate(), 60)
            acknowledged |= _acknowledged(out.decode("utf-8", "replace"))
        # Restart: reconcile runs before the server listens; then stop it cleanly.
        server, _ = await _start_serve(store, layout, index_location)
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 30) == 0
        async with await open_index(index_location) as index:
            assert await index.journaled() == []
            rows = {uid: path for uid, path in await index.paths_since(0)}
        on_disk = _stored_files(store)
        assert list((store / ".incoming").iterdir()) == [], "nothing left half done"
        assert acknowledged <= set(rows), "every acknowledged instance is indexed"
        assert all(Path(path).is_file() for path in rows.values()), "no row without its file"
        assert {Path(path) for path in rows.values()} == on_disk, "no file without its row"
    assert acknowledged, "some stores were acknowledged before the kills"
