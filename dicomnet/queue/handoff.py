"""Jobs written straight in 'sending' for this process's senders (:class:`HandOff`).

While a destination's sender wants more work (:attr:`HandOff.take`, set by
the send queue), the index's row hook writes the new job of that destination
in ``sending`` instead of ``queued``: the claim is part of the transaction that
adds the instance's row, so a router needs no claiming transaction of its own
per batch (which would also wait for the index's writer lock). The hook keeps
the jobs it wrote; once the row is committed, :meth:`HandOff.pop` gives them
to the sender. A job whose transaction did not commit is dropped with
:meth:`HandOff.forget`; should the process end first, the job is found in
``sending`` at the next start and sent again (at least once). Jobs of an
instance stored by a path that does not tell the queue of its commits (none
pops them) are given to the sender by :meth:`HandOff.stale` after a poll.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dicomnet.storage.source import InstanceSource

from .model import Job, JobState
from .owner import LEASE

if TYPE_CHECKING:
    from dicomnet.archive.entry import IndexEntry

__all__ = ["HandOff", "Received", "file_identity"]


def file_identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one file at a path from another put there later: device, inode,
    size and modification time."""
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class Received:
    """An instance as just received and committed, handed to its sender with its jobs.

    ``identity`` is its file's (:func:`file_identity`) at the commit: should another
    copy of the instance replace the file before it is sent, :meth:`current` says so
    and the sender reads the file anew.
    """

    source: InstanceSource
    identity: tuple[int, int, int, int]

    def current(self) -> InstanceSource | None:
        """The source, while its file is still the one received (else ``None``)."""
        assert self.source.path is not None
        try:
            status = os.stat(self.source.path)
        except OSError:
            return None
        return self.source if file_identity(status) == self.identity else None


class HandOff:
    """The jobs the row hook wrote in 'sending', per SOP Instance UID, until popped.

    The hook may run in the index's writer thread: each step here is one
    dictionary operation.
    """

    def __init__(self) -> None:
        #: ``take(destination)``: whether this process's sender takes a new job now.
        self.take: Callable[[str], bool] | None = None
        self._jobs: dict[str, tuple[float, list[Job]]] = {}

    def __len__(self) -> int:
        """How many instances have jobs kept here, not yet popped."""
        return len(self._jobs)

    def wants(self, destination: str) -> bool:
        """Whether a new job of ``destination`` is to be written in 'sending'."""
        take = self.take
        return take is not None and take(destination)

    def keep(self, job: Job) -> None:
        """The hook wrote ``job`` in 'sending'."""
        self._jobs.setdefault(job.sop_instance_uid, (time.monotonic(), []))[1].append(job)

    def pop(self, sop_instance_uid: str) -> list[Job]:
        """The jobs of an instance just committed, for its senders."""
        return self._jobs.pop(sop_instance_uid, (0.0, []))[1]

    def stale(self, age: float) -> list[Job]:
        """Jobs kept longer than ``age`` seconds (nobody popped them): for their senders."""
        before = time.monotonic() - age
        old = [uid for uid, (kept, _) in list(self._jobs.items()) if kept < before]
        return [job for uid in old for job in self._jobs.pop(uid, (0.0, []))[1]]

    def forget(self, sop_instance_uid: str) -> None:
        """The instance's transaction did not commit: its jobs are not there."""
        self._jobs.pop(sop_instance_uid, None)

    @staticmethod
    def sending_job(row: tuple[Any, ...], job_id: int, created: float) -> Job:
        """The job a row of :meth:`split` wrote in 'sending': the row's values with the
        ``id`` and ``created`` the database returned (an instance's earlier job of that
        destination keeps both; every other column is set by the write)."""
        uid, sop_class, destination, path, size, due, _, updated = row[:8]
        return Job(
            job_id,
            uid,
            sop_class,
            destination,
            path,
            size,
            JobState.SENDING,
            0,
            due,
            None,
            "",
            created,
            updated,
        )

    def split(
        self, entries: Sequence[IndexEntry], owner: str, now: float
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The job rows of ``entries`` (one per destination), for the row hooks of both stores.

        First the rows to write in 'sending' (owner and lease added), then those to queue.
        """
        sending: list[tuple[Any, ...]] = []
        queued: list[tuple[Any, ...]] = []
        for e in entries:
            for d in e.forward_to:
                row = (e.sop_instance_uid, e.sop_class_uid, d, e.path, e.size, now, now, now)
                if self.wants(d):
                    sending.append((*row, owner, now + LEASE))
                else:
                    queued.append(row)
        return sending, queued
