"""The send queue of a system forwards what the Inbound Server stores."""

from __future__ import annotations

from pathlib import Path

from dicomnet.queue import JobState
from sendqueue.flaky import Destination
from sendqueue.forward import (
    HOST_DEST,
    data_set_bytes,
    make_files,
    send_files,
    start_router,
    wait_for_states,
)


async def test_every_instance_is_forwarded_byte_identical(tmp_path: Path) -> None:
    dest = Destination(tmp_path / "dest")
    port = await dest.start()
    running = await start_router(tmp_path, (HOST_DEST, port))
    try:
        files = make_files(tmp_path / "src", 12)
        results = await send_files(running.ports["inbound"], files)
        assert all(r.ok for r in results)
        await wait_for_states(running, {JobState.SENT}, 12)
    finally:
        await running.close()
        await dest.close()
    received = {p.name: data_set_bytes(p) for p in (tmp_path / "dest").rglob("*") if p.is_file()}
    assert len(received) == 12
    sent = sorted(data_set_bytes(f) for f in files)
    assert sorted(received.values()) == sent
