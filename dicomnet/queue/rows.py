"""Send-job rows, shared by the queue stores (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .model import Job, JobState

__all__ = ["JOB_COLUMNS", "job_filter", "job_from_row"]

#: The columns of ``send_job`` in the order :func:`job_from_row` reads them.
JOB_COLUMNS: Final = (
    "id, sop_uid, sop_class, destination, path, size, state, attempts, next_attempt,"
    " last_status, error, created, updated"
)


def job_from_row(row: Sequence[object]) -> Job:
    (id_, uid, cls, dest, path, size, state, attempts, due, status, error, created, updated) = row
    return Job(
        id=int(str(id_)),
        sop_instance_uid=str(uid),
        sop_class_uid=str(cls),
        destination=str(dest),
        path=str(path),
        size=int(str(size)),
        state=JobState(str(state)),
        attempts=int(str(attempts)),
        next_attempt=float(str(due)),
        last_status=None if status is None else int(str(status)),
        error=str(error or ""),
        created=float(str(created)),
        updated=float(str(updated)),
    )


def job_filter(
    destination: str | None,
    states: Sequence[JobState],
    sop_instance_uid: str | None,
    job_ids: Sequence[int],
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    if destination is not None:
        clauses.append("destination = ?")
        args.append(destination)
    if states:
        clauses.append(f"state IN ({', '.join('?' * len(states))})")
        args.extend(s.value for s in states)
    if sop_instance_uid is not None:
        clauses.append("sop_uid = ?")
        args.append(sop_instance_uid)
    if job_ids:
        clauses.append(f"id IN ({', '.join('?' * len(job_ids))})")
        args.extend(job_ids)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
