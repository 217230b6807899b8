"""``dicomnet serve --http PORT``: the DICOMweb side of ``serve``, in the same event loop.

Off by default. ``--http PORT`` serves QIDO-RS, WADO-RS and STOW-RS (and the
study browser) under ``http://HOST:PORT/dicomweb`` over the same index and
folder as the DIMSE side; ``--http-host`` is the address (loopback,
127.0.0.1, unless given). The port is bound together with the DIMSE port,
before the folder is made. Needs the ``web`` extra (Starlette, uvicorn,
python-multipart).
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from dicomnet.archive.backend import IndexBackend
from dicomnet.errors import ConfigurationError
from dicomnet.storage.sinks import InstanceStore

if TYPE_CHECKING:
    from dicomnet.web.server import HttpServer

__all__ = ["add_http_arguments", "bind_http", "start_http"]

DEFAULT_HTTP_HOST = "127.0.0.1"


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """``--http`` and ``--http-host``."""
    group = parser.add_argument_group("DICOMweb (needs the web extra)")
    group.add_argument(
        "--http",
        type=int,
        default=None,
        metavar="PORT",
        help="also serve DICOMweb (QIDO-RS, WADO-RS, STOW-RS) on this HTTP port (0 = any free)",
    )
    group.add_argument(
        "--http-host",
        default=DEFAULT_HTTP_HOST,
        metavar="ADDRESS",
        help=f"address the HTTP side listens on ({DEFAULT_HTTP_HOST}: this machine only)",
    )


def bind_http(args: argparse.Namespace) -> socket.socket | None:
    """The bound HTTP socket when ``--http`` is given (``OSError`` if it cannot be bound).

    Raises :class:`ConfigurationError` when the web extra is missing or the
    options do not fit.
    """
    port = getattr(args, "http", None)
    if port is None:
        return None
    if getattr(args, "no_index", False):
        raise ConfigurationError("--http needs the index (drop --no-index)")
    if not 0 <= port < 65536:
        raise ConfigurationError(f"--http {port}: not a TCP port")
    try:
        from dicomnet.web.server import bind_socket  # noqa: PLC0415 (the optional web extra)
    except ImportError as exc:
        raise ConfigurationError(
            f"--http needs the web extra (pip install 'dicomnet[web]'): {exc}"
        ) from exc
    return bind_socket(args.http_host, port)


async def start_http(
    sock: socket.socket,
    *,
    index: IndexBackend,
    root: Path,
    ingest: InstanceStore,
    ae_title: str | None,
) -> HttpServer:
    """Serve the DICOMweb application on ``sock``; returns once it accepts connections."""
    from dicomnet.web.app import create_app  # noqa: PLC0415 (the optional web extra)
    from dicomnet.web.context import WebArchive  # noqa: PLC0415
    from dicomnet.web.server import HttpServer  # noqa: PLC0415

    archive = WebArchive(index=index, root=root, ingest=ingest, ae_title=ae_title)
    server = HttpServer(create_app(archive), sock)
    await server.start()
    print(f"http listening on {server.port}", flush=True)
    return server
