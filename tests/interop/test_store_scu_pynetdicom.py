"""dicomnet Storage SCU -> pynetdicom Storage SCP: received data set bytes equal the sent ones.

pynetdicom runs in a child process (its server uses threads). Its C-STORE
handler writes each data set exactly as received (``request.DataSet``, not
decoded) together with the transfer syntax of the presentation context.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from conftest import require_module
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from dicomnet.ae import AE
from dicomnet.dimse.status import StatusCategory
from dicomnet.policy import ProposedContext
from dicomnet.storage.scu import proposed_contexts_for, store, store_all
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.storage.transcode import transcode

pytestmark = pytest.mark.interop

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

# Three SOP classes, each accepted in its own syntaxes (pynetdicom picks in this order).
IMPLICIT_ONLY = "1.2.840.10008.5.1.4.1.1.7.2"
JPEG_ONLY = "1.2.840.10008.5.1.4.1.1.7.3"
UNCOMPRESSED_FIRST = "1.2.840.10008.5.1.4.1.1.7.4"
ACCEPTED = {
    SECONDARY_CAPTURE: (JPEG_BASELINE, IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED),
    IMPLICIT_ONLY: (IMPLICIT_LE,),
    JPEG_ONLY: (JPEG_BASELINE,),
    # Accepts compressed syntaxes but prefers uncompressed ones where both are proposed.
    UNCOMPRESSED_FIRST: (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, JPEG_BASELINE, RLE_LOSSLESS),
}

SCP_SCRIPT = """
import os, sys
from pynetdicom import AE, evt
out = sys.argv[1]
ae = AE(ae_title="PYNETDICOM")
for spec in sys.argv[2:]:
    sop_class, syntaxes = spec.split("=")
    ae.add_supported_context(sop_class, syntaxes.split(","))

def handle(event):
    uid = str(event.request.AffectedSOPInstanceUID)
    with open(os.path.join(out, uid + ".bin"), "wb") as fh:
        fh.write(event.request.DataSet.getvalue())
    with open(os.path.join(out, uid + ".ts"), "w") as fh:
        fh.write(str(event.context.transfer_syntax))
    return 0x0000

