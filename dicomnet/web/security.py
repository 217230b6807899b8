"""Who may use the HTTP side: HTTP Basic and Bearer authentication (ASGI middleware).

:class:`AuthMiddleware` wraps the application when the settings name users
or tokens: a request without valid credentials is answered 401 with
``WWW-Authenticate`` challenges for both schemes, before any route runs.
Passwords are checked against their PBKDF2 hashes (constant-time compare);
a successful check is remembered by a hash of the header for the life of
the server (at most :data:`CACHE_SIZE` of them), so a client's keep-alive
requests do not pay the key derivation each time. Bearer tokens are kept as
SHA-256 hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections import OrderedDict
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import HttpSettings, hash_token

__all__ = ["CACHE_SIZE", "AuthMiddleware"]

_log = logging.getLogger("dicomnet.web")

#: How many accepted Basic credentials are remembered.
CACHE_SIZE: Final = 256
_REALM: Final = "dicomnet"


def _password_ok(password: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    computed = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), bytes.fromhex(salt), int(iterations)
    )
    return hmac.compare_digest(computed, bytes.fromhex(digest))


class AuthMiddleware:
    """Refuses requests without valid Basic or Bearer credentials (401)."""

    def __init__(self, app: ASGIApp, settings: HttpSettings) -> None:
        self.app = app
        self.users = dict(settings.basic_users)
        self.tokens = settings.bearer_tokens
        self._accepted: OrderedDict[bytes, str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value
                break
        user = self._check(header)
        if user is None:
            await self._refuse(send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)

    def _check(self, header: bytes) -> str | None:
        scheme, _, credentials = header.decode("latin-1").partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and self.tokens:
            hashed = hash_token(credentials)
            if any(hmac.compare_digest(hashed, token) for token in self.tokens):
                return "bearer"
            return None
        if scheme != "basic" or not self.users:
            return None
        key = hashlib.sha256(header).digest()
        known = self._accepted.get(key)
        if known is not None:
            self._accepted.move_to_end(key)
            return known
        try:
            text = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = text.partition(":")
        stored = self.users.get(user)
        if not sep or stored is None or not _password_ok(password, stored):
            _log.warning("HTTP: Basic credentials refused for user %r", user[:64])
            return None
        self._accepted[key] = user
        if len(self._accepted) > CACHE_SIZE:
            self._accepted.popitem(last=False)
        return user

    async def _refuse(self, send: Send) -> None:
        body = b"authentication required\n"
        headers: list[Any] = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if self.users:
            headers.append((b"www-authenticate", f'Basic realm="{_REALM}"'.encode()))
        if self.tokens:
            headers.append((b"www-authenticate", f'Bearer realm="{_REALM}"'.encode()))
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
