"""WADO-RS (PS3.18 §10.4): instances, metadata, frames and bulk data from the archive.

Resources (under the service root; ``{s}``, ``{se}``, ``{i}`` are UIDs)::

    /studies/{s}[/series/{se}[/instances/{i}]]              instances
    /studies/{s}[/series/{se}[/instances/{i}]]/metadata     metadata
    /studies/{s}/series/{se}/instances/{i}/frames/{list}    frames
    /studies/{s}/series/{se}/instances/{i}/bulkdata/{tag}   bulk data

Instances: ``multipart/related; type="application/dicom"``, one Part 10
file per part, streamed from the stored file when its transfer syntax is
acceptable (``transfer-syntax=*``, or the stored one); without a
``transfer-syntax`` parameter Explicit VR Little Endian is meant, and an
instance stored otherwise is re-encoded when it can be (else it is left out
with a ``Warning`` header, or the answer is 406 when none can be sent).

Metadata: ``application/dicom+json`` (streamed array), or
``multipart/related; type="application/dicom+xml"`` (one Native DICOM Model
document per part). Frames: ``multipart/related; type="application/octet-stream"``
for native pixel data (little endian), or the compressed media type of the
stored syntax (``image/jpeg``, ``image/jls``, ``image/jp2``, ``image/dicom-rle``...),
each frame one part, read from the file in place. Bulk data:
``multipart/related; type="application/octet-stream"`` (or
``application/octet-stream`` alone) with the value's bytes.

Errors: 400 for a malformed UID, frame list or tag, 404 for what the
archive does not hold (or a frame number past the last), 406 when nothing
acceptable can be produced, 503 when the index fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dicomnet.query.index import InstanceRecord

from .context import WebArchive
from .errors import WebError
from .media import MediaRange, parse_accept
from .metadata import metadata_header, metadata_json, metadata_xml
from .multipart import MultipartWriter
from .pixels import PIXEL_DATA, PixelError, frame_ranges
from .retrieve import EXPLICIT_LE, file_chunks, instance_part, part_syntax, select_records
from .urls import service_url

__all__ = ["COMPRESSED_MEDIA", "routes"]

_log = logging.getLogger("dicomnet.web")

#: The media type of a frame in each compressed transfer syntax (PS3.18 Table 8.7.3-2).
COMPRESSED_MEDIA: Final = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}
_NATIVE_LITTLE: Final = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"}
)
_DICOM: Final = "application/dicom"
_JSON: Final = "application/dicom+json"
_XML: Final = "application/dicom+xml"
_OCTETS: Final = "application/octet-stream"
_MAX_FRAMES_LISTED: Final = 10_000


def _accept(request: Request) -> list[MediaRange]:
    try:
        return parse_accept(request.headers.getlist("accept"))
    except ValueError as exc:
        raise WebError(400, f"bad Accept header: {exc}") from exc


def _multipart_ranges(accept: list[MediaRange], part_type: str) -> list[MediaRange]:
    """The ranges accepting ``multipart/related`` with parts of ``part_type``."""
    found = []
    for media in accept:
        if media.quality <= 0 or not media.covers("multipart/related"):
            continue
        wanted = (media.params.get("type") or "*/*").lower()
        if media.type == "multipart/related" and wanted not in (part_type, "*/*", "application/*"):
            continue
        found.append(media)
    return sorted(found, key=lambda m: -m.quality)


def _dicom_syntaxes(accept: list[MediaRange]) -> list[str]:
    syntaxes: list[str] = []
    for media in _multipart_ranges(accept, _DICOM):
        syntax = media.params.get("transfer-syntax", EXPLICIT_LE)
        if syntax not in syntaxes:
            syntaxes.append(syntax)
    return syntaxes


# ------------------------------------------------------------------ instances


async def _instances(request: Request, records: list[InstanceRecord]) -> Response:
    syntaxes = _dicom_syntaxes(_accept(request))
    if not syntaxes:
        raise WebError(406, 'instances are sent as multipart/related; type="application/dicom"')
    plan = [(record, part_syntax(record.transfer_syntax_uid, syntaxes)) for record in records]
    sendable = [(record, syntax) for record, syntax in plan if syntax is not None]
    if not sendable:
        raise WebError(406, "not available in an acceptable transfer syntax")
    headers = {}
    if len(sendable) < len(plan):
        headers["Warning"] = (
            f'299 {request.url.netloc}: "{len(plan) - len(sendable)} instance(s) not'
            ' available in an acceptable transfer syntax were left out."'
        )
    writer = MultipartWriter(_DICOM)

    async def body() -> AsyncIterator[bytes]:
        for record, syntax in sendable:
            yield writer.part_header(f"{_DICOM}; transfer-syntax={syntax}")
            async for data in instance_part(record, syntax):
                yield data
        yield writer.close()

    return StreamingResponse(body(), media_type=writer.content_type, headers=headers)


async def retrieve_study(request: Request) -> Response:
    """``/studies/{study}``."""
    archive: WebArchive = request.app.state.archive
    return await _instances(request, await select_records(archive, request.path_params["study"]))


async def retrieve_series(request: Request) -> Response:
    """``/studies/{study}/series/{series}``."""
    archive: WebArchive = request.app.state.archive
    params = request.path_params
    records = await select_records(archive, params["study"], params["series"])
    return await _instances(request, records)


async def retrieve_instance(request: Request) -> Response:
    """``/studies/{study}/series/{series}/instances/{instance}``."""
    return await _instances(request, await _one(request))


async def _one(request: Request) -> list[InstanceRecord]:
    archive: WebArchive = request.app.state.archive
    params = request.path_params
    return await select_records(archive, params["study"], params["series"], params["instance"])


# ------------------------------------------------------------------- metadata


async def _metadata(request: Request, records: list[InstanceRecord]) -> Response:
    accept = _accept(request)
    base = service_url(request)
    json_ok = max(
        (m.quality for m in accept if m.covers(_JSON) or m.covers("application/json")),
        default=0.0,
    )
    xml_ranges = _multipart_ranges(accept, _XML)
    xml_ok = max((m.quality for m in xml_ranges if m.type != "*/*"), default=0.0)
    if json_ok <= 0 and xml_ok <= 0:
        raise WebError(406, "metadata is sent as application/dicom+json or multipart XML")
    if json_ok >= xml_ok:
        return StreamingResponse(metadata_json(records, base), media_type=_JSON)
    writer = MultipartWriter(_XML)

    async def body() -> AsyncIterator[bytes]:
        for record in records:
            document = await metadata_xml(record, base)
            if document is not None:
                yield writer.part_header(_XML)
                yield document
        yield writer.close()

    return StreamingResponse(body(), media_type=writer.content_type)


async def study_metadata(request: Request) -> Response:
    """``/studies/{study}/metadata``."""
    archive: WebArchive = request.app.state.archive
    return await _metadata(request, await select_records(archive, request.path_params["study"]))


async def series_metadata(request: Request) -> Response:
    """``/studies/{study}/series/{series}/metadata``."""
    archive: WebArchive = request.app.state.archive
    params = request.path_params
    records = await select_records(archive, params["study"], params["series"])
    return await _metadata(request, records)


async def instance_metadata(request: Request) -> Response:
    """``/studies/{study}/series/{series}/instances/{instance}/metadata``."""
    return await _metadata(request, await _one(request))


# ------------------------------------------------------------ frames, bulk data


def _frame_numbers(text: str) -> list[int]:
    numbers = []
    for piece in text.split(","):
        item = piece.strip()
        if not item.isdigit() or len(item) > 9 or int(item) < 1:
            raise WebError(400, f"not a frame number: {item[:20]!r}")
        numbers.append(int(item))
    if len(numbers) > _MAX_FRAMES_LISTED:
        raise WebError(400, f"at most {_MAX_FRAMES_LISTED} frames per request")
    return numbers


def _frame_media(accept: list[MediaRange], stored: str) -> str | None:
    """The part media type to send frames of ``stored`` in, if the client takes it."""
    native = stored in _NATIVE_LITTLE
    own = _OCTETS if native else COMPRESSED_MEDIA.get(stored)
    if own is None:
        return None
    for media in accept:
        if media.quality <= 0 or not media.covers("multipart/related"):
            continue
        wanted = (media.params.get("type") or "*/*").lower()
        syntax = media.params.get("transfer-syntax")
        covered = wanted in ("*/*", own) or (wanted.endswith("/*") and own.startswith(wanted[:-1]))
        if covered and (syntax in (None, "*", stored) or (native and syntax == EXPLICIT_LE)):
            return own
        if wanted == _OCTETS and syntax == "*":
            return _OCTETS
    return None


async def retrieve_frames(request: Request) -> Response:
    """``/studies/{s}/series/{se}/instances/{i}/frames/{list}``."""
    numbers = _frame_numbers(str(request.path_params["frames"]))
    [record] = await _one(request)
    try:
        header = await metadata_header(record)
    except (OSError, PixelError) as exc:
        raise WebError(404, f"instance unreadable: {exc}") from exc
    stored = header.transfer_syntax_uid
    media = _frame_media(_accept(request), stored)
    if media is None:
        raise WebError(406, f"frames of this instance are sent as stored ({stored})")
    assert record.path is not None
    try:
        ranges = frame_ranges(record.path, header)
    except (OSError, PixelError) as exc:
        raise WebError(404, f"no frames: {exc}") from exc
    if max(numbers) > len(ranges):
        raise WebError(404, f"the instance has {len(ranges)} frame(s)")
    writer = MultipartWriter(media)
    path = record.path
    label = EXPLICIT_LE if stored in _NATIVE_LITTLE else stored
    part_type = f"{media}; transfer-syntax={label}"

    async def body() -> AsyncIterator[bytes]:
        for number in numbers:
            yield writer.part_header(part_type)
            for offset, length in ranges[number - 1]:
                async for data in file_chunks(path, offset, length):
                    yield data
        yield writer.close()

    return StreamingResponse(body(), media_type=writer.content_type)


async def retrieve_bulkdata(request: Request) -> Response:
    """``/studies/{s}/series/{se}/instances/{i}/bulkdata/{tag}``."""
    text = str(request.path_params["tag"])
    if len(text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise WebError(400, f"not a tag: {text[:20]!r}")
    tag = int(text, 16)
    accept = _accept(request)
    multipart = bool(_multipart_ranges(accept, _OCTETS))
    single = any(m.covers(_OCTETS) and m.type != "*/*" and m.quality > 0 for m in accept)
    if not multipart and not single:
        raise WebError(406, "bulk data is sent as application/octet-stream")
    [record] = await _one(request)
    try:
        header = await metadata_header(record)
    except (OSError, PixelError) as exc:
        raise WebError(404, f"instance unreadable: {exc}") from exc
    assert record.path is not None
    path = record.path
    pieces: list[tuple[int, int | None]] = []
    inline: bytes | None = None
    if tag == PIXEL_DATA:
        pixels = header.pixels
        if pixels is None:
            raise WebError(404, "no Pixel Data")
        if pixels.length is None:
            try:
                frames = frame_ranges(path, header)
            except PixelError as exc:
                raise WebError(404, str(exc)) from exc
            pieces = [piece for frame in frames for piece in frame]
        else:
            pieces = [(pixels.offset, pixels.length)]
    else:
        element = header.dataset.get(tag)
        if element is None or not isinstance(element.value, bytes | bytearray):
            raise WebError(404, f"no bulk data at {text.upper()}")
        inline = bytes(element.value)

    async def content() -> AsyncIterator[bytes]:
        if inline is not None:
            yield inline
            return
        for offset, length in pieces:
            async for data in file_chunks(path, offset, length):
                yield data

    if multipart:
        writer = MultipartWriter(_OCTETS)

        async def body() -> AsyncIterator[bytes]:
            yield writer.part_header(_OCTETS)
            async for data in content():
                yield data
            yield writer.close()

        return StreamingResponse(body(), media_type=writer.content_type)
    return StreamingResponse(content(), media_type=_OCTETS)


def routes(archive: WebArchive) -> list[BaseRoute]:
    """The WADO-RS routes (paths under the service root)."""
    instance = "/studies/{study}/series/{series}/instances/{instance}"
    return [
        Route("/studies/{study}", retrieve_study, methods=["GET"]),
        Route("/studies/{study}/metadata", study_metadata, methods=["GET"]),
        Route("/studies/{study}/series/{series}", retrieve_series, methods=["GET"]),
        Route("/studies/{study}/series/{series}/metadata", series_metadata, methods=["GET"]),
        Route(instance, retrieve_instance, methods=["GET"]),
        Route(f"{instance}/metadata", instance_metadata, methods=["GET"]),
        Route(f"{instance}/frames/{{frames}}", retrieve_frames, methods=["GET"]),
        Route(f"{instance}/bulkdata/{{tag}}", retrieve_bulkdata, methods=["GET"]),
    ]
