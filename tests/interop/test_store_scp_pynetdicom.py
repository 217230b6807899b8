"""pynetdicom SCU (a child process) -> dicomnet StorageService: data sets stored as sent."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pydicom
import pytest
from conftest import require_module
from storage.test_scp_support import (
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    inflated,
    jpeg_baseline_file,
    make_dataset,
    part10_dataset_bytes,
    write_part10,
)

from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.sinks import InstanceInfo

pytestmark = pytest.mark.interop

# Sends each file given on the command line on a context proposing the file's
# own transfer syntax, so pynetdicom sends the data set bytes from the file.
SCU_SCRIPT = """
import sys
import pydicom
from pynetdicom import AE
port, paths = int(sys.argv[1]), sys.argv[2:]
ae = AE(ae_title="PYNETDICOM")
metas = [pydicom.dcmread(p, stop_before_pixels=True).file_meta for p in paths]
for meta in metas:
    ae.add_requested_context(meta.MediaStorageSOPClassUID, [meta.TransferSyntaxUID])
assoc = ae.associate("127.0.0.1", port, ae_title="DICOMNET")
if not assoc.is_established:
    print("not established")
    sys.exit(2)
worst = 0
for path in paths:
    status = assoc.send_c_store(path)
    print("status", hex(status.Status) if status else "none")
    worst = max(worst, 0 if status and status.Status == 0 else 1)
assoc.release()
sys.exit(worst)
"""


async def run_scu(port: int, paths: list[str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCU_SCRIPT,
        str(port),
        *paths,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_pynetdicom_scu_stores_every_syntax_byte_for_byte(tmp_path: Path) -> None:
    require_module("pynetdicom")
    sent: dict[str, tuple[str, bytes]] = {}
    paths = []
    for ts in (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED):
        ds = make_dataset(pixels=120 * 120)
        path = tmp_path / f"{ts}.dcm"
        sent[str(ds.SOPInstanceUID)] = (ts, write_part10(ds, ts, str(path)))
        paths.append(str(path))
    jpeg = jpeg_baseline_file()
    if jpeg is not None:
        uid = str(pydicom.dcmread(jpeg, stop_before_pixels=True).SOPInstanceUID)
        sent[uid] = ("1.2.840.10008.1.2.4.50", part10_dataset_bytes(Path(jpeg).read_bytes()))
        paths.append(jpeg)
    store = FolderStore(tmp_path / "received", fsync=False)
    ae = AE("DICOMNET", storage_policy("DICOMNET"), handlers=[StorageService(store)])
    async with await ae.serve("127.0.0.1", 0) as server:
        code, out = await run_scu(server.port, paths)
    assert code == 0, out
    assert out.count("status 0x0") == len(paths), out
    for uid, (ts, data) in sent.items():
        path = store.path_for(uid)
        stored = part10_dataset_bytes(path.read_bytes())
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        assert meta.TransferSyntaxUID == ts
        assert meta.SourceApplicationEntityTitle == "PYNETDICOM"
        if ts == DEFLATED:
            assert inflated(stored) == inflated(data)
        else:
            assert stored == data, ts


# pynetdicom sending files as they are on disk (STORE_SEND_CHUNKED_DATASET):
# the data set bytes after the file meta go out unread, as from an SCU that
# does not parse what it sends.
RAW_SCU_SCRIPT = SCU_SCRIPT.replace(
    "from pynetdicom import AE\n",
    "from pynetdicom import AE, _config\n_config.STORE_SEND_CHUNKED_DATASET = True\n",
)


async def test_pynetdicom_truncated_or_mislabelled_files_are_refused(tmp_path: Path) -> None:
    require_module("pynetdicom")
    good, cut, mislabelled = (tmp_path / f"{name}.dcm" for name in ("good", "cut", "mislabelled"))
    write_part10(make_dataset(sop_instance="1.2.826.0.1.3680043.99.8.1"), EXPLICIT_LE, str(good))
    # Pixel Data declares its length; the file stops 3000 bytes short of it.
    ds = make_dataset(sop_instance="1.2.826.0.1.3680043.99.8.2", pixels=8192)
    write_part10(ds, EXPLICIT_LE, str(cut))
    cut.write_bytes(cut.read_bytes()[:-3000])
    # Encapsulated Pixel Data in a file (and on a context) that says Explicit VR LE.
    uid = "1.2.826.0.1.3680043.99.8.3"
    ds = make_dataset(sop_instance=uid)
    del ds.PixelData
    encapsulated = (
        b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
        + b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
        + b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\xff\xd9"
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )
    info = InstanceInfo(
        sop_class_uid=str(ds.SOPClassUID), sop_instance_uid=uid, transfer_syntax_uid=EXPLICIT_LE
    )
    mislabelled.write_bytes(file_header(info) + encode_dataset(ds, EXPLICIT_LE) + encapsulated)

    store = FolderStore(tmp_path / "received", fsync=False)
    ae = AE("DICOMNET", storage_policy("DICOMNET"), handlers=[StorageService(store)])
    async with await ae.serve("127.0.0.1", 0) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RAW_SCU_SCRIPT,
            str(server.port),
            str(cut),
            str(mislabelled),
            str(good),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode(errors="replace")
    assert text.split().count("status") == 3, text
    assert "status 0xc000\nstatus 0xc000\nstatus 0x0\n" in text, text
    assert sorted(p.name for p in store.root.iterdir() if p.is_file()) == [
        "1.2.826.0.1.3680043.99.8.1.dcm"
    ]
    assert not list(store.incoming.iterdir())
