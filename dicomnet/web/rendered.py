"""WADO-RS rendered and thumbnail resources (PS3.18 §10.4, §8.3.5, §10.4.3.3.4).

Routes (under the service root):

* ``/studies/{study}/rendered``, ``/studies/{study}/series/{series}/rendered``,
  ``.../instances/{instance}/rendered``, ``.../instances/{instance}/frames/{list}/rendered``;
* the same four with ``thumbnail`` in place of ``rendered``.

Answers: ``image/jpeg`` (the default for ``*/*``) or ``image/png``. A single
rendered picture is one part: the resource's first image (its first frame)
for a study, series or instance, the frame for a one-frame list. A client that
accepts ``multipart/related; type="image/png"`` (or ``image/jpeg``) gets every
frame of every image of the resource, one part each, streamed as each is
rendered; a frame list of several frames needs that. A thumbnail is one small
picture (:data:`~.render.THUMBNAIL_SIZE`, or the ``viewport`` asked, at most
512 a side) of the middle instance of the resource's first series, without
any patient information. 404: nothing of the resource is indexed; 406: no
acceptable type, or the instance has no picture; 400: a bad parameter or a
frame the instance does not have.

Decoding and encoding run in a :class:`RenderPool` (one bounded thread pool,
a bounded queue), never in the event loop that also serves DIMSE.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dicomnet.archive.backend import IndexBackend

from . import render
from .context import WebArchive
from .errors import WebError
from .images import ImageRef, find_images
from .render import MediaType, NoSuchFrame, RenderError
from .rendered_params import (
    ParamError,
    RenderParams,
    parse_frame_list,
    parse_render_params,
    pick_media_type,
)

__all__ = ["MAX_THUMBNAIL", "RenderPool", "rendered_routes", "routes"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The largest thumbnail a ``viewport`` may ask for (each side).
MAX_THUMBNAIL: Final = 512
#: How many instances one picture of a study or series may try (skipping those without one).
MAX_TRIES: Final = 16
_INSTANCE = "/studies/{study}/series/{series}/instances/{instance}"


class RenderPool:
    """Where pictures are made: ``workers`` threads, at most ``queue`` jobs waiting."""

    def __init__(self, workers: int = 2, queue: int = 16) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        self._slots = asyncio.Semaphore(workers + queue)

    async def run(self, function: Callable[..., _T], *args: object) -> _T:
        """Run ``function(*args)`` in the pool; waits for a slot when the queue is full."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Stop taking jobs; running ones finish in their threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _query(request: Request) -> Mapping[str, Sequence[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def _multipart_type(request: Request, params: Mapping[str, Sequence[str]]) -> MediaType | None:
    """The part type when the client accepts multipart/related of rendered images."""
    texts = list(params.get("accept", ())) or request.headers.getlist("accept")
    for text in texts:
        for piece in text.split(","):
            fields = [f.strip() for f in piece.split(";")]
            if fields[0].lower() not in ("multipart/related", "multipart/*"):
                continue
            for field in fields[1:]:
                name, _, value = field.partition("=")
                part = value.strip().strip('"').lower()
                if name.strip().lower() == "type" and part in render.MEDIA_TYPES:
                    return part
    return None


def _problem(status: int, text: str) -> NoReturn:
    """Answer ``status`` with ``text`` (the app's error handler writes it, made printable)."""
    raise WebError(status, text)


