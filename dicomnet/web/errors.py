"""Error answers of the DICOMweb routes: an HTTP status and a short plain-text reason."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["WebError", "http_error_handler", "web_error_handler"]


class WebError(Exception):
    """Raised by a route to answer ``status`` with ``reason`` (and extra ``headers``)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def _text(reason: str) -> str:
    # One line, printable: the reason may quote what the client sent.
    cleaned = "".join(c if c.isprintable() else "?" for c in reason)
    return cleaned[:500] + "\n"


async def web_error_handler(request: Request, exc: Exception) -> Response:
    """The response to a :class:`WebError`."""
    assert isinstance(exc, WebError)
    return PlainTextResponse(_text(exc.reason), status_code=exc.status, headers=exc.headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 of an unknown path, 405) as plain text."""
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(
        _text(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )
