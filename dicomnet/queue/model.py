"""Send jobs and the interface of the storage that keeps them (:class:`QueueStore`).

A job is one instance to send to one destination. Its state moves:

``queued`` → ``sending`` → ``sent``
                     ↘ ``failed`` (another attempt is due at ``next_attempt``) → ``sending`` …
                     ↘ ``error`` (attempts exhausted, or a refusal no retry can change)

``retry`` puts ``failed``/``error`` jobs back to ``queued`` (attempts reset). A job
in ``sending`` has an owner (the process sending it) and a lease; when the
owner is gone (lease run out, or a process of this host that ended: see
:mod:`.owner`) the job goes back to ``queued``, at start-up and while the queue
runs. Delivery is at least once, so the destination may get an instance
twice.

The SQLite implementation is :class:`dicomnet.queue.sqlite.SqliteQueueStore`; a
backend for another database implements :class:`QueueStore` and writes the
jobs of :attr:`IndexEntry.forward_to <dicomnet.archive.entry.IndexEntry.forward_to>`
in the transaction that adds the index rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .handoff import HandOff

__all__ = ["DestinationCounts", "Job", "JobState", "Outcome", "QueueStore"]


class JobState(Enum):
    """Where a send job is."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Job:
    """One instance for one destination."""

    id: int
    sop_instance_uid: str
    sop_class_uid: str
    destination: str
    path: str
    size: int
    state: JobState
    attempts: int
    next_attempt: float
    last_status: int | None
    error: str
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt at a job ended in (recorded by :meth:`QueueStore.finish`).

    ``state`` is ``sent``, ``failed`` (with ``next_attempt``) or ``error``.
    """

    job_id: int
    state: JobState
    attempts: int
    next_attempt: float = 0.0
    status: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class DestinationCounts:
    """Jobs of one destination per state, and whether it is paused."""

    destination: str
    counts: dict[str, int]
    bytes_sent: int
    paused: bool
    #: When the first and the last job was sent (``None`` when none was).
    first_sent: float | None
    last_sent: float | None


@runtime_checkable
class QueueStore(Protocol):
    """Where jobs are kept. Enqueueing happens in the index's transaction (see module)."""

    #: Jobs the row hook wrote in 'sending' for this process's senders (:mod:`.handoff`).
    handoff: HandOff
    #: This process in the ``owner`` of the jobs it sends (:mod:`.owner`).
    owner: str

    async def claim(self, destination: str, now: float, limit: int) -> list[Job]:
        """Up to ``limit`` due jobs (queued, or failed with ``next_attempt <= now``), oldest
        first, now in ``sending``."""
        ...

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> None:
        """Record the outcome of attempts."""
        ...

    async def next_due(self, destination: str) -> float | None:
        """The earliest ``next_attempt`` of a waiting job of ``destination``."""
        ...

    async def ensure(
        self,
        sop_instance_uid: str,
        *,
        sop_class_uid: str,
        path: str,
        size: int,
        destinations: Sequence[str],
        now: float,
    ) -> None:
        """Jobs for ``destinations`` unless the instance has them already (durable on return)."""
        ...

    async def job(self, sop_instance_uid: str, destination: str) -> Job | None:
        """The job of one instance for one destination."""
        ...

    async def jobs(
        self,
        *,
        destination: str | None = None,
        states: Sequence[JobState] = (),
        sop_instance_uid: str | None = None,
        job_ids: Sequence[int] = (),
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, filtered."""
        ...

    async def counts(self) -> list[DestinationCounts]:
        """Per destination: jobs per state, bytes sent, paused."""
        ...

    async def retry(
        self, *, destination: str | None = None, job_ids: Sequence[int] = (), now: float
    ) -> int:
        """Put failed and error jobs (all, of one destination, or those given) back in queued."""
        ...

    async def purge(
        self, *, destination: str | None = None, states: Sequence[JobState], before: float | None
    ) -> int:
        """Delete jobs in ``states`` (updated before ``before`` when given); how many."""
        ...

    async def set_paused(self, destination: str, paused: bool) -> None:
        """Pause or resume sending to ``destination`` (kept across restarts)."""
        ...

    async def paused(self) -> set[str]:
        """The paused destinations."""
        ...

    async def requeue_sending(self, now: float | None = None) -> int:
        """Jobs in ``sending`` whose owner is gone (see :mod:`.owner`) go back to
        ``queued``; how many."""
        ...

    async def renew(self, now: float | None = None) -> int:
        """Renew the lease of this process's jobs in ``sending``; how many."""
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...
