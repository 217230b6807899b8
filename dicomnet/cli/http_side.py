"""``dicomnet serve --http PORT``: the DICOMweb side of ``serve``, in the same event loop.

Off by default. ``--http PORT`` serves QIDO-RS, WADO-RS and STOW-RS (and the
study browser) under ``http://HOST:PORT/dicomweb`` over the same index and
folder as the DIMSE side; ``--http-host`` is the address (loopback,
127.0.0.1, unless given). ``--http-config FILE`` reads an ``[http]`` table
(port, host, TLS certificate and key, Basic users and Bearer tokens, limits:
see :mod:`dicomnet.web.settings`); a system file's ``[http]`` table does the
same for ``--system``. The port is bound together with the DIMSE port,
before the folder is made. Needs the ``web`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

import argparse
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomnet.archive.backend import IndexBackend
from dicomnet.cli.announce import announce
from dicomnet.errors import ConfigurationError
from dicomnet.storage.sinks import InstanceStore

if TYPE_CHECKING:
    from dicomnet.web.server import HttpServer
    from dicomnet.web.settings import HttpSettings

__all__ = [
    "BoundHttp",
    "add_http_arguments",
    "bind_http",
    "bind_http_settings",
    "settle_http_address",
    "start_http",
]

DEFAULT_HTTP_HOST = "127.0.0.1"


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """``--http``, ``--http-host`` and ``--http-config``."""
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
        default=None,
        metavar="ADDRESS",
        help=f"address the HTTP side listens on ({DEFAULT_HTTP_HOST}: this machine only)",
    )
    group.add_argument(
        "--http-config",
        default=None,
        metavar="FILE",
        help="TOML file with an [http] table: port, host, TLS, Basic users, Bearer tokens",
    )


@dataclass
class BoundHttp:
    """The HTTP side's bound socket, settings and TLS context, not serving yet."""

    sock: socket.socket
    settings: HttpSettings
    ssl_context: ssl.SSLContext | None

    def close(self) -> None:
        """Release the socket (serve failed before the HTTP side started)."""
        self.sock.close()


def _web() -> Any:
    try:
        from dicomnet.web import server, settings  # noqa: PLC0415 (the optional web extra)
    except ImportError as exc:
        raise ConfigurationError(
            f"--http needs the web extra (pip install 'dicomnet[web]'): {exc}"
        ) from exc
    return server, settings


def bind_http_settings(
    settings: HttpSettings, *, bind: Callable[[str, int], socket.socket] | None = None
) -> BoundHttp:
    """Bind ``settings``' port (``OSError``; ConfigurationError for bad TLS files).

    ``bind(host, port)`` makes the listening socket (a worker's shares its port).
    """
    server, _ = _web()
    context = settings.ssl_context()
    assert settings.port is not None
    sock = (bind or server.bind_socket)(settings.host, settings.port)
    return BoundHttp(sock, settings, context)


def bind_http(
    args: argparse.Namespace, *, bind: Callable[[str, int], socket.socket] | None = None
) -> BoundHttp | None:
    """The bound HTTP side when ``--http`` or ``--http-config`` asks for one.

    Raises :class:`ConfigurationError` when the web extra is missing or the
    options do not fit, ``OSError`` when the port cannot be bound.
    """
    port = getattr(args, "http", None)
    config = getattr(args, "http_config", None)
    if port is None and config is None:
        return None
    if getattr(args, "no_index", False):
        raise ConfigurationError("--http needs the index (drop --no-index)")
    _, settings_module = _web()
    settings = (
        settings_module.load_http_config(Path(config))
        if config is not None
        else settings_module.HttpSettings()
    )
    port = port if port is not None else settings.port
    if port is None:
        raise ConfigurationError(f"{config}: [http] gives no port (or use --http PORT)")
    if not 0 <= port < 65536:
        raise ConfigurationError(f"--http {port}: not a TCP port")
    host = getattr(args, "http_host", None) or settings.host
    return bind_http_settings(replace(settings, port=port, host=host), bind=bind)


def settle_http_address(args: argparse.Namespace) -> None:
    """Put ``--http-config``'s port and host into ``args.http``/``args.http_host``.

    For ``serve --workers N``: the supervisor reserves the HTTP port once
    (port 0: one number for all) and every worker binds that one, while
    each still reads the file for TLS, users and limits. Options given on
    the command line win over the file. Raises :class:`ConfigurationError`.
    """
    config = getattr(args, "http_config", None)
    if config is None:
        return
    _, settings_module = _web()
    settings = settings_module.load_http_config(Path(config))
    if getattr(args, "http", None) is None:
        if settings.port is None:
            raise ConfigurationError(f"{config}: [http] gives no port (or use --http PORT)")
        args.http = settings.port
    if not getattr(args, "http_host", None):
        args.http_host = settings.host


async def start_http(
    bound: BoundHttp,
    *,
    index: IndexBackend,
    root: Path,
    ingest: InstanceStore | None,
    ae_title: str | None,
) -> HttpServer:
    """Serve the DICOMweb application on ``bound``; returns once it accepts connections."""
    server_module, _ = _web()
    from dicomnet.web.app import create_app  # noqa: PLC0415 (the optional web extra)
    from dicomnet.web.context import WebArchive  # noqa: PLC0415

    archive = WebArchive(
        index=index, root=root, ingest=ingest, ae_title=ae_title, limits=bound.settings.limits
    )
    server: HttpServer = server_module.HttpServer(
        create_app(archive, bound.settings), bound.sock, ssl_context=bound.ssl_context
    )
    await server.start()
    scheme = "https" if bound.ssl_context is not None else "http"
    announce(f"{scheme} listening on {server.port}")
    return server
