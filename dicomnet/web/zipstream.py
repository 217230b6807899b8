"""A ZIP archive written as a stream of chunks, one file at a time, never whole in memory.

:func:`zip_chunks` is a plain generator: each ``next()`` reads at most one
chunk of one file and returns what the archive has grown by. Members are
stored, not deflated (DICOM pixel data barely compresses and a stored member
costs no CPU), with ZIP64 sizes so a study past 4 GiB is still one archive.
Entry sizes and CRCs follow each member (data descriptors), as a writer that
cannot seek back must do.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Final

__all__ = ["CHUNK_SIZE", "zip_chunks"]

#: How much of a member file is read at a time.
CHUNK_SIZE: Final = 1024 * 1024


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose written bytes are taken out as they come."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def zip_chunks(
    members: Iterable[tuple[str, Path]], *, chunk_size: int = CHUNK_SIZE
) -> Generator[bytes, None, None]:
    """The bytes of a ZIP archive holding each (name, file) of ``members``, in pieces.

    A file that has vanished since it was listed (deleted meanwhile) is left
    out. Empty pieces are not yielded.
    """
    sink = _Sink()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, path in members:
            try:
                source = path.open("rb")
            except FileNotFoundError:
                continue
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            with source, archive.open(info, "w", force_zip64=True) as member:
                while block := source.read(chunk_size):
                    member.write(block)
                    if piece := sink.take():
                        yield piece
            if piece := sink.take():
                yield piece
    if piece := sink.take():
        yield piece
