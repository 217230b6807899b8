"""A small asyncio HTTP/1.1 endpoint serving ``GET /metrics`` (Prometheus scrapes it).

Only what a scraper needs: one request per connection, ``GET`` (or
``HEAD``) of ``/metrics`` answered with the text of ``render()``; any other
path is 404, any other method 405; a request line or header block that is
malformed, too long (8 KiB) or too slow (5 s) gets 400 or is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .exposition import CONTENT_TYPE

__all__ = ["MetricsEndpoint", "start_metrics_endpoint"]

_log = logging.getLogger("dicomnet.observe")
_LIMIT = 8192
_TIMEOUT = 5.0


class MetricsEndpoint:
    """The listening endpoint; :meth:`close` stops it."""

    def __init__(self, server: asyncio.Server) -> None:
        self.server = server

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and wait for the open connections."""
        self.server.close()
        await self.server.wait_closed()


def _response(status: str, body: bytes, content_type: str, *, head: bool = False) -> bytes:
    header = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    return header if head else header + body


async def start_metrics_endpoint(
    host: str, port: int, render: Callable[[], str], *, reuse_port: bool = False
) -> MetricsEndpoint:
    """Listen on ``host:port``; every ``GET /metrics`` answers ``render()``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                reply = _response("400 Bad Request", b"bad request\n", "text/plain")
            elif parts[0] not in ("GET", "HEAD"):
                reply = _response("405 Method Not Allowed", b"GET only\n", "text/plain")
            elif parts[1].split("?", 1)[0] != "/metrics":
                reply = _response("404 Not Found", b"see /metrics\n", "text/plain")
            else:
                body = render().encode("utf-8")
                reply = _response("200 OK", body, CONTENT_TYPE, head=parts[0] == "HEAD")
            writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except ConnectionError:
            pass
        except Exception:  # a scrape must never take the server down
            _log.exception("metrics request failed")
        finally:
            writer.close()

    server = await asyncio.start_server(
        answer, host, port, limit=_LIMIT, reuse_port=reuse_port or None
    )
    return MetricsEndpoint(server)
