"""TLS of a system's AEs: the profile says whether, the system file or options say with what.

A profile's ``[association] tls`` is ``none``, ``optional`` or ``required`` and its
``[security] tls_profile`` names the PS3.15 profile (BCP 195 or Non-Downgrading
BCP 195, :func:`dicomnet.tls.apply_tls_profile`). An ``[[ae]]`` entry of a system
file may give ``tls_cert``, ``tls_key``, ``tls_ca`` and ``require_client_cert``
(paths relative to the system file's folder); ``--tls-cert``/``--tls-key`` on
the command line override them for every AE that may use TLS.

* ``none``: plain TCP; certificate files in the system file are an error.
* ``optional``: TLS when certificate files are given, plain TCP otherwise.
* ``required``: TLS; no certificate files is an error naming the AE.

A port serves one way: AEs that share a port must end up with the same TLS.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable

from dicomnet.errors import ConfigurationError
from dicomnet.tls import server_tls_context

from .spec import AESpec
from .tls_files import TLSFiles, read_tls_files

__all__ = ["TLSFiles", "ae_tls_contexts", "read_tls_files"]

_log = logging.getLogger("dicomnet.systems")


def ae_tls_contexts(
    aes: Iterable[AESpec], override: ssl.SSLContext | None = None
) -> dict[str, ssl.SSLContext | None]:
    """AE name -> the TLS context it serves with (None: plain TCP).

    ``override`` is the context of ``--tls-cert``/``--tls-key``. Raises
    ConfigurationError naming the AE when its profile and files disagree.
    """
    built: dict[tuple[TLSFiles, str], ssl.SSLContext] = {}
    out: dict[str, ssl.SSLContext | None] = {}
    for ae in aes:
        tls = ae.profile.tls
        files = ae.tls_files
        where = f"AE {ae.name!r} (profile {ae.profile.name})"
        if tls == "none":
            if files is not None:
                raise ConfigurationError(f"{where}: the profile says tls = none; tls_cert is set")
            if override is not None:
                _log.warning("%s: the profile says tls = none; serving plain TCP", where)
            out[ae.name] = None
        elif override is not None:
            out[ae.name] = override
        elif files is not None:
            key = (files, ae.profile.security.tls_profile)
            if key not in built:
                built[key] = server_tls_context(
                    files.cert,
                    files.key,
                    files.ca,
                    files.require_client_cert,
                    profile=ae.profile.security.tls_profile,
                )
            out[ae.name] = built[key]
        elif tls == "required":
            raise ConfigurationError(
                f"{where}: the profile requires TLS; give tls_cert and tls_key in the system"
                " file or --tls-cert and --tls-key"
            )
        else:
            out[ae.name] = None
    return out
