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
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore

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
