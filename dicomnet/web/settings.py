"""The HTTP side's settings, from an ``[http]`` table (system file or ``--http-config``).

::

    [http]
    port = 8042                 # 0: any free port
    host = "127.0.0.1"          # loopback unless said otherwise
    tls_cert = "web.pem"        # both or neither; relative to the file
    tls_key = "web.key"
    max_request_mb = 4096       # largest STOW-RS body
    max_results = 10000         # most QIDO-RS results per response
    bearer_tokens = ["sha256$<hex>"]

    [http.basic_users]
    alice = "pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>"

With users or tokens, every request needs HTTP Basic or Bearer credentials
(401 otherwise). Secrets are kept hashed: :func:`hash_password` and
:func:`hash_token` make the values (``python -m dicomnet.web.settings
password|token SECRET`` prints one).
"""

from __future__ import annotations

import hashlib
import secrets
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dicomnet.conformance.tomlcheck import Section, load_toml
from dicomnet.errors import ConfigurationError

from .context import WebLimits

__all__ = ["HttpSettings", "hash_password", "hash_token", "load_http_config", "parse_http"]

_ITERATIONS: Final = 200_000


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where and how the HTTP side listens, and who may use it."""

    port: int | None = None
    host: str = "127.0.0.1"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    limits: WebLimits = field(default_factory=WebLimits)
    #: User name -> ``pbkdf2_sha256$iterations$salt$hash``.
    basic_users: dict[str, str] = field(default_factory=dict)
    #: ``sha256$hex`` of each accepted bearer token.
    bearer_tokens: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        """Whether requests need credentials."""
        return bool(self.basic_users or self.bearer_tokens)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server TLS context (``None`` without TLS); ``ConfigurationError`` on bad files."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"HTTP TLS certificate or key: {exc}") from exc
        return context


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    """The stored form of a Basic password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return "sha256$" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_password_hash(section: Section, user: str, stored: str) -> None:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256" or not parts[1].isdigit():
        raise section.error(f"basic_users.{user}", "not a pbkdf2_sha256$... hash")
    try:
        bytes.fromhex(parts[2])
        bytes.fromhex(parts[3])
    except ValueError:
        raise section.error(f"basic_users.{user}", "not a pbkdf2_sha256$... hash") from None


def parse_http(data: dict[str, Any], path: Path) -> HttpSettings:
    """Settings from the ``[http]`` table ``data`` of the file ``path`` (ConfigurationError)."""
    section = Section(data, path, "http")
    port = section.integer("port", -1, low=-1, high=65535)
    host = section.string("host", "127.0.0.1")
    cert, key = section.optional_string("tls_cert"), section.optional_string("tls_key")
    if (cert is None) != (key is None):
        raise section.error("tls_cert", "tls_cert and tls_key go together")
    base = path.parent
    mb = section.integer("max_request_mb", 4096, low=1)
    results = section.integer("max_results", 10_000, low=1)
    users: dict[str, str] = {}
    if section.has("basic_users"):
        table = section.table("basic_users")
        for user, stored in table.data.items():
            if not isinstance(stored, str) or not user or ":" in user:
                raise table.error(user, "a user name (no ':') and its password hash")
            _check_password_hash(section, user, stored)
            users[user] = stored
    tokens = section.strings("bearer_tokens", ())
    for position, token in enumerate(tokens):
        if not token.startswith("sha256$") or len(token) != 71:
            raise section.error(f"bearer_tokens[{position}]", "not a sha256$<hex> hash")
    section.done()
    return HttpSettings(
        port=None if port < 0 else port,
        host=host,
        tls_cert=None if cert is None else base / cert,
        tls_key=None if key is None else base / key,
        limits=WebLimits(max_results=results, max_request_bytes=mb * 1024 * 1024),
        basic_users=users,
        bearer_tokens=frozenset(tokens),
    )


def load_http_config(path: Path) -> HttpSettings:
    """The ``[http]`` table of the TOML file ``path`` (ConfigurationError)."""
    top = load_toml(path)
    if not top.has("http"):
        raise ConfigurationError(f"{path}: no [http] table")
    return parse_http(dict(top.table("http").data), path)


def main(argv: list[str]) -> int:
    """``python -m dicomnet.web.settings password|token SECRET``."""
    if len(argv) != 2 or argv[0] not in ("password", "token"):
        print("usage: python -m dicomnet.web.settings password|token SECRET", file=sys.stderr)
        return 2
    print(hash_password(argv[1]) if argv[0] == "password" else hash_token(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
