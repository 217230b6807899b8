"""TLS for the Upper Layer (PS3.15 Annex B secure transport connection profiles).

* :func:`server_tls_context` and :func:`client_tls_context` build contexts from
  PEM files; a file that is missing, unreadable or not what it should be is a
  :class:`~dicomnet.errors.ConfigurationError` that names the file and the
  problem (``not a PEM certificate: FILE``), never a bare ``ssl`` error.
* :class:`TLSHandshake` runs an acceptor's handshake itself (``loop.start_tls``)
  instead of leaving it to ``create_server``: the handshake is bounded by the
  ARTIM timeout rather than asyncio's default of 60 s, and a refused handshake
  (a plaintext client, no or an untrusted client certificate, silence) leaves
  one log line naming the peer, which asyncio would drop silently.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "BCP195_CIPHERS",
    "TLS_PROFILES",
    "TLSHandshake",
    "apply_tls_profile",
    "client_tls_context",
    "server_tls_context",
]

_log = logging.getLogger("dicomnet.transport")

_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PEM_PRIVATE_KEY = b"PRIVATE KEY-----"


# ---------------------------------------------------------------------------------
# PS3.15 Annex B profiles
# ---------------------------------------------------------------------------------

#: TLS 1.2 cipher suites both BCP 195 profiles allow here: ephemeral (EC)DHE key
#: exchange with AEAD encryption (the suites RFC 7525/9325 recommend). TLS 1.3 suites
#: are all AEAD and are left as OpenSSL has them.
BCP195_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!SHA1"

#: PS3.15 B.9 (BCP 195) and B.10 (Non-Downgrading BCP 195). BCP 195 as updated by
#: RFC 8996 forbids TLS 1.0 and 1.1, which B.10 states outright, so both run TLS 1.2
#: or 1.3 with the same suites. The retired Basic TLS profile (B.1: TLS 1.0, 3DES) is
#: not offered: current OpenSSL refuses it.
TLS_PROFILES = ("bcp195", "non-downgrading-bcp195")


def apply_tls_profile(ctx: ssl.SSLContext, profile: str = "non-downgrading-bcp195") -> None:
    """Restrict ``ctx`` to ``profile`` (one of :data:`TLS_PROFILES`).

    Raises:
        ConfigurationError: an unknown profile.
    """
    if profile not in TLS_PROFILES:
        raise ConfigurationError(
            f"unknown TLS profile {profile!r} (known: {', '.join(TLS_PROFILES)})"
        )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(BCP195_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)


# ---------------------------------------------------------------------------------
# Contexts
# ---------------------------------------------------------------------------------


def server_tls_context(
    cert: str,
    key: str,
    ca: str | None = None,
    require_client_cert: bool = False,
    *,
    profile: str = "non-downgrading-bcp195",
) -> ssl.SSLContext:
    """A server-side TLS context of a PS3.15 BCP 195 profile (:func:`apply_tls_profile`).

    ``ca`` is the bundle client certificates are verified against; with
    ``require_client_cert`` a client without a valid certificate is refused
    during the handshake, which needs ``ca`` (trusting every CA of the system
    store to identify DICOM peers is never what is meant).

    Raises:
        ConfigurationError: a file is missing or not what it should be, or
            ``require_client_cert`` without ``ca``.
    """
    if require_client_cert and ca is None:
        raise ConfigurationError(
            "requiring client certificates needs the CA bundle to verify them with (--tls-ca)"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    apply_tls_profile(ctx, profile)
    _load_chain(ctx, cert, key)
    if ca is not None:
        _load_ca(ctx, ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_tls_context(
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    *,
    verify: bool = True,
    profile: str = "non-downgrading-bcp195",
) -> ssl.SSLContext:
    """A client-side TLS context: verifies the server against ``ca`` (or the system store).

    ``cert``/``key`` present a client certificate. ``verify=False`` disables
    certificate and host name checks (testing only).

    Raises:
        ConfigurationError: a file is missing or not what it should be.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    apply_tls_profile(ctx, profile)
    if ca is not None:
        _load_ca(ctx, ca)
    if cert is not None:
        _load_chain(ctx, cert, key)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{what} is a directory, not a file: {path}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _encrypted_key(path: str) -> Callable[[], bytes]:
    def refuse() -> bytes:
        raise ConfigurationError(f"private key is encrypted (no passphrase can be given): {path}")

    return refuse


