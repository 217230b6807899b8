"""Print jobs, the Printer's attributes, and the N-EVENT-REPORTs a Print SCP sends.

A :class:`PrintJob` is made by each print action (PS3.4 H.4.8); the SCP
writes its films before answering, so a job is DONE (or FAILURE) when the
SCU first sees it. Jobs outlive the association that made them, as a
printer's job queue does: :class:`PrintJobs` keeps the most recent ones, for a
bounded count and time, for N-GET from any association.
:class:`PrintNotifier` sends the optional event reports on the requesting
association, in background tasks: Printer NORMAL (PS3.4 H.4.11.2.1) and
Print Job DONE (H.4.8.2.1).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from dicomnet.dimse import commands as cmd
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.errors import DicomNetError
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.print.model import PrinterSettings
from dicomnet.services.print_scu import PRINTER, PRINTER_INSTANCE

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.negotiation import NegotiatedContext

__all__ = [
    "JOB_DONE_EVENT",
    "PRINTER_NORMAL_EVENT",
    "PRINT_JOB",
    "PrintJob",
    "PrintJobs",
    "PrintNotifier",
    "job_attributes",
    "printer_attributes",
]

#: Print Job SOP Class (PS3.4 H.4.8).
PRINT_JOB: Final = "1.2.840.10008.5.1.1.14"
#: Print Job N-EVENT-REPORT Event Type ID DONE (PS3.4 H.4.8.2.1).
JOB_DONE_EVENT: Final = 3
#: Printer N-EVENT-REPORT Event Type ID NORMAL (PS3.4 H.4.11.2.1).
PRINTER_NORMAL_EVENT: Final = 1


@dataclass(slots=True)
class PrintJob:
    """One print action's job (PS3.3 C.13.8)."""

    uid: str
    created: datetime
    priority: str
    label: str
    originator: str
    films: int
    status: str = "DONE"
    info: str = "NORMAL"


class PrintJobs:
    """Finished print jobs kept for N-GET: at most ``count``, each for ``seconds``.

    Shared by every association of one Print SCP (a job is found by its UID,
    which only its SCU was told). The oldest job goes first when the count is
    reached; a job older than ``seconds`` is forgotten when it is next looked
    at. ``clock`` gives monotonic seconds.
    """

    def __init__(
        self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = count
        self.seconds = seconds
        self._clock = clock
        self._jobs: OrderedDict[str, tuple[float, PrintJob]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._jobs)

    def add(self, job: PrintJob) -> None:
        """Keep ``job`` (forgetting the oldest past ``count``)."""
        self._expire()
        self._jobs[job.uid] = (self._clock(), job)
        self._jobs.move_to_end(job.uid)
        while len(self._jobs) > max(0, self.count):
            self._jobs.popitem(last=False)

    def get(self, uid: str) -> PrintJob | None:
        """The job ``uid`` if it is still kept."""
        self._expire()
        kept = self._jobs.get(uid)
        return None if kept is None else kept[1]

    def _expire(self) -> None:
        oldest = self._clock() - self.seconds
        while self._jobs:
            added, _ = next(iter(self._jobs.values()))
            if added > oldest:
                break
            self._jobs.popitem(last=False)


def job_attributes(job: PrintJob, printer_name: str) -> Dataset:
    """A Print Job SOP instance's attributes for N-GET (PS3.3 C.13.8)."""
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    ds.ExecutionStatus = job.status
    ds.ExecutionStatusInfo = job.info
    ds.CreationDate = job.created.strftime("%Y%m%d")
    ds.CreationTime = job.created.strftime("%H%M%S")
    ds.PrintPriority = job.priority
    ds.PrinterName = printer_name
    ds.Originator = job.originator
    return ds


def printer_attributes(settings: PrinterSettings) -> Dataset:
    """The Printer SOP instance's attributes for N-GET (PS3.3 C.13.9)."""
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    ds.Manufacturer = settings.manufacturer
    ds.ManufacturerModelName = settings.model_name
    ds.SoftwareVersions = settings.software_version
    ds.PrinterStatus = "NORMAL"
    ds.PrinterStatusInfo = "NORMAL"
    ds.PrinterName = settings.name
    return ds


class PrintNotifier:
    """Sends Printer and Print Job event reports in the background; :meth:`drain` waits."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def printer_normal(self, association: Association, context: NegotiatedContext) -> None:
        """Report Printer status NORMAL (no Event Information) on ``context``."""
        message = cmd.NEventReportRQ(
            message_id=1,
            affected_sop_class_uid=PRINTER,
            affected_sop_instance_uid=PRINTER_INSTANCE,
            event_type_id=PRINTER_NORMAL_EVENT,
        )
        self._start(self._send(association, context, message, None))

    def job_done(
        self, association: Association, context: NegotiatedContext, job: PrintJob, label: str
    ) -> None:
        """Report ``job`` DONE on the Print Job SOP Class's ``context``."""
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

        info = Dataset()
        info.ExecutionStatusInfo = job.info
        info.PrintJobID = job.uid[-16:]
        info.FilmSessionLabel = label
        info.PrinterName = self.settings.name
        message = cmd.NEventReportRQ(
            message_id=1,
            has_dataset=True,
            affected_sop_class_uid=PRINT_JOB,
            affected_sop_instance_uid=job.uid,
            event_type_id=JOB_DONE_EVENT,
        )
        self._start(self._send(association, context, message, info))

    async def _send(
        self,
        association: Association,
        context: NegotiatedContext,
        message: cmd.NEventReportRQ,
        dataset: Dataset | None,
    ) -> None:
        data = None if dataset is None else encode_dataset(dataset, context.transfer_syntax)
        try:
            response = await association.send_request(message, data, context=context)
            association.log.info(
                "print: event %d of %s answered 0x%04X",
                message.event_type_id,
                message.affected_sop_class_uid,
                response.status,
            )
        except (DicomNetError, ConnectionError) as exc:
            association.log.info("print: event report not sent: %s", logsafe(exc, ERROR_LIMIT))

    async def drain(self) -> None:
        """Wait until every event report started so far has been answered (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Cancel event reports still being sent."""
        for task in list(self._tasks):
            task.cancel()
