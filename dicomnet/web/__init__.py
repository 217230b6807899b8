"""DICOMweb: the archive over HTTP (QIDO-RS, WADO-RS, STOW-RS), beside its DIMSE side.

:func:`~.app.create_app` builds an ASGI application (Starlette) over a
:class:`~.context.WebArchive` (the index backend, the store folder and the
ingest path C-STORE uses); :class:`~.server.HttpServer` runs it with uvicorn
in the running event loop, so ``dicomnet serve --http PORT`` answers DIMSE
and HTTP from one process and one loop. Needs the ``web`` extra.
"""

from __future__ import annotations

from .app import create_app
from .context import WebArchive, WebLimits

__all__ = ["WebArchive", "WebLimits", "create_app"]
