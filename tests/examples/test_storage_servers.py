"""Storage SCP examples (DicomArk Inbound, MedDream, LifeSys) against DCMTK and dicomnet peers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from helpers.peers import dcmtk_program
from pydicom.uid import generate_uid

from dicomnet.ae import AE, default_policy
from dicomnet.association import Association
from dicomnet.dimse.commands import CStoreRQ
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.errors import AssociationAborted, AssociationRejected
from dicomnet.policy import ProposedContext
from dicomnet.storage.filenames import instance_filename

from .support import (
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    SECONDARY_CAPTURE,
    TIMEOUT,
    make_dataset,
    run_example,
    run_program,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop


def stored(folder: Path, ds: pydicom.Dataset) -> pydicom.Dataset:
    """The instance the server filed for ``ds``."""
    return pydicom.dcmread(folder / instance_filename(str(ds.SOPInstanceUID)))


async def test_dicomark_inbound_server_files_what_storescu_sends(tmp_path: Path) -> None:
    storescu = dcmtk_program("storescu")
    # (file syntax, storescu proposal option, syntax DicomArk's profile makes it land in):
    # Explicit VR Big Endian is not in the DicomArk table, so DCMTK falls back to Explicit LE.
    cases = [
        (IMPLICIT_LE, "-xi", IMPLICIT_LE),
        (EXPLICIT_LE, "-xd", DEFLATED),
        (EXPLICIT_BE, "-xb", EXPLICIT_LE),
    ]
    inbox = tmp_path / "inbox"
    sent = []
    async with server_example(
        "dicomark_inbound_server.py", "--output", inbox, log=tmp_path / "server.log"
    ) as server:
        for number, (syntax, option, _) in enumerate(cases):
            ds = make_dataset(instance_number=number)
            path = write_instance(ds, tmp_path / f"{number}.dcm", syntax)
            sent.append(ds)
            # Called AE "*" in the profile: any called AE title is answered.
            code, out = await run_program(
                storescu, option, "-aec", "WHATEVER", "127.0.0.1", str(server.port), path
            )
            assert code == 0, out
        code, out = await run_example(
            "echo_scu.py", "127.0.0.1", str(server.port), "--called-ae", "DICOMARK"
        )
        assert code == 0, out
        assert "C-ECHO status 0x0000" in out
    assert server.exit_code == 0
    for ds, (_, _, landed) in zip(sent, cases, strict=True):
        copy = stored(inbox, ds)
        assert copy.file_meta.TransferSyntaxUID == landed
        assert copy.PixelData == ds.PixelData
        assert copy.file_meta.SourceApplicationEntityTitle == "STORESCU"


async def storescu(port: int, called_ae: str, path: Path) -> tuple[int, str]:
    """DCMTK's storescu sends ``path`` to ``called_ae`` on the loopback ``port``."""
    return await run_program(
        dcmtk_program("storescu"), "-aec", called_ae, "127.0.0.1", str(port), path
    )


@pytest.mark.parametrize(
    ("program", "called_ae", "echo_to_other_ae"),
    [
        # MedDream answers DCMRCV only: another called AE title is rejected outright.
        ("meddream_storage_server.py", "DCMRCV", False),
        # LifeSys accepts another called AE title for Verification only (§4.2.1).
        ("lifesys_storage.py", "STORE_SCP", True),
    ],
)
async def test_storage_only_through_the_servers_called_ae(
    tmp_path: Path, program: str, called_ae: str, echo_to_other_ae: bool
) -> None:
    echoscu = dcmtk_program("echoscu")
    ds = make_dataset()
    path = write_instance(ds, tmp_path / "a.dcm")
    folder = tmp_path / "folder"
    async with server_example(program, "--output", folder, log=tmp_path / "server.log") as server:
        code, out = await run_program(echoscu, "-aec", "OTHER_AE", "127.0.0.1", str(server.port))
        assert (code == 0) is echo_to_other_ae, out
        code, out = await storescu(server.port, "OTHER_AE", path)
        assert code != 0, out
        assert not (folder / instance_filename(str(ds.SOPInstanceUID))).exists()
        code, out = await storescu(server.port, called_ae, path)
        assert code == 0, out
    copy = stored(folder, ds)
    assert copy.SOPInstanceUID == ds.SOPInstanceUID
    assert copy.PatientName == ds.PatientName


