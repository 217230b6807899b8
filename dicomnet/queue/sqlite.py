"""The send jobs in the archive's SQLite database (:class:`SqliteQueueStore`).

The ``send_job`` table sits beside the index's tables. Jobs are *added* by
the index's writer, in the transaction that adds the instances' rows (a row
hook, :attr:`SqliteIndex.row_hooks <dicomnet.archive.sqlite.SqliteIndex.row_hooks>`):
the C-STORE is acknowledged only after that commit, so an acknowledged
instance always has its jobs. Everything else (claiming, outcomes, the
``dicomnet queue`` commands) goes through a connection of its own
(:class:`~dicomnet.archive.side.SideConnection`). Outcomes and claims are
written with ``synchronous=NORMAL``: losing one on power loss only means an
instance is sent again, which at-least-once delivery allows.

One instance has at most one job per destination (``UNIQUE (sop_uid,
destination)``): an instance stored again (``duplicates = "replace"``) puts
its job back to ``queued``; a duplicate that was dropped (``keep-first``)
keeps the job it has (:meth:`SqliteQueueStore.ensure` adds one only if
missing).

While this process's sender of a destination wants more work, the row hook
writes that destination's new jobs straight in ``sending`` and hands them to
the sender after the commit (:mod:`.handoff`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Final

from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.side import SideConnection
from dicomnet.archive.sqlite import SqliteIndex

from .handoff import HandOff
from .model import DestinationCounts, Job, JobState, Outcome
from .owner import LEASE, gone, new_owner
from .rows import JOB_COLUMNS, job_filter, job_from_row

__all__ = ["SCHEMA", "SqliteQueueStore", "enqueue_rows"]

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS send_job (
    id INTEGER PRIMARY KEY,
    sop_uid TEXT NOT NULL,
    sop_class TEXT NOT NULL,
    destination TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    lease REAL NOT NULL DEFAULT 0,
    UNIQUE (sop_uid, destination)
);
CREATE INDEX IF NOT EXISTS send_job_due ON send_job (destination, state, next_attempt);
CREATE TABLE IF NOT EXISTS send_destination (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0
);
"""

_INSERT: Final = (
    "INSERT INTO send_job (sop_uid, sop_class, destination, path, size, state, attempts,"
    " next_attempt, created, updated) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)"
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
    " VALUES (?, ?, ?, ?, ?, 'sending', 0, ?, ?, ?, ?, ?)"
    " ON CONFLICT (sop_uid, destination) DO UPDATE SET state = 'sending', attempts = 0,"
    " next_attempt = excluded.next_attempt, path = excluded.path, size = excluded.size,"
    " sop_class = excluded.sop_class, last_status = NULL, error = '',"
    " updated = excluded.updated, owner = excluded.owner, lease = excluded.lease"
    " RETURNING id, created"
)
_WAITING: Final = ("queued", "failed")


def enqueue_rows(conn: sqlite3.Connection, entries: Sequence[IndexEntry]) -> None:
    """The index writer's row hook: a queued job per entry and destination it names."""
    now = time.time()
    rows = [
        (e.sop_instance_uid, e.sop_class_uid, d, e.path, e.size, now, now, now)
        for e in entries
        for d in e.forward_to
    ]
    if rows:
        conn.executemany(_UPSERT, rows)


def _hook(
    handoff: HandOff, owner: str
) -> Callable[[sqlite3.Connection, Sequence[IndexEntry]], None]:
    """The index writer's row hook: jobs per entry and destination, 'sending' when handed off."""

    def hook(conn: sqlite3.Connection, entries: Sequence[IndexEntry]) -> None:
        if handoff.take is None:
            enqueue_rows(conn, entries)
            return
        sending, queued = handoff.split(entries, owner, time.time())
        for taken in sending:
            ((job_id, created),) = conn.execute(_UPSERT_SENDING, taken).fetchall()
            handoff.keep(handoff.sending_job(taken, job_id, created))
        if queued:
            conn.executemany(_UPSERT, queued)

    return hook


