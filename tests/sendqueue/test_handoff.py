"""A router hands new jobs to its sender in the index's transaction and writes outcomes in
groups: no claiming transaction per batch, far fewer outcome writes than jobs."""

from __future__ import annotations

from pathlib import Path

from dicomnet.queue import Job, JobState
from dicomnet.queue.handoff import HandOff
from dicomnet.systems import RunningSystem
from sendqueue.flaky import Destination
from sendqueue.forward import HOST_DEST, make_files, send_files, start_router, wait_for_states


def _count_claims(running: RunningSystem) -> list[Job]:
    """The jobs claimed from the store from now on."""
    store = running.resources.queue_store
    assert store is not None
    claimed: list[Job] = []
    claim = store.claim

    async def counting_claim(destination: str, now: float, limit: int) -> list[Job]:
        jobs = await claim(destination, now, limit)
        claimed.extend(jobs)
        return jobs

    store.claim = counting_claim  # type: ignore[method-assign]
    return claimed


async def test_new_jobs_go_to_the_sender_without_a_claim(tmp_path: Path) -> None:
    dest = Destination(tmp_path / "dest")
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    queue = running.queue
    assert queue is not None
    claimed = _count_claims(running)
    writes = queue.outcomes.writes
    try:
        files = make_files(tmp_path / "src", 30)
        results = await send_files(running.ports["inbound"], files)
        assert all(r.ok for r in results)
        await wait_for_states(running, {JobState.SENT}, 30)
        groups = queue.outcomes.writes - writes
    finally:
        await running.close()
        await dest.close()
    assert claimed == []  # every job was handed over in the transaction of its row
    assert dest.requests == 30
    assert 1 <= groups < 30


async def test_a_full_sender_leaves_new_jobs_queued(tmp_path: Path) -> None:
    dest = Destination(tmp_path / "dest")
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    queue = running.queue
    assert queue is not None
    claimed = _count_claims(running)
    queue.senders["dest"].capacity = 0  # takes nothing over: the jobs are queued and claimed
    try:
        results = await send_files(running.ports["inbound"], make_files(tmp_path / "src", 5))
        assert all(r.ok for r in results)
        await wait_for_states(running, {JobState.SENT}, 5)
    finally:
        await running.close()
        await dest.close()
    assert dest.requests == 5
    uids = sorted(r.sop_instance_uid for r in results)
    assert sorted(j.sop_instance_uid for j in claimed) == uids


def test_a_commit_that_failed_forgets_its_jobs() -> None:
    handoff = HandOff()
    job = Job(1, "1.2.3", "1.2", "dest", "/x", 1, JobState.SENDING, 0, 0.0, None, "", 0.0, 0.0)
    handoff.keep(job)
    handoff.forget("1.2.3")
    assert handoff.pop("1.2.3") == []
    handoff.keep(job)
    assert handoff.pop("1.2.3") == [job]


def test_jobs_nobody_popped_go_to_the_sender_after_a_while() -> None:
    # An instance stored by a path that does not tell the queue of its commit (STOW-RS).
    handoff = HandOff()
    job = Job(1, "1.2.3", "1.2", "dest", "/x", 1, JobState.SENDING, 0, 0.0, None, "", 0.0, 0.0)
    handoff.keep(job)
    assert handoff.stale(3600.0) == []  # not yet
    assert handoff.stale(-1.0) == [job]
    assert handoff.pop("1.2.3") == []
