"""The DICOMweb ASGI application: routers from separate modules over one archive.

:func:`create_app` takes a :class:`~.context.WebArchive` (index backend,
store folder, ingest) and returns a Starlette application. Each router is a
module with a function ``routes(archive: WebArchive) -> list[BaseRoute]``:

* DICOMweb routers, mounted under the service root ``/dicomweb``
  (:data:`~.context.SERVICE_ROOT`), their paths relative to it
  (``/studies``, ``/studies/{study}/rendered``):
  :mod:`.qido` (QIDO-RS), :mod:`.wado` (WADO-RS), :mod:`.stow` (STOW-RS),
  and ``dicomnet.web.rendered`` (rendered resources and thumbnails) when that
  module exists;
* page routers, mounted at ``/`` with absolute paths (the study browser's
  page and its static files, the ZIP download): ``dicomnet.web.browser`` when
  that module exists.

A module listed in :data:`OPTIONAL_ROUTERS` that is not installed is skipped,
so a router can be added by adding its module (no change here). Routes reach
the archive through ``request.app.state.archive`` (the same
:class:`WebArchive`); an error is raised as :class:`~.errors.WebError` and
answered as plain text with its status. Routes never build a file path from
a request: files are the ones the index gives for a UID.

Authentication (:mod:`.security`) wraps the whole application when the
:class:`~.settings.HttpSettings` name users or tokens; the request size and
result count limits are the archive's :class:`~.context.WebLimits`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from .context import SERVICE_ROOT, WebArchive
from .errors import WebError, http_error_handler, web_error_handler
from .security import AuthMiddleware
from .settings import HttpSettings

__all__ = ["DICOMWEB_ROUTERS", "OPTIONAL_ROUTERS", "PAGE_ROUTERS", "create_app"]

_log = logging.getLogger("dicomnet.web")

#: Modules whose routes live under the service root, in matching order.
DICOMWEB_ROUTERS: Final = (
    "dicomnet.web.qido",
    "dicomnet.web.wado",
    "dicomnet.web.stow",
    "dicomnet.web.rendered",
)
#: Modules whose routes live at ``/`` (absolute paths).
PAGE_ROUTERS: Final = ("dicomnet.web.browser",)
#: Routers that may be absent (skipped when their module is not there).
OPTIONAL_ROUTERS: Final = frozenset(
    {"dicomnet.web.wado", "dicomnet.web.stow", "dicomnet.web.rendered", "dicomnet.web.browser"}
)

RoutesFactory = Callable[[WebArchive], list[BaseRoute]]


def _router(name: str) -> RoutesFactory | None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if name in OPTIONAL_ROUTERS and exc.name == name:
            return None
        raise
    factory: RoutesFactory = module.routes
    return factory


def create_app(archive: WebArchive, settings: HttpSettings | None = None) -> ASGIApp:
    """The ASGI application serving ``archive`` (behind authentication if ``settings`` ask)."""
    service: list[BaseRoute] = []
    for name in DICOMWEB_ROUTERS:
        factory = _router(name)
        if factory is not None:
            service.extend(factory(archive))
    routes: list[BaseRoute] = [Mount(SERVICE_ROOT, routes=service)]
    for name in PAGE_ROUTERS:
        factory = _router(name)
        if factory is not None:
            routes.extend(factory(archive))
    app = Starlette(
        routes=routes,
        exception_handlers={WebError: web_error_handler, HTTPException: http_error_handler},
    )
    app.state.archive = archive
    if settings is not None and settings.authenticated:
        return AuthMiddleware(app, settings)
    return app
