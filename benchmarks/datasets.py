"""Synthetic CT instances for the store benchmarks, written as Part 10 files.

Every instance of a workload shares one encoded header; only the SOP Instance
UID differs. The header is encoded once with pydicom around a placeholder UID
of the same length as the real ones, so each file is the template with the
placeholder replaced (in the file meta information and in the data set) and
the pixel data appended. That keeps generating 2,000 files or 5 x 64 MB fast
and the bytes on the wire identical in size from instance to instance.

Files are Explicit VR Little Endian (PS3.5 §A.2) CT Image Storage instances
with 16-bit MONOCHROME2 pixel data, so every peer under test accepts them
without transcoding.
"""

from __future__ import annotations

import io
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_ROOT_UID, UID, CTImageStorage, ExplicitVRLittleEndian

__all__ = ["WORKLOADS", "InstanceSet", "Workload", "generate"]

#: (7FE0,0010) Pixel Data, OW, with the 4-byte length of PS3.5 §7.1.2; written by hand
#: after the header so a 64 MB pixel buffer is never held twice.
_PIXEL_DATA_HEADER = struct.Struct("<HH2s2xI")

#: Ten digits: a serial number is ``10**9 + i``, so the UID length never changes
#: and no component has a leading zero (PS3.5 §9.1).
_SERIAL_DIGITS = 10


@dataclass(frozen=True, slots=True)
class Workload:
    """One store workload: ``count`` CT instances of ``rows`` x ``columns`` 16-bit pixels."""

    name: str
    count: int
    rows: int
    columns: int
    description: str

    @property
    def pixel_bytes(self) -> int:
        """Length of the Pixel Data value of one instance."""
        return self.rows * self.columns * 2

    def scaled(self, count: int) -> Workload:
        """The same instances, ``count`` of them (used by ``--quick``)."""
        return Workload(self.name, count, self.rows, self.columns, self.description)


#: The three workloads of the store suite: (a) CT slices, (b) small instances, (c) large ones.
WORKLOADS: dict[str, Workload] = {
    "ct": Workload("ct", 200, 512, 512, "200 x 0.5 MB CT"),
    "small": Workload("small", 2000, 48, 48, "2000 x ~5 KB"),
    "large": Workload("large", 5, 4096, 8192, "5 x 64 MB"),
}


@dataclass(frozen=True, slots=True)
class InstanceSet:
    """Files written by :func:`generate`."""

    directory: Path
    paths: tuple[Path, ...]
    sop_instance_uids: tuple[str, ...]
    file_bytes: int  # sum of the file sizes (the MB in MB/s, with MB = 10**6 bytes)
    dataset_bytes: int  # sum of the data set sizes (what crosses the wire in P-DATA)

    @property
    def count(self) -> int:
        """Number of instances."""
        return len(self.paths)


def _header(workload: Workload, uid_root: str, placeholder: str) -> tuple[bytes, int]:
    """Encoded file (preamble, meta, data set without Pixel Data) and the meta length."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(placeholder)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(PYDICOM_ROOT_UID + "1")

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = placeholder
    ds.StudyInstanceUID = uid_root + "1"
    ds.SeriesInstanceUID = uid_root + "2"
    ds.FrameOfReferenceUID = uid_root + "3"
    ds.Modality = "CT"
    ds.PatientName = "BENCH^SYNTHETIC"
    ds.PatientID = "BENCH0001"
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = workload.rows
    ds.Columns = workload.columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True, little_endian=True, implicit_vr=False)
    encoded = buffer.getvalue()
    # Preamble (128) + "DICM" (4) + group length element (12) + the group it measures.
    (meta_group_length,) = struct.unpack_from("<I", encoded, 128 + 4 + 8)
    return encoded, 128 + 4 + 12 + meta_group_length


def _pixels(workload: Workload) -> bytes:
    # A repeating ramp rather than zeros, so nothing on the path can shortcut empty pages.
    ramp = bytes(range(256)) * 16
    whole, rest = divmod(workload.pixel_bytes, len(ramp))
    return ramp * whole + ramp[:rest]


def generate(workload: Workload, directory: Path) -> InstanceSet:
    """Write ``workload.count`` instances under ``directory`` (created if needed).

    File names are ``NNNNNN.dcm``; SOP Instance UIDs are unique per call.
    """
    directory.mkdir(parents=True, exist_ok=True)
    # A fresh random component per call keeps UIDs unique across runs sharing an output dir.
    uid_root = f"{PYDICOM_ROOT_UID}{1 + secrets.randbelow(9 * 10**11) + 10**11}."
    placeholder = uid_root + "9" * _SERIAL_DIGITS
    header, meta_end = _header(workload, uid_root, placeholder)
    needle = placeholder.encode("ascii")
    pixels = _pixels(workload)
    pixel_element = _PIXEL_DATA_HEADER.pack(0x7FE0, 0x0010, b"OW", len(pixels))

    paths: list[Path] = []
    uids: list[str] = []
    for index in range(workload.count):
        uid = f"{uid_root}{10**9 + index}"
        encoded_header = header.replace(needle, uid.encode("ascii"))
        path = directory / f"{index:06d}.dcm"
        with path.open("wb") as handle:
            handle.write(encoded_header)
            handle.write(pixel_element)
            handle.write(pixels)
        paths.append(path)
        uids.append(uid)
    file_size = len(header) + len(pixel_element) + len(pixels)
    dataset_size = file_size - meta_end
    return InstanceSet(
        directory=directory,
        paths=tuple(paths),
        sop_instance_uids=tuple(uids),
        file_bytes=file_size * workload.count,
        dataset_bytes=dataset_size * workload.count,
    )
