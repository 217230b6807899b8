"""Recording the outcomes of attempts in groups (:class:`OutcomeWriter`).

Senders hand their outcomes to :meth:`OutcomeWriter.record` and go on
sending; one write is in flight at a time, and the outcomes that come in
meanwhile are written together by the next one, at most one write per
``interval`` while senders are busy (:meth:`OutcomeWriter.flush` writes at
once: a sender with nothing more to send calls it). So a busy router writes a
few small transactions a second, not one (plus a claim) per batch, never
waits for them between two batches, and disturbs the index's writer less
(each write by another connection makes it re-read its cached pages).

Until its outcome is written a job stays in ``sending``, owned by this
process, so nothing else sends it; if the process ends first the job is sent
again after the restart (at least once).
:meth:`OutcomeWriter.unwritten` tells the outcome of a job not yet written
(the synchronous forward mode asks).

A write that fails (the database is unavailable) keeps its outcomes and is
tried again after ``retry`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from .model import Outcome, QueueStore

__all__ = ["OutcomeWriter"]

_log = logging.getLogger("dicomnet.queue")


class OutcomeWriter:
    """Writes outcomes to ``store`` in groups; ``written`` is told of each group written."""

    def __init__(
        self,
        store: QueueStore,
        *,
        written: Callable[[Sequence[Outcome]], None] | None = None,
        retry: float = 1.0,
        interval: float = 0.25,
    ) -> None:
        self.store = store
        self.written = written
        self.retry = retry
        self.interval = interval
        self._now = asyncio.Event()
        self._pending: dict[int, Outcome] = {}
        self._writing: dict[int, Outcome] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Transactions written (a measure for tests and logs).
        self.writes = 0

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write ``outcomes`` soon (with those recorded meanwhile); does not wait."""
        if not outcomes:
            return
        for outcome in outcomes:
            self._pending[outcome.job_id] = outcome
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._write_all(), name="send-queue-outcomes"
            )

    def flush(self) -> None:
        """Write what is recorded now, without waiting for the interval."""
        self._now.set()

    def unwritten(self, job_id: int) -> Outcome | None:
        """The outcome of job ``job_id`` recorded and not yet written, if any."""
        return self._pending.get(job_id) or self._writing.get(job_id)

    @property
    def backlog(self) -> int:
        """Outcomes recorded and not yet written."""
        return len(self._pending) + len(self._writing)

    async def drain(self) -> None:
        """Wait until every outcome recorded so far is written (or given up at close)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Write what is recorded (one more try after a failure, then give up)."""
        self._closing = True
        self._now.set()
        await self.drain()

    async def _write_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            self._writing = batch
            try:
                await self.store.finish(list(batch.values()), time.time())
            except OSError as exc:
                batch.update(self._pending)  # newer outcomes of the same jobs win
                self._pending = batch
                self._writing = {}
                if self._closing:
                    _log.error("%d outcome(s) not written: %s", len(batch), exc)
                    self._pending = {}
                    return
                _log.error("%d outcome(s) not written (again soon): %s", len(batch), exc)
                await asyncio.sleep(self.retry)
                continue
            self._writing = {}
            self.writes += 1
            if self.written is not None:
                self.written(list(batch.values()))
            if not self._now.is_set() and not self._closing:  # outcomes gather meanwhile
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._now.wait(), self.interval)
            self._now.clear()
