"""Synchronous forward mode, transcoding per destination and the no-transcode refusal."""

from __future__ import annotations

import socket
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file

from dicomnet.queue import JobState
from sendqueue.flaky import Destination
from sendqueue.forward import (
    HOST_DEST,
    IMPLICIT_LE,
    make_files,
    send_files,
    start_router,
    wait_for_states,
)

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


async def test_sync_mode_returns_the_destination_status(tmp_path: Path) -> None:
    dest = Destination(tmp_path / "dest", reject=1, status=0xA701)
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()), mode="sync")
    try:
        files = make_files(tmp_path / "src", 3)
        results = await send_files(running.ports["inbound"], files)
        # The first C-STORE got the destination's refusal; the job is retried meanwhile.
        assert [r.status for r in results] == [0xA701, 0, 0]
        await wait_for_states(running, {JobState.SENT}, 3)
        store = running.resources.queue_store
        assert store is not None
        first = await store.job(results[0].sop_instance_uid, "dest")
        assert first is not None and first.attempts == 2 and first.last_status == 0
    finally:
        await running.close()
        await dest.close()


async def test_sync_mode_answers_a700_when_the_destination_does_not_answer(
    tmp_path: Path,
) -> None:
    # Nothing listens at the destination's address: each attempt fails at once, and
    # with max_attempts = 1 the job is in 'error' after the first. The port stays bound
    # (never listening) for the whole test, so no other server can take it meanwhile.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    running = await start_router(tmp_path, (HOST_DEST, port), mode="sync", max_attempts=1)
    try:
        (result,) = await send_files(running.ports["inbound"], make_files(tmp_path / "src", 1))
        assert result.status == 0xA700
        assert result.error_comment and "cannot associate" in result.error_comment
        await wait_for_states(running, {JobState.ERROR}, 1)
    finally:
        await running.close()
        holder.close()


async def test_transcoded_for_a_destination_that_accepts_only_implicit_le(
    tmp_path: Path,
) -> None:
    dest = Destination(tmp_path / "dest", syntaxes=(IMPLICIT_LE,))
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    try:
        files = make_files(tmp_path / "src", 2)  # Explicit VR Little Endian
        assert all(r.ok for r in await send_files(running.ports["inbound"], files))
        await wait_for_states(running, {JobState.SENT}, 2)
    finally:
        await running.close()
        await dest.close()
    received = [p for p in (tmp_path / "dest").rglob("*") if p.is_file()]
    assert len(received) == 2
    for path in received:
        ds = dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == IMPLICIT_LE
        original = next(dcmread(f) for f in files if dcmread(f).SOPInstanceUID == ds.SOPInstanceUID)
        assert ds.PixelData == original.PixelData


async def test_no_transcoding_from_jpeg_baseline_error_with_the_profile_reason(
    tmp_path: Path,
) -> None:
    source = Path(str(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")))
    assert dcmread(source).file_meta.TransferSyntaxUID == JPEG_BASELINE
    dest = Destination(tmp_path / "dest", syntaxes=(IMPLICIT_LE,))
    running = await start_router(tmp_path, (HOST_DEST, await dest.start()))
    try:
        (result,) = await send_files(running.ports["inbound"], [source])
        assert result.ok
        await wait_for_states(running, {JobState.ERROR}, 1)
        store = running.resources.queue_store
        assert store is not None
        (job,) = await store.jobs()
    finally:
        await running.close()
        await dest.close()
    assert job.attempts == 1  # no retry changes it
    assert "Transcoding is not supported from JPEG Lossless SV1" in job.error
    assert dest.requests == 0
