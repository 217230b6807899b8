"""A file's data set read straight into the P-DATA-TF PDUs that carry it.

:class:`FileDataSet` is the :class:`~dicomnet_pdu.layout.ReadableData` of a Part 10
file's data set (see :func:`dicomnet.storage.scu.store`): the
sender lays the PDU and PDV headers out in its buffer and the payloads are read from
the file into the slices between them, many PDUs per ``os.preadv`` call. No byte
string is made per chunk and none is joined before the socket write.

The file is opened on the first read and closed when sending ends. A file that
turns out shorter than its data set was (changed since it was checked) raises
:class:`~dicomnet.storage.source.SourceError`: the message cannot be completed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from dicomnet_pdu.layout import ReadableData

from .source import SourceError

__all__ = ["FileDataSet"]

#: Buffers given to one ``preadv`` call at most (Linux's IOV_MAX is 1024).
_MAX_VIEWS: Final = 1024
#: Bytes read at a time by :meth:`FileDataSet.chunks`.
_CHUNK: Final = 256 * 1024


class FileDataSet(ReadableData):
    """``stored`` bytes of ``path`` from ``offset``, and a NUL byte after them if ``pad``."""

    __slots__ = ("_fd", "_length", "_offset", "_path", "_position", "_stored")

    def __init__(self, path: Path, offset: int, stored: int, *, pad: bool = False) -> None:
        self._path = path
        self._offset = offset
        self._stored = stored
        self._length = stored + pad
        self._position = 0  # bytes of the data set read so far
        self._fd: int | None = None

    @property
    def length(self) -> int:
        return self._length

    def readinto(self, views: list[memoryview]) -> None:
        wanted = sum(map(len, views))
        from_file = min(wanted, self._stored - self._position)
        if from_file < wanted:
            # Only the pad byte lies past the stored bytes, and it ends the data set.
            last = views[-1]
            last[-1] = 0
            views = [*views[:-1], last[:-1]] if len(last) > 1 else views[:-1]
        try:
            self._read(self._open(), views, from_file)
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self._path) from exc
        self._position += wanted

    def _open(self) -> int:
        fd = self._fd
        if fd is None:
            fd = self._fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return fd

    @property
    def can_sendfile(self) -> bool:
        return hasattr(os, "sendfile")

    def sendfile(self, socket_fd: int, count: int) -> int:
        count = min(count, self._stored - self._position)
        if count <= 0:
            return 0
        try:
            sent = os.sendfile(socket_fd, self._open(), self._offset + self._position, count)
        except OSError:
            # The socket is full (EAGAIN) or sendfile cannot do it: readinto and the
            # transport take over (and report a file or connection error properly).
            return 0
        self._position += sent
        return sent

    def _read(self, fd: int, views: list[memoryview], count: int) -> None:
        """Fill ``views`` (``count`` bytes in all) from the file at the current position."""
        position = self._offset + self._position
        while count > 0:
            batch = views[:_MAX_VIEWS]
            if hasattr(os, "preadv"):
                got = os.preadv(fd, batch, position)
            else:  # pragma: no cover - platforms without preadv
                os.lseek(fd, position, os.SEEK_SET)
                got = os.readv(fd, batch)
            if got <= 0:
                raise SourceError("file shorter than when it was opened", path=self._path)
            position += got
            count -= got
            # Drop the filled views; the one filled in part goes on from where it stopped.
            while views and got >= len(views[0]):
                got -= len(views[0])
                views = views[1:]
            if got:
                views = [views[0][got:], *views[1:]]

    def chunks(self) -> Iterator[bytes]:
        try:
            with open(self._path, "rb", buffering=0) as fh:
                fh.seek(self._offset)
                remaining = self._stored
                while remaining > 0:
                    piece = fh.read(min(_CHUNK, remaining))
                    if not piece:
                        raise SourceError("file shorter than when it was opened", path=self._path)
                    remaining -= len(piece)
                    yield piece
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self._path) from exc
        if self._length > self._stored:
            yield b"\0"

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