async def test_lifesys_keeps_the_first_copy_of_a_duplicate(tmp_path: Path) -> None:
    first = make_dataset(patient_name="First^Copy")
    second = make_dataset(patient_name="Second^Copy")
    second.SOPInstanceUID = first.SOPInstanceUID
    files = [
        write_instance(first, tmp_path / "first.dcm"),
        write_instance(second, tmp_path / "second.dcm"),
    ]
    archive = tmp_path / "archive"
    async with server_example(
        "lifesys_storage.py", "--output", archive, log=tmp_path / "server.log"
    ) as server:
        for path in files:
            code, out = await storescu(server.port, "STORE_SCP", path)
            assert code == 0, out  # the duplicate is answered with Success too
    assert stored(archive, first).PatientName == "First^Copy"
    assert len(list(archive.glob("*.dcm"))) == 1


async def test_lifesys_rejects_the_eleventh_association(tmp_path: Path) -> None:
    ae = AE("LOADER")
    async with server_example(
        "lifesys_storage.py", "--output", tmp_path / "archive", log=tmp_path / "server.log"
    ) as server:
        held = [
            await ae.associate("127.0.0.1", server.port, called_ae="STORE_SCP") for _ in range(10)
        ]
        try:
            with pytest.raises(AssociationRejected) as rejected:
                await ae.associate("127.0.0.1", server.port, called_ae="STORE_SCP")
            # PS3.8 Table 9-21: transient (2), service-provider presentation (3),
            # local-limit-exceeded (2).
            assert (rejected.value.result, rejected.value.source, rejected.value.reason) == (
                2,
                3,
                2,
            )
        finally:
            for assoc in held:
                await assoc.release()
        # A slot is free again.
        async with ae.associate("127.0.0.1", server.port, called_ae="STORE_SCP") as assoc:
            assert (await assoc.echo()).is_success


async def test_dicomark_inbound_server_aborts_when_an_instance_is_not_stored(
    tmp_path: Path,
) -> None:
    ds = make_dataset()
    ae = AE(
        "SENDER",
        replace(
            default_policy("SENDER"),
            proposed_contexts=(
                ProposedContext(
                    abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(EXPLICIT_LE,)
                ),
            ),
        ),
    )
    # The command names another SOP Instance than the data set: A900, not stored.
    request = CStoreRQ(
        message_id=1,
        affected_sop_class_uid=SECONDARY_CAPTURE,
        affected_sop_instance_uid=generate_uid(),
    )
    inbox = tmp_path / "inbox"
    async with server_example(
        "dicomark_inbound_server.py", "--output", inbox, log=tmp_path / "server.log"
    ) as server:
        assoc = await ae.associate("127.0.0.1", server.port, called_ae="DICOMARK")
        with pytest.raises(AssociationAborted):
            await assoc.send_request(request, encode_dataset(ds, EXPLICIT_LE))
        await assoc.wait_closed()
        # The server goes on serving.
        code, out = await run_example("echo_scu.py", "127.0.0.1", str(server.port))
        assert code == 0, out
    assert list(inbox.glob("*.dcm")) == []
    assert "aborting" in (tmp_path / "server.log").read_text()


async def test_meddream_storage_server_serves_one_association_at_a_time(tmp_path: Path) -> None:
    ae = AE("VIEWER")

    async def associate() -> Association:
        return await ae.associate("127.0.0.1", server.port, called_ae="DCMRCV")

    async with server_example(
        "meddream_storage_server.py", "--output", tmp_path / "store", log=tmp_path / "server.log"
    ) as server:
        first = await associate()
        second = asyncio.ensure_future(associate())
        # The second waits (its connection is held) while the first is open ...
        done, _ = await asyncio.wait({second}, timeout=0.5)
        assert not done
        assert (await first.echo()).is_success
        await first.release()
        # ... and is served once the first has ended.
        assoc = await asyncio.wait_for(second, TIMEOUT)
        assert (await assoc.echo()).is_success
        await assoc.release()
