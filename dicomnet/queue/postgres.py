"""The send jobs in the archive's PostgreSQL database (:class:`PostgresQueueStore`).

The same tables and rules as :mod:`.sqlite` (made by the archive's schema
migrations): jobs are added by the index's writer in the transaction that
adds the instances' rows (a row hook of
:class:`~dicomnet.archive.postgres.PostgresIndex`), so an acknowledged
instance always has its jobs. Claims take due jobs with ``FOR UPDATE SKIP
LOCKED``: workers of several processes and hosts sending to one destination
each get their own jobs, never the same one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.plan import numbered
from dicomnet.archive.postgres import Connection, PostgresIndex

from .handoff import HandOff
from .model import DestinationCounts, Job, JobState, Outcome
from .owner import LEASE, gone, new_owner
from .rows import JOB_COLUMNS, job_filter, job_from_row

__all__ = ["PostgresQueueStore", "enqueue_rows"]

_INSERT: Final = (
    "INSERT INTO send_job (sop_uid, sop_class, destination, path, size, state, attempts,"
    " next_attempt, created, updated) VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8)"
)
_UPSERT: Final = (
    _INSERT + " ON CONFLICT (sop_uid, destination) DO UPDATE SET state = 'queued', attempts = 0,"
    " next_attempt = excluded.next_attempt, path = excluded.path, size = excluded.size,"
    " sop_class = excluded.sop_class, last_status = NULL, error = '',"
    " updated = excluded.updated, owner = ''"
)
#: The same, written in 'sending' for this process's sender (owner, lease), giving the job.
_UPSERT_SENDING: Final = (
    "INSERT INTO send_job (sop_uid, sop_class, destination, path, size, state, attempts,"
    " next_attempt, created, updated, owner, lease)"
    " VALUES ($1, $2, $3, $4, $5, 'sending', 0, $6, $7, $8, $9, $10)"
    " ON CONFLICT (sop_uid, destination) DO UPDATE SET state = 'sending', attempts = 0,"
    " next_attempt = excluded.next_attempt, path = excluded.path, size = excluded.size,"
    " sop_class = excluded.sop_class, last_status = NULL, error = '',"
    " updated = excluded.updated, owner = excluded.owner, lease = excluded.lease"
    " RETURNING id, created"
)


async def enqueue_rows(conn: Connection, entries: Sequence[IndexEntry]) -> None:
    """The index writer's row hook: a queued job per entry and destination it names."""
    now = time.time()
    rows = [
        (e.sop_instance_uid, e.sop_class_uid, d, e.path, e.size, now, now, now)
        for e in entries
        for d in e.forward_to
    ]
    if rows:
        await conn.executemany(_UPSERT, rows)


def _hook(
    handoff: HandOff, owner: str
) -> Callable[[Connection, Sequence[IndexEntry]], Awaitable[None]]:
    """The index writer's row hook: jobs per entry and destination, 'sending' when handed off."""

    async def hook(conn: Connection, entries: Sequence[IndexEntry]) -> None:
        if handoff.take is None:
            await enqueue_rows(conn, entries)
            return
        sending, queued = handoff.split(entries, owner, time.time())
        for taken in sending:
            returned = await conn.fetchrow(_UPSERT_SENDING, *taken)
            assert returned is not None  # an upsert returns its row
            handoff.keep(handoff.sending_job(taken, int(returned[0]), float(returned[1])))
        if queued:
            await conn.executemany(_UPSERT, queued)

    return hook


