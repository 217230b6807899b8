"""Storage Commitment SCP whose outstanding reports survive a restart (PS3.4 J.3).

:class:`DurableCommitmentSCP` is a :class:`~.commitment.CommitmentSCP` that
keeps every request it answers in a :class:`ReportJournal` (the archive's
database: :class:`~dicomnet.archive.commitment_sqlite.SqliteReportJournal`)
*before* it answers the N-ACTION with Success, and its result as soon as it
is decided. The row goes when the N-EVENT-REPORT has been answered by the
peer (any status: PS3.4 J.3.3.1.3 leaves what the SCU does with it to the
SCU). A report that cannot be delivered (peer unreachable, association
refused or aborted) is tried again after ``retry_delay`` seconds, doubling up
to ``retry_limit``, for as long as the process runs; :meth:`resume` (called
at start-up) picks up every report left outstanding by the previous run and
delivers it on a new association.

A request whose Transaction UID is already outstanding is

* the same request again (same instances): the SCU asked again because no
  report came; it is answered Success and the pending report is retried at
  once, on a new association;
* another request: answered Success, and reported with every instance failed
  with 0131H (Duplicate transaction UID, PS3.3 C.14.1.1); that report is sent
  once and not kept.

A request that cannot be written to the journal is answered 0110 (Processing
failure): the SCP does not promise a report it may lose.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Protocol

from dicomnet.dimse.comments import error_comment
from dicomnet.dimse.status import Status
from dicomnet.errors import LocalError
from dicomnet.log import ERROR_LIMIT, logsafe

from .base import Reply
from .commitment import (
    CommitmentRequest,
    CommitmentResult,
    CommitmentSCP,
    FailedInstance,
    FailureReason,
    ReportMode,
    Verdict,
    evaluate,
)

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["DurableCommitmentSCP", "OutstandingReport", "Recorded", "ReportJournal"]

_log = logging.getLogger("dicomnet.services.commitment")

#: Seconds before the first retry of a report that could not be delivered.
RETRY_DELAY: Final = 5.0
#: The longest wait between retries, in seconds.
RETRY_LIMIT: Final = 300.0


class Recorded(Enum):
    """What :meth:`ReportJournal.record` made of a request."""

    NEW = "new"  # kept; a report is owed
    REPEAT = "repeat"  # the same Transaction UID and instances are already outstanding
    CONFLICT = "conflict"  # the Transaction UID is outstanding with other instances


@dataclass(frozen=True, slots=True)
class OutstandingReport:
    """A request whose report has not been delivered yet (``result`` once decided)."""

    request: CommitmentRequest
    peer_ae_title: str
    peer_host: str | None
    result: CommitmentResult | None
    attempts: int


class ReportJournal(Protocol):
    """Durable storage of outstanding commitment requests and their results."""

    async def record(
        self, request: CommitmentRequest, peer_ae_title: str, peer_host: str | None
    ) -> Recorded:
        """Keep ``request`` (durable on return) unless its Transaction UID is outstanding."""
        ...

    async def resolve(self, result: CommitmentResult) -> None:
        """Keep the decided ``result`` of an outstanding request."""
        ...

    async def attempted(self, transaction_uid: str, error: str) -> int:
        """Note a failed delivery; how many there have been."""
        ...

    async def delivered(self, transaction_uid: str) -> None:
        """The report was answered by the peer: forget the request."""
        ...

    async def outstanding(self) -> list[OutstandingReport]:
        """Every request whose report has not been delivered, oldest first."""
        ...


class DurableCommitmentSCP(CommitmentSCP):
    """A :class:`CommitmentSCP` whose reports are kept in ``journal`` until delivered.

    ``verdict`` decides each instance (e.g.
    :func:`~dicomnet.archive.commitment_sqlite.index_verdict`); the other
    options are :class:`CommitmentSCP`'s. ``mode`` may not be
    :attr:`ReportMode.SAME` (a kept report must be deliverable later).
    """

    def __init__(
        self,
        verdict: Verdict,
        journal: ReportJournal,
        *,
        retry_delay: float = RETRY_DELAY,
        retry_limit: float = RETRY_LIMIT,
        **options: Any,
    ) -> None:
        super().__init__(verdict, **options)
        if self.mode is ReportMode.SAME:
            raise LocalError("a durable commitment SCP reports on new associations too")
        self.journal = journal
        self.retry_delay = retry_delay
        self.retry_limit = max(retry_limit, retry_delay)
        self._wake: dict[str, asyncio.Event] = {}

    async def resume(self) -> int:
        """Start delivering every report the journal holds; how many."""
        reports = await self.journal.outstanding()
        for report in reports:
            self._start(
                self._complete(
                    None, report.request, report.peer_ae_title, report.peer_host, report.result
                )
            )
        if reports:
            _log.info("%d outstanding commitment report(s) to deliver", len(reports))
        return len(reports)

    async def _accept(self, assoc: Association, commitment: CommitmentRequest) -> Reply:
        peer = assoc.peer_ae_title
        host = None if not assoc.peer_address else str(assoc.peer_address[0])
        try:
            recorded = await self.journal.record(commitment, peer, host)
        except OSError as exc:
            assoc.log.error("commitment request not kept: %s", logsafe(exc, ERROR_LIMIT))
            comment = error_comment("the request cannot be kept")
            return Reply(status=Status.PROCESSING_FAILURE, fields={"error_comment": comment})
        uid = commitment.transaction_uid
        if recorded is Recorded.REPEAT:
            assoc.log.info("commitment request %s repeated: report retried", logsafe(uid))
            wake = self._wake.get(uid)
            if wake is not None:
                wake.set()
        elif recorded is Recorded.CONFLICT:
            assoc.log.warning("commitment request %s: transaction UID in use", logsafe(uid))
            failed = tuple(
                FailedInstance(
                    ref.sop_class_uid, ref.sop_instance_uid, FailureReason.DUPLICATE_TRANSACTION_UID
                )
                for ref in commitment.instances
            )
            self._start(self._once(assoc, CommitmentResult(uid, (), failed), peer, host))
        else:
            self._start(self._complete(assoc, commitment, peer, host, None))
        return Reply(status=Status.SUCCESS)

    async def _once(
        self, assoc: Association, result: CommitmentResult, peer: str, host: str | None
    ) -> None:
        try:
            await self._deliver(assoc, result, peer, host)
        except Exception as exc:
            _log.warning(
                "commitment report %s to %s not delivered: %s",
                logsafe(result.transaction_uid),
                logsafe(peer),
                logsafe(exc, ERROR_LIMIT),
            )

    async def _complete(
        self,
        assoc: Association | None,
        request: CommitmentRequest,
        peer: str,
        host: str | None,
        result: CommitmentResult | None,
    ) -> None:
        """Decide (unless decided), keep the result, and deliver until it is answered."""
        uid = request.transaction_uid
        wake = self._wake.setdefault(uid, asyncio.Event())
        try:
            if result is None:
                result = await evaluate(request, self.verdict)
                await self.journal.resolve(result)
            delay = self.retry_delay
            while True:
                try:
                    await self._deliver(assoc, result, peer, host)
                    break
                except Exception as exc:
                    _log.warning(
                        "commitment report %s to %s not delivered (kept; next try in %g s): %s",
                        logsafe(uid),
                        logsafe(peer),
                        delay,
                        logsafe(exc, ERROR_LIMIT),
                    )
                    await self.journal.attempted(uid, str(exc))
                assoc = None  # later attempts go on a new association
                wake.clear()
                try:
                    async with asyncio.timeout(delay):
                        await wake.wait()
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.retry_limit)
            await self.journal.delivered(uid)
        except OSError as exc:  # the journal failed: the report stays for the next start
            _log.error("commitment report %s: journal failed: %s", logsafe(uid), exc)
        finally:
            if self._wake.get(uid) is wake:
                del self._wake[uid]
