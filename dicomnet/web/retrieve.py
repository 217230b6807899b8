"""What a WADO-RS retrieve sends: the instances the index holds, read from their files.

:func:`select_records` asks the index (the C-MOVE/C-GET code path:
``instances`` of a Study Root query) for the instances of a study, series
or instance; an empty answer is 404. Files are those the index names, never
a path made from the request. :func:`file_chunks` reads a byte range of a
file in chunks, so a response streams with flat memory.
:func:`instance_part` gives one ``application/dicom`` part: the stored file
as it is when its transfer syntax is acceptable, otherwise the instance
re-encoded (:func:`dicomnet.storage.transcode.transcode`, in memory, in the
default executor) when that is possible.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Final

from pydicom.dataset import Dataset

from dicomnet.archive.backend import IndexUnavailable
from dicomnet.query.index import InstanceRecord
from dicomnet.query.models import STUDY_ROOT
from dicomnet.query.query import QueryError, parse_query
from dicomnet.storage.meta import file_header
from dicomnet.storage.sinks import InstanceInfo
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.storage.transcode import TranscodeError, can_transcode, transcode

from .context import WebArchive
from .errors import WebError

__all__ = [
    "CHUNK",
    "EXPLICIT_LE",
    "check_uid",
    "file_chunks",
    "instance_part",
    "part_syntax",
    "select_records",
]

_log = logging.getLogger("dicomnet.web")

#: Bytes read from a file per step of a streamed response.
CHUNK: Final = 1024 * 1024
#: The default transfer syntax of ``application/dicom`` (PS3.18 §8.7.3.5.2).
EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
_UID: Final = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_uid(value: str) -> str:
    """``value`` when it is a UID (digits and dots, at most 64 characters), else 400."""
    if len(value) > 64 or not _UID.match(value):
        raise WebError(400, f"not a UID: {value[:80]!r}")
    return value


async def select_records(
    archive: WebArchive, study: str, series: str | None = None, instance: str | None = None
) -> list[InstanceRecord]:
    """The instances of a study, series or instance (404 when there are none)."""
    identifier = Dataset()
    identifier.StudyInstanceUID = check_uid(study)
    level = "STUDY"
    if series is not None:
        identifier.SeriesInstanceUID = check_uid(series)
        level = "SERIES"
    if instance is not None:
        identifier.SOPInstanceUID = check_uid(instance)
        level = "IMAGE"
    identifier.QueryRetrieveLevel = level
    try:
        query = parse_query(identifier, STUDY_ROOT, relational=True, retrieve=True)
        records = await archive.index.instances(query)
    except QueryError as exc:
        raise WebError(400, exc.comment) from exc
    except IndexUnavailable as exc:
        _log.error("WADO-RS: index unavailable: %s", exc)
        raise WebError(503, "the index is unavailable") from exc
    if not records:
        raise WebError(404, f"no such {level.lower() if level != 'IMAGE' else 'instance'}")
    return sorted(records, key=lambda r: str(r.path))


async def file_chunks(
    path: Path, offset: int = 0, length: int | None = None, chunk: int = CHUNK
) -> AsyncIterator[bytes]:
    """The bytes of ``path`` from ``offset`` (``length`` of them, or to the end), in chunks."""
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left is None or left > 0:
            data = fh.read(chunk if left is None else min(chunk, left))
            if not data:
                if left:
                    raise OSError(f"{path} ended {left} bytes early")
                return
            if left is not None:
                left -= len(data)
            yield data
            await asyncio.sleep(0)  # let other requests and associations run


def part_syntax(stored: str, acceptable: Sequence[str]) -> str | None:
    """The transfer syntax to send a stored instance in (``None``: none of ``acceptable``).

    ``acceptable`` lists UIDs in the client's order of preference, ``*``
    meaning "as stored".
    """
    if "*" in acceptable or stored in acceptable:
        return stored
    for syntax in acceptable:
        if can_transcode(stored, syntax):
            return syntax
    return None


def _transcoded(path: Path, target: str) -> tuple[bytes, bytes]:
    source = InstanceSource.from_path(path)
    body = transcode(source, target)
    info = InstanceInfo(
        sop_class_uid=source.sop_class_uid,
        sop_instance_uid=source.sop_instance_uid,
        transfer_syntax_uid=target,
    )
    return file_header(info), body


async def instance_part(record: InstanceRecord, syntax: str) -> AsyncIterator[bytes]:
    """One instance as a Part 10 file in ``syntax`` (streamed when stored so)."""
    path = record.path
    if path is None:
        raise OSError(f"{record.sop_instance_uid} has no file")
    if syntax == record.transfer_syntax_uid:
        async for data in file_chunks(path):
            yield data
        return
    try:
        header, body = await asyncio.to_thread(_transcoded, path, syntax)
    except (TranscodeError, SourceError) as exc:
        raise OSError(f"{record.sop_instance_uid}: {exc}") from exc
    yield header
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]
