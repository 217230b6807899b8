"""The archive: a persistent index of what a store holds, and services answered from it.

* :class:`~.sqlite.SqliteIndex` - the embedded default backend (SQLite, WAL,
  group commit), an :class:`~.backend.IndexBackend`;
* :class:`~.ingest.IndexedStore` - wraps a store so every committed instance
  is indexed before the Storage SCP answers;
* :func:`~.rebuild.rebuild_index` - indexes an existing folder (either layout);
* :func:`~.rebuild.delete_from_archive` - deletes a study, series or instance:
  its rows and its files together, crash-safely (emptied folders of the
  hierarchical layout go too);
* :func:`~.recover.reconcile` - after a crash, settles what was half done.

The Q/R SCP (:class:`dicomnet.services.qr.QueryRetrieveService`) takes an
index backend as its source.
"""

from __future__ import annotations

from .backend import IndexBackend, IndexUnavailable
from .entry import IndexEntry, entry_from_file, entry_from_header
from .rebuild import delete_from_archive, rebuild_index
from .recover import reconcile
from .sqlite import SqliteIndex

__all__ = [
    "IndexBackend",
    "IndexEntry",
    "IndexUnavailable",
    "SqliteIndex",
    "delete_from_archive",
    "entry_from_file",
    "entry_from_header",
    "rebuild_index",
    "reconcile",
]
