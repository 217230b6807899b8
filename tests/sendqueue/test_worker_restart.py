"""``serve --workers``: a worker that starts (again) takes back only the jobs of workers that
have ended. Another process claims jobs and stays alive, then is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.queue import JobState
from dicomnet.queue.sqlite import SqliteQueueStore

WORKER = """
import asyncio, sys, time
from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.queue.sqlite import SqliteQueueStore

async def main(path):
    index = await SqliteIndex.open(path, fsync=False)
    store = await SqliteQueueStore.open(index, enqueue=False)
    jobs = await store.claim("dest", time.time(), 2)
    print(" ".join(str(job.id) for job in jobs), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until killed

asyncio.run(main(sys.argv[1]))
"""


def _entry(n: int) -> IndexEntry:
    return IndexEntry(
        sop_instance_uid=f"1.2.3.{n}",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        path=f"/x/{n}.dcm",
        size=100,
        columns={"patient_id": "P", "study_uid": "1.9", "series_uid": "1.9.1"},
        forward_to=("dest",),
    )


async def _states(store: SqliteQueueStore) -> dict[int, JobState]:
    return {job.id: job.state for job in await store.jobs(limit=100)}


async def test_a_restarted_worker_leaves_a_running_workers_jobs(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    index = await SqliteIndex.open(path, fsync=False)
    store = await SqliteQueueStore.open(index)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        await index.put_many([_entry(n) for n in range(3)])
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), 60)
        theirs = {int(word) for word in line.split()}
        assert len(theirs) == 2
        # This process starts as a new worker would: the running worker keeps its jobs.
        assert await store.requeue_sending() == 0
        states = await _states(store)
        assert {states[i] for i in theirs} == {JobState.SENDING}
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        # Once it has ended, its jobs are queued again (no waiting for the lease).
        assert await store.requeue_sending() == 2
        assert set((await _states(store)).values()) == {JobState.QUEUED}
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        await store.close()
        await index.close()
