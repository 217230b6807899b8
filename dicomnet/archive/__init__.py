"""The archive: a persistent index of what a store holds, and services answered from it.

* :class:`~.sqlite.SqliteIndex` - the embedded default backend (SQLite, WAL,
  group commit), an :class:`~.backend.IndexBackend`;
* :class:`~.ingest.IndexedStore` - wraps a store so every committed instance
  is indexed before the Storage SCP answers;
* :func:`~.rebuild.rebuild_index` - indexes an existing folder.

The Q/R SCP (:class:`dicomnet.services.qr.QueryRetrieveService`) takes an
index backend as its source.
"""

from __future__ import annotations

from .backend import IndexBackend, IndexUnavailable
from .entry import IndexEntry, entry_from_file, entry_from_header
from .sqlite import SqliteIndex

__all__ = [
    "IndexBackend",
    "IndexEntry",
    "IndexUnavailable",
    "SqliteIndex",
    "entry_from_file",
    "entry_from_header",
]
