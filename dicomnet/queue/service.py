"""The running send queue of a system: routing, senders, the inbound hook.

:class:`SendQueue` owns a :class:`~.model.QueueStore`, one
:class:`~.sender.DestinationSender` per destination, and a poller that
re-reads which destinations are paused and wakes the senders every
``poll`` seconds (so that ``dicomnet queue retry/pause/resume`` from another
process take effect).

The inbound side: :meth:`SendQueue.route` is the
:class:`~dicomnet.archive.ingest.IndexedStore` ``route`` (the jobs are written
with the index row, before the C-STORE is acknowledged);
:meth:`SendQueue.wrap` wraps the store a Storage SCP writes to, so that the
senders are woken once an instance is in, and a duplicate that the store kept
(not indexed again) still gets the jobs it lacks. :meth:`SendQueue.decide` is
the Storage SCP's ``decide`` hook of the synchronous forward mode: it waits
(up to the destination's send timeout) for the first attempt and answers its
status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from dicomnet.ae import AE
from dicomnet.archive.entry import IndexEntry, entry_from_file
from dicomnet.conformance.profile import Profile
from dicomnet.dimse.status import Status
from dicomnet.services.base import IncomingRequest, Reply
from dicomnet.services.storage_scp import Decide
from dicomnet.storage.sinks import (
    InstanceInfo,
    InstanceStore,
    StorageSink,
    StoredInstance,
    WalkedHeader,
)
from dicomnet.storage.sinks import (
    Outcome as StoreOutcome,
)
from dicomnet.storage.source import InstanceSource

from .config import ForwardMode, QueueSpec
from .handoff import Received, file_identity
from .model import Job, JobState, Outcome, QueueStore
from .outcomes import OutcomeWriter
from .owner import LEASE
from .sender import DestinationSender, SendSettings

__all__ = ["QueuedStore", "SendQueue"]

_log = logging.getLogger("dicomnet.queue")

#: Answered in the synchronous mode when the destination gave no status in time (the
#: instance is kept and its job goes on): Refused, Out of Resources.
NO_DESTINATION_STATUS: Final = int(Status.OUT_OF_RESOURCES)
#: The 128-byte preamble and "DICM" before a Part 10 file's meta information.
_PREAMBLE_AND_PREFIX: Final = 132


class SendQueue:
    """A system's send queue."""

    def __init__(
        self,
        spec: QueueSpec,
        store: QueueStore,
        profile: Profile,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.profile = profile
        self._paused: set[str] = set()
        self._waiters: dict[tuple[str, str], list[asyncio.Future[Outcome]]] = {}
        # Synchronous mode: the last outcome of a job until it is written (see decide).
        self._latest: dict[tuple[str, str], Outcome] = {}
        self._latest_keys: dict[int, tuple[str, str]] = {}
        self._poller: asyncio.Task[None] | None = None
        policy = profile.policy()
        fallbacks = tuple(
            dict.fromkeys(ts for c in policy.proposed_contexts for ts in c.transfer_syntaxes)
        )
        settings = SendSettings(
            fallbacks=fallbacks,
            no_transcode=frozenset(profile.no_transcode),
            no_transcode_reason=profile.no_transcode_reason,
            poll=spec.poll,
        )
        rng = rng or random.Random()
        self.outcomes = OutcomeWriter(store, written=self._written)
        self.senders: dict[str, DestinationSender] = {}
        for dest in spec.destinations:
            title = dest.calling_ae or policy.ae_title
            timers = replace(policy.timers, dimse=dest.send_timeout)
            ae = AE(title, replace(policy, ae_title=title, timers=timers))
            self.senders[dest.name] = DestinationSender(
                dest,
                store,
                ae,
                settings,
                associations=dest.max_associations or profile.send_max_associations or 1,
                is_paused=self._paused.__contains__,
                notify=self._notify,
                rng=random.Random(rng.random()),
                outcomes=self.outcomes,
            )

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Requeue jobs a previous run left in 'sending', start the senders and the poller."""
        requeued = await self.store.requeue_sending()  # only those of owners that are gone
        if requeued:
            _log.warning("%d job(s) left sending by an ended process are queued again", requeued)
        self._paused = await self.store.paused()
        for sender in self.senders.values():
            sender.is_paused = self._paused.__contains__
            sender.start()
        self.store.handoff.take = self._takes
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="send-queue-poll")

    async def close(self) -> None:
        """Stop the senders and the poller (the store stays open: its owner closes it)."""
        self.store.handoff.take = None
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await asyncio.gather(*(s.close() for s in self.senders.values()))
        await self.outcomes.close()
        for waiters in self._waiters.values():
            for future in waiters:
                future.cancel()
        self._waiters.clear()

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        leased = loop.time()
        while True:
            await asyncio.sleep(self.spec.poll)
            try:
                paused = await self.store.paused()
                if loop.time() - leased >= LEASE / 3:
                    leased = loop.time()
                    await self._leases()
            except OSError as exc:
                _log.warning("cannot read the queue's state: %s", exc)
                continue
            self._paused.clear()
            self._paused.update(paused)
            self._offer(self.store.handoff.stale(self.spec.poll))
            self.wake()

    async def _leases(self) -> None:
        """Renew the leases of the jobs this process sends; take back those of owners gone."""
        await self.store.renew()
        requeued = await self.store.requeue_sending()
        if requeued:
            _log.warning("%d job(s) of a sender that is gone are queued again", requeued)

    def _takes(self, destination: str) -> bool:
        """Whether a new job of ``destination`` goes straight to its sender (row hook)."""
        sender = self.senders.get(destination)
        return sender is not None and sender.takes_more()

    def _written(self, outcomes: Sequence[Outcome]) -> None:
        """Outcomes are written: failed jobs are due again some time, the senders look."""
        for outcome in outcomes:
            key = self._latest_keys.pop(outcome.job_id, None)
            if key is not None and self._latest.get(key) is outcome:
                del self._latest[key]
        if any(o.state is JobState.FAILED or o.state is JobState.QUEUED for o in outcomes):
            self.wake()

    def wake(self, destinations: tuple[str, ...] | None = None) -> None:
        """Wake the senders of ``destinations`` (all when ``None``)."""
        for name, sender in self.senders.items():
            if destinations is None or name in destinations:
                sender.wake()

    # ------------------------------------------------------------------ inbound

    def route(self, info: InstanceInfo, entry: IndexEntry) -> tuple[str, ...]:
        """The destinations of an instance about to be indexed (``IndexedStore`` route)."""
        return self.spec.route(info, entry.columns.get("modality", ""))

    def wrap(self, store: InstanceStore) -> QueuedStore:
        """``store`` (an ``IndexedStore`` with :meth:`route`), waking the senders on commit."""
        return QueuedStore(store, self)

    async def committed(
        self, info: InstanceInfo, stored: StoredInstance, walk: WalkedHeader | None = None
    ) -> None:
        """An instance is in: wake its senders; a kept duplicate gets the jobs it lacks.

        ``walk``: what the Storage SCP's walk of the whole data set saw, if it walked it.
        """
        if stored.outcome is StoreOutcome.DUPLICATE_KEPT and stored.path is not None:
            path = Path(stored.path)
            try:
                entry = entry_from_file(path, source_ae_title=info.source_ae_title)
            except (OSError, ValueError) as exc:
                _log.warning("%s: duplicate not routed: %s", info.sop_instance_uid, exc)
                return
            destinations = self.route(info, entry)
            self.store.handoff.forget(info.sop_instance_uid)
            await self.store.ensure(
                info.sop_instance_uid,
                sop_class_uid=info.sop_class_uid,
                path=str(path),
                size=entry.size,
                destinations=destinations,
                now=time.time(),
            )
        else:
            destinations = None
            jobs = self.store.handoff.pop(info.sop_instance_uid)
            self._offer(jobs, _received(info, stored, walk) if jobs else None)
        self.wake(destinations)

    def _offer(self, jobs: list[Job], received: Received | None = None) -> None:
        """Jobs written in 'sending' for this process: to their senders (with the
        instance as just received, see :func:`_received`)."""
        for job in jobs:
            sender = self.senders.get(job.destination)
            if sender is not None:
                sender.offer((job,), received)

    def not_committed(self, info: InstanceInfo) -> None:
        """The instance's commit failed: jobs the row hook kept for it are not there."""
        self.store.handoff.forget(info.sop_instance_uid)

    def decide_hook(self) -> Decide | None:
        """The Storage SCP's ``decide`` hook: :meth:`decide` in the synchronous mode."""
        return self.decide if self.spec.mode is ForwardMode.SYNC else None

    async def decide(self, request: IncomingRequest, stored: StoredInstance) -> int | Reply:
        """Synchronous mode: the destination's status for the instance (see module)."""
        if self.spec.mode is not ForwardMode.SYNC:
            return Status.SUCCESS
        uid = stored.info.sop_instance_uid
        statuses: list[int] = []
        for dest in self.spec.destinations:
            outcome = await self._first_outcome(uid, dest.name, dest.send_timeout)
            if outcome is None:
                continue  # not routed there
            if outcome.state is JobState.QUEUED:
                why = f"{dest.name}: no status within the send timeout"
                return Reply(status=NO_DESTINATION_STATUS, fields={"error_comment": why[:64]})
            if outcome.state is not JobState.SENT:
                status = outcome.status if outcome.status is not None else NO_DESTINATION_STATUS
                comment = {"error_comment": outcome.error[:64]} if outcome.error else {}
                return Reply(status=status, fields=comment)
            statuses.append(outcome.status or 0)
        return next((s for s in statuses if s), Status.SUCCESS)

    async def _first_outcome(self, uid: str, destination: str, timeout: float) -> Outcome | None:
        """The outcome of the job's next attempt (or its last one, if it has ended);
        ``None`` without a job; state QUEUED when none came within ``timeout``."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        key = (uid, destination)
        self._waiters.setdefault(key, []).append(future)  # before the read: no outcome missed
        try:
            early = self._latest.get(key)  # an outcome not yet written, before the read
            job = await self.store.job(uid, destination)
            if job is None:
                return None
            if early is not None and not future.done() and job.state is JobState.SENDING:
                return early  # the attempt ended before the future was there
            if job.state in (JobState.SENT, JobState.ERROR) or (
                job.state is JobState.FAILED and job.attempts > 0 and not future.done()
            ):
                return Outcome(
                    job.id, job.state, job.attempts, status=job.last_status, error=job.error
                )
            self.wake((destination,))
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                return Outcome(job.id, JobState.QUEUED, job.attempts)
        finally:
            waiters = self._waiters.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(key, None)

    def _notify(self, job: Job, outcome: Outcome) -> None:
        if self.spec.mode is ForwardMode.SYNC:
            key = (job.sop_instance_uid, job.destination)
            self._latest[key] = outcome
            self._latest_keys[outcome.job_id] = key
        for future in self._waiters.get((job.sop_instance_uid, job.destination), []):
            if not future.done():
                future.set_result(outcome)


def _received(
    info: InstanceInfo, stored: StoredInstance, walk: WalkedHeader | None
) -> Received | None:
    """The instance just received, for its senders: the Storage SCP walked the data set
    whole (``walk`` covers every byte stored), so the sender neither reads the file meta
    information back nor walks the data set again. ``None`` (the sender reads the file
    as usual) without such a walk, for a deflated data set (the walk counts inflated
    bytes) or an odd length (a padding question)."""
    path = stored.path
    if walk is None or path is None or walk.size != stored.size or stored.size % 2:
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    offset = status.st_size - stored.size
    if offset < _PREAMBLE_AND_PREFIX:
        return None
    source = InstanceSource(
        sop_class_uid=info.sop_class_uid,
        sop_instance_uid=info.sop_instance_uid,
        transfer_syntax_uid=info.transfer_syntax_uid,
        path=Path(path),
        offset=offset,
        size=stored.size,
        checked=True,
    )
    return Received(source, file_identity(status))


class QueuedStore:
    """An :class:`InstanceStore` whose commits tell the send queue (see :class:`SendQueue`)."""

    def __init__(self, inner: InstanceStore, queue: SendQueue) -> None:
        self.inner = inner
        self.queue = queue

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """The inner store's sink; its commit wakes the queue."""
        return _QueuedSink(await self.inner.open_sink(info), self.queue)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class _QueuedSink:
    """The inner sink, its commit telling the queue.

    The inner sink's optional parts are passed on as they are (``write_views``:
    the Storage SCP writes from its receive buffer; ``header_tags`` and
    ``header_walked``: the index takes its columns from the SCP's walk), so the
    queue costs the inbound path nothing per fragment.
    """

    def __init__(self, inner: StorageSink, queue: SendQueue) -> None:
        self.inner = inner
        self.queue = queue
        self.header_tags: tuple[int, ...] = getattr(inner, "header_tags", ())
        self._walk: WalkedHeader | None = None

    @property
    def write_views(self) -> Callable[[list[memoryview]], None] | None:
        """The inner sink's synchronous ``write_views``, if it has one."""
        write_views: Callable[[list[memoryview]], None] | None = getattr(
            self.inner, "write_views", None
        )
        return write_views

    def header_walked(self, walk: WalkedHeader) -> None:
        """Hand the Storage SCP's walk of the header to the inner sink, if it takes it."""
        self._walk = walk
        walked: Callable[[WalkedHeader], None] | None = getattr(self.inner, "header_walked", None)
        if walked is not None:
            walked(walk)

    async def write(self, chunk: bytes | memoryview) -> None:
        await self.inner.write(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        try:
            stored = await self.inner.commit(info)
        except BaseException:
            self.queue.not_committed(info)
            raise
        await self.queue.committed(info, stored, self._walk)
        return stored

    async def discard(self) -> None:
        await self.inner.discard()