class PostgresQueueStore:
    """Send jobs in the database of a :class:`PostgresIndex` (a ``QueueStore``)."""

    def __init__(self, index: PostgresIndex, owner: str | None = None) -> None:
        self.index = index
        self._hooked = False
        #: Who this process is in the ``owner`` of the jobs it sends (:mod:`.owner`).
        self.owner = owner or new_owner()
        #: Jobs written in 'sending' by the row hook for this process's senders.
        self.handoff = HandOff()
        self._hook = _hook(self.handoff, self.owner)

    @classmethod
    async def open(
        cls, index: PostgresIndex, *, enqueue: bool = True, owner: str | None = None
    ) -> PostgresQueueStore:
        """The job tables of ``index``'s database; ``enqueue``: add the row hook;
        ``owner``: this process's owner id (default: a new one, see :mod:`.owner`)."""
        store = cls(index, owner)
        if enqueue:
            index.row_hooks.append(store._hook)
            store._hooked = True
        return store

    async def close(self) -> None:
        """Remove the row hook (the index owns the connections)."""
        if self._hooked:
            self.index.row_hooks.remove(self._hook)
            self._hooked = False

    async def _fetch(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        return await self.index.fetch(numbered(sql), *args)

    async def _write(self, sql: str, args: Sequence[object]) -> int:
        """Run one statement in a transaction; the rows it touched."""

        async def work(conn: Connection) -> int:
            status = await conn.execute(numbered(sql), *args)
            return int(status.rsplit(" ", 1)[-1]) if status.rsplit(" ", 1)[-1].isdigit() else 0

        return await self.index.transaction(work)

    # ------------------------------------------------------------------ senders

    async def claim(self, destination: str, now: float, limit: int) -> list[Job]:
        """Up to ``limit`` due jobs, oldest first, moved to ``sending`` (none taken twice)."""

        async def work(conn: Connection) -> list[Job]:
            rows = await conn.fetch(
                f"SELECT {JOB_COLUMNS} FROM send_job WHERE destination = $1 AND state IN"
                " ('queued', 'failed') AND next_attempt <= $2 ORDER BY next_attempt, id"
                " LIMIT $3 FOR UPDATE SKIP LOCKED",
                destination,
                now,
                limit,
            )
            if rows:
                await conn.execute(
                    "UPDATE send_job SET state = 'sending', updated = $1, owner = $3, lease = $4"
                    " WHERE id = ANY($2::bigint[])",
                    now,
                    [row[0] for row in rows],
                    self.owner,
                    now + LEASE,
                )
            return [job_from_row(tuple(row)) for row in rows]

        return await self.index.transaction(work)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> None:
        """Record the outcomes of attempts (one transaction)."""
        if not outcomes:
            return
        me = self.owner
        rows = [
            (o.state.value, o.attempts, o.next_attempt, o.status, o.error, now, o.job_id, me)
            for o in outcomes
        ]

        async def work(conn: Connection) -> None:
            await conn.executemany(
                "UPDATE send_job SET state = $1, attempts = $2, next_attempt = $3,"
                " last_status = $4, error = $5, updated = $6, owner = ''"
                " WHERE id = $7 AND state = 'sending' AND owner = $8",
                rows,
            )

        await self.index.transaction(work)

    async def next_due(self, destination: str) -> float | None:
        """The earliest ``next_attempt`` of a queued or failed job of ``destination``."""
        rows = await self._fetch(
            "SELECT MIN(next_attempt) FROM send_job WHERE destination = ?"
            " AND state IN ('queued', 'failed')",
            [destination],
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

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
        """Jobs for ``destinations`` the instance has none for (committed on return)."""
        if not destinations:
            return
        rows = [
            (sop_instance_uid, sop_class_uid, d, path, size, now, now, now) for d in destinations
        ]

        async def work(conn: Connection) -> None:
            await conn.executemany(_INSERT + " ON CONFLICT (sop_uid, destination) DO NOTHING", rows)

        await self.index.transaction(work)

    async def requeue_sending(self, now: float | None = None) -> int:
        """Jobs in ``sending`` whose owner is gone (lease run out, or a process of this
        host that ended) go back to ``queued``; how many. Others' jobs stay theirs."""
        now = time.time() if now is None else now
        rows = await self._fetch(
            "SELECT DISTINCT owner FROM send_job WHERE state = 'sending' AND owner <> ?",
            [self.owner],
        )
        dead = gone([str(owner) for (owner,) in rows], self.owner)
        return await self._write(
            "UPDATE send_job SET state = 'queued', owner = '', updated = ?"
            " WHERE state = 'sending' AND owner <> ? AND (lease < ? OR owner = ANY(?::text[]))",
            [now, self.owner, now, dead],
        )

    async def renew(self, now: float | None = None) -> int:
        """Renew the lease of this process's jobs in ``sending``; how many."""
        lease = (time.time() if now is None else now) + LEASE
        return await self._write(
            "UPDATE send_job SET lease = ? WHERE state = 'sending' AND owner = ?",
            [lease, self.owner],
        )

    # ------------------------------------------------------------------ inspecting

    async def job(self, sop_instance_uid: str, destination: str) -> Job | None:
        """The job of one instance for one destination, or ``None``."""
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM send_job WHERE sop_uid = ? AND destination = ?",
            [sop_instance_uid, destination],
        )
        return job_from_row(rows[0]) if rows else None

    async def jobs(
        self,
        *,
        destination: str | None = None,
        states: Sequence[JobState] = (),
        sop_instance_uid: str | None = None,
        job_ids: Sequence[int] = (),
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, filtered by destination, states, instance or ids."""
        where, args = job_filter(destination, states, sop_instance_uid, job_ids)
        sql = f"SELECT {JOB_COLUMNS} FROM send_job{where} ORDER BY id DESC LIMIT ?"
        return [job_from_row(row) for row in await self._fetch(sql, [*args, limit])]

    async def counts(self) -> list[DestinationCounts]:
        """Per destination (with jobs, or paused): jobs per state, bytes sent, paused."""
        per: dict[str, dict[str, int]] = {}
        for dest, state, n in await self._fetch(
            "SELECT destination, state, COUNT(*) FROM send_job GROUP BY destination, state", []
        ):
            per.setdefault(str(dest), {})[str(state)] = int(n)
        sent: dict[str, tuple[int, float | None, float | None]] = {}
        for dest, total, first, last in await self._fetch(
            "SELECT destination, SUM(size), MIN(updated), MAX(updated) FROM send_job"
            " WHERE state = 'sent' GROUP BY destination",
            [],
        ):
            sent[str(dest)] = (int(total or 0), first, last)
        paused = await self.paused()
        return [
            DestinationCounts(
                destination=name,
                counts={s.value: per.get(name, {}).get(s.value, 0) for s in JobState},
                bytes_sent=sent.get(name, (0, None, None))[0],
                paused=name in paused,
                first_sent=sent.get(name, (0, None, None))[1],
                last_sent=sent.get(name, (0, None, None))[2],
            )
            for name in sorted(set(per) | paused)
        ]

    # ------------------------------------------------------------------ steering

    async def retry(
        self, *, destination: str | None = None, job_ids: Sequence[int] = (), now: float
    ) -> int:
        """Failed and error jobs (of ``destination``, or ``job_ids``) back to queued."""
        where, args = job_filter(destination, (JobState.FAILED, JobState.ERROR), None, job_ids)
        sql = "UPDATE send_job SET state = 'queued', attempts = 0, next_attempt = ?, updated = ?"
        return await self._write(sql + where, [now, now, *args])

    async def purge(
        self,
        *,
        destination: str | None = None,
        states: Sequence[JobState],
        before: float | None = None,
    ) -> int:
        """Delete jobs in ``states`` (of ``destination``; updated before ``before``)."""
        where, args = job_filter(destination, states, None, ())
        if before is not None:
            where += " AND updated < ?" if where else " WHERE updated < ?"
            args.append(before)
        return await self._write(f"DELETE FROM send_job{where}", args)

    async def set_paused(self, destination: str, paused: bool) -> None:
        """Pause or resume ``destination`` (kept in the database)."""
        await self._write(
            "INSERT INTO send_destination (name, paused) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
            [destination, int(paused)],
        )

    async def paused(self) -> set[str]:
        """The destinations paused."""
        rows = await self._fetch("SELECT name FROM send_destination WHERE paused <> 0", [])
        return {str(name) for (name,) in rows}
