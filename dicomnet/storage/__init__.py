"""Keeping received instances: stores, sinks and the Part 10 file header.

The C-STORE SCP (:class:`dicomnet.services.storage_scp.StorageService`)
streams each data set into a sink of a store: :class:`FolderStore` writes
Part 10 files, :class:`MemoryStore` keeps them in a dict. Any object with an
``open_sink(info)`` coroutine (:class:`InstanceStore`) can take their place.
"""

from __future__ import annotations

from .filenames import instance_filename, is_valid_uid
from .folder import FileSink, FolderStore
from .memory import MemoryInstance, MemorySink, MemoryStore
from .meta import encode_file_meta, file_header
from .sinks import (
    DroppingSink,
    Duplicate,
    DuplicateRefused,
    InstanceInfo,
    InstanceStore,
    Outcome,
    StorageError,
    StorageSink,
    StoredInstance,
)

__all__ = [
    "DroppingSink",
    "Duplicate",
    "DuplicateRefused",
    "FileSink",
    "FolderStore",
    "InstanceInfo",
    "InstanceStore",
    "MemoryInstance",
    "MemorySink",
    "MemoryStore",
    "Outcome",
    "StorageError",
    "StorageSink",
    "StoredInstance",
    "encode_file_meta",
    "file_header",
    "instance_filename",
    "is_valid_uid",
]