class _Resource:
    """One request's resource: its images, and how to answer."""

    def __init__(self, pool: RenderPool, index: IndexBackend) -> None:
        self.pool = pool
        self.index = index

    async def images(self, request: Request) -> list[ImageRef]:
        p = request.path_params
        return await find_images(self.index, p["study"], p.get("series"), p.get("instance"))

    async def rendered(self, request: Request) -> Response:
        params = _query(request)
        try:
            options = parse_render_params(params)
            frames = (
                parse_frame_list(request.path_params["frames"])
                if "frames" in request.path_params
                else None
            )
        except ParamError as exc:
            return _problem(400, str(exc))
        part_type = _multipart_type(request, params)
        single = pick_media_type(
            params.get("accept", ()), request.headers.getlist("accept"), default="image/jpeg"
        )
        if part_type is None and single is None:
            return _problem(406, "acceptable: image/jpeg, image/png, multipart/related of them")
        images = await self.images(request)
        if not images:
            return _problem(404, "no such resource")
        if frames is not None and len(frames) > 1 and part_type is None:
            return _problem(406, "several frames come as multipart/related only")
        if part_type is not None and (single is None or frames is None or len(frames) > 1):
            return await self._multipart(images, frames, options, part_type)
        assert single is not None
        index = frames[0] - 1 if frames is not None else 0
        return await self._first_picture(
            images, lambda path: (_render, path, index, single, options), single
        )

    async def _first_picture(
        self,
        candidates: list[ImageRef],
        job: Callable[[Path], tuple[Any, ...]],
        media_type: MediaType,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The first of ``candidates`` (at most :data:`MAX_TRIES`) that renders."""
        for image in candidates[:MAX_TRIES]:
            function, *args = job(image.path)
            try:
                body = await self.pool.run(function, *args)
            except NoSuchFrame as exc:
                return _problem(400, str(exc))
            except RenderError as exc:  # no picture in this one (a report): try the next
                _log.info("rendering %s: %s", image.sop_instance_uid, exc)
                continue
            return Response(body, media_type=media_type, headers=headers)
        # the reason stays in the log: decoder messages may name files of the store
        return _problem(406, "no picture: no pixel data, or none that can be decoded here")

    async def _multipart(
        self,
        images: list[ImageRef],
        frames: list[int] | None,
        options: RenderParams,
        part_type: MediaType,
    ) -> Response:
        first = images[0].path
        try:
            count = await self.pool.run(_frames_of, first)
        except RenderError as exc:
            _log.info("rendering %s: %s", images[0].sop_instance_uid, exc)
            return _problem(406, "no picture: the instance cannot be read")
        if frames is not None and max(frames) > count:
            return _problem(400, f"no frame {max(frames)} (the instance has {count})")
        boundary = uuid.uuid4().hex
        content_type = f'multipart/related; type="{part_type}"; boundary={boundary}'
        return StreamingResponse(
            self._parts(images, frames, options, part_type, boundary), media_type=content_type
        )

    async def _parts(
        self,
        images: list[ImageRef],
        frames: list[int] | None,
        options: RenderParams,
        part_type: MediaType,
        boundary: str,
    ) -> AsyncIterator[bytes]:
        head = f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()
        for image in images:
            try:
                numbers = frames or range(1, await self.pool.run(_frames_of, image.path) + 1)
                for number in numbers:
                    body = await self.pool.run(_render, image.path, number - 1, part_type, options)
                    yield head + body + b"\r\n"
            except RenderError as exc:  # a non-image instance in a study: left out
                _log.info("rendered: %s left out: %s", image.sop_instance_uid, exc)
        yield f"--{boundary}--\r\n".encode()

    async def thumbnail(self, request: Request) -> Response:
        params = _query(request)
        try:
            options = parse_render_params(params, thumbnail=True)
        except ParamError as exc:
            return _problem(400, str(exc))
        viewport = options.viewport
        if viewport is not None and max(viewport.width, viewport.height) > MAX_THUMBNAIL:
            return _problem(400, f"a thumbnail is at most {MAX_THUMBNAIL} pixels a side")
        media_type = pick_media_type(
            params.get("accept", ()), request.headers.getlist("accept"), default="image/jpeg"
        )
        if media_type is None:
            return _problem(406, "acceptable: image/jpeg, image/png")
        images = await self.images(request)
        if not images:
            return _problem(404, "no such resource")
        frame: int | None = None
        if "frames" in request.path_params:
            try:
                numbers = parse_frame_list(request.path_params["frames"])
            except ParamError as exc:
                return _problem(400, str(exc))
            frame = numbers[0] - 1
        return await self._first_picture(
            _middles(images),
            lambda path: (_thumbnail, path, frame, media_type, options),
            media_type,
            {"Cache-Control": "private"},
        )


def _middles(images: list[ImageRef]) -> list[ImageRef]:
    """The middle image of each series, series in order (what a thumbnail shows first)."""
    series: dict[str, list[ImageRef]] = {}
    for image in images:
        series.setdefault(image.series_uid, []).append(image)
    return [members[len(members) // 2] for members in series.values()]


def _frames_of(path: Path) -> int:
    from pydicom import dcmread  # noqa: PLC0415 - only the pool's threads read headers

    try:
        head = dcmread(path, stop_before_pixels=True, specific_tags=[0x00280008, 0x7FE00010])
    except Exception as exc:
        raise RenderError(f"unreadable instance: {exc}") from exc
    return render.frame_count(head)


def _render(path: Path, index: int, media_type: MediaType, options: RenderParams) -> bytes:
    return render.render_frame(
        path,
        index,
        media_type=media_type,
        window=options.window,
        viewport=options.viewport,
        quality=options.quality,
    )


def _thumbnail(
    path: Path, frame: int | None, media_type: MediaType, options: RenderParams
) -> bytes:
    viewport = options.viewport
    return render.thumbnail(
        path,
        frame=frame,
        media_type=media_type,
        width=viewport.width if viewport else None,
        height=viewport.height if viewport else None,
    )


def rendered_routes(index: IndexBackend, pool: RenderPool) -> list[Route]:
    """The rendered and thumbnail routes over ``index``, rendering in ``pool``."""
    resource = _Resource(pool, index)
    weakref.finalize(resource, pool.close)  # the pool's threads end with the routes
    routes: list[Route] = []
    for prefix in (
        "/studies/{study}",
        "/studies/{study}/series/{series}",
        _INSTANCE,
        _INSTANCE + "/frames/{frames}",
    ):
        routes.append(Route(prefix + "/rendered", resource.rendered, methods=["GET"]))
        routes.append(Route(prefix + "/thumbnail", resource.thumbnail, methods=["GET"]))
    return routes


def routes(archive: WebArchive) -> list[BaseRoute]:
    """The app factory's entry: rendered and thumbnail routes over ``archive``'s index."""
    return list(rendered_routes(archive.index, RenderPool()))
