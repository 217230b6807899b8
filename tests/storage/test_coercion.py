"""8-bit Pixel Data received as OW kept as OB (Kodak Disk-Server, 004 §3.1.3.2.2.1): the
stream rewriter on its own, then DCMTK storescu sending to a Kodak Disk-Server profile."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.dimse.dataset import dataset_walker, encode_dataset
from dicomnet.policy import AETitlePolicy
from dicomnet.services.coercion import BITS_ALLOCATED, OwToOb
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore

SC = "1.2.840.10008.5.1.4.1.1.7"
ELE = "1.2.840.10008.1.2.1"
EBE = "1.2.840.10008.1.2.2"
PIXELS = bytes((i * 7) & 0xFF for i in range(64))


def _pairs_swapped(data: bytes) -> bytes:
    """``data`` with each byte pair swapped: 8-bit pixels as OW words in Big Endian."""
    out = bytearray(data)
    out[0::2], out[1::2] = data[1::2], data[0::2]
    return bytes(out)


def _image(bits: int = 8, vr: str = "OW", big_endian: bool = False) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 8
    ds.Columns = 8 if bits == 8 else 4
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    # pydicom writes Pixel Data bytes as given: in Big Endian, OW words are given swapped.
    ds.PixelData = _pairs_swapped(PIXELS) if big_endian and vr == "OW" else PIXELS
    ds["PixelData"].VR = vr
    return ds


def _coerce(data: bytes, syntax: str, sizes: list[int]) -> tuple[bytes, bool]:
    walker = dataset_walker(syntax, capture=(BITS_ALLOCATED,))
    coercer = OwToOb(big_endian=syntax == EBE)
    out = bytearray()
    pos = 0
    for size in [*sizes, len(data)]:
        chunk = data[pos : pos + size]
        pos += len(chunk)
        walker.feed(chunk)
        out += coercer.feed(chunk, walker.pixel_header, walker.captured)
        if pos >= len(data):
            break
    out += coercer.finish()
    return bytes(out), coercer.coerced


@pytest.mark.parametrize("syntax", [ELE, EBE])
@pytest.mark.parametrize("seed", range(8))
def test_ow_becomes_ob_whatever_the_fragments(syntax: str, seed: int) -> None:
    ds = _image(big_endian=syntax == EBE)
    sent = encode_dataset(ds, syntax)
    expected_ds = _image()
    expected_ds.SOPInstanceUID = ds.SOPInstanceUID
    expected_ds.StudyInstanceUID = ds.StudyInstanceUID
    expected_ds.SeriesInstanceUID = ds.SeriesInstanceUID
    expected_ds["PixelData"].VR = "OB"
    expected = encode_dataset(expected_ds, syntax)
    assert sent != expected
    rng = random.Random(seed)
    sizes = [rng.randint(1, 40) for _ in range(200)]
    out, coerced = _coerce(sent, syntax, sizes)
    assert coerced
    assert out == expected
    assert out.endswith(PIXELS)  # OB: the pixels in their own order, whatever the syntax


@pytest.mark.parametrize("syntax", [ELE, EBE])
def test_sixteen_bit_and_ob_are_left_alone(syntax: str) -> None:
    for ds in (_image(bits=16), _image(vr="OB")):
        sent = encode_dataset(ds, syntax)
        out, coerced = _coerce(sent, syntax, [5] * 100)
        assert out == sent and not coerced


@pytest.mark.interop
@pytest.mark.parametrize(("option", "syntax"), [("-xe", ELE), ("-xb", EBE), ("-xi", None)])
async def test_kodak_disk_server_coerces_what_storescu_sends(
    tmp_path: Path, option: str, syntax: str | None
) -> None:
    storescu = dcmtk_program("storescu")
    ds = _image(big_endian=syntax == EBE)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SC
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = EBE if syntax == EBE else ELE
    path = tmp_path / "ow8.dcm"
    ds.save_as(path, enforce_file_format=True)
    policy = load_profile("kodak-disk-server").policy()
    policy = policy.__class__(
        **{
            **{name: getattr(policy, name) for name in policy.__dataclass_fields__},
            "ae_titles": AETitlePolicy(called_ae_titles=("*",)),
        }
    )
    store = MemoryStore()
    server = await AE(policy.ae_title, policy, handlers=[StorageService(store)]).serve(
        "127.0.0.1", 0
    )
    try:
        _, out = await run_program(
            storescu, "-v", option, "-aec", "DISK_SERVER", "127.0.0.1", str(server.port), str(path)
        )
    finally:
        server.close()
        await server.wait_closed()
    (held,) = store.instances.values()
    if syntax is None:  # Implicit VR: no VR on the wire, nothing to coerce
        assert "Received Store Response (Success)" in out, out
        return
    assert held.info.transfer_syntax_uid == syntax
    assert "Warning" in out and "Received Store Response" in out, out  # B000
    assert held.dataset.endswith(PIXELS), out
    header = held.dataset[-len(PIXELS) - 12 : -len(PIXELS)]
    assert header[4:6] == b"OB"
