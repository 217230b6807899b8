"""The PostgreSQL index backend (asyncpg), for archives shared by processes and hosts.

Same tables, same answers as :class:`~dicomnet.archive.sqlite.SqliteIndex`
(the schema of :mod:`.migrations`, text columns in byte order so ranges and
prefixes compare as in SQLite); C-FIND runs the statement of
:func:`~dicomnet.archive.plan.plan_query` in the ``postgresql`` dialect.

**Group commit.** :meth:`PostgresIndex.put` queues the entry; one writer
task per process takes every entry queued so far (up to ``batch_limit``) and
commits them in one transaction, then wakes their callers. Other processes
(``serve --workers``, other hosts) write through their own writer at the
same time: parents are made with ``INSERT ... ON CONFLICT DO NOTHING``, and a
transaction that meets a concurrent one (deadlock, serialization failure, a
SOP Instance UID inserted meanwhile, a series deleted meanwhile) is retried
whole, a few times.

**Durability.** ``fsync=True`` (default): each commit waits for the server's
WAL flush (the server's ``synchronous_commit``, ``on`` by default), so a row
is durable when :meth:`put` returns. ``fsync=False``: the session sets
``synchronous_commit = off`` (a server crash may lose the last commits; the
database stays consistent). Unlike the SQLite backend this one does not sync
the folders of files moved in (the folder store does, per file).

Connections come from one pool (``pool_size``); readers hold one for the
life of a C-FIND stream. Database errors raise
:class:`~dicomnet.archive.backend.IndexUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Query

from .backend import IndexUnavailable
from .entry import IndexEntry
from .finding import RowFinding
from .migrations import migrate_postgres
from .plan import POSTGRESQL, numbered
from .rows import (
    BATCH,
    INSTANCE_COLUMNS,
    delete_target,
    instance_columns,
    instance_values,
    level_values,
    row_record,
)
from .schema import LEVEL_TABLES

__all__ = ["Connection", "PostgresIndex", "redacted"]

_log = logging.getLogger("dicomnet.archive")
_T = TypeVar("_T")
#: A connection taken from the pool.
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

#: Transactions retried this many times when they meet a concurrent one.
RETRIES: Final = 6
#: Series keys remembered by the writer, at most.
_SERIES_KEYS: Final = 4096
_RETRYABLE: Final = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.ForeignKeyViolationError,
)
#: What a database failure raises (turned into IndexUnavailable).
_FAILURES: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)
_SELECT_INSTANCE: Final = "SELECT i.sop_uid, i.sop_class, i.transfer_syntax, i.path FROM instance i"
_INSTANCES_BELOW: Final = {
    "IMAGE": _SELECT_INSTANCE + " WHERE i.pk = ANY($1::bigint[])",
    "SERIES": _SELECT_INSTANCE + " WHERE i.series_fk = ANY($1::bigint[])",
    "STUDY": _SELECT_INSTANCE
    + " JOIN series se ON i.series_fk = se.pk WHERE se.study_fk = ANY($1::bigint[])",
    "PATIENT": _SELECT_INSTANCE + " JOIN series se ON i.series_fk = se.pk"
    " JOIN study st ON se.study_fk = st.pk WHERE st.patient_fk = ANY($1::bigint[])",
}
_INSERT_INSTANCE: Final = (
    f"INSERT INTO instance ({', '.join(INSTANCE_COLUMNS)}) VALUES"
    f" ({', '.join(f'${n}' for n in range(1, len(INSTANCE_COLUMNS) + 1))})"
)


def redacted(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def _text(value: object) -> object:
    """A value PostgreSQL's text takes (it refuses NUL characters)."""
    if isinstance(value, str) and "\0" in value:
        return value.replace("\0", "")
    return value


@dataclass(slots=True)
class _Job:
    """One queued write: an entry to put, a journal change, or an operation run alone."""

    future: asyncio.Future[Any]
    entry: IndexEntry | None = None
    journal: tuple[str, str] | None = None
    forget: str | None = None
    operation: Callable[[Connection], Awaitable[Any]] | None = None


