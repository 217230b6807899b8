"""Synchronous forward mode with ``abort_on_store_failure`` (DicomArk), against DCMTK storescu.

The Inbound Server aborts the association when it cannot store an instance
(§5.2.1.3); in the synchronous mode the destination's C-STORE status is
returned to the source (§5.2.2.3), a failure included, and the association
goes on: the instance is held and its job retried.
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers.peers import dcmtk_program
from helpers.programs import run_program

from dicomnet.queue import JobState
from sendqueue.flaky import Destination
from sendqueue.forward import HOST_DEST, make_files, start_router, wait_for_states

ABORTING = "abort_on_store_failure = true"


def _statuses(output: str) -> list[str]:
    """The C-STORE-RSP statuses storescu reports (hexadecimal), in order."""
    return re.findall(r"Received Store Response \(([^)]+)\)", output)


async def test_a_destination_failure_is_returned_and_the_association_goes_on(
    tmp_path: Path,
) -> None:
    storescu = dcmtk_program("storescu")
    dest = Destination(tmp_path / "dest", reject=1, status=0xA701)
    running = await start_router(
        tmp_path,
        (HOST_DEST, await dest.start()),
        mode="sync",
        ae_extra=ABORTING,
    )
    try:
        files = make_files(tmp_path / "src", 3)
        _code, output = await run_program(
            storescu, "-v", "-nh", "-aec", "DICOMARK", "127.0.0.1",
            str(running.ports["inbound"]), *map(str, files),
        )  # fmt: skip
        await wait_for_states(running, {JobState.SENT}, 3)
    finally:
        await running.close()
        await dest.close()
    # The first instance: the destination's refusal, then two successes on the same
    # association, which storescu releases (no abort).
    # The destination's A701 (storescu names it Refused: OutOfResources).
    assert _statuses(output) == ["Refused: OutOfResources", "Success", "Success"], output
    assert "Releasing Association" in output, output
    assert "Abort" not in output, output
    assert dest.requests == 4  # the refused instance was sent again


async def test_an_instance_not_stored_aborts_the_association(tmp_path: Path) -> None:
    storescu = dcmtk_program("storescu")
    dest = Destination(tmp_path / "dest")
    running = await start_router(
        tmp_path,
        (HOST_DEST, await dest.start()),
        mode="sync",
        ae_extra=ABORTING,
        resources_extra="max_bytes = 1",  # the store is full: nothing can be stored
    )
    try:
        files = make_files(tmp_path / "src", 2)
        _code, output = await run_program(
            storescu, "-v", "-nh", "-aec", "DICOMARK", "127.0.0.1",
            str(running.ports["inbound"]), *map(str, files),
        )  # fmt: skip
    finally:
        await running.close()
        await dest.close()
    assert "Peer aborted Association" in output, output
    assert "Success" not in output, output
    assert dest.requests == 0
