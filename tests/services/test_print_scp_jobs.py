"""Print jobs outlive their association, for a bounded count and time (PS3.4 H.4.8 N-GET)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from helpers.print_session import (
    BASIC_FILM_BOX,
    action,
    association,
    call,
    one_image_film,
)
from helpers.printer import running_printer
from pydicom.dataset import Dataset

from dicomnet.association import Association
from dicomnet.dimse import commands as cmd
from dicomnet.print.model import PrinterSettings
from dicomnet.services.print_jobs import PrintJob, PrintJobs
from dicomnet.services.print_scp import PRINT_JOB


async def print_one(assoc: Association) -> str:
    """Print a one-image film; the UID of its print job."""
    session, film = await one_image_film(assoc)
    response, reply = await call(assoc, action(BASIC_FILM_BOX, film))
    assert response.status == 0 and reply is not None
    await call(
        assoc,
        cmd.NDeleteRQ(
            message_id=1,
            requested_sop_class_uid="1.2.840.10008.5.1.1.1",
            requested_sop_instance_uid=session,
        ),
    )
    return str(reply.ReferencedPrintJobSequence[0].ReferencedSOPInstanceUID)


async def job_status(assoc: Association, job: str) -> tuple[int, Dataset | None]:
    get = cmd.NGetRQ(
        message_id=1, requested_sop_class_uid=PRINT_JOB, requested_sop_instance_uid=job
    )
    response, info = await call(assoc, get, meta=PRINT_JOB)
    return response.status, info


async def test_a_job_is_read_from_another_association(tmp_path: Path) -> None:
    settings = PrinterSettings(dpi=20, jobs_kept=2)
    async with running_printer(tmp_path, settings=settings) as printer:
        async with association(printer) as first:
            job = await print_one(first)
        async with association(printer) as second:
            status, info = await job_status(second, job)
            assert status == 0 and info is not None
            assert (info.ExecutionStatus, info.ExecutionStatusInfo) == ("DONE", "NORMAL")
            assert info.Originator == first.local_ae_title
            # Two more jobs: only the two most recent are kept.
            later = [await print_one(second), await print_one(second)]
            assert (await job_status(second, job))[0] == 0x0112
            for kept in later:
                assert (await job_status(second, kept))[0] == 0
            assert (await job_status(second, "1.2.3.4"))[0] == 0x0112
        assert len(printer.scp.jobs) == 2


async def test_jobs_are_forgotten_after_their_time(tmp_path: Path) -> None:
    settings = PrinterSettings(dpi=20, job_seconds=0)
    async with running_printer(tmp_path, settings=settings) as printer:
        async with association(printer) as assoc:
            job = await print_one(assoc)
            assert (await job_status(assoc, job))[0] == 0x0112
        assert len(printer.scp.jobs) == 0


def _job(uid: str) -> PrintJob:
    return PrintJob(
        uid=uid, created=datetime(2026, 1, 1), priority="MED", label="", originator="A", films=1
    )


def test_print_jobs_bounds() -> None:
    now = [100.0]
    jobs = PrintJobs(count=2, seconds=60, clock=lambda: now[0])
    jobs.add(_job("1"))
    now[0] += 30
    jobs.add(_job("2"))
    assert jobs.get("1") is not None and len(jobs) == 2
    now[0] += 20
    jobs.add(_job("3"))  # over the count: the oldest goes
    assert jobs.get("1") is None and jobs.get("2") is not None and jobs.get("3") is not None
    now[0] += 41  # job 2 is 61 s old, job 3 41 s
    assert jobs.get("2") is None and jobs.get("3") is not None
    now[0] += 20
    assert jobs.get("3") is None and len(jobs) == 0
