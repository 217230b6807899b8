"""The job stores (SQLite, PostgreSQL): jobs commit with the index row; claim, outcomes, retry,
purge, pause."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from dicomnet.archive.backends import AnyIndex, open_index
from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.queue import JobState, Outcome
from dicomnet.queue.owner import LEASE
from dicomnet.queue.stores import AnyQueueStore, open_queue_store


def _entry(n: int, *to: str) -> IndexEntry:
    return IndexEntry(
        sop_instance_uid=f"1.2.3.{n}",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        path=f"/x/{n}.dcm",
        size=100 + n,
        columns={"patient_id": "P", "study_uid": "1.9", "series_uid": "1.9.1"},
        forward_to=to,
    )


async def _open(location: object) -> tuple[AnyIndex, AnyQueueStore]:
    index = await open_index(location, fsync=False)  # type: ignore[arg-type]
    return index, await open_queue_store(index)


async def test_jobs_are_written_in_the_transaction_of_the_row(index_location) -> None:
    index, store = await _open(index_location)
    commits = index.commits
    try:
        await index.put_many([_entry(1, "a", "b"), _entry(2, "a"), _entry(3)])
        assert index.commits == commits + 1  # rows and jobs: one transaction
        jobs = await store.jobs()
        assert sorted((j.sop_instance_uid, j.destination) for j in jobs) == [
            ("1.2.3.1", "a"),
            ("1.2.3.1", "b"),
            ("1.2.3.2", "a"),
        ]
        assert {j.state for j in jobs} == {JobState.QUEUED}
    finally:
        await store.close()
        await index.close()


async def test_a_row_that_fails_takes_its_jobs_with_it(index_location) -> None:
    index, store = await _open(index_location)

    def fail(conn: sqlite3.Connection, entries: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    async def fail_async(conn: object, entries: object) -> None:
        raise OSError("disk I/O error")

    hook = fail if isinstance(index, SqliteIndex) else fail_async
    index.row_hooks.append(hook)  # type: ignore[arg-type]
    try:
        with pytest.raises(OSError):
            await index.put(_entry(1, "a"))
        index.row_hooks.remove(hook)  # type: ignore[arg-type]
        assert await store.jobs() == []
        assert await index.count() == 0
    finally:
        await store.close()
        await index.close()


async def test_claim_finish_retry_purge_pause(index_location) -> None:
    index, store = await _open(index_location)
    try:
        await index.put_many([_entry(n, "a") for n in range(5)])
        now = time.time()
        claimed = await store.claim("a", now, 3)
        assert [j.sop_instance_uid for j in claimed] == ["1.2.3.0", "1.2.3.1", "1.2.3.2"]
        assert {j.state for j in await store.jobs(states=[JobState.SENDING])} == {JobState.SENDING}
        await store.finish(
            [
                Outcome(claimed[0].id, JobState.SENT, 1, status=0),
                Outcome(claimed[1].id, JobState.FAILED, 1, now + 60, status=0xA700, error="full"),
                Outcome(claimed[2].id, JobState.ERROR, 3, error="refused"),
            ],
            now,
        )
        # The failed job is not due yet; the two never claimed are.
        again = await store.claim("a", now, 10)
        assert [j.sop_instance_uid for j in again] == ["1.2.3.3", "1.2.3.4"]
        assert await store.next_due("a") == pytest.approx(now + 60)
        # A restart (a new owner in this process: the earlier one ended) puts what was
        # left in 'sending' back.
        restarted = await open_queue_store(index, enqueue=False)
        try:
            assert await restarted.requeue_sending() == 2
        finally:
            await restarted.close()
        assert await store.retry(destination="a", now=now) == 2
        failed = await store.job("1.2.3.1", "a")
        assert failed is not None and failed.state is JobState.QUEUED and failed.attempts == 0
        assert await store.purge(states=[JobState.SENT]) == 1
        await store.set_paused("a", True)
        assert await store.paused() == {"a"}
        (counts,) = await store.counts()
        assert counts.paused and counts.counts["queued"] == 4 and counts.counts["sent"] == 0
        await store.set_paused("a", False)
        assert await store.paused() == set()
    finally:
        await store.close()
        await index.close()


async def test_stored_again_requeues_and_ensure_adds_only_missing(index_location) -> None:
    index, store = await _open(index_location)
    try:
        await index.put(_entry(1, "a"))
        (job,) = await store.claim("a", time.time(), 5)
        await store.finish([Outcome(job.id, JobState.SENT, 1, status=0)], time.time())
        # Kept duplicate: the job it has stays as it is.
        await store.ensure(
            "1.2.3.1", sop_class_uid="1.2", path="/x", size=1, destinations=["a", "b"], now=0.0
        )
        sent = await store.job("1.2.3.1", "a")
        added = await store.job("1.2.3.1", "b")
        assert sent is not None and sent.state is JobState.SENT
        assert added is not None and added.state is JobState.QUEUED
        # Stored again (replaced): queued anew.
        await index.put(_entry(1, "a"))
        requeued = await store.job("1.2.3.1", "a")
        assert requeued is not None and requeued.state is JobState.QUEUED
        assert requeued.attempts == 0
    finally:
        await store.close()
        await index.close()


async def test_only_the_jobs_of_owners_that_are_gone_are_requeued(index_location) -> None:
    """Workers of ``serve --workers``: a restarted one takes back the jobs of a worker
    that ended (or whose lease ran out), never those of workers still running."""
    dead_pid = _pid_of_ended_process()
    host = socket.gethostname()
    index, writer = await _open(index_location)
    owners = {
        "running": f"{host}:{os.getppid()}:a",  # a live process of this host
        "ended": f"{host}:{dead_pid}:b",
        "elsewhere": "other-host:1:c",  # another host: only its lease tells
    }
    stores = {
        name: await open_queue_store(index, enqueue=False, owner=owner)
        for name, owner in owners.items()
    }
    restarted = await open_queue_store(index, enqueue=False)
    try:
        await index.put_many([_entry(n, "a") for n in range(4)])
        now = time.time()
        held = {name: (await store.claim("a", now, 1))[0] for name, store in stores.items()}
        assert await restarted.requeue_sending(now) == 1
        states = {name: await _state(writer, job.id) for name, job in held.items()}
        assert states == {
            "running": JobState.SENDING,
            "ended": JobState.QUEUED,
            "elsewhere": JobState.SENDING,
        }
        # The running worker renews its lease; the other host does not: past the lease,
        # only the other host's job is taken back.
        assert await stores["running"].renew(now + LEASE / 2) == 1
        assert await restarted.requeue_sending(now + LEASE + 1) == 1
        assert await _state(writer, held["elsewhere"].id) is JobState.QUEUED
        assert await _state(writer, held["running"].id) is JobState.SENDING
        # An outcome from an owner whose job was taken back changes nothing; the
        # owner's own outcome is recorded.
        await stores["ended"].finish([Outcome(held["ended"].id, JobState.SENT, 1)], now)
        assert await _state(writer, held["ended"].id) is JobState.QUEUED
        await stores["running"].finish([Outcome(held["running"].id, JobState.SENT, 1)], now)
        assert await _state(writer, held["running"].id) is JobState.SENT
    finally:
        for store in (*stores.values(), restarted, writer):
            await store.close()
        await index.close()


def _pid_of_ended_process() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def _state(store: AnyQueueStore, job_id: int) -> JobState:
    (job,) = await store.jobs(job_ids=[job_id])
    return job.state


async def test_jobs_handed_over_are_written_sending_in_the_rows_transaction(
    index_location,
) -> None:
    index, store = await _open(index_location)
    store.handoff.take = lambda destination: destination == "a"
    commits = index.commits
    try:
        await index.put_many([_entry(1, "a", "b"), _entry(2, "a")])
        assert index.commits == commits + 1
        handed = store.handoff.pop("1.2.3.1") + store.handoff.pop("1.2.3.2")
        assert sorted((j.sop_instance_uid, j.destination) for j in handed) == [
            ("1.2.3.1", "a"),
            ("1.2.3.2", "a"),
        ]
        states = {(j.sop_instance_uid, j.destination): j.state for j in await store.jobs()}
        assert states == {
            ("1.2.3.1", "a"): JobState.SENDING,
            ("1.2.3.2", "a"): JobState.SENDING,
            ("1.2.3.1", "b"): JobState.QUEUED,
        }
        # The jobs handed over are the rows as written, column for column.
        written = await store.jobs(job_ids=[j.id for j in handed])
        assert sorted(handed, key=lambda j: j.id) == sorted(written, key=lambda j: j.id)
        # Handed over jobs are this store's: its outcomes are recorded, nobody claims them.
        assert await store.claim("a", time.time(), 10) == []
        await store.finish([Outcome(handed[0].id, JobState.SENT, 1)], time.time())
        (sent,) = await store.jobs(job_ids=[handed[0].id])
        assert sent.state is JobState.SENT
        # The instance again: its job is written 'sending' anew (same id, created kept).
        await index.put_many([_entry(1, "a")])
        (again,) = store.handoff.pop("1.2.3.1")
        assert [again] == await store.jobs(job_ids=[handed[0].id])
        assert again.created == sent.created and again.attempts == 0
        assert again.state is JobState.SENDING and again.last_status is None
    finally:
        store.handoff.take = None
        await store.close()
        await index.close()