def _add_owner_columns(conn: sqlite3.Connection) -> None:
    """A ``send_job`` table made before jobs had owners gets the columns."""
    have = {str(row[1]) for row in conn.execute("PRAGMA table_info(send_job)")}
    if "owner" not in have:
        conn.execute("ALTER TABLE send_job ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
    if "lease" not in have:
        conn.execute("ALTER TABLE send_job ADD COLUMN lease REAL NOT NULL DEFAULT 0")


class SqliteQueueStore:
    """Send jobs in the database of a :class:`SqliteIndex` (a :class:`QueueStore`)."""

    def __init__(self, index: SqliteIndex, side: SideConnection, owner: str | None = None) -> None:
        self.index = index
        self._side = side
        self._hooked = False
        #: Who this process is in the ``owner`` of the jobs it sends (:mod:`.owner`).
        self.owner = owner or new_owner()
        #: Jobs written in 'sending' by the row hook for this process's senders.
        self.handoff = HandOff()
        self._hook = _hook(self.handoff, self.owner)

    @classmethod
    async def open(
        cls, index: SqliteIndex, *, enqueue: bool = True, owner: str | None = None
    ) -> SqliteQueueStore:
        """The job tables of ``index``'s database (made when missing).

        ``enqueue``: add the row hook, so that the index writes the jobs of
        the entries it commits (a reader such as ``dicomnet queue`` leaves it).
        ``owner``: this process's owner id (default: a new one, see :mod:`.owner`).
        """
        side = await SideConnection.open(index, SCHEMA)
        await side.read(lambda conn: conn.execute("PRAGMA synchronous = NORMAL"))
        try:
            await side.write(_add_owner_columns)
        except BaseException:
            await side.close()
            raise
        store = cls(index, side, owner)
        if enqueue:
            index.row_hooks.append(store._hook)
            store._hooked = True
        return store

    async def close(self) -> None:
        """Remove the row hook and release the connection."""
        if self._hooked:
            self.index.row_hooks.remove(self._hook)
            self._hooked = False
        await self._side.close()

    # ------------------------------------------------------------------ senders

    async def claim(self, destination: str, now: float, limit: int) -> list[Job]:
        """Up to ``limit`` due jobs, oldest first, moved to ``sending``."""

        def due(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "SELECT 1 FROM send_job WHERE destination = ? AND state IN"
                    " ('queued', 'failed') AND next_attempt <= ? LIMIT 1",
                    (destination, now),
                ).fetchone()
                is not None
            )

        # Nothing due (the usual answer of a router's idle sender): no write transaction,
        # which would take the write lock from the index's writer.
        if not await self._side.read(due):
            return []

        def work(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM send_job WHERE destination = ? AND state IN"
                " ('queued', 'failed') AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?",
                (destination, now, limit),
            ).fetchall()
            if rows:
                ids = [row[0] for row in rows]
                conn.execute(
                    f"UPDATE send_job SET state = 'sending', updated = ?, owner = ?, lease = ?"
                    f" WHERE id IN ({', '.join('?' * len(ids))})",
                    [now, self.owner, now + LEASE, *ids],
                )
            return [job_from_row(row) for row in rows]

        return await self._side.write(work)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> None:
        """Record the outcomes of attempts (one transaction)."""
        if not outcomes:
            return
        rows = [
            (
                o.state.value,
                o.attempts,
                o.next_attempt,
                o.status,
                o.error,
                now,
                o.job_id,
                self.owner,
            )
            for o in outcomes
        ]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE send_job SET state = ?, attempts = ?, next_attempt = ?, last_status = ?,"
                " error = ?, updated = ?, owner = '' WHERE id = ? AND state = 'sending'"
                " AND owner = ?",
                rows,
            )

        await self._side.write(work)

    async def next_due(self, destination: str) -> float | None:
        """The earliest ``next_attempt`` of a queued or failed job of ``destination``."""

        def work(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT MIN(next_attempt) FROM send_job WHERE destination = ?"
                " AND state IN ('queued', 'failed')",
                (destination,),
            ).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._side.read(work)

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
        """Jobs for ``destinations`` the instance has none for (synced on return)."""
        if not destinations:
            return
        rows = [
            (sop_instance_uid, sop_class_uid, d, path, size, now, now, now) for d in destinations
        ]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(_INSERT + " ON CONFLICT (sop_uid, destination) DO NOTHING", rows)

        full = self.index.fsync
        if full:
            await self._side.read(lambda conn: conn.execute("PRAGMA synchronous = FULL"))
        try:
            await self._side.write(work)
        finally:
            if full:
                await self._side.read(lambda conn: conn.execute("PRAGMA synchronous = NORMAL"))

    async def requeue_sending(self, now: float | None = None) -> int:
        """Jobs in ``sending`` whose owner is gone (lease run out, or a process of this
        host that ended) go back to ``queued``; how many. Others' jobs stay theirs."""
        now = time.time() if now is None else now

        def owners(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT owner FROM send_job WHERE state = 'sending' AND owner <> ?",
                (self.owner,),
            ).fetchall()
            return [str(owner) for (owner,) in rows]

        dead = gone(await self._side.read(owners), self.owner)

        def work(conn: sqlite3.Connection) -> int:
            marks = ", ".join("?" * len(dead))
            cursor = conn.execute(
                "UPDATE send_job SET state = 'queued', owner = '', updated = ?"
                " WHERE state = 'sending' AND owner <> ? AND (lease < ?"
                + (f" OR owner IN ({marks}))" if dead else ")"),
                (now, self.owner, now, *dead),
            )
            return cursor.rowcount

        return await self._side.write(work)

    async def renew(self, now: float | None = None) -> int:
        """Renew the lease of this process's jobs in ``sending``; how many."""
        lease = (time.time() if now is None else now) + LEASE

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE send_job SET lease = ? WHERE state = 'sending' AND owner = ?",
                (lease, self.owner),
            ).rowcount

        return await self._side.write(work)

    # ------------------------------------------------------------------ inspecting

    async def job(self, sop_instance_uid: str, destination: str) -> Job | None:
        """The job of one instance for one destination, or ``None``."""

        def work(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM send_job WHERE sop_uid = ? AND destination = ?",
                (sop_instance_uid, destination),
            ).fetchone()
            return None if row is None else job_from_row(row)

        return await self._side.read(work)

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

        def work(conn: sqlite3.Connection) -> list[Job]:
            return [job_from_row(row) for row in conn.execute(sql, [*args, limit]).fetchall()]

        return await self._side.read(work)

    async def counts(self) -> list[DestinationCounts]:
        """Per destination (with jobs, or paused): jobs per state, bytes sent, paused."""

        def work(conn: sqlite3.Connection) -> list[DestinationCounts]:
            per: dict[str, dict[str, int]] = {}
            for dest, state, n in conn.execute(
                "SELECT destination, state, COUNT(*) FROM send_job GROUP BY destination, state"
            ):
                per.setdefault(str(dest), {})[str(state)] = int(n)
            sent: dict[str, tuple[int, float | None, float | None]] = {}
            for dest, total, first, last in conn.execute(
                "SELECT destination, SUM(size), MIN(updated), MAX(updated) FROM send_job"
                " WHERE state = 'sent' GROUP BY destination"
            ):
                sent[str(dest)] = (int(total or 0), first, last)
            paused = {
                str(name)
                for (name,) in conn.execute("SELECT name FROM send_destination WHERE paused")
            }
            names = sorted(set(per) | paused)
            return [
                DestinationCounts(
                    destination=name,
                    counts={s.value: per.get(name, {}).get(s.value, 0) for s in JobState},
                    bytes_sent=sent.get(name, (0, None, None))[0],
                    paused=name in paused,
                    first_sent=sent.get(name, (0, None, None))[1],
                    last_sent=sent.get(name, (0, None, None))[2],
                )
                for name in names
            ]

        return await self._side.read(work)

    # ------------------------------------------------------------------ steering

    async def retry(
        self, *, destination: str | None = None, job_ids: Sequence[int] = (), now: float
    ) -> int:
        """Failed and error jobs (of ``destination``, or ``job_ids``) back to queued."""
        where, args = job_filter(destination, (JobState.FAILED, JobState.ERROR), None, job_ids)
        sql = "UPDATE send_job SET state = 'queued', attempts = 0, next_attempt = ?, updated = ?"
        sql += where

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, [now, now, *args]).rowcount

        return await self._side.write(work)

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

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(f"DELETE FROM send_job{where}", args).rowcount

        return await self._side.write(work)

    async def set_paused(self, destination: str, paused: bool) -> None:
        """Pause or resume ``destination`` (kept in the database)."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO send_destination (name, paused) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
                (destination, int(paused)),
            )

        await self._side.write(work)

    async def paused(self) -> set[str]:
        """The destinations paused."""

        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT name FROM send_destination WHERE paused").fetchall()
            return {str(name) for (name,) in rows}

        return await self._side.read(work)
