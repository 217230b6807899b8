"""STOW-RS (PS3.18 §10.5): instances posted as multipart/related, stored as C-STORE stores.

``POST /studies`` and ``POST /studies/{study}`` take
``multipart/related; type="application/dicom"`` bodies, each part a Part 10
file, read as they arrive (never the whole body, never a whole part in
memory) and stored through the archive's ingest (:mod:`.stow_part`). The
answer is the Store Instances Response Module (PS3.18 Annex I) as DICOM
JSON (or XML when only that is accepted): Retrieve URL, Referenced SOP
Sequence (with each instance's Retrieve URL) and Failed SOP Sequence (with
Failure Reason, a PS3.4 status: C000 cannot understand, A900 does not match,
C111 duplicate refused, A700 out of resources).

Statuses: 200 all stored, 202 some stored and some failed, 409 none stored,
400 a body that is not multipart or ends before its closing boundary with
nothing stored, 413 a body larger than the limit (by Content-Length before
anything is read, or once the limit is passed), 415 a Content-Type other
than multipart/related of application/dicom parts. A part that is refused,
cut short by the body's end, or past the size limit is discarded: nothing is
ever stored partially.
"""

from __future__ import annotations

import logging
from typing import Final

from pydicom.dataset import Dataset
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .context import WebArchive
from .dicomjson import dataset_to_json, dumps
from .dicomxml import dataset_to_xml
from .errors import WebError
from .media import Offer, negotiate, parse_accept, parse_media_type
from .multipart_reader import MultipartError, MultipartReader, PartEnd, PartStart
from .retrieve import check_uid
from .stow_part import CANNOT_UNDERSTAND, PartResult, PartStore
from .urls import service_url

__all__ = ["routes", "store_instances"]

_log = logging.getLogger("dicomnet.web")

_DICOM: Final = "application/dicom"
_OFFERS: Final = (
    Offer("application/dicom+json"),
    Offer("application/json"),
    Offer("application/dicom+xml"),
)


class _TooLarge(Exception):
    pass


def _boundary(request: Request) -> str:
    text = request.headers.get("content-type", "")
    try:
        media = parse_media_type(text)
    except ValueError as exc:
        raise WebError(415, f"bad Content-Type: {exc}") from exc
    if media.type != "multipart/related":
        raise WebError(415, "STOW-RS takes multipart/related bodies")
    part_type = media.params.get("type", _DICOM).lower()
    if part_type != _DICOM:
        raise WebError(415, f'parts of type {part_type!r} are not supported (only "{_DICOM}")')
    boundary = media.params.get("boundary")
    if not boundary:
        raise WebError(400, "multipart body without a boundary")
    return boundary


def _part_is_dicom(headers: dict[str, str]) -> bool:
    text = headers.get("content-type")
    if text is None:
        return True
    try:
        return parse_media_type(text).type == _DICOM
    except ValueError:
        return False


async def _receive(
    request: Request, archive: WebArchive, study: str | None
) -> tuple[list[PartResult], str | None]:
    """Store every part; the results and, if the body was bad, why."""
    reader = MultipartReader(_boundary(request))
    assert archive.ingest is not None
    limit = archive.limits.max_request_bytes
    results: list[PartResult] = []
    current: PartStore | None = None
    received = 0
    problem: str | None = None
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _TooLarge
            for event in reader.feed(chunk):
                if isinstance(event, PartStart):
                    current = PartStore(archive.ingest, study_uid=study)
                    if not _part_is_dicom(event.headers):
                        current.result.failure = CANNOT_UNDERSTAND
                        current.result.reason = "part is not application/dicom"
                elif isinstance(event, PartEnd):
                    if current is not None:
                        results.append(await current.finish())
                    current = None
                elif current is not None:
                    await current.feed(event)
        reader.finish()
    except MultipartError as exc:
        problem = str(exc)
    except ClientDisconnect:
        problem = "the client went away before the body ended"
    except _TooLarge:
        if current is not None:
            await current.abort()
        raise WebError(413, f"request body larger than {limit} bytes") from None
    finally:
        if current is not None:
            await current.abort()
    if problem is not None and current is not None:
        current.result.failure = current.result.failure or CANNOT_UNDERSTAND
        current.result.reason = current.result.reason or problem
        results.append(current.result)
    return results, problem


def _reference(result: PartResult) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = result.sop_class_uid
    item.ReferencedSOPInstanceUID = result.sop_instance_uid
    return item


def _response(results: list[PartResult], base: str, study: str | None) -> Dataset:
    ds = Dataset()
    stored = [r for r in results if r.failure is None]
    failed = [r for r in results if r.failure is not None]
    studies = {r.study_uid for r in stored if r.study_uid}
    if study is not None or len(studies) == 1:
        ds.RetrieveURL = f"{base}/studies/{study or next(iter(studies))}"
    if failed:
        items = []
        for result in failed:
            item = _reference(result)
            item.FailureReason = result.failure
            items.append(item)
        ds.FailedSOPSequence = items
    if stored:
        items = []
        for result in stored:
            item = _reference(result)
            if result.study_uid and result.series_uid:
                item.RetrieveURL = (
                    f"{base}/studies/{result.study_uid}/series/{result.series_uid}"
                    f"/instances/{result.sop_instance_uid}"
                )
            items.append(item)
        ds.ReferencedSOPSequence = items
    return ds


async def store_instances(request: Request) -> Response:
    """``POST /studies`` and ``POST /studies/{study}``."""
    archive: WebArchive = request.app.state.archive
    if archive.ingest is None:
        raise WebError(405, "this archive does not take STOW-RS", {"Allow": "GET"})
    study = request.path_params.get("study")
    if study is not None:
        check_uid(study)
    try:
        offer = negotiate(parse_accept(request.headers.getlist("accept")), _OFFERS)
    except ValueError as exc:
        raise WebError(400, f"bad Accept header: {exc}") from exc
    if offer is None:
        raise WebError(406, "the STOW-RS response is application/dicom+json or +xml")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise WebError(400, "bad Content-Length")
        if int(declared) > archive.limits.max_request_bytes:
            raise WebError(
                413, f"request body larger than {archive.limits.max_request_bytes} bytes"
            )
    results, problem = await _receive(request, archive, study)
    stored = sum(1 for r in results if r.failure is None)
    if problem is not None and not stored:
        raise WebError(400, f"malformed multipart body: {problem}")
    if not results:
        raise WebError(400, "no instance in the body")
    status = 200 if stored == len(results) else 202 if stored else 409
    _log.info("STOW-RS: %d of %d instance(s) stored", stored, len(results))
    ds = _response(results, service_url(request), study)
    if offer.media_type == "application/dicom+xml":
        return Response(dataset_to_xml(ds), status_code=status, media_type=offer.media_type)
    return Response(dumps(dataset_to_json(ds)), status_code=status, media_type=offer.media_type)


def routes(archive: WebArchive) -> list[BaseRoute]:
    """The STOW-RS routes (paths under the service root)."""
    return [
        Route("/studies", store_instances, methods=["POST"]),
        Route("/studies/{study}", store_instances, methods=["POST"]),
    ]
