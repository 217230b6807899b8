"""Data sets and stand-ins shared by the storage SCP tests (no tests here).

Import as ``from storage.test_scp_support import ...``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet.dimse.commands import CStoreRQ
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.policy import Policy
from dicomnet.services.base import DataStream, IncomingRequest

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
NATIVE_SYNTAXES = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED)


def make_dataset(
    *,
    sop_class: str = CT_IMAGE_STORAGE,
    sop_instance: str | None = None,
    pixels: int = 4096,
) -> Dataset:
    """A small image data set with ``pixels`` bytes of 8-bit pixel data."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance or generate_uid()
    ds.Modality = "OT"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "ID-1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    side = max(2, int(pixels**0.5) & ~1)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = side
    ds.Columns = side
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(i & 0xFF for i in range(side * side))
    return ds


def encoded(ds: Dataset, transfer_syntax: str) -> bytes:
    """``ds`` as a DIMSE data set in ``transfer_syntax``."""
    return encode_dataset(ds, transfer_syntax)


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def explicit_element(tag: int, vr: bytes, value: bytes, *, little: bool = True) -> bytes:
    """One Explicit VR element (short-form VR) for hand-made data sets."""
    order = "<" if little else ">"
    return struct.pack(order + "HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


@dataclass
class StubAssociation:
    """The parts of an Association that the storage service reads."""

    peer_ae_title: str = "STORESCU"
    local_ae_title: str = "SCP"
    policy: Policy = field(default_factory=lambda: Policy(ae_title="SCP"))
    log: logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.LoggerAdapter(logging.getLogger("dicomnet.test"), {})
    )


@dataclass
class StubContext:
    """The parts of a negotiated presentation context that the service reads."""

    transfer_syntax: str
    context_id: int = 1
    abstract_syntax: str = CT_IMAGE_STORAGE


def store_request(
    sop_class: str, sop_instance: str, transfer_syntax: str, **association: Any
) -> IncomingRequest:
    """An IncomingRequest for C-STORE with an empty (unfed) data stream."""
    return IncomingRequest(
        association=StubAssociation(**association),  # type: ignore[arg-type]
        message=CStoreRQ(
            message_id=7, affected_sop_class_uid=sop_class, affected_sop_instance_uid=sop_instance
        ),
        context=StubContext(transfer_syntax),  # type: ignore[arg-type]
        data=DataStream(),
    )


async def feed(stream: DataStream, chunks: Iterable[bytes], *, finish: bool = True) -> None:
    """Feed ``chunks`` one per loop iteration (so the consumer runs in between)."""
    for chunk in chunks:
        stream.feed(chunk)
        await asyncio.sleep(0)
    if finish:
        stream.finish()


def part10_dataset_bytes(raw: bytes) -> bytes:
    """The data set of a Part 10 file: everything after the file meta group."""
    assert raw[128:132] == b"DICM", "not a Part 10 file"
    # (0002,0000) UL comes first: 8-byte header, then the 4-byte group length.
    group_length = int.from_bytes(raw[140:144], "little")
    return raw[144 + group_length :]


def jpeg_baseline_file() -> str | None:
    """pydicom's JPEG Baseline test file (SC_rgb_jpeg_dcmtk.dcm), if installed."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    return None if path is None else str(path)


def write_part10(ds: Dataset, transfer_syntax: str, path: str) -> bytes:
    """Save ``ds`` as a Part 10 file in ``transfer_syntax``; returns its data set bytes."""
    from pydicom.dataset import FileMetaDataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    with open(path, "rb") as handle:
        return part10_dataset_bytes(handle.read())


def inflated(data: bytes) -> bytes:
    """A deflated data set (PS3.5 A.5) inflated."""
    import zlib

    inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
    return inflater.decompress(data) + inflater.flush()


def files_being_received(incoming: Path) -> list[str]:
    """The temporary files in ``incoming``: named ones, and unnamed ones this process holds.

    An unnamed file (O_TMPFILE) has no entry in the folder; its descriptor's
    link in ``/proc/self/fd`` reads ``<folder>/#<inode> (deleted)``.
    """
    found = os.listdir(incoming)
    prefix = f"{incoming}/"
    if os.path.isdir("/proc/self/fd"):
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(prefix) and target.endswith(" (deleted)"):
                found.append(target)
    return found
