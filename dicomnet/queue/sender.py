"""Sending one destination's jobs: :class:`DestinationSender`.

Up to ``max_associations`` workers per destination (DicomArk: one) each
take a batch of jobs, send them over an association they keep open between
batches while it can carry them (one is proposed anew when a batch needs a
SOP class / transfer syntax pair the open one was not proposed), with up to
the negotiated asynchronous operations window of C-STOREs in flight, and hand
the outcomes to the :class:`~.outcomes.OutcomeWriter`, which writes them in
groups while the next batch goes out. A batch is the jobs handed over by
:meth:`DestinationSender.offer` (new instances, already 'sending', see
:mod:`.handoff`) or, when there are none, due jobs claimed from the store
(restarts, retries, jobs queued while the sender had enough).

Per instance: the data set goes out as stored when the destination accepted
its transfer syntax; otherwise it is transcoded to an accepted one, unless
its syntax is in the profile's no-transcode group, which puts the job in
'error' with the profile's reason (as does a SOP class the destination did not
accept, or a file that cannot be read: no retry changes those). A failure
status, a refused or dropped connection and a send timeout (no answer within
``send_timeout``: the association is aborted) count as a failed attempt: the
job waits :func:`~.pacing.backoff_delay` and goes to 'error' after
``max_attempts``. Jobs of a batch that were not attempted when the
association ended go back to 'queued' unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.errors import DicomNetError, NegotiationError
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.storage.scu import choose_context, proposed_contexts_for, store, window_for
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.storage.transcode import TranscodeError

from .config import DestinationSpec
from .handoff import Received
from .model import Job, JobState, Outcome, QueueStore
from .outcomes import OutcomeWriter
from .pacing import Pacer, backoff_delay

__all__ = ["DestinationSender", "SendSettings"]

_log = logging.getLogger("dicomnet.queue")

#: Seconds an idle association is kept open for more jobs.
LINGER = 1.0
#: Seconds a sender with nothing to send waits for more before it has the outcomes written.
IDLE_FLUSH = 0.02
#: Jobs claimed per batch: this many times the window (at least 16).
BATCH_PER_WINDOW = 4


@dataclass(frozen=True)
class SendSettings:
    """What a sender takes from the profile."""

    #: Transfer syntaxes proposed after each instance's own (Implicit VR LE for DicomArk).
    fallbacks: tuple[str, ...]
    no_transcode: frozenset[str] = frozenset()
    no_transcode_reason: str = ""
    poll: float = 5.0


@dataclass
class _Link:
    """A worker's association and the (SOP class, transfer syntax) pairs it was proposed."""

    association: Association | None = None
    pairs: set[tuple[str, str]] = field(default_factory=set)

    @property
    def usable(self) -> bool:
        return self.association is not None and self.association.is_established

    async def close(self) -> None:
        assoc, self.association = self.association, None
        self.pairs = set()
        if assoc is not None and assoc.is_established:
            try:
                await assoc.release()
            except (OSError, DicomNetError) as exc:
                _log.debug("release failed: %s", exc)


class _Permanent(Exception):
    """An attempt no retry can change (the job goes to 'error')."""


