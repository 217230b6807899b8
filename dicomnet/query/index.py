"""An in-memory index of SOP instances for the Query/Retrieve SCP.

Each :class:`InstanceRecord` keeps the header attributes of one instance
(everything before Pixel Data, read with pydicom's ``stop_before_pixels``)
and where its data set is, so a retrieve can send it as stored. Build an
:class:`InstanceIndex` from a folder of Part 10 files (for example the root
of a :class:`~dicomnet.storage.folder.FolderStore`), from a
:class:`~dicomnet.storage.memory.MemoryStore`, or instance by instance.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dicomnet.dimse.dataset import decode_dataset
from dicomnet.dimse.errors import DatasetError
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.source import InstanceSource

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["InstanceIndex", "InstanceRecord"]

_log = logging.getLogger("dicomnet.query")
_PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """One indexed instance: its header attributes and where its data set is.

    Exactly one of ``path`` (a Part 10 file) and ``data`` (the data set
    encoded in ``transfer_syntax_uid``) is set.
    """

    header: Dataset
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    path: Path | None = None
    data: bytes | None = None

    def source(self) -> InstanceSource:
        """An :class:`InstanceSource` to C-STORE this instance as stored."""
        if self.path is not None:
            return InstanceSource.from_path(self.path)
        assert self.data is not None
        return InstanceSource.from_bytes(
            self.data,
            sop_class_uid=self.sop_class_uid,
            sop_instance_uid=self.sop_instance_uid,
            transfer_syntax_uid=self.transfer_syntax_uid,
        )

    def value(self, keyword: str) -> str:
        """A header attribute as a string (empty when absent)."""
        return str(self.header.get(keyword, "") or "")

    def value_of(self, tag: int) -> str:
        """A header attribute, by tag, as a string (empty when absent)."""
        element = self.header.get(tag)
        return "" if element is None else str(element.value or "")


class InstanceIndex:
    """Indexed instances by SOP Instance UID (later additions replace earlier ones)."""

    def __init__(self, records: Iterable[InstanceRecord] = ()) -> None:
        self._records: dict[str, InstanceRecord] = {}
        for record in records:
            self.add(record)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[InstanceRecord]:
        return iter(list(self._records.values()))

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self._records

    def get(self, sop_instance_uid: str) -> InstanceRecord | None:
        """The record of an instance, or ``None``."""
        return self._records.get(sop_instance_uid)

    def add(self, record: InstanceRecord) -> None:
        """Add (or replace) one record."""
        self._records[record.sop_instance_uid] = record

    def remove(self, sop_instance_uid: str) -> None:
        """Forget an instance (no error when it is not indexed)."""
        self._records.pop(sop_instance_uid, None)

    def add_file(self, path: str | os.PathLike[str]) -> InstanceRecord:
        """Index one DICOM file (header only); raises ``OSError`` or :class:`ValueError`."""
        from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
        from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)
        from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)

        file = Path(path)
        try:
            ds = dcmread(file, stop_before_pixels=True)
        except InvalidDicomError as exc:
            raise ValueError(f"{file}: not a DICOM file: {exc}") from exc
        meta = ds.file_meta
        sop_class = str(meta.get("MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", ""))
        sop_instance = str(
            meta.get("MediaStorageSOPInstanceUID", "") or ds.get("SOPInstanceUID", "")
        )
        syntax = str(meta.get("TransferSyntaxUID", "") or "1.2.840.10008.1.2")
        if not sop_class or not sop_instance:
            raise ValueError(f"{file}: no SOP Class/Instance UID")
        record = InstanceRecord(
            header=Dataset(ds),
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            transfer_syntax_uid=syntax,
            path=file,
        )
        self.add(record)
        return record

    def add_folder(self, root: str | os.PathLike[str]) -> int:
        """Index every DICOM file under ``root`` (hidden directories skipped); how many."""
        count = 0
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                try:
                    self.add_file(Path(directory) / name)
                except (OSError, ValueError) as exc:
                    _log.debug("not indexed: %s", exc)
                    continue
                count += 1
        return count

    def add_dataset(self, data: bytes, transfer_syntax_uid: str) -> InstanceRecord:
        """Index a data set held in memory, encoded in ``transfer_syntax_uid``."""
        ds = decode_dataset(data, transfer_syntax_uid)
        if _PIXEL_DATA in ds:
            del ds[_PIXEL_DATA]
        record = InstanceRecord(
            header=ds,
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            transfer_syntax_uid=transfer_syntax_uid,
            data=bytes(data),
        )
        self.add(record)
        return record

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str]) -> InstanceIndex:
        """An index of every DICOM file under ``root`` (a FolderStore's root works)."""
        index = cls()
        index.add_folder(root)
        return index

    @classmethod
    def from_memory_store(cls, store: MemoryStore) -> InstanceIndex:
        """An index of the instances a :class:`MemoryStore` holds."""
        index = cls()
        for instance in store.instances.values():
            try:
                index.add_dataset(instance.dataset, instance.info.transfer_syntax_uid)
            except DatasetError as exc:
                _log.debug("not indexed: %s", exc)
        return index