def _load_chain(ctx: ssl.SSLContext, cert: str, key: str | None) -> None:
    """``load_cert_chain`` with errors that name the file and the problem."""
    cert_pem = _read(cert, "certificate file")
    if _PEM_CERTIFICATE not in cert_pem:
        raise ConfigurationError(f"not a PEM certificate: {cert}")
    key_path = key if key is not None else cert
    key_pem = cert_pem if key is None else _read(key_path, "private key file")
    if _PEM_PRIVATE_KEY not in key_pem:
        raise ConfigurationError(f"not a PEM private key: {key_path}")
    try:
        ctx.load_cert_chain(cert, key, password=_encrypted_key(key_path))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in (exc.reason or "").upper():
            raise ConfigurationError(
                f"private key {key_path} does not belong to certificate {cert}"
            ) from None
        if not _certificates_load(cert_pem):
            raise ConfigurationError(f"not a valid PEM certificate: {cert}") from None
        raise ConfigurationError(f"not a valid PEM private key: {key_path}") from None


def _certificates_load(pem: bytes) -> bool:
    """Whether OpenSSL can read every certificate in ``pem``."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
            cadata=pem.decode("ascii", errors="replace")
        )
    except (ssl.SSLError, ValueError):
        return False
    return True


def _load_ca(ctx: ssl.SSLContext, ca: str) -> None:
    """``load_verify_locations`` with errors that name the file and the problem."""
    pem = _read(ca, "CA bundle")
    if _PEM_CERTIFICATE not in pem:
        raise ConfigurationError(f"not a PEM CA bundle (no certificate in it): {ca}")
    try:
        ctx.load_verify_locations(cafile=ca)
    except ssl.SSLError:
        raise ConfigurationError(f"not a valid PEM CA bundle: {ca}") from None


def _why(exc: BaseException) -> str:
    """A short reason for an ``ssl`` error (``exc.reason`` when OpenSSL gave one)."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------
# The acceptor's handshake
# ---------------------------------------------------------------------------------


def _address(peername: Any) -> str:
    if not peername:
        return "?"
    host, port = peername[0], peername[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class TLSHandshake(asyncio.Protocol):
    """The protocol of an accepted TCP connection, which it hands to a TLS layer at once.

    ``connection_made`` puts asyncio's TLS protocol (server side, handshake
    bounded by ``timeout`` seconds) on the transport before a byte is read, with
    a protocol from ``app_factory`` above it; that protocol is connected only when
    the handshake completes. When the handshake fails or times out, one warning
    names the peer and why; the application never sees the connection. (This is
    what ``create_server(ssl=...)`` does, except that it reports failures only
    in the loop's debug mode.)
    """

    def __init__(
        self,
        app_factory: Callable[[], asyncio.BaseProtocol],
        context: ssl.SSLContext,
        timeout: float | None,
    ) -> None:
        self._app_factory = app_factory
        self._context = context
        self._timeout = timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        peername = transport.get_extra_info("peername")
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(lambda future: _report(future, peername))
        tls = sslproto.SSLProtocol(
            loop,
            self._app_factory(),
            self._context,
            done,
            server_side=True,
            # Seconds as a float, as everywhere in asyncio (typeshed says int).
            ssl_handshake_timeout=self._timeout,  # type: ignore[arg-type]
        )
        transport.set_protocol(tls)
        tls.connection_made(transport)


def _report(handshake: asyncio.Future[None], peername: Any) -> None:
    if handshake.cancelled():
        return
    exc = handshake.exception()
    if exc is not None:
        _log.warning("TLS handshake with %s refused: %s", _address(peername), _reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionAbortedError) and "taking longer" in str(exc):
        return "no handshake within the ARTIM timeout"
    if isinstance(exc, ssl.SSLError):
        return _why(exc)
    if isinstance(exc, ConnectionError | EOFError):
        return "connection closed during the handshake"
    return _why(exc)
