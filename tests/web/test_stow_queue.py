"""STOW-RS goes through the same ingest as C-STORE: a system's send queue forwards it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from sendqueue.flaky import Destination
from sendqueue.forward import HOST_DEST, data_set_bytes, make_files, wait_for_states, write_system

from dicomnet.cli import serve as cli_serve
from dicomnet.cli.system import serve_system
from dicomnet.queue import JobState
from dicomnet.systems import RunningSystem

BOUNDARY = "queue-boundary"


async def test_stow_instances_are_queued_and_forwarded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = Destination(tmp_path / "dest")
    dest_port = await dest.start()
    system = write_system(tmp_path)
    system.write_text(system.read_text() + "\n[http]\nport = 0\n")
    args = cli_serve.build_parser().parse_args(
        ["--system", str(system), "--root", str(tmp_path), "--any-port", "--no-fsync",
         "--destination", f"DEST={HOST_DEST}:{dest_port}"]
    )  # fmt: skip
    stop = asyncio.Event()
    ready: asyncio.Future[RunningSystem] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(serve_system(args, ready=ready.set_result, stop=stop))
    files = make_files(tmp_path / "src", 3)
    try:
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        assert ready.done(), task.result()
        found = re.search(r"http listening on (\d+)", capsys.readouterr().out)
        assert found
        body = (
            b"".join(
                f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                + path.read_bytes()
                + b"\r\n"
                for path in files
            )
            + f"--{BOUNDARY}--\r\n".encode()
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{found.group(1)}") as client:
            response = await client.post(
                "/dicomweb/studies",
                content=body,
                headers={
                    "Content-Type": (
                        f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
                    )
                },
            )
        assert response.status_code == 200, response.text
        queue = ready.result().queue
        assert queue is not None
        # The STOW-RS commits told the queue: no job waits for the stale-job poll.
        assert len(queue.store.handoff) == 0
        await wait_for_states(ready.result(), {JobState.SENT}, 3)
    finally:
        stop.set()
        assert await task == 0
        await dest.close()
    received = sorted(data_set_bytes(p) for p in (tmp_path / "dest").rglob("*") if p.is_file())
    assert received == sorted(data_set_bytes(f) for f in files)
