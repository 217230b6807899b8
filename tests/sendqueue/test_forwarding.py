"""The send queue of a system forwards what the Inbound Server stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from dicomnet.queue import Job, JobState
from dicomnet.systems import RunningSystem
from sendqueue.flaky import Destination, FlakyProxy
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


async def _flaky(
    tmp_path: Path, **options: object
) -> tuple[Destination, FlakyProxy, RunningSystem]:
    dest = Destination(tmp_path / "dest", reject=int(options.pop("reject", 0)))  # type: ignore[call-overload]
    port = await dest.start()
    proxy = FlakyProxy((HOST_DEST, port))
    await proxy.start()
    running = await start_router(tmp_path, (HOST_DEST, proxy.port), **options)
    return dest, proxy, running


async def _close(dest: Destination, proxy: FlakyProxy, running: RunningSystem) -> None:
    await running.close()
    await proxy.close()
    await dest.close()


def _received(tmp_path: Path) -> list[bytes]:
    return sorted(data_set_bytes(p) for p in (tmp_path / "dest").rglob("*") if p.is_file())


async def _jobs(running: RunningSystem) -> list[Job]:
    store = running.resources.queue_store
    assert store is not None
    return await store.jobs(limit=10_000)


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def _some_failed(running: RunningSystem, attempts: int = 2) -> bool:
    return any(j.attempts >= attempts and j.state is JobState.FAILED for j in await _jobs(running))


@pytest.mark.parametrize("mode", ["refuse", "drop", "stall"])
async def test_a_flaky_connection_delays_but_loses_nothing(tmp_path: Path, mode: str) -> None:
    dest, proxy, running = await _flaky(tmp_path, send_timeout=0.5)
    proxy.mode = mode
    proxy.cut = 20_000  # into the data set of the first instance (about 32 KB each)
    try:
        files = make_files(tmp_path / "src", 10, rows=128)
        results = await send_files(running.ports["inbound"], files)
        assert all(r.ok for r in results)
        await _until(lambda: _some_failed(running))
        failed = [j for j in await _jobs(running) if j.state is JobState.FAILED]
        assert failed and all(j.error for j in failed)
        if mode == "stall":
            assert any("send timeout: no DIMSE answer within 0.5 s" in j.error for j in failed)
        proxy.mode = "pass"
        await wait_for_states(running, {JobState.SENT}, 10)
        jobs = await _jobs(running)
    finally:
        await _close(dest, proxy, running)
    assert max(j.attempts for j in jobs) >= 2  # retried
    assert all(j.state is JobState.SENT and j.last_status == 0 for j in jobs)
    assert _received(tmp_path) == sorted(data_set_bytes(f) for f in files)


async def test_a_destination_rejecting_for_a_while(tmp_path: Path) -> None:
    dest, proxy, running = await _flaky(tmp_path, reject=4)
    try:
        files = make_files(tmp_path / "src", 6)
        assert all(r.ok for r in await send_files(running.ports["inbound"], files))
        await wait_for_states(running, {JobState.SENT}, 6)
        jobs = await _jobs(running)
    finally:
        await _close(dest, proxy, running)
    assert dest.requests == 6 + 4
    # Each rejection is one failed attempt of one job: 4 extra attempts in all.
    assert sum(j.attempts for j in jobs) == 6 + 4
    assert _received(tmp_path) == sorted(data_set_bytes(f) for f in files)


async def test_error_after_max_attempts_then_retry_requeues(tmp_path: Path) -> None:
    dest, proxy, running = await _flaky(tmp_path, max_attempts=3)
    proxy.mode = "refuse"
    store = running.resources.queue_store
    assert store is not None
    try:
        files = make_files(tmp_path / "src", 5)
        assert all(r.ok for r in await send_files(running.ports["inbound"], files))
        await wait_for_states(running, {JobState.ERROR}, 5)
        jobs = await _jobs(running)
        assert all(j.attempts == 3 and "cannot associate" in j.error for j in jobs)
        assert proxy.connections >= 3  # one connection per attempt (all jobs in one batch)
        proxy.mode = "pass"
        assert await store.retry(destination="dest", now=time.time()) == 5
        running.queue.wake() if running.queue else None
        await wait_for_states(running, {JobState.SENT}, 5)
    finally:
        await _close(dest, proxy, running)
    assert _received(tmp_path) == sorted(data_set_bytes(f) for f in files)


async def test_pause_holds_the_jobs_and_resume_sends_them(tmp_path: Path) -> None:
    dest, proxy, running = await _flaky(tmp_path)
    store = running.resources.queue_store
    assert store is not None
    try:
        # As `dicomnet queue pause` does from another process: the server sees it at its poll.
        await store.set_paused("dest", True)
        await asyncio.sleep(0.5)  # more than the poll (0.2 s)
        assert running.queue is not None
        sender = running.queue.senders["dest"]
        looks = 0
        paused = sender.is_paused

        def counted(name: str) -> bool:
            nonlocal looks
            looks += 1
            return paused(name)

        sender.is_paused = counted
        files = make_files(tmp_path / "src", 4)
        assert all(r.ok for r in await send_files(running.ports["inbound"], files))
        await asyncio.sleep(0.5)
        # A paused sender looks once a poll; the wakes of new jobs do not make it spin.
        assert looks <= 8
        assert {j.state for j in await _jobs(running)} == {JobState.QUEUED}
        assert proxy.connections == 0 and dest.requests == 0
        await store.set_paused("dest", False)
        await wait_for_states(running, {JobState.SENT}, 4)
    finally:
        await _close(dest, proxy, running)
    assert _received(tmp_path) == sorted(data_set_bytes(f) for f in files)
