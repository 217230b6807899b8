"""Made-up instances for tests and benchmarks: small images written as Part 10 files.

Nothing here is used on the storage path itself. :func:`make_image` builds a
Secondary Capture-like data set with a pixel pattern; :func:`write_part10`
writes any data set as a PS3.10 file in a given transfer syntax, encoding it
with :func:`dicomnet.dimse.dataset.encode_dataset` (so the data set bytes in
the file are exactly what that function produces).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from dicomnet.dimse.dataset import encode_dataset

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["SECONDARY_CAPTURE", "make_image", "write_part10"]

SECONDARY_CAPTURE: Final = "1.2.840.10008.5.1.4.1.1.7"
_IMPLEMENTATION_CLASS_UID: Final = "2.25.101256110695524707673615620948783894353"


def make_image(
    *,
    rows: int = 64,
    columns: int = 64,
    bits: int = 16,
    sop_class_uid: str = SECONDARY_CAPTURE,
    sop_instance_uid: str | None = None,
    seed: int = 0,
) -> Dataset:
    """A monochrome image data set with a deterministic pixel pattern (no file meta).

    Everything but the SOP Instance UID (random unless given) follows from the
    arguments.
    """
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)
    from pydicom.uid import generate_uid  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid or generate_uid()
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", str(seed)])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", str(seed)])
    ds.PatientName = "SYNTHETIC^IMAGE"
    ds.PatientID = f"SYN{seed}"
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    size = bits // 8
    mask = (1 << bits) - 1
    pixels = bytearray()
    for row in range(rows):
        for column in range(columns):
            pixels += ((row * 31 + column * 7 + seed) & mask).to_bytes(size, "little")
    ds.PixelData = bytes(pixels)
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    ds.set_original_encoding(False, True)
    return ds


def write_part10(
    path: str | os.PathLike[str],
    ds: Dataset,
    transfer_syntax_uid: str,
    *,
    unpadded: bool = False,
) -> Path:
    """Write ``ds`` as a Part 10 file whose data set is in ``transfer_syntax_uid``.

    ``unpadded`` drops the NUL that makes a deflated data set's length even,
    to imitate writers that leave it out.
    """
    from pydicom.dataset import FileMetaDataset  # noqa: PLC0415 (loaded on first use)
    from pydicom.filebase import DicomBytesIO  # noqa: PLC0415 (loaded on first use)
    from pydicom.filewriter import write_file_meta_info  # noqa: PLC0415 (loaded on first use)
    from pydicom.uid import UID  # noqa: PLC0415 (loaded on first use)

    body = encode_dataset(ds, transfer_syntax_uid)
    if unpadded and body.endswith(b"\0") and len(body) % 2 == 0:
        body = body[:-1]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(str(ds.SOPClassUID))
    meta.MediaStorageSOPInstanceUID = UID(str(ds.SOPInstanceUID))
    meta.TransferSyntaxUID = UID(transfer_syntax_uid)
    meta.ImplementationClassUID = UID(_IMPLEMENTATION_CLASS_UID)
    header = DicomBytesIO()
    header.is_little_endian = True
    header.is_implicit_VR = False
    write_file_meta_info(header, meta, enforce_standard=True)
    target = Path(path)
    target.write_bytes(b"\0" * 128 + b"DICM" + header.getvalue() + body)
    return target
