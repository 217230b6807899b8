"""Outstanding Storage Commitment reports in the archive's PostgreSQL database.

The ``commitment_report`` table of :mod:`.migrations`, kept as
:class:`~.commitment_sqlite.SqliteReportJournal` keeps it in SQLite (a
``ReportJournal`` for
:class:`~dicomnet.services.commitment_durable.DurableCommitmentSCP`).
"""

from __future__ import annotations

import json
import time

from dicomnet.services.commitment import CommitmentRequest, CommitmentResult, InstanceRef
from dicomnet.services.commitment_durable import OutstandingReport, Recorded

from .commitment_sqlite import _request_json, _result, _result_json
from .postgres import Connection, PostgresIndex

__all__ = ["PostgresReportJournal"]


class PostgresReportJournal:
    """Outstanding commitment requests in the archive's PostgreSQL database."""

    def __init__(self, index: PostgresIndex) -> None:
        self._index = index

    @classmethod
    async def open(cls, index: PostgresIndex) -> PostgresReportJournal:
        """The journal of ``index``'s database (its table is made by the migrations)."""
        return cls(index)

    async def close(self) -> None:
        """Nothing to release (the index owns the connections)."""

    async def record(
        self, request: CommitmentRequest, peer_ae_title: str, peer_host: str | None
    ) -> Recorded:
        """Keep ``request`` unless its Transaction UID is outstanding (durable on return)."""
        instances = _request_json(request)

        async def work(conn: Connection) -> Recorded:
            inserted = await conn.fetchval(
                "INSERT INTO commitment_report (transaction_uid, peer_ae, peer_host, request,"
                " received) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (transaction_uid) DO NOTHING RETURNING 1",
                request.transaction_uid,
                peer_ae_title,
                peer_host,
                instances,
                time.time(),
            )
            if inserted is not None:
                return Recorded.NEW
            kept = await conn.fetchval(
                "SELECT request FROM commitment_report WHERE transaction_uid = $1",
                request.transaction_uid,
            )
            return Recorded.REPEAT if kept == instances else Recorded.CONFLICT

        return await self._index.transaction(work)

    async def resolve(self, result: CommitmentResult) -> None:
        """Keep the decided result of an outstanding request."""

        async def work(conn: Connection) -> None:
            await conn.execute(
                "UPDATE commitment_report SET result = $1 WHERE transaction_uid = $2",
                _result_json(result),
                result.transaction_uid,
            )

        await self._index.transaction(work)

    async def attempted(self, transaction_uid: str, error: str) -> int:
        """Count a failed delivery; the count."""

        async def work(conn: Connection) -> int:
            count = await conn.fetchval(
                "UPDATE commitment_report SET attempts = attempts + 1, last_error = $1"
                " WHERE transaction_uid = $2 RETURNING attempts",
                error[:500].replace("\0", ""),
                transaction_uid,
            )
            return 0 if count is None else int(count)

        return await self._index.transaction(work)

    async def delivered(self, transaction_uid: str) -> None:
        """Forget a request whose report was answered."""

        async def work(conn: Connection) -> None:
            await conn.execute(
                "DELETE FROM commitment_report WHERE transaction_uid = $1", transaction_uid
            )

        await self._index.transaction(work)

    async def outstanding(self) -> list[OutstandingReport]:
        """Every request whose report is owed, oldest first."""
        rows = await self._index.fetch(
            "SELECT transaction_uid, peer_ae, peer_host, request, result, attempts"
            " FROM commitment_report ORDER BY received"
        )
        reports = []
        for uid, peer, host, request, result, attempts in rows:
            refs = tuple(InstanceRef(str(c), str(i)) for c, i in json.loads(request))
            reports.append(
                OutstandingReport(
                    CommitmentRequest(str(uid), refs),
                    str(peer),
                    None if host is None else str(host),
                    None if result is None else _result(str(uid), str(result)),
                    int(attempts),
                )
            )
        return reports
