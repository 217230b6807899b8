"""Running the DICOMweb application with uvicorn inside the running event loop.

:class:`HttpServer` binds its socket first (so ``serve`` can refuse a busy
port before making anything), then serves the application on the same event
loop as the DIMSE side until :meth:`HttpServer.close`. uvicorn's own signal
handling is left out: the caller's loop owns SIGINT and SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from typing import Any

import uvicorn

__all__ = ["HttpServer", "bind_socket"]

_log = logging.getLogger("dicomnet.web")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``OSError`` when it cannot be bound)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(socket.SOMAXCONN)  # a burst of clients is queued, not dropped
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the event loop's owner handles signals


class HttpServer:
    """uvicorn serving an ASGI app on a bound socket, as a task of the running loop."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limit_concurrency: int | None = None,
    ) -> None:
        self.sock = sock
        factory = None if ssl_context is None else (lambda _config, _default: ssl_context)
        config = uvicorn.Config(
            app,
            ssl_context_factory=factory,
            lifespan="off",
            log_config=None,
            access_log=False,
            limit_concurrency=limit_concurrency,
            timeout_graceful_shutdown=5,
            server_header=False,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The TCP port the socket is bound to."""
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError("the HTTP server stopped at start-up")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop accepting, finish or cut the requests in progress, and wait for the end."""
        task, self._task = self._task, None
        if task is None:
            self.sock.close()
            return
        self._server.should_exit = True
        try:
            await task
        except Exception as exc:  # the server failed: nothing left to stop
            _log.warning("HTTP server ended with %s", exc)
        self.sock.close()
