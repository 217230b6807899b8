"""What the DICOMweb routes work on: the archive and the limits they keep.

A :class:`WebArchive` is handed to every router's ``routes()`` function (see
:mod:`.app`). Routes read through :attr:`WebArchive.index` (queries, and the
file of an instance, which is always a path the index holds, never one made
from a request) and store through :attr:`WebArchive.ingest`, the same
:class:`~dicomnet.storage.sinks.InstanceStore` the Storage SCP uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dicomnet.archive.backend import IndexBackend
from dicomnet.storage.sinks import InstanceStore

__all__ = ["SERVICE_ROOT", "WebArchive", "WebLimits"]

#: The path under which the DICOMweb resources live (``/dicomweb/studies`` ...).
SERVICE_ROOT: Final = "/dicomweb"


@dataclass(frozen=True, slots=True)
class WebLimits:
    """Limits on what one request may ask for or send."""

    #: The most results one QIDO-RS response holds (more: a ``Warning`` header says so).
    max_results: int = 10_000
    #: The largest request body accepted (STOW-RS), in bytes.
    max_request_bytes: int = 4 * 1024**3
    #: The largest query string accepted, in bytes.
    max_query_bytes: int = 64 * 1024


@dataclass(slots=True)
class WebArchive:
    """The archive the HTTP side serves: index, store folder and ingest."""

    #: The index (the truth for what the archive holds, and where its files are).
    index: IndexBackend
    #: The store's root folder (for information; files are found through the index).
    root: Path
    #: Where STOW-RS stores: the same store (index, validation, duplicates) as C-STORE.
    ingest: InstanceStore | None = None
    limits: WebLimits = field(default_factory=WebLimits)
    #: The AE title of the DIMSE side (Retrieve AE Title in responses), if any.
    ae_title: str | None = None
