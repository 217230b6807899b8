"""WADO-RS metadata: the attributes of stored instances, as DICOM JSON or XML.

Each instance's file is read up to its Pixel Data (:func:`.pixels.read_header`,
in the default executor); Pixel Data and every other binary value longer than
:data:`INLINE_LIMIT` at the top level of the data set is given as a
``BulkDataURI`` (``{instance URL}/bulkdata/{tag}``) that the bulk data route
answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet.query.index import InstanceRecord

from .dicomjson import dataset_to_json, dumps
from .dicomxml import dataset_to_xml
from .pixels import PIXEL_DATA, Header, PixelError, read_header

__all__ = ["INLINE_LIMIT", "instance_url", "metadata_header", "metadata_json", "metadata_xml"]

#: Binary values up to this many bytes are sent inline (base64); longer ones by URI.
INLINE_LIMIT: Final = 1024


def instance_url(base: str, header: Dataset) -> str:
    """The instance's WADO-RS URL under the service root ``base``."""
    return (
        f"{base}/studies/{header.get('StudyInstanceUID', '')}"
        f"/series/{header.get('SeriesInstanceUID', '')}"
        f"/instances/{header.get('SOPInstanceUID', '')}"
    )


async def metadata_header(record: InstanceRecord) -> Header:
    """The header of a stored instance (``OSError``/``PixelError`` when unreadable)."""
    if record.path is None:
        raise OSError(f"{record.sop_instance_uid} has no file")
    return await asyncio.to_thread(read_header, record.path)


def _with_pixels(header: Header) -> Dataset:
    ds = header.dataset
    if header.pixels is not None:
        vr = header.pixels.vr if header.pixels.vr in ("OB", "OW") else "OW"
        if header.pixels.length is None:
            vr = "OB"
        # A placeholder so the metadata names the Pixel Data (its value goes by URI).
        ds.add(DataElement(PIXEL_DATA, vr, b"\0\0"))
    return ds


def _bulk(base: str, ds: Dataset) -> Any:
    url = instance_url(base, ds)

    def handler(path: tuple[int, ...], element: DataElement) -> str | None:
        if len(path) != 1:
            return None
        value = element.value
        if path[0] != PIXEL_DATA and (value is None or len(value) <= INLINE_LIMIT):
            return None
        return f"{url}/bulkdata/{path[0]:08X}"

    return handler


async def metadata_json(records: list[InstanceRecord], base: str) -> AsyncIterator[bytes]:
    """A JSON array with each instance's metadata, streamed one instance at a time."""
    yield b"["
    first = True
    for record in records:
        try:
            header = await metadata_header(record)
        except (OSError, PixelError):
            continue  # gone or unreadable since the index was asked: left out
        ds = _with_pixels(header)
        yield (b"" if first else b",") + dumps(dataset_to_json(ds, bulk=_bulk(base, ds)))
        first = False
    yield b"]"


async def metadata_xml(record: InstanceRecord, base: str) -> bytes | None:
    """One instance's metadata as a Native DICOM Model document (``None``: unreadable)."""
    try:
        header = await metadata_header(record)
    except (OSError, PixelError):
        return None
    ds = _with_pixels(header)
    return dataset_to_xml(ds, bulk=_bulk(base, ds))