class DestinationSender:
    """Sends the jobs of one destination; :meth:`start`, :meth:`wake`, :meth:`close`."""

    def __init__(
        self,
        spec: DestinationSpec,
        store: QueueStore,
        ae: AE,
        settings: SendSettings,
        *,
        associations: int = 1,
        is_paused: Callable[[str], bool] = lambda name: False,
        notify: Callable[[Job, Outcome], None] | None = None,
        rng: random.Random | None = None,
        outcomes: OutcomeWriter | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.ae = ae
        self.settings = settings
        self.associations = max(1, associations)
        self.is_paused = is_paused
        self.notify = notify
        self.rng = rng or random.Random()
        self.pacer = Pacer(spec.min_interval, spec.max_rate)
        self.outcomes = outcomes or OutcomeWriter(store)
        self._wake = asyncio.Event()
        self._offered = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Jobs handed over (in 'sending', this process's), sent before any claim.
        self._ready: deque[Job] = deque()
        #: The sources of jobs in :attr:`_ready` that were offered with one.
        self._prepared: dict[int, Received] = {}
        #: Jobs in the batches being sent.
        self._busy = 0
        #: The most jobs waiting in :attr:`_ready` and being sent before new ones stay queued.
        self.capacity = max(16, BATCH_PER_WINDOW * (spec.window or 8)) * self.associations
        #: Outcomes recorded so far by this sender (a measure for tests and logs).
        self.attempts = 0
        self.bytes_written = 0

    @property
    def name(self) -> str:
        """The destination's name."""
        return self.spec.name

    def start(self) -> None:
        """Start the workers."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._worker(n), name=f"send-{self.name}-{n}")
            for n in range(self.associations)
        ]

    def wake(self) -> None:
        """New or retried jobs may be due."""
        self._wake.set()

    def takes_more(self) -> bool:
        """Whether a new job is to be handed over (sending, not paused, room left).

        Asked by the row hook, possibly in the index's writer thread.
        """
        return (
            bool(self._tasks)
            and self._busy + len(self._ready) < self.capacity
            and not self.is_paused(self.name)
            and self._in_schedule()
        )

    def offer(self, jobs: Iterable[Job], received: Received | None = None) -> None:
        """Jobs of this destination written in 'sending' for this sender: send them next.

        ``received``: the jobs' instance as just received (else its file is read when sent).
        """
        if received is not None:
            jobs = list(jobs)
            for job in jobs:
                self._prepared[job.id] = received
        self._ready.extend(jobs)
        self._wake.set()
        self._offered.set()

    async def close(self) -> None:
        """Stop the workers; jobs handed over and not started go back to 'queued'
        (jobs being sent stay 'sending' until the next start)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._release()
        await self.outcomes.drain()

    def _release(self) -> None:
        """Jobs handed over and not started go back to 'queued' (paused, stopping)."""
        if self._ready:
            now = time.time()
            jobs, self._ready = list(self._ready), deque()
            self._prepared.clear()
            self.outcomes.record([Outcome(j.id, JobState.QUEUED, j.attempts, now) for j in jobs])

    # ------------------------------------------------------------------ the loop

    async def _worker(self, number: int) -> None:
        link = _Link()
        try:
            while True:
                if self.is_paused(self.name) or not self._in_schedule():
                    self._release()
                    await link.close()
                    await asyncio.sleep(self.settings.poll)  # wakes do not end a pause
                    continue
                self._wake.clear()
                try:
                    if await self._round(link):
                        continue
                    # Nothing to send: write the outcomes, unless more jobs come at once.
                    if self.outcomes.backlog and await self._sleep(IDLE_FLUSH):
                        continue
                    self.outcomes.flush()
                    if link.usable and await self._sleep(LINGER):
                        continue
                    await link.close()
                    due = await self.store.next_due(self.name)
                except OSError as exc:  # the database failed: try again after a poll
                    _log.error("%s: queue unavailable: %s", self.name, exc)
                    await link.close()
                    await self._sleep(self.settings.poll)
                    continue
                wait = self.settings.poll if due is None else due - time.time()
                await self._sleep(min(self.settings.poll, max(0.0, wait)))
        except asyncio.CancelledError:
            if link.association is not None and link.association.is_established:
                link.association.abort_nowait("send queue stopping")
            raise
        except Exception:
            _log.exception("%s: sender %d failed", self.name, number)
            raise

    async def _round(self, link: _Link) -> bool:
        """Claim and send one batch; False when nothing was due."""
        limit = max(16, BATCH_PER_WINDOW * self._window(link))
        if self._ready:
            count = min(limit, len(self._ready))
            jobs = [self._ready.popleft() for _ in range(count)]
        else:
            jobs = await self.store.claim(self.name, time.time(), limit)
        if jobs:
            await self._send(link, jobs)
        return bool(jobs)

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until woken (True)."""
        if seconds <= 0:
            return False
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _in_schedule(self) -> bool:
        now = time.localtime()
        return self.spec.in_schedule(now.tm_hour * 60 + now.tm_min)

    def _window(self, link: _Link) -> int:
        if link.usable:
            assert link.association is not None
            return window_for(link.association, self.spec.window or None)
        return self.spec.window or 8

    # ------------------------------------------------------------------ a batch

    def _sources(
        self, jobs: Sequence[Job], outcomes: list[Outcome]
    ) -> list[tuple[Job, InstanceSource]]:
        """The jobs with their files; a file that cannot be read puts its job in 'error'."""
        ready = []
        for job in jobs:
            try:
                ready.append((job, self._source(job)))
            except (SourceError, OSError) as exc:
                outcomes.append(self._outcome(job, error=f"cannot read {job.path}: {exc}"))
        return ready

    async def _send(self, link: _Link, jobs: list[Job]) -> None:
        """Send ``jobs``; jobs handed over meanwhile that the association can carry join
        them as the window frees, so a router's sender keeps its window full."""
        outcomes: list[Outcome] = []
        self._busy += len(jobs)
        taken = len(jobs)
        ready = self._sources(jobs, outcomes)
        try:
            if ready:
                await self._connect(link, [source for _, source in ready])
        except (OSError, DicomNetError) as exc:
            why = f"cannot associate: {exc or type(exc).__name__}"
            _log.warning("%s: %s", self.name, logsafe(why, ERROR_LIMIT))
            outcomes.extend(self._failed(job, why) for job, _ in ready)
            ready = []
        tasks: set[asyncio.Task[Outcome]] = set()
        finished: list[asyncio.Task[Outcome]] = []

        def done(task: asyncio.Task[Outcome]) -> None:
            finished.append(task)
            self._offered.set()  # the loop below looks at finished sends and new offers

        try:
            if ready:
                assert link.association is not None
                assoc = link.association
                window = window_for(assoc, self.spec.window or None)
                slots = asyncio.Semaphore(window)
                loop = asyncio.get_running_loop()
                for job, source in ready:
                    tasks.add(loop.create_task(self._one(assoc, slots, job, source)))
                for task in tasks:
                    task.add_done_callback(done)
                while tasks:
                    more = self._more(link, assoc, 2 * window - len(tasks), outcomes)
                    taken += len(more)
                    self._busy += len(more)
                    for job, source in more:
                        task = loop.create_task(self._one(assoc, slots, job, source))
                        task.add_done_callback(done)
                        tasks.add(task)
                    if not finished:
                        self._offered.clear()
                        await self._offered.wait()
                    for task in finished:
                        tasks.discard(task)
                        outcomes.append(task.result())
                    finished.clear()
                    self.outcomes.record(outcomes)
                    outcomes = []
        finally:
            for task in tasks:
                task.cancel()
            self._busy -= taken
            self.outcomes.record(outcomes)

    def _more(
        self, link: _Link, assoc: Association, room: int, outcomes: list[Outcome]
    ) -> list[tuple[Job, InstanceSource]]:
        """Jobs handed over since the batch began that ``assoc`` can carry (up to ``room``)."""
        more: list[tuple[Job, InstanceSource]] = []
        while (
            self._ready
            and len(more) < room
            and link.association is assoc
            and assoc.is_established
            and not self.is_paused(self.name)
        ):
            job = self._ready[0]
            try:
                source = self._source(job)
            except (SourceError, OSError) as exc:
                self._ready.popleft()
                outcomes.append(self._outcome(job, error=f"cannot read {job.path}: {exc}"))
                continue
            if (source.sop_class_uid, source.transfer_syntax_uid) not in link.pairs:
                break  # for a new association, in the next batch (its file read anew)
            self._ready.popleft()
            more.append((job, source))
        return more

    def _source(self, job: Job) -> InstanceSource:
        """The job's instance: as offered (while its file is unchanged), else read anew."""
        received = self._prepared.pop(job.id, None)
        source = received.current() if received is not None else None
        return source if source is not None else InstanceSource.from_path(job.path)

    async def _connect(self, link: _Link, sources: Sequence[InstanceSource]) -> None:
        needed = {(s.sop_class_uid, s.transfer_syntax_uid) for s in sources}
        if link.usable and needed <= link.pairs:
            return
        await link.close()
        address = self.spec.address
        if address is None:
            raise OSError(f"no address for {self.spec.ae_title}")
        contexts = proposed_contexts_for(sources, self.settings.fallbacks)
        link.association = await self.ae.associate(
            address[0],
            address[1],
            called_ae=self.spec.ae_title,
            contexts=contexts,
            ssl=self.spec.ssl,
        )
        link.pairs = needed

    async def _one(
        self, assoc: Association, slots: asyncio.Semaphore, job: Job, source: InstanceSource
    ) -> Outcome:
        async with slots:
            if not assoc.is_established:
                return Outcome(job.id, JobState.QUEUED, job.attempts, time.time())
            try:
                self._check_transcoding(assoc, source)
                await self.pacer.before_send(source.size)
                if not assoc.is_established:
                    return Outcome(job.id, JobState.QUEUED, job.attempts, time.time())
                async with asyncio.timeout(self.spec.send_timeout):
                    result = await store(assoc, source)
            except _Permanent as exc:
                return self._outcome(job, error=str(exc))
            except TimeoutError:
                if assoc.is_established:
                    assoc.abort_nowait("send timeout")
                return self._failed(
                    job, f"send timeout: no DIMSE answer within {self.spec.send_timeout:g} s"
                )
            except SourceError as exc:
                if assoc.is_established:
                    return self._outcome(job, error=str(exc))
                return self._failed(job, str(exc))
            except (OSError, DicomNetError) as exc:
                return self._failed(job, str(exc) or type(exc).__name__)
            self.pacer.adjust(result.bytes_sent - source.size)
            self.bytes_written += result.bytes_sent
            if result.ok:
                outcome = Outcome(job.id, JobState.SENT, job.attempts + 1, status=result.status)
                self._notify(job, outcome)
                return outcome
            return self._failed(job, result.describe(), status=result.status)

    def _check_transcoding(self, assoc: Association, source: InstanceSource) -> None:
        try:
            ctx = choose_context(assoc, source)
        except (NegotiationError, TranscodeError) as exc:
            raise _Permanent(str(exc)) from exc
        own = source.transfer_syntax_uid
        if ctx.transfer_syntax != own and own in self.settings.no_transcode:
            reason = self.settings.no_transcode_reason or f"no transcoding from {own}"
            raise _Permanent(f"{reason} (instance in {own}, accepted {ctx.transfer_syntax})")

    # ------------------------------------------------------------------ outcomes

    def _failed(self, job: Job, why: str, *, status: int | None = None) -> Outcome:
        attempts = job.attempts + 1
        if attempts >= self.spec.max_attempts:
            outcome = Outcome(job.id, JobState.ERROR, attempts, status=status, error=why)
            _log.error(
                "%s: %s in error after %d attempts: %s",
                self.name,
                logsafe(job.sop_instance_uid),
                attempts,
                logsafe(why, ERROR_LIMIT),
            )
        else:
            delay = backoff_delay(
                attempts, self.spec.backoff, self.spec.backoff_max, self.spec.jitter, self.rng
            )
            outcome = Outcome(
                job.id, JobState.FAILED, attempts, time.time() + delay, status=status, error=why
            )
            _log.info(
                "%s: attempt %d for %s failed, next in %.1f s: %s",
                self.name,
                attempts,
                logsafe(job.sop_instance_uid),
                delay,
                logsafe(why, ERROR_LIMIT),
            )
        self._notify(job, outcome)
        return outcome

    def _outcome(self, job: Job, *, error: str) -> Outcome:
        """A permanent refusal: 'error' at once."""
        _log.error("%s: %s refused: %s", self.name, logsafe(job.sop_instance_uid), error)
        outcome = Outcome(job.id, JobState.ERROR, job.attempts + 1, error=error)
        self._notify(job, outcome)
        return outcome

    def _notify(self, job: Job, outcome: Outcome) -> None:
        self.attempts += 1
        if self.notify is not None:
            self.notify(job, outcome)
