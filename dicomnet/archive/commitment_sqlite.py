"""Storage Commitment from the archive: the verdict and the kept reports.

* :func:`index_verdict` commits an instance when the index has its row and
  its file is there (the Storage SCP answered Success only once both were
  durable); an instance not in the index fails with 0112H (No such object
  instance), one indexed under another SOP class with 0119H (Class/Instance
  conflict), one whose file is gone with 0110H (Processing failure).
* :class:`SqliteReportJournal` keeps outstanding requests and their results
  in the ``commitment_report`` table of the archive's database, for
  :class:`~dicomnet.services.commitment_durable.DurableCommitmentSCP`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from dicomnet.services.commitment import (
    CommitmentRequest,
    CommitmentResult,
    FailedInstance,
    FailureReason,
    InstanceRef,
    Verdict,
)
from dicomnet.services.commitment_durable import OutstandingReport, Recorded

from .backend import IndexBackend
from .migrations import COMMITMENT_SQLITE
from .side import SideConnection
from .sqlite import SqliteIndex

__all__ = ["SqliteReportJournal", "index_verdict"]

SCHEMA: Final = COMMITMENT_SQLITE


def index_verdict(index: IndexBackend) -> Verdict:
    """A :data:`~dicomnet.services.commitment.Verdict` that looks instances up in ``index``."""

    async def verdict(ref: InstanceRef) -> int | None:
        record = await index.locate(ref.sop_instance_uid)
        if record is None:
            return FailureReason.NO_SUCH_OBJECT_INSTANCE
        if record.sop_class_uid != ref.sop_class_uid:
            return FailureReason.CLASS_INSTANCE_CONFLICT
        if record.path is None or not Path(record.path).is_file():
            return FailureReason.PROCESSING_FAILURE
        return None

    return verdict


def _request_json(request: CommitmentRequest) -> str:
    return json.dumps([[r.sop_class_uid, r.sop_instance_uid] for r in request.instances])


def _result_json(result: CommitmentResult) -> str:
    return json.dumps(
        {
            "committed": [[r.sop_class_uid, r.sop_instance_uid] for r in result.committed],
            "failed": [[f.sop_class_uid, f.sop_instance_uid, f.reason] for f in result.failed],
            "retrieve_ae_title": result.retrieve_ae_title,
        }
    )


def _result(uid: str, text: str) -> CommitmentResult:
    data: dict[str, Any] = json.loads(text)
    return CommitmentResult(
        uid,
        tuple(InstanceRef(str(c), str(i)) for c, i in data["committed"]),
        tuple(FailedInstance(str(c), str(i), int(r)) for c, i, r in data["failed"]),
        data.get("retrieve_ae_title"),
    )


class SqliteReportJournal:
    """Outstanding commitment requests in the archive's database (a ``ReportJournal``)."""

    def __init__(self, side: SideConnection) -> None:
        self._side = side

    @classmethod
    async def open(cls, index: SqliteIndex) -> SqliteReportJournal:
        """The journal table of ``index``'s database (made when missing)."""
        return cls(await SideConnection.open(index, SCHEMA))

    async def close(self) -> None:
        """Release the connection."""
        await self._side.close()

    async def record(
        self, request: CommitmentRequest, peer_ae_title: str, peer_host: str | None
    ) -> Recorded:
        """Keep ``request`` unless its Transaction UID is outstanding (durable on return)."""
        instances = _request_json(request)

        def work(conn: sqlite3.Connection) -> Recorded:
            row = conn.execute(
                "SELECT request FROM commitment_report WHERE transaction_uid = ?",
                (request.transaction_uid,),
            ).fetchone()
            if row is not None:
                return Recorded.REPEAT if row[0] == instances else Recorded.CONFLICT
            conn.execute(
                "INSERT INTO commitment_report (transaction_uid, peer_ae, peer_host, request,"
                " received) VALUES (?, ?, ?, ?, ?)",
                (request.transaction_uid, peer_ae_title, peer_host, instances, time.time()),
            )
            return Recorded.NEW

        return await self._side.write(work)

    async def resolve(self, result: CommitmentResult) -> None:
        """Keep the decided result of an outstanding request."""
        await self._side.write(
            lambda conn: conn.execute(
                "UPDATE commitment_report SET result = ? WHERE transaction_uid = ?",
                (_result_json(result), result.transaction_uid),
            )
        )

    async def attempted(self, transaction_uid: str, error: str) -> int:
        """Count a failed delivery; the count."""

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "UPDATE commitment_report SET attempts = attempts + 1, last_error = ?"
                " WHERE transaction_uid = ?",
                (error[:500], transaction_uid),
            )
            row = conn.execute(
                "SELECT attempts FROM commitment_report WHERE transaction_uid = ?",
                (transaction_uid,),
            ).fetchone()
            return 0 if row is None else int(row[0])

        return await self._side.write(work)

    async def delivered(self, transaction_uid: str) -> None:
        """Forget a request whose report was answered."""
        await self._side.write(
            lambda conn: conn.execute(
                "DELETE FROM commitment_report WHERE transaction_uid = ?", (transaction_uid,)
            )
        )

    async def outstanding(self) -> list[OutstandingReport]:
        """Every request whose report is owed, oldest first."""

        def work(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT transaction_uid, peer_ae, peer_host, request, result, attempts"
                " FROM commitment_report ORDER BY received"
            ).fetchall()

        reports = []
        for uid, peer, host, request, result, attempts in await self._side.read(work):
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
