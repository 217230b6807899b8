"""The TLS keys of a system file's ``[[ae]]`` entry (see :mod:`dicomnet.systems.tls`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dicomnet.conformance.tomlcheck import Section

__all__ = ["TLSFiles", "read_tls_files"]

_KEYS = ("tls_cert", "tls_key", "tls_ca", "require_client_cert")


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """PEM files of one AE's TLS (from the system file)."""

    cert: str
    key: str
    ca: str | None = None
    require_client_cert: bool = False


def read_tls_files(section: Section) -> TLSFiles | None:
    """The TLS keys of an ``[[ae]]`` entry, or None when it has none."""
    if not any(section.has(key) for key in _KEYS):
        return None
    base = section.path.parent

    def path(key: str) -> str | None:
        value = section.optional_string(key)
        return None if value is None else str(base / Path(value).expanduser())

    cert, key, ca = path("tls_cert"), path("tls_key"), path("tls_ca")
    require = section.boolean("require_client_cert", False)
    if cert is None or key is None:
        raise section.error("tls_cert", "tls_cert and tls_key go together")
    if require and ca is None:
        raise section.error("require_client_cert", "needs tls_ca (the CA of client certificates)")
    return TLSFiles(cert, key, ca, require)