class PostgresIndex(RowFinding):
    """An index in a PostgreSQL database; an :class:`~.backend.IndexBackend`.

    Create it with :meth:`open` (which migrates the schema) and end it with
    :meth:`close`.
    """

    #: The SQL dialect of this backend's statements.
    dialect = POSTGRESQL
    #: Folders of files moved in are synced by the folder store, not here.
    syncs_folders: Final = False

    def __init__(
        self, url: str, *, fsync: bool = True, pool_size: int = 8, batch_limit: int = 512
    ) -> None:
        self.url = url
        self.fsync = fsync
        self.pool_size = max(2, pool_size)
        self.batch_limit = batch_limit
        self._pool: asyncpg.Pool | None = None
        self._queue: deque[_Job] = deque()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = False
        self._series_keys: dict[str, int] = {}
        #: Transactions committed by the writer (a measure of group commit).
        self.commits = 0
        #: Called in the writer's transaction with the entries it adds (e.g. to queue
        #: their send jobs): what they write commits, or fails, with the rows.
        self.row_hooks: list[Callable[[Connection, Sequence[IndexEntry]], Awaitable[None]]] = []

    def __repr__(self) -> str:
        return f"PostgresIndex({redacted(self.url)!r})"

    # ------------------------------------------------------------------ life cycle

    @classmethod
    async def open(cls, url: str, **options: Any) -> PostgresIndex:
        """Connect to the database at ``url`` and bring its schema up to date."""
        index = cls(url, **options)
        try:
            index._pool = await asyncpg.create_pool(
                url, min_size=1, max_size=index.pool_size, init=index._init_connection
            )
            async with index._pool.acquire() as conn:
                applied = await migrate_postgres(conn, redacted(url))
            if applied:
                _log.info("index %s: schema steps %s applied", redacted(url), applied)
        except BaseException as exc:
            await index.close()
            if isinstance(exc, _FAILURES) and not isinstance(exc, IndexUnavailable):
                raise IndexUnavailable(f"index {redacted(url)}: {exc}") from exc
            raise
        return index

    async def _init_connection(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        if not self.fsync:
            await conn.execute("SET synchronous_commit = off")

    def _pool_or_fail(self) -> asyncpg.Pool:
        if self._closed or self._pool is None:
            raise IndexUnavailable(f"index {redacted(self.url)} is closed")
        return self._pool

    async def close(self) -> None:
        """Finish queued writes and close the pool."""
        self._closed = True
        if self._writer_task is not None:
            await asyncio.shield(self._writer_task)
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PostgresIndex:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _failure(self, exc: BaseException) -> IndexUnavailable:
        return IndexUnavailable(f"index {redacted(self.url)}: {exc}")

    async def transaction(self, work: Callable[[Connection], Awaitable[_T]]) -> _T:
        """Run ``work`` in one transaction, retried when it meets a concurrent one."""
        pool = self._pool_or_fail()
        for attempt in range(RETRIES):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    return await work(conn)
            except _RETRYABLE as exc:
                self._series_keys.clear()
                if attempt + 1 == RETRIES:
                    raise self._failure(exc) from exc
                _log.debug("index transaction retried: %s", exc)
                await asyncio.sleep(0.005 * (attempt + 1))
            except _FAILURES as exc:
                self._series_keys.clear()
                raise self._failure(exc) from exc
            except BaseException:
                self._series_keys.clear()
                raise
        raise AssertionError("unreachable")

    async def fetch(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Every row of one statement (``$n`` parameters)."""
        pool = self._pool_or_fail()
        try:
            async with pool.acquire() as conn:
                return [tuple(row) for row in await conn.fetch(sql, *params)]
        except _FAILURES as exc:
            raise self._failure(exc) from exc

    # ------------------------------------------------------------------ writing

    async def put(self, entry: IndexEntry) -> None:
        """Add or replace one instance; returns once its transaction is committed."""
        await self._submit(_Job(asyncio.get_running_loop().create_future(), entry=entry))

    async def put_many(self, entries: Sequence[IndexEntry]) -> None:
        """Add or replace several instances (committed together with other queued ones)."""
        loop = asyncio.get_running_loop()
        jobs = [_Job(loop.create_future(), entry=entry) for entry in entries]
        await asyncio.gather(*(self._submit(job) for job in jobs))

    async def journal(self, path: str, sop_instance_uid: str) -> None:
        """Note that the file ``path`` is about to be moved into place."""
        job = _Job(asyncio.get_running_loop().create_future(), journal=(path, sop_instance_uid))
        await self._submit(job)

    async def unjournal(self, path: str) -> None:
        """The file ``path`` will not be indexed after all (its journal row goes)."""
        await self._submit(_Job(asyncio.get_running_loop().create_future(), forget=path))

    async def journaled(self) -> list[tuple[str, str]]:
        """(path, SOP Instance UID) of files journaled and not yet indexed or forgotten."""
        rows = await self.fetch("SELECT path, uid FROM pending ORDER BY path")
        return [(str(p), str(u)) for p, u in rows]

    async def _submit(self, job: _Job) -> Any:
        if self._closed or self._pool is None:
            raise IndexUnavailable(f"index {redacted(self.url)} is closed")
        self._queue.append(job)
        if self._writer_task is None or self._writer_task.done():
            self._writer_task = asyncio.get_running_loop().create_task(self._write_loop())
        return await job.future

    async def _write_loop(self) -> None:
        while self._queue:
            first = self._queue.popleft()
            if first.operation is not None:
                await self._finish([first], first.operation)
                continue
            batch = [first]
            while self._queue and self._queue[0].operation is None:
                if len(batch) >= self.batch_limit:
                    break
                batch.append(self._queue.popleft())
            await self._finish(batch, functools.partial(self._write_batch, batch))

    async def _finish(self, jobs: list[_Job], work: Callable[[Connection], Awaitable[Any]]) -> None:
        try:
            result = await self.transaction(work)
        except Exception as exc:
            if len(jobs) > 1:
                # One bad entry must not fail the others: commit them one by one.
                for job in jobs:
                    await self._finish([job], functools.partial(self._write_batch, [job]))
                return
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.commits += 1
        for job in jobs:
            if not job.future.done():
                job.future.set_result(result)

    async def _write_batch(self, jobs: list[_Job], conn: Connection) -> None:
        entries = [job.entry for job in jobs if job.entry is not None]
        forgets = [job.forget for job in jobs if job.forget is not None]
        # The last journal row of a path wins (forgotten paths go first, as in SQLite).
        journals = dict(job.journal for job in jobs if job.journal is not None)
        if forgets:
            await conn.execute("DELETE FROM pending WHERE path = ANY($1::text[])", forgets)
        if entries:
            if len(self._series_keys) > _SERIES_KEYS:
                self._series_keys.clear()
            await self._insert_many(conn, entries)
            for hook in self.row_hooks:
                await hook(conn, entries)
            paths = [entry.path for entry in entries]
            await conn.execute("DELETE FROM pending WHERE path = ANY($1::text[])", paths)
            await conn.execute("DELETE FROM doomed WHERE path = ANY($1::text[])", paths)
        if journals:
            await conn.execute(
                "INSERT INTO pending (path, uid) SELECT * FROM unnest($1::text[], $2::text[])"
                " ON CONFLICT (path) DO UPDATE SET uid = EXCLUDED.uid",
                list(journals),
                list(journals.values()),
            )

    async def _insert_many(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        uids = [entry.sop_instance_uid for entry in entries]
        rows = await conn.fetch(
            "SELECT sop_uid FROM instance WHERE sop_uid = ANY($1::text[])", uids
        )
        known = {str(row[0]) for row in rows}
        fresh: list[list[object]] = []
        for entry in entries:
            uid = entry.sop_instance_uid
            if uid in known:  # a replacement, or the same UID twice in this batch
                if fresh:
                    await conn.executemany(_INSERT_INSTANCE, fresh)
                    fresh = []
                old = await conn.fetchrow(
                    "DELETE FROM instance WHERE sop_uid = $1 RETURNING series_fk", uid
                )
                if old is not None:
                    await _prune(conn, int(old[0]))
                self._series_keys.clear()
            known.add(uid)
            fresh.append(await self._instance_row(conn, entry))
        if fresh:
            await conn.executemany(_INSERT_INSTANCE, fresh)

    async def _instance_row(self, conn: Connection, entry: IndexEntry) -> list[object]:
        series_uid = entry.columns.get("series_uid", "")
        series_key = self._series_keys.get(series_uid)
        if series_key is None:
            series_key = await _upsert_parents(conn, entry, instance_columns(entry))
            self._series_keys[series_uid] = series_key
        return instance_values(entry, series_key, _text)

    async def _operate(self, operation: Callable[[Connection], Awaitable[_T]]) -> _T:
        self._series_keys.clear()  # deletions may remove series
        job = _Job(asyncio.get_running_loop().create_future(), operation=operation)
        result: _T = await self._submit(job)
        return result

    async def delete(
        self,
        *,
        study_uid: str | None = None,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> list[str]:
        """Remove a study, series or instance (exactly one given); the paths of its files."""
        kind, uid = delete_target(study_uid, series_uid, sop_instance_uid)

        async def work(conn: Connection) -> list[str]:
            self._series_keys.clear()
            paths = await _delete(conn, kind, uid)
            await conn.execute(
                "INSERT INTO doomed (path) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", paths
            )
            return paths

        return await self._operate(work)

    async def doomed(self) -> list[str]:
        """Files of deleted instances not yet confirmed removed."""
        return [str(p) for (p,) in await self.fetch("SELECT path FROM doomed ORDER BY path")]

    async def forget_doomed(self, paths: Sequence[str]) -> None:
        """The files ``paths`` of deleted instances are gone."""

        async def work(conn: Connection) -> None:
            await conn.execute("DELETE FROM doomed WHERE path = ANY($1::text[])", list(paths))

        await self._operate(work)

    async def clear(self) -> None:
        """Remove every row (the files are left alone)."""

        async def work(conn: Connection) -> None:
            self._series_keys.clear()
            for table in ("instance", "series", "study", "patient"):
                await conn.execute(f"DELETE FROM {table}")

        await self._operate(work)

    # ------------------------------------------------------------------ reading

    async def _rows(
        self, sql: str, params: Sequence[object], *, first: int = BATCH
    ) -> AsyncGenerator[tuple[Any, ...], None]:
        """Rows of one SELECT (``?`` parameters), fetched in batches through a cursor."""
        pool = self._pool_or_fail()
        try:
            conn = await pool.acquire()
        except _FAILURES as exc:
            raise self._failure(exc) from exc
        try:
            try:
                transaction = conn.transaction(readonly=True)
                await transaction.start()
                cursor = await conn.cursor(numbered(sql), *params)
            except _FAILURES as exc:
                raise self._failure(exc) from exc
            try:
                size = first
                while True:
                    try:
                        rows = await cursor.fetch(size)
                    except _FAILURES as exc:
                        raise self._failure(exc) from exc
                    if not rows:
                        return
                    for row in rows:
                        yield tuple(row)
                    size = BATCH
            finally:
                with contextlib.suppress(*_FAILURES):
                    await transaction.rollback()
        finally:
            await pool.release(conn)

    async def instances(self, query: Query) -> list[InstanceRecord]:
        """Retrieve: the instances below every matching entity."""
        keys = await self._matching_keys(query)
        if not keys:
            return []
        records: dict[str, InstanceRecord] = {}
        for uid, sop_class, syntax, path in await self.fetch(_INSTANCES_BELOW[query.level], keys):
            records[uid] = row_record(uid, sop_class, syntax, path)
        return list(records.values())

    async def locate(self, sop_instance_uid: str) -> InstanceRecord | None:
        """One instance and its file, or ``None``."""
        rows = await self.fetch(
            "SELECT sop_uid, sop_class, transfer_syntax, path FROM instance WHERE sop_uid = $1",
            sop_instance_uid,
        )
        return row_record(*rows[0]) if rows else None

    async def count(self) -> int:
        """How many instances are indexed."""
        rows = await self.fetch("SELECT count(*) FROM instance")
        return int(rows[0][0])

    async def paths_since(self, received: float) -> list[tuple[str, str]]:
        """(SOP Instance UID, path) of instances received at or after ``received``."""
        sql = "SELECT sop_uid, path FROM instance WHERE received >= $1 ORDER BY received"
        return [(str(u), str(p)) for u, p in await self.fetch(sql, received)]


# ---------------------------------------------------------------------- helpers


async def _upsert_level(
    conn: Connection,
    level: str,
    *,
    key: str,
    columns: dict[str, str],
    header: bytes,
    parent: tuple[str, int] | None = None,
) -> int:
    """The row of an entity (made from this instance if it is the first); its key."""
    table = LEVEL_TABLES[level]
    names, values = level_values(level, columns, header, parent, _text)
    marks = ", ".join(f"${n}" for n in range(1, len(names) + 1))
    pk = await conn.fetchval(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
        f" ON CONFLICT ({key}) DO NOTHING RETURNING pk",
        *values,
    )
    if pk is None:
        pk = await conn.fetchval(
            f"SELECT pk FROM {table} WHERE {key} = $1", _text(columns.get(key, ""))
        )
    if pk is None:  # deleted by another transaction meanwhile: the caller retries
        raise asyncpg.exceptions.SerializationError(f"{table} row {key} vanished")
    return int(pk)


async def _upsert_parents(conn: Connection, entry: IndexEntry, columns: dict[str, str]) -> int:
    """The patient, study and series rows of an instance (made when new); the series key."""
    headers = entry.headers
    patient = await _upsert_level(
        conn, "PATIENT", key="patient_id", columns=columns, header=headers.get("PATIENT", b"")
    )
    study = await _upsert_level(
        conn,
        "STUDY",
        key="study_uid",
        columns=columns,
        header=headers.get("STUDY", b""),
        parent=("patient_fk", patient),
    )
    return await _upsert_level(
        conn,
        "SERIES",
        key="series_uid",
        columns=columns,
        header=headers.get("SERIES", b""),
        parent=("study_fk", study),
    )


async def _prune(conn: Connection, series_pk: int) -> None:
    """Remove the series, study and patient above a removed instance when left empty."""
    if await conn.fetchval("SELECT 1 FROM instance WHERE series_fk = $1 LIMIT 1", series_pk):
        return
    study_pk = await conn.fetchval("DELETE FROM series WHERE pk = $1 RETURNING study_fk", series_pk)
    if study_pk is None:
        return
    if await conn.fetchval("SELECT 1 FROM series WHERE study_fk = $1 LIMIT 1", study_pk):
        return
    patient_pk = await conn.fetchval(
        "DELETE FROM study WHERE pk = $1 RETURNING patient_fk", study_pk
    )
    if patient_pk is None:
        return
    if await conn.fetchval("SELECT 1 FROM study WHERE patient_fk = $1 LIMIT 1", patient_pk):
        return
    await conn.execute("DELETE FROM patient WHERE pk = $1", patient_pk)


async def _delete(conn: Connection, kind: str, uid: str) -> list[str]:
    if kind == "instance":
        where, join = "i.sop_uid = $1", ""
    elif kind == "series":
        where, join = "se.series_uid = $1", " JOIN series se ON i.series_fk = se.pk"
    else:
        where = "st.study_uid = $1"
        join = " JOIN series se ON i.series_fk = se.pk JOIN study st ON se.study_fk = st.pk"
    rows = await conn.fetch(
        f"SELECT i.pk, i.series_fk, i.path FROM instance i{join} WHERE {where}", uid
    )
    await conn.execute("DELETE FROM instance WHERE pk = ANY($1::bigint[])", [r[0] for r in rows])
    for series_pk in sorted({int(r[1]) for r in rows}):
        await _prune(conn, series_pk)
    return [str(r[2]) for r in rows]
