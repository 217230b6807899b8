"""QIDO-RS (PS3.18 §10.6): search for studies, series and instances.

Resources (under the service root)::

    /studies                                   /series              /instances
    /studies/{study}/series                    /studies/{study}/instances
    /studies/{study}/series/{series}/instances

A search is turned into a C-FIND identifier (:mod:`.query_params`) and
answered by the index backend's ``matches`` - the code path of the archive's
C-FIND SCP (SQL plan, then the in-memory matcher) - so both find the same
entities. Answers: 200 with a DICOM JSON array (``application/dicom+json``),
204 when nothing matches, 400 for a parameter or value the C-FIND rules
refuse, 406 for an ``Accept`` without JSON, 503 when the index fails.

``limit`` and ``offset`` page through the matches: a search with either is
answered in the order of the index's keys, so that pages follow on from each
other (the index skips and stops; see :func:`dicomnet.archive.finding.find_rows`).
At most :attr:`~.context.WebLimits.max_results` results are returned; when
more match than the answer holds, a ``Warning: 299`` header says so.
``fuzzymatching=true`` is not supported: the search is literal and a
``Warning: 299`` header says so (PS3.18 §8.3.4.1).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from json.encoder import encode_basestring
from typing import Any, Final

from pydicom.dataset import Dataset
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dicomnet.archive.backend import IndexUnavailable
from dicomnet.query.query import Match

from .context import WebArchive
from .dicomjson import dataset_to_json, dumps
from .errors import WebError
from .fastjson import Memo, elements_json_text, identifier_json
from .media import Offer, negotiate, parse_accept
from .query_params import ParameterError, QidoRequest, qido_request
from .urls import service_url

__all__ = ["routes", "search"]

_log = logging.getLogger("dicomnet.web")

JSON_OFFERS: Final = (Offer("application/dicom+json"), Offer("application/json"))
_QUERY_RETRIEVE_LEVEL: Final = 0x00080052
_INSTANCE_AVAILABILITY: Final = 0x00080056
_RETRIEVE_URL: Final = 0x00081190
_STUDY_UID: Final = 0x0020000D
_SERIES_UID: Final = 0x0020000E
_SOP_UID: Final = 0x00080018
_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
#: The UIDs a Retrieve URL is made of.
_URL_TAGS: Final = frozenset({_STUDY_UID, _SERIES_UID, _SOP_UID})
_ONLINE: Final = '"00080056":{"vr":"CS","Value":["ONLINE"]}'
#: Left out of the fast path's JSON (Query/Retrieve Level, and the two the route sets).
_SKIPPED: Final = frozenset({_QUERY_RETRIEVE_LEVEL, _INSTANCE_AVAILABILITY, _RETRIEVE_URL})
_FUZZY_WARNING: Final = (
    '299 {host}: "The fuzzymatching parameter is not supported.'
    ' Only literal matching has been performed."'
)
_MORE_WARNING: Final = (
    '299 {host}: "The number of results exceeded the maximum supported by the server.'
    ' Additional results can be requested."'
)


def _uid(value: str | None) -> str | None:
    return value.strip() if value else None


def _retrieve_url(base: str, level: str, ds: Dataset) -> str | None:
    study = ds.get(_STUDY_UID)
    if study is None or not study.value:
        return None
    url = f"{base}/studies/{study.value}"
    if level in ("SERIES", "IMAGE"):
        series = ds.get(_SERIES_UID)
        if series is None or not series.value:
            return None
        url += f"/series/{series.value}"
    if level == "IMAGE":
        sop = ds.get(_SOP_UID)
        if sop is None or not sop.value:
            return None
        url += f"/instances/{sop.value}"
    return url


def _fast(match: Match, level: str, base: str, memo: Memo | None = None) -> bytes | None:
    """The result from the index's plain or encoded identifier, without a Dataset (or ``None``).

    ``memo``: one dict for the results of one answer (members seen before).
    """
    plain = match.elements()
    if plain is not None:
        written = elements_json_text(plain[0], plain[1], _SKIPPED, _URL_TAGS, memo)
        if written is not None:
            return _members_json(written[0], written[1], level, base)
    data = match.encoded(_EXPLICIT_LE)
    if data is None:
        return None
    obj = identifier_json(data, _SKIPPED)
    if obj is None:
        return None
    obj["00080056"] = {"vr": "CS", "Value": ["ONLINE"]}
    url = _json_retrieve_url(base, level, obj)
    if url is not None:
        obj["00081190"] = {"vr": "UR", "Value": [url]}
    return dumps(dict(sorted(obj.items())))


def _members_json(
    members: list[tuple[int, str]], kept: dict[int, list[Any]], level: str, base: str
) -> bytes:
    """The result object from its members: availability and Retrieve URL put in tag order."""
    added = [(_INSTANCE_AVAILABILITY, _ONLINE)]
    url = _json_retrieve_url(base, level, {f"{t:08X}": {"Value": v} for t, v in kept.items()})
    if url is not None:
        text = encode_basestring(url)
        added.append((_RETRIEVE_URL, f'"00081190":{{"vr":"UR","Value":[{text}]}}'))
    ordered = sorted([*members, *added], key=lambda member: member[0])
    return ("{" + ",".join([text for _, text in ordered]) + "}").encode("utf-8")


def _json_retrieve_url(base: str, level: str, obj: dict[str, Any]) -> str | None:
    def uid(tag: str) -> str | None:
        values = obj.get(tag, {}).get("Value")
        return str(values[0]) if values and values[0] else None

    study = uid("0020000D")
    if study is None:
        return None
    url = f"{base}/studies/{study}"
    if level in ("SERIES", "IMAGE"):
        series = uid("0020000E")
        if series is None:
            return None
        url += f"/series/{series}"
    if level == "IMAGE":
        sop = uid("00080018")
        if sop is None:
            return None
        url += f"/instances/{sop}"
    return url


def _finish(identifier: Dataset, level: str, base: str) -> bytes:
    """One result as DICOM JSON: level removed, availability and Retrieve URL added."""
    if _QUERY_RETRIEVE_LEVEL in identifier:
        del identifier[_QUERY_RETRIEVE_LEVEL]
    identifier.add_new(_INSTANCE_AVAILABILITY, "CS", "ONLINE")
    url = _retrieve_url(base, level, identifier)
    if url is not None:
        identifier.add_new(_RETRIEVE_URL, "UR", url)
    return dumps(dataset_to_json(identifier))


async def search(archive: WebArchive, request: QidoRequest, base: str) -> tuple[list[bytes], bool]:
    """The JSON of each result of ``request`` (paged), and whether more matched than fit."""
    cap = archive.limits.max_results
    wanted = cap if request.limit is None else min(request.limit, cap)
    results: list[bytes] = []
    more = False
    level = request.query.level
    paged = request.limit is not None or request.offset > 0
    matches = archive.index.matches(
        request.query,
        retrieve_ae_title=archive.ae_title,
        offset=request.offset,
        # One more than fits says whether more matched; unpaged, the index's own order.
        limit=wanted + 1 if paged else None,
    )
    memo: Memo = {}
    async with aclosing(matches):
        async for match in matches:
            if len(results) >= wanted:
                more = request.limit is None or request.limit > cap
                break
            fast = _fast(match, level, base, memo)
            results.append(fast if fast is not None else _finish(match.identifier, level, base))
    return results, more


def _body(results: list[bytes]) -> bytes:
    """The JSON array of the results (one body: a send per result costs more than the copy)."""
    return b"[" + b",".join(results) + b"]"


def _handler(level: str, fixed_levels: tuple[str, ...]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        archive: WebArchive = request.app.state.archive
        if len(request.scope.get("query_string", b"")) > archive.limits.max_query_bytes:
            raise WebError(414, "query string too long")
        try:
            accept = parse_accept(request.headers.getlist("accept"))
        except ValueError as exc:
            raise WebError(400, f"bad Accept header: {exc}") from exc
        offer = negotiate(accept, JSON_OFFERS)
        if offer is None:
            raise WebError(406, "QIDO-RS answers application/dicom+json")
        fixed = {
            name: str(request.path_params[name.lower()])
            for name in fixed_levels
            if request.path_params.get(name.lower())
        }
        try:
            parsed = qido_request(level, fixed, request.query_params.multi_items())
        except ParameterError as exc:
            raise WebError(400, str(exc)) from exc
        base = service_url(request)
        try:
            results, more = await search(archive, parsed, base)
        except IndexUnavailable as exc:
            _log.error("QIDO-RS: index unavailable: %s", exc)
            raise WebError(503, "the index is unavailable") from exc
        headers: dict[str, str] = {}
        warnings = []
        host = request.url.netloc or "dicomnet"
        if parsed.fuzzy:
            warnings.append(_FUZZY_WARNING.format(host=host))
        if more:
            warnings.append(_MORE_WARNING.format(host=host))
        if warnings:
            headers["Warning"] = ", ".join(warnings)
        if not results:
            return Response(status_code=204, headers=headers)
        return Response(_body(results), media_type=offer.media_type, headers=headers)

    return endpoint


def routes(archive: WebArchive) -> list[BaseRoute]:
    """The QIDO-RS routes (paths under the service root)."""
    return [
        Route("/studies", _handler("STUDY", ()), methods=["GET"]),
        Route("/series", _handler("SERIES", ()), methods=["GET"]),
        Route("/instances", _handler("IMAGE", ()), methods=["GET"]),
        Route("/studies/{study}/series", _handler("SERIES", ("STUDY",)), methods=["GET"]),
        Route("/studies/{study}/instances", _handler("IMAGE", ("STUDY",)), methods=["GET"]),
        Route(
            "/studies/{study}/series/{series}/instances",
            _handler("IMAGE", ("STUDY", "SERIES")),
            methods=["GET"],
        ),
    ]
