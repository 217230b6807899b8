"""DicomArk Send Queue example -> DCMTK storescp: instances delivered, transcoded, retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pydicom
import pytest
from helpers.certs import make_certs
from helpers.peers import dcmtk_program, free_port, wait_port_open

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.dimse.commands import CommandField
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.storage.filenames import instance_filename

from .support import (
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    TIMEOUT,
    make_dataset,
    run_example,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop


@asynccontextmanager
async def storescp(tmp_path: Path, *options: str) -> AsyncIterator[tuple[int, Path]]:
    """DCMTK's storescp on a free loopback port; yields (port, output folder)."""
    program = dcmtk_program("storescp")
    output = tmp_path / "storescp"
    output.mkdir()
    port = free_port()
    with (tmp_path / "storescp.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            program, *options, "-od", str(output), str(port), stdout=log, stderr=log
        )
    try:
        await wait_port_open("127.0.0.1", port)
        yield port, output
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), TIMEOUT)


def received(folder: Path) -> dict[str, pydicom.Dataset]:
    """What storescp wrote, by SOP Instance UID."""
    found = (pydicom.dcmread(path) for path in folder.iterdir() if path.is_file())
    return {str(ds.SOPInstanceUID): ds for ds in found}


async def test_send_queue_delivers_a_folder(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    sent = {}
    for number, syntax in enumerate((IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE)):
        ds = make_dataset(instance_number=number)
        write_instance(ds, outbox / f"sub{number}" / "instance.dcm", syntax)
        sent[str(ds.SOPInstanceUID)] = ds
    (outbox / "notes.txt").write_text("not DICOM: skipped")
    async with storescp(tmp_path) as (port, output):
        code, out = await run_example(
            "dicomark_send_queue.py", "--port", str(port), "--called-ae", "STORESCP", outbox
        )
    assert code == 0, out
    assert out.count("sent ") == 3, out
    assert "3 sent, 0 in Error" in out
    got = received(output)
    assert set(got) == set(sent)
    for uid, ds in sent.items():
        assert got[uid].PixelData == ds.PixelData
        assert got[uid].file_meta.SourceApplicationEntityTitle == "DICOMARK"


async def test_a_second_run_sends_only_what_is_not_sent(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = make_dataset(instance_number=1)
    write_instance(first, outbox / "1.dcm", EXPLICIT_LE)
    async with storescp(tmp_path) as (port, output):
        args = ("--port", str(port), "--called-ae", "STORESCP", outbox)
        once = await run_example("dicomark_send_queue.py", *args)
        (output / next(output.iterdir()).name).unlink()  # what storescp got is gone
        second = make_dataset(instance_number=2)
        write_instance(second, outbox / "2.dcm", EXPLICIT_LE)
        again = await run_example("dicomark_send_queue.py", *args)
    assert once[0] == 0 and again[0] == 0, (once, again)
    assert "1 sent, 0 in Error" in once[1] and "2 sent, 0 in Error" in again[1]
    # The queue kept the first instance as sent: only the new one went out again.
    assert set(received(output)) == {str(second.SOPInstanceUID)}
    assert (tmp_path / ".dicomark-send-queue" / ".index" / "index.sqlite").is_file()


async def test_send_queue_transcodes_to_implicit_le(tmp_path: Path) -> None:
    # storescp +xi accepts Implicit VR LE only: the queue proposed it after the file's own
    # syntax, and transcodes the Explicit VR LE instance on the fly.
    ds = make_dataset()
    path = write_instance(ds, tmp_path / "explicit.dcm", EXPLICIT_LE)
    async with storescp(tmp_path, "+xi") as (port, output):
        code, out = await run_example(
            "dicomark_send_queue.py", "--port", str(port), "--called-ae", "STORESCP", path
        )
    assert code == 0, out
    copy = received(output)[str(ds.SOPInstanceUID)]
    assert copy.file_meta.TransferSyntaxUID == IMPLICIT_LE
    assert copy.PixelData == ds.PixelData
    assert copy.PatientName == ds.PatientName


async def test_send_queue_retries_then_marks_error(tmp_path: Path) -> None:
    path = write_instance(make_dataset(), tmp_path / "a.dcm")
    port = free_port()  # nothing listens there
    code, out = await run_example(
        "dicomark_send_queue.py",
        "--port",
        str(port),
        "--retries",
        "2",
        "--min-interval",
        "0.05",
        path,
    )
    assert code == 1, out
    assert f"error {path} after 3 attempts" in out
    assert "0 sent, 1 in Error" in out


async def test_send_queue_refuses_sop_classes_outside_the_profile(tmp_path: Path) -> None:
    # Segmentation Storage is not among the DicomArk storage SOP classes.
    path = write_instance(
        make_dataset(sop_class="1.2.840.10008.5.1.4.1.1.66.4"), tmp_path / "a.dcm"
    )
    code, out = await run_example("dicomark_send_queue.py", "--port", str(free_port()), path)
    assert code == 1, out
    assert f"error {path}: SOP class 1.2.840.10008.5.1.4.1.1.66.4 is not in the profile" in out


async def test_send_queue_over_tls_to_the_inbound_server(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ds = make_dataset()
    path = write_instance(ds, tmp_path / "a.dcm")
    inbox = tmp_path / "inbox"
    async with server_example(
        "dicomark_inbound_server.py",
        "--output",
        inbox,
        "--tls-cert",
        certs.server_cert,
        "--tls-key",
        certs.server_key,
        log=tmp_path / "server.log",
    ) as server:
        port = str(server.port)
        # Each run with a queue of its own (a run sends only what its queue has not sent).
        verified = await run_example(
            "dicomark_send_queue.py", "--port", port, "--tls-ca", certs.ca, path,
            "--queue", tmp_path / "q1",
        )  # fmt: skip
        # A self-signed (here: unknown CA) destination, accepted on request only.
        refused = await run_example(
            "dicomark_send_queue.py", "--port", port, "--tls", "--retries", "0", path,
            "--queue", tmp_path / "q2",
        )  # fmt: skip
        ignored = await run_example(
            "dicomark_send_queue.py", "--port", port, "--tls", "--tls-ignore-errors", path,
            "--queue", tmp_path / "q3",
        )  # fmt: skip
    assert verified[0] == 0, verified[1]
    assert refused[0] == 1, refused[1]
    assert "CERTIFICATE_VERIFY_FAILED" in refused[1]
    assert ignored[0] == 0, ignored[1]  # the duplicate is kept once, answered with Success
    stored = pydicom.dcmread(inbox / instance_filename(str(ds.SOPInstanceUID)))
    assert stored.file_meta.SourceApplicationEntityTitle == "DICOMARK"
    assert stored.PixelData == ds.PixelData


async def test_send_queue_gives_up_on_a_hung_destination(tmp_path: Path) -> None:
    # A destination that accepts the association but never answers a C-STORE.
    never = asyncio.Event()

    async def hang(request: IncomingRequest) -> Reply:
        await never.wait()
        return Reply()

    ae = AE(
        "HUNG",
        load_profile("dicomark-inbound").policy(),
        handlers=[Binding(command_field=CommandField.C_STORE_RQ, handler=hang)],
    )
    path = write_instance(make_dataset(), tmp_path / "a.dcm")
    async with await ae.serve("127.0.0.1", 0) as server:
        code, out = await run_example(
            "dicomark_send_queue.py",
            "--port",
            str(server.port),
            "--send-timeout",
            "0.3",
            "--retries",
            "1",
            path,
        )
    assert code == 1, out
    assert f"error {path} after 2 attempts: " in out
    assert "dimse" in out.lower()  # the timer that expired is named