server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, handle)])
print("READY", server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""


@dataclass(frozen=True)
class Peer:
    port: int
    out: Path


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """One pynetdicom Storage SCP process for the module (starting one takes a while)."""
    require_module("pynetdicom")
    out = tmp_path_factory.mktemp("received")
    specs = [f"{sop}={','.join(syntaxes)}" for sop, syntaxes in ACCEPTED.items()]
    process = subprocess.Popen(
        [sys.executable, "-c", SCP_SCRIPT, str(out), *specs],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(b"READY"), line
        yield Peer(int(line.split()[1]), out)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def received(peer: Peer, uid: str) -> tuple[str, bytes]:
    return (peer.out / f"{uid}.ts").read_text(), (peer.out / f"{uid}.bin").read_bytes()


def jpeg_file(folder: Path, sop_class: str) -> InstanceSource:
    """pydicom's JPEG Baseline test image, relabelled as ``sop_class`` with a new UID."""
    path = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    assert path is not None
    return relabelled(pydicom.dcmread(path), folder, sop_class)


def rle_file(folder: Path, sop_class: str, seed: int) -> InstanceSource:
    """A synthetic image compressed to RLE Lossless by pydicom, as ``sop_class``."""
    native = write_part10(folder / f"native-{seed}.dcm", make_image(seed=seed), EXPLICIT_LE)
    ds = pydicom.dcmread(native)
    ds.compress(RLE_LOSSLESS, encoding_plugin="pydicom")
    return relabelled(ds, folder, sop_class)


def relabelled(ds: pydicom.Dataset, folder: Path, sop_class: str) -> InstanceSource:
    """``ds`` saved as ``sop_class`` with a new SOP Instance UID."""
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    target = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(target, enforce_file_format=True)
    return InstanceSource.from_path(target)


def synthetic(folder: Path, syntax: str, sop_class: str, seed: int) -> InstanceSource:
    ds = make_image(rows=40, columns=24, seed=seed, sop_class_uid=sop_class)
    return InstanceSource.from_path(write_part10(folder / f"{seed}.dcm", ds, syntax))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, InstanceSource]:
    """Secondary Capture files, one per transfer syntax under test."""
    files = {
        syntax: synthetic(tmp_path, syntax, SECONDARY_CAPTURE, n)
        for n, syntax in enumerate((IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED))
    }
    files[JPEG_BASELINE] = jpeg_file(tmp_path, SECONDARY_CAPTURE)
    return files


async def test_each_syntax_received_byte_for_byte(
    peer: Peer, inputs: dict[str, InstanceSource]
) -> None:
    sources = list(inputs.values())
    # One context per syntax, each listing that syntax alone.
    contexts = proposed_contexts_for(sources, extra_syntaxes=())
    assert len(contexts) == 5
    async with AE("DICOMNET").associate("127.0.0.1", peer.port, contexts=contexts) as assoc:
        results = await store_all(assoc, sources)
    assert all(r.category is StatusCategory.SUCCESS for r in results), results
    assert not any(r.transcoded for r in results), results
    for syntax, source in inputs.items():
        got_syntax, data = received(peer, source.sop_instance_uid)
        assert got_syntax == syntax
        assert data == source.read(), syntax


async def test_transcoded_for_an_implicit_only_peer(peer: Peer, tmp_path: Path) -> None:
    sources = [
        synthetic(tmp_path, EXPLICIT_LE, IMPLICIT_ONLY, 10),
        synthetic(tmp_path, EXPLICIT_BE, IMPLICIT_ONLY, 11),
        jpeg_file(tmp_path, IMPLICIT_ONLY),
    ]
    contexts = proposed_contexts_for(sources)  # each file's syntax, then Implicit VR LE
    async with AE("DICOMNET").associate("127.0.0.1", peer.port, contexts=contexts) as assoc:
        results = [await store(assoc, source) for source in sources]
    for source, result in zip(sources, results, strict=True):
        assert result.ok
        assert result.transcoded
        assert result.transfer_syntax == IMPLICIT_LE
        got_syntax, data = received(peer, source.sop_instance_uid)
        assert got_syntax == IMPLICIT_LE
        assert data == transcode(source, IMPLICIT_LE)  # JPEG Baseline was decompressed
        assert result.bytes_sent == len(data)


async def test_refused_when_peer_takes_only_what_cannot_be_made(peer: Peer, tmp_path: Path) -> None:
    native = synthetic(tmp_path, EXPLICIT_LE, JPEG_ONLY, 20)
    jpeg = jpeg_file(tmp_path, JPEG_ONLY)
    contexts = [ProposedContext(abstract_syntax=JPEG_ONLY, transfer_syntaxes=(JPEG_BASELINE,))]
    async with AE("DICOMNET").associate("127.0.0.1", peer.port, contexts=contexts) as assoc:
        [refused] = await store_all(assoc, [native])
        # The association is still usable: a JPEG Baseline file goes through.
        [stored] = await store_all(assoc, [jpeg])
    assert refused.status is None
    assert refused.error is not None
    assert f"({EXPLICIT_LE})" in refused.error and f"({JPEG_BASELINE})" in refused.error
    assert not (peer.out / f"{native.sop_instance_uid}.bin").exists()
    assert stored.category is StatusCategory.SUCCESS
    assert received(peer, jpeg.sop_instance_uid) == (JPEG_BASELINE, jpeg.read())


async def test_compressed_received_as_is_by_a_peer_preferring_uncompressed(
    peer: Peer, tmp_path: Path
) -> None:
    sources = [jpeg_file(tmp_path, UNCOMPRESSED_FIRST), rle_file(tmp_path, UNCOMPRESSED_FIRST, 30)]
    sources.append(synthetic(tmp_path, EXPLICIT_BE, UNCOMPRESSED_FIRST, 31))
    # What ``dicomnet store`` proposes by default: the fallbacks are uncompressed.
    contexts = proposed_contexts_for(sources, (EXPLICIT_LE, IMPLICIT_LE))
    async with AE("DICOMNET").associate("127.0.0.1", peer.port, contexts=contexts) as assoc:
        accepted = sorted(c.transfer_syntax for c in assoc.negotiated.contexts)
        results = await store_all(assoc, sources)
    # Every context was accepted, the fallback one in Explicit VR LE, which the peer
    # prefers: listed beside a compressed syntax, it would have been chosen there.
    assert accepted == sorted([JPEG_BASELINE, RLE_LOSSLESS, EXPLICIT_BE, EXPLICIT_LE])
    assert all(r.category is StatusCategory.SUCCESS for r in results), results
    assert not any(r.transcoded for r in results), results
    for source in sources:
        got_syntax, data = received(peer, source.sop_instance_uid)
        assert got_syntax == source.transfer_syntax_uid
        assert data == source.read(), got_syntax


async def test_fallback_context_used_when_the_own_one_is_rejected(
    peer: Peer, tmp_path: Path
) -> None:
    # IMPLICIT_ONLY rejects the RLE context; the RLE file goes decompressed on the
    # separate fallback context.
    source = rle_file(tmp_path, IMPLICIT_ONLY, 40)
    contexts = proposed_contexts_for([source], (EXPLICIT_LE, IMPLICIT_LE))
    assert [c.transfer_syntaxes for c in contexts] == [(RLE_LOSSLESS,), (EXPLICIT_LE, IMPLICIT_LE)]
    async with AE("DICOMNET").associate("127.0.0.1", peer.port, contexts=contexts) as assoc:
        [result] = await store_all(assoc, [source])
    assert result.ok and result.transcoded
    assert received(peer, source.sop_instance_uid) == (
        IMPLICIT_LE,
        transcode(source, IMPLICIT_LE),
    )
