"""The study browser: a page served beside DICOMweb, and the two routes it adds.

* ``/browser/`` - the page (``static/browser/index.html``, plain HTML, CSS and
  JavaScript shipped as package data, no build step). It searches with
  QIDO-RS, shows series thumbnails and rendered frames from WADO-RS (all under
  the service root given to :func:`browser_routes`).
* ``/browser/static/{file}`` - its script and style sheet.
* ``/browser/studies/{study}/download`` - the study as a ZIP of its Part 10
  files, streamed (``application/zip``; one file read at a time, in chunks).
* ``/browser/display/{study}/{series}/{instance}`` - JSON the viewer starts
  from: number of frames, size, whether it is colour, and the window the
  rendered picture uses when the request names none (the data set's, or the
  first frame's range).
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
from pydicom.pixels.processing import apply_modality_lut
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dicomnet.archive.backend import IndexBackend
from dicomnet.storage.filenames import instance_filename

from . import render
from .context import SERVICE_ROOT, WebArchive
from .images import ImageRef, find_images
from .rendered import RenderPool
from .zipstream import zip_chunks

__all__ = ["BROWSER_ROOT", "browser_routes", "display_info", "routes"]

_log = logging.getLogger(__name__)

#: Where the page lives.
BROWSER_ROOT: Final = "/browser"
_STATIC: Final = resources.files("dicomnet.web") / "static" / "browser"
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self';"
        " object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def display_info(path: Path) -> dict[str, object]:
    """Frames, size, colour and the default window of the instance at ``path`` (blocking)."""
    frame = render.read_frame(path, 0)
    attributes = frame.attributes
    photometric = str(attributes.get("PhotometricInterpretation", "")).upper()
    color = int(attributes.get("SamplesPerPixel", 1) or 1) > 1 or photometric == "PALETTE COLOR"
    info: dict[str, object] = {
        "frames": render.frame_count(attributes),
        "rows": int(attributes.get("Rows", 0) or 0),
        "columns": int(attributes.get("Columns", 0) or 0),
        "color": color,
        "photometric": photometric,
    }
    if color:
        return info
    window = render.data_set_window(attributes)
    source = "data set"
    if window is None:
        pixels = frame.pixels[..., 0] if frame.pixels.ndim == 3 else frame.pixels
        try:
            values = apply_modality_lut(pixels, attributes)
            lo, hi = float(np.min(values)), float(np.max(values))
            window = render.Window((lo + hi) / 2, max(hi - lo, 1.0), "linear-exact")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise render.RenderError(f"the image attributes cannot be applied: {exc}") from exc
        source = "pixel range"
    info.update(center=window.center, width=window.width, function=window.function)
    info["window_source"] = source
    return info


def _members(images: list[ImageRef]) -> Iterator[tuple[str, Path]]:
    for image in images:
        folder = instance_filename(image.series_uid).removesuffix(".dcm")
        yield f"{folder}/{instance_filename(image.sop_instance_uid)}", image.path


class _Browser:
    def __init__(self, index: IndexBackend, pool: RenderPool, service_root: str) -> None:
        self.index = index
        self.pool = pool
        self.service_root = service_root

    async def page(self, request: Request) -> Response:
        html = (_STATIC / "index.html").read_text(encoding="utf-8")
        html = html.replace("{{SERVICE_ROOT}}", self.service_root).replace(
            "{{BROWSER_ROOT}}", BROWSER_ROOT
        )
        return Response(html, media_type="text/html; charset=utf-8", headers=_SECURITY_HEADERS)

    async def display(self, request: Request) -> Response:
        p = request.path_params
        images = await find_images(self.index, p["study"], p["series"], p["instance"])
        if not images:
            return PlainTextResponse("no such instance\n", status_code=404)
        try:
            info = await self.pool.run(display_info, images[0].path)
        except render.RenderError as exc:
            _log.info("display of %s: %s", images[0].sop_instance_uid, exc)
            return JSONResponse({"error": "no picture in this instance"}, status_code=406)
        return Response(json.dumps(info), media_type="application/json")

    async def download(self, request: Request) -> Response:
        study = request.path_params["study"]
        images = await find_images(self.index, study)
        if not images:
            return PlainTextResponse("no such study\n", status_code=404)
        _log.info("study %s: ZIP of %d files", study, len(images))
        filename = instance_filename(study).removesuffix(".dcm") + ".zip"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return StreamingResponse(
            self._stream(images), media_type="application/zip", headers=headers
        )

    async def _stream(self, images: list[ImageRef]) -> AsyncIterator[bytes]:
        chunks = zip_chunks(_members(images))
        done = object()
        try:
            while True:
                piece = await self.pool.run(next, chunks, done)
                if piece is done:
                    break
                assert isinstance(piece, bytes)
                yield piece
        finally:
            await self.pool.run(chunks.close)


def browser_routes(
    index: IndexBackend, pool: RenderPool, *, service_root: str = "/dicomweb"
) -> list[BaseRoute]:
    """The page, its files, the ZIP download and the viewer's display info."""
    browser = _Browser(index, pool, service_root)
    weakref.finalize(browser, pool.close)  # the pool's threads end with the routes
    static = StaticFiles(directory=str(_STATIC), check_dir=False)
    return [
        Route(BROWSER_ROOT, lambda request: _redirect(), methods=["GET"]),
        Route(BROWSER_ROOT + "/", browser.page, methods=["GET"]),
        Mount(BROWSER_ROOT + "/static", app=static, name="browser-static"),
        Route(BROWSER_ROOT + "/studies/{study}/download", browser.download, methods=["GET"]),
        Route(
            BROWSER_ROOT + "/display/{study}/{series}/{instance}",
            browser.display,
            methods=["GET"],
        ),
    ]


def _redirect() -> Response:
    return Response(status_code=307, headers={"Location": BROWSER_ROOT + "/"})


def routes(archive: WebArchive) -> list[BaseRoute]:
    """The app factory's entry: the browser's routes over ``archive``'s index."""
    return browser_routes(archive.index, RenderPool(workers=1, queue=8), service_root=SERVICE_ROOT)
