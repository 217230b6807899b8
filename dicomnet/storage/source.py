"""Instances to send with C-STORE: a Part 10 file on disk, or a pydicom Dataset.

For a DICOM file (PS3.10 §7.1: 128-byte preamble, ``DICM``, File Meta
Information group 0002 in Explicit VR Little Endian) only the preamble and
the meta group are parsed here, by hand, to learn the SOP Class and Instance
UIDs (Media Storage SOP Class/Instance UID), the Transfer Syntax UID and
where the data set starts. The data set itself is then read from disk in
chunks while it is sent, never as a whole. (A deflated data set stored with
an odd length gets the NUL pad byte of PS3.5 A.5 when sent: PDV values must
be of even length.)

Files without preamble or meta information (older or hand-made files) are
read with pydicom instead and encoded in the transfer syntax pydicom finds;
they are held in memory.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from dicomnet.dimse.dataset import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    dataset_walker,
    decode_dataset,
    encode_dataset,
)
from dicomnet.dimse.errors import DatasetError
from dicomnet.dimse.walker import TRUNCATED, DatasetWalker, FramingError
from dicomnet.errors import LocalError

from .shapes import CheckedShapes

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "SMALL_FILE",
    "FileMeta",
    "InstanceSource",
    "SourceError",
    "parse_file_meta",
    "parse_file_meta_bytes",
    "read_file_meta",
]

#: Bytes read from disk at a time while a data set is sent.
DEFAULT_CHUNK_SIZE: Final = 256 * 1024
#: Files up to this size are read whole when a source for sending is made
#: (:meth:`InstanceSource.from_path` with ``preload``) or checked: one open per instance.
SMALL_FILE: Final = DEFAULT_CHUNK_SIZE
#: Values at least this long are seeked over, not read, when a file's data set is walked
#: (which reads pieces of this size between them).
_SEEK_OVER: Final = 16 * 1024

_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

_PREAMBLE: Final = 128
#: Bytes read at once from the start of a file for its meta group (which is usually
#: well under 1 KB; a longer one is read piece by piece).
_META_READ: Final = 4096
#: Bytes asked for by the first read of a file opened to be sent (at most ``preload``
#: + 1): a file shorter than that is read whole by it.
_FIRST_READ: Final = 32 * 1024
_MAGIC: Final = b"DICM"
# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 §7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# A File Meta element longer than this is not a real one; stop instead of reading it.
_MAX_META_VALUE: Final = 1 << 20
_MEDIA_SOP_CLASS: Final = 0x0002
_MEDIA_SOP_INSTANCE: Final = 0x0003
_TRANSFER_SYNTAX: Final = 0x0010
_GROUP_LENGTH: Final = 0x0000
# Deflated syntaxes (PS3.5 A.5): some files end the deflate stream on an odd
# length; a data set sent in a message must be even, so a NUL is added.
_DEFLATED: Final = frozenset(
    {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.205"}
)


class SourceError(LocalError):
    """An instance cannot be read; the message names the file.

    ``reason`` is the message without the file name.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What the File Meta Information of a Part 10 file says.

    ``dataset_offset`` is where the data set starts in the file.
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    dataset_offset: int


class _NoMeta(Exception):
    """The file has no preamble/``DICM``/usable meta group (fall back to pydicom)."""


def _uid(value: bytes) -> str:
    return value.rstrip(b"\0 ").decode("ascii", errors="replace").strip()


def _read_exact(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise _NoMeta("file meta information is truncated")
    return data


def _read_meta_group(fh: BinaryIO, position: int) -> tuple[dict[int, bytes], int]:
    """Read the group 0002 elements at ``position`` of ``fh``: (values by element, their end)."""
    values: dict[int, bytes] = {}
    end: int | None = None
    while end is None or position < end:
        header = fh.read(8)
        if len(header) < 8:
            break  # end of file: the data set is empty
        group, element = struct.unpack_from("<HH", header)
        if group != 0x0002:
            break
        vr = header[4:6]
        if vr in _LONG_VRS:
            length = struct.unpack("<I", _read_exact(fh, 4))[0]
            position += 12
        elif vr.isalpha() and vr.isupper():
            length = struct.unpack_from("<H", header, 6)[0]
            position += 8
        else:  # some writers put the meta group in Implicit VR; tolerate it
            length = struct.unpack_from("<I", header, 4)[0]
            position += 8
        if length > _MAX_META_VALUE:
            raise _NoMeta(f"file meta element (0002,{element:04X}) is {length} bytes long")
        value = _read_exact(fh, length)
        position += length
        values[element] = value
        if element == _GROUP_LENGTH and length == 4 and end is None:
            end = position + struct.unpack("<I", value)[0]
    return values, position


_META_HEAD: Final = struct.Struct("<HH2sH")
_META_LONG: Final = struct.Struct("<I")
# Two upper-case ASCII letters: the shape of an explicit VR (bytes.isalpha and isupper).
_EXPLICIT_VR_SHAPE: Final = frozenset(bytes((a, b)) for a in range(65, 91) for b in range(65, 91))


def _meta_in(data: bytes, position: int) -> FileMeta:
    """:func:`_read_meta_group` and :func:`_file_meta` over a file already in memory.

    One pass over the buffer with ``unpack_from``, keeping only the three values a
    :class:`FileMeta` needs (the last of each, as the dictionary of the file reader
    does), no reads.
    """
    sop_class = sop_instance = syntax = b""
    end: int | None = None
    size = len(data)
    while end is None or position < end:
        if size - position < 8:
            break  # end of file: the data set is empty
        group, element, vr, short = _META_HEAD.unpack_from(data, position)
        if group != 0x0002:
            break
        if vr in _LONG_VRS:
            if size - position < 12:
                raise _NoMeta("file meta information is truncated")
            length = _META_LONG.unpack_from(data, position + 8)[0]
            start = position + 12
        elif vr in _EXPLICIT_VR_SHAPE:
            length = short
            start = position + 8
        else:  # some writers put the meta group in Implicit VR; tolerate it
            length = _META_LONG.unpack_from(data, position + 4)[0]
            start = position + 8
        if length > _MAX_META_VALUE:
            raise _NoMeta(f"file meta element (0002,{element:04X}) is {length} bytes long")
        position = start + length
        if position > size:
            raise _NoMeta("file meta information is truncated")
        if element == _MEDIA_SOP_INSTANCE:
            sop_instance = data[start:position]
        elif element == _MEDIA_SOP_CLASS:
            sop_class = data[start:position]
        elif element == _TRANSFER_SYNTAX:
            syntax = data[start:position]
        elif element == _GROUP_LENGTH and length == 4 and end is None:
            end = position + _META_LONG.unpack_from(data, start)[0]
    return _file_meta(
        {_MEDIA_SOP_CLASS: sop_class, _MEDIA_SOP_INSTANCE: sop_instance, _TRANSFER_SYNTAX: syntax},
        position,
    )


def _parse_meta(fh: BinaryIO) -> FileMeta:
    head = fh.read(_PREAMBLE + len(_MAGIC))
    if len(head) < _PREAMBLE + len(_MAGIC) or head[_PREAMBLE:] != _MAGIC:
        raise _NoMeta("no preamble and DICM prefix")
    return _file_meta(*_read_meta_group(fh, _PREAMBLE + len(_MAGIC)))


def _parse_meta_in(data: bytes) -> FileMeta:
    if data[_PREAMBLE : _PREAMBLE + len(_MAGIC)] != _MAGIC:
        raise _NoMeta("no preamble and DICM prefix")
    return _meta_in(data, _PREAMBLE + len(_MAGIC))


def _file_meta(values: dict[int, bytes], position: int) -> FileMeta:
    """The FileMeta of the meta group's ``values``; ``position``: where the group ended."""
    sop_class = _uid(values.get(_MEDIA_SOP_CLASS, b""))
    sop_instance = _uid(values.get(_MEDIA_SOP_INSTANCE, b""))
    syntax = _uid(values.get(_TRANSFER_SYNTAX, b""))
    if not (sop_class and sop_instance and syntax):
        missing = [
            name
            for value, name in (
                (sop_class, "Media Storage SOP Class UID"),
                (sop_instance, "Media Storage SOP Instance UID"),
                (syntax, "Transfer Syntax UID"),
            )
            if not value
        ]
        raise _NoMeta("file meta information lacks " + ", ".join(missing))
    return FileMeta(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax_uid=syntax,
        dataset_offset=position,
    )


def parse_file_meta_bytes(data: bytes) -> FileMeta | None:
    """:func:`parse_file_meta` of a whole file (or its start) already read into memory.

    Gives exactly what :func:`parse_file_meta` gives for ``io.BytesIO(data)``,
    without the file object: a small file sent as a whole is read once and its
    meta group taken from that buffer.
    """
    try:
        return _parse_meta_in(data)
    except _NoMeta:
        return None


def parse_file_meta(fh: BinaryIO) -> FileMeta | None:
    """Parse a preamble and File Meta Information from the start of ``fh`` (PS3.10 §7.1).

    Returns ``None`` when there is no usable meta information. ``fh`` is left
    somewhere after the meta group.
    """
    try:
        return _parse_meta(fh)
    except _NoMeta:
        return None


def _meta_from_head(head: bytes, fd: int) -> FileMeta | None:
    """:func:`parse_file_meta` of the file open as ``fd`` whose first bytes are ``head``.

    The head is parsed in memory when the meta group ends inside it, with the first
    element header of the data set in it too (the group did not stop only because
    the head did); otherwise the file is parsed from its start, read as needed.
    """
    meta = parse_file_meta_bytes(head)
    if meta is not None and meta.dataset_offset + 8 <= len(head):
        return meta
    with io.FileIO(fd, "rb", closefd=False) as raw:
        raw.seek(0)
        with io.BufferedReader(raw) as fh:
            return parse_file_meta(fh)


def read_file_meta(path: str | os.PathLike[str]) -> FileMeta | None:
    """Parse the preamble and File Meta Information of ``path`` (PS3.10 §7.1).

    Returns ``None`` when the file has no usable meta information (no
    ``DICM`` prefix, or a mandatory meta element missing). Raises
    :class:`SourceError` when the file cannot be opened.
    """
    try:
        with open(path, "rb") as fh:
            return parse_file_meta(fh)
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc), path=path) from exc


def _syntax_of(ds: Dataset) -> str:
    """The transfer syntax a Dataset was read in, or Explicit VR Little Endian."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return str(meta.TransferSyntaxUID)
    implicit, little = ds.original_encoding
    if implicit:
        return IMPLICIT_VR_LITTLE_ENDIAN
    if little is False:
        return EXPLICIT_VR_BIG_ENDIAN
    return EXPLICIT_VR_LITTLE_ENDIAN


def _without_meta(ds: Dataset) -> Dataset:
    """``ds`` without group 0002 elements (a shallow copy only if it has any)."""
    # keys(), not iteration: iterating a Dataset decodes every raw element.
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if not any(tag.group == 0x0002 for tag in ds.keys()):  # noqa: SIM118
        return ds
    copy = Dataset()
    for tag in ds.keys():  # noqa: SIM118
        if tag.group != 0x0002:
            copy[tag] = ds.get_item(tag)
    implicit, little = ds.original_encoding
    copy.set_original_encoding(implicit, little, ds.original_character_set)
    return copy


class InstanceSource:
    """One SOP instance to store: its UIDs, transfer syntax and data set bytes.

    Build one with :meth:`from_path`, :meth:`from_dataset` or
    :meth:`from_bytes`. :meth:`chunks` yields the data set as encoded in
    :attr:`transfer_syntax_uid`; for a Part 10 file these are the file's own
    bytes, read lazily.
    """

    __slots__ = (
        "_checked",
        "_data",
        "_dataset",
        "_head",
        "_loaded",
        "label",
        "offset",
        "pad",
        "path",
        "size",
        "sop_class_uid",
        "sop_instance_uid",
        "transfer_syntax_uid",
    )

    def __init__(
        self,
        *,
        sop_class_uid: str,
        sop_instance_uid: str,
        transfer_syntax_uid: str,
        path: Path | None = None,
        offset: int = 0,
        size: int | None = None,
        data: bytes | None = None,
        dataset: Dataset | None = None,
        label: str | None = None,
        pad: bool = False,
        checked: bool = False,
    ) -> None:
        """``checked``: the data set is known to be whole (a receiver that wrote the
        file walked it to its end), so :meth:`check` does not walk it again."""
        if path is None and data is None:
            raise LocalError("an instance source needs a file or encoded bytes")
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid
        self.transfer_syntax_uid = transfer_syntax_uid
        #: The file the data set is read from (``None`` for in-memory sources).
        self.path = path
        #: Where the data set starts in :attr:`path`.
        self.offset = offset
        stored = len(data) if data is not None else (size or 0)
        #: Whether a NUL byte is sent after the stored bytes to make their length even.
        self.pad = pad and stored % 2 == 1
        #: Length of the encoded data set in bytes, as sent (with the padding byte).
        self.size = stored + self.pad
        self._data = data
        self._dataset = dataset
        # ``_data`` holds a small file's data set, read ahead; dropped once it was sent.
        self._loaded = False
        # The first bytes of a larger file's data set, read with its meta (from_path with
        # ``preload``); walked by check, then dropped.
        self._head: bytes | None = None
        # A data set pydicom encoded here is whole; bytes from elsewhere are walked once.
        self._checked = checked or dataset is not None
        #: What to call this instance in messages: the path, or the SOP Instance UID.
        self.label = label or (str(path) if path is not None else sop_instance_uid)

    def __repr__(self) -> str:
        return (
            f"InstanceSource({self.label!r}, sop_class={self.sop_class_uid},"
            f" transfer_syntax={self.transfer_syntax_uid}, size={self.size})"
        )

    # ---------------------------------------------------------------- constructors

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, preload: int = 0) -> InstanceSource:
        """A source for the DICOM file at ``path``.

        Part 10 files are not read beyond their meta information here, unless the
        whole file is at most ``preload`` bytes: then it is read whole (by one
        ``read`` under 32 KB, with no stat) and held until its data set was sent (the
        file is opened once, for a source sent right away; leave ``preload`` at 0 for
        sources listed before sending).
        Files without meta information are read whole with pydicom. Raises
        :class:`SourceError` naming the file when it is unreadable or not DICOM.
        """
        file = path if isinstance(path, Path) else Path(path)
        data: bytes | None = None
        try:
            # A descriptor, no file object. A first read that gets less than it asked for
            # has the whole file: a small one costs an open and one read, no stat.
            fd = os.open(file, _OPEN_FLAGS)
            try:
                want = min(preload + 1, _FIRST_READ) if preload > 0 else _META_READ
                head = os.read(fd, want)
                total = len(head)
                if total < want and preload > 0:
                    data = head
                else:
                    total = os.fstat(fd).st_size
                    if total <= preload:
                        data = head + os.read(fd, max(0, total - len(head)))
                meta = _meta_from_head(head, fd) if data is None else parse_file_meta_bytes(data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=file) from exc
        if meta is None:
            return cls._from_file_without_meta(file)
        if data is not None:
            total = len(data)  # what was read, should the file have changed meanwhile
        source = cls(
            sop_class_uid=meta.sop_class_uid,
            sop_instance_uid=meta.sop_instance_uid,
            transfer_syntax_uid=meta.transfer_syntax_uid,
            path=file,
            offset=meta.dataset_offset,
            size=total - meta.dataset_offset,
            pad=meta.transfer_syntax_uid in _DEFLATED,
        )
        if data is not None:
            source._data = data[meta.dataset_offset :]
            source._loaded = True
        elif preload > 0 and len(head) > meta.dataset_offset:
            # Sent right away: check walks these bytes instead of reading them again.
            source._head = head[meta.dataset_offset :]
        return source

    @classmethod
    def _from_file_without_meta(cls, file: Path) -> InstanceSource:
        from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
        from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(file, force=True)
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=file) from exc
        except (InvalidDicomError, ValueError, TypeError, KeyError, EOFError, struct.error) as exc:
            raise SourceError(f"not a DICOM file: {exc}", path=file) from exc
        if len(ds) == 0 or "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            raise SourceError("not a DICOM file (no SOP Class/Instance UID found)", path=file)
        # pydicom reads a value cut short as far as the file goes: walk the file itself.
        cls._raw(file, str(ds.SOPClassUID), str(ds.SOPInstanceUID), _syntax_of(ds)).check()
        source = cls.from_dataset(ds, label=str(file))
        source.path = file
        return source

    @classmethod
    def _raw(cls, file: Path, sop_class: str, sop_instance: str, syntax: str) -> InstanceSource:
        """The data set of a file without usable meta information, as it is on disk."""
        try:
            with open(file, "rb") as fh:
                position = _PREAMBLE + len(_MAGIC)
                if fh.read(position)[_PREAMBLE:] != _MAGIC:
                    position = 0
                fh.seek(position)
                position = _read_meta_group(fh, position)[1]
            total = file.stat().st_size
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=file) from exc
        except _NoMeta as exc:
            raise SourceError(str(exc), path=file) from exc
        return cls(
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            transfer_syntax_uid=syntax,
            path=file,
            offset=position,
            size=total - position,
            pad=syntax in _DEFLATED,
        )

    @classmethod
    def from_dataset(
        cls,
        ds: Dataset,
        transfer_syntax_uid: str | None = None,
        *,
        label: str | None = None,
    ) -> InstanceSource:
        """A source for a pydicom Dataset, encoded now in ``transfer_syntax_uid``.

        The syntax defaults to the dataset's File Meta Transfer Syntax UID,
        else the encoding it was read in, else Explicit VR Little Endian.
        For an encapsulated syntax Pixel Data must already be compressed.
        Raises :class:`SourceError` when the dataset lacks its UIDs or cannot
        be encoded.
        """
        syntax = transfer_syntax_uid or _syntax_of(ds)
        name = label or str(ds.get("SOPInstanceUID", "dataset"))
        try:
            sop_class = str(ds.SOPClassUID)
            sop_instance = str(ds.SOPInstanceUID)
        except AttributeError as exc:
            raise SourceError("data set has no SOP Class/Instance UID", path=name) from exc
        body = _without_meta(ds)
        try:
            data = encode_dataset(body, syntax)
        except DatasetError as exc:
            raise SourceError(str(exc), path=name) from exc
        return cls(
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            transfer_syntax_uid=syntax,
            data=data,
            dataset=body,
            label=label,
        )

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        sop_class_uid: str,
        sop_instance_uid: str,
        transfer_syntax_uid: str,
        label: str | None = None,
    ) -> InstanceSource:
        """A source for a data set already encoded in ``transfer_syntax_uid``."""
        return cls(
            sop_class_uid=sop_class_uid,
            sop_instance_uid=sop_instance_uid,
            transfer_syntax_uid=transfer_syntax_uid,
            data=bytes(data),
            label=label,
        )

    # ---------------------------------------------------------------- data

    @property
    def in_memory(self) -> bool:
        """Whether the encoded data set is held in memory (not read from a file now)."""
        return self._data is not None

    def chunks(self, size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the encoded data set in pieces of at most ``size`` bytes.

        A file is opened on the first ``next()`` and read one piece at a time;
        it is closed when the iterator ends or is closed. Read errors raise
        :class:`SourceError`.
        """
        if size <= 0:
            raise LocalError("chunk size must be positive")
        data = self._data
        if data is not None:
            if len(data) <= size:
                yield data
            else:
                view = memoryview(data)
                for start in range(0, len(view), size):
                    yield bytes(view[start : start + size])
            if self._loaded:
                # Read ahead from the file: not kept once sent (read again if sent again).
                self._data = None
                self._loaded = False
            if self.pad:
                yield b"\0"
            return
        assert self.path is not None
        try:
            with open(self.path, "rb", buffering=0) as fh:
                fh.seek(self.offset)
                # Reads of the exact remaining length: a small instance costs one
                # read of its own size, not a large buffer allocated and shrunk.
                remaining = self.size - self.pad
                while piece := fh.read(min(size, remaining) if remaining > 0 else size):
                    remaining -= len(piece)
                    yield piece
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self.path) from exc
        if self.pad:
            yield b"\0"

    def take_whole(self) -> bytes | None:
        """The encoded data set as sent, in one piece, when it is held in memory.

        Like :meth:`chunks`: a small file's read-ahead copy is let go (read again
        should the instance be sent again), and the pad byte of an odd deflated data
        set is added. ``None`` when the data set is read from the file as it is sent.
        """
        data = self._data
        if data is None:
            return None
        if self._loaded:
            self._data = None
            self._loaded = False
        return data + b"\0" if self.pad else data

    def check(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, *, shapes: CheckedShapes | None = None
    ) -> None:
        """Make sure the data set is whole before any of it is sent.

        Walks the element headers to the end (values are skipped, not
        parsed; a deflated data set is inflated on the way) and raises
        :class:`SourceError` - "truncated at byte N" for a file cut short -
        when the data set does not end exactly at an element boundary or
        its framing is broken (:mod:`dicomnet.dimse.walker`). ``N`` counts
        from the start of the file (of the inflated data set for deflated
        syntaxes). A data set in a transfer syntax unknown here is not
        checked. A source that passed is not walked again.

        With ``shapes``, a data set held in memory that looks like one that passed
        before, header for header (:mod:`dicomnet.storage.shapes`), passes without
        a walk; one that passes a walk is remembered there.
        """
        if self._checked:
            return
        syntax = self.transfer_syntax_uid
        if shapes is not None and self._data is not None and shapes.passed(syntax, self._data):
            self._checked = True
            return
        try:
            walker = dataset_walker(syntax, record=shapes is not None)
        except DatasetError:
            self._checked = True  # cannot be walked; the peer may know the syntax
            return
        if self._data is None and self.path is not None and self.size <= SMALL_FILE:
            self._load()
            if shapes is not None and self._data is not None and shapes.passed(syntax, self._data):
                self._checked = True
                return
        data = self._data
        try:
            if data is not None:
                walker.feed(data)
            elif isinstance(walker, DatasetWalker) and self.path is not None:
                walker = self._walk_file(walker, chunk_size, shapes)
            else:
                for chunk in self.chunks(chunk_size):
                    walker.feed(chunk)
            walker.finish()
        except FramingError as exc:
            if self.transfer_syntax_uid in _DEFLATED:
                where = f"byte {exc.offset} of the inflated data set"
            else:
                where = f"byte {self.offset + exc.offset}"
            what = "truncated" if exc.reason == TRUNCATED else exc.reason
            raise SourceError(f"{what} at {where}: {exc}", path=self.label) from exc
        self._checked = True
        if shapes is not None and data is not None and isinstance(walker, DatasetWalker):
            shapes.remember(syntax, data, walker.headers or [])

    def _load(self) -> None:
        """Read a small file's data set with one ``read``, to walk it and then send it."""
        assert self.path is not None
        try:
            with open(self.path, "rb", buffering=0) as fh:
                fh.seek(self.offset)
                # A file cut short gives fewer bytes: the walk says where it ends.
                self._data = fh.read(self.size - self.pad)
                self._loaded = True
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self.path) from exc

    def _walk_file(
        self, walker: DatasetWalker, chunk_size: int, shapes: CheckedShapes | None = None
    ) -> DatasetWalker:
        """Walk the data set of a file, seeking over the values instead of reading them;
        returns the walker that walked it (to be finished).

        Only element headers are read: a CT slice costs its header, not its
        Pixel Data (which is read once, when it is sent). A file shorter than
        a value says is walked to its end like one read through. The first bytes
        read with the meta group (:meth:`from_path` with ``preload``) are walked
        from memory; when all that follows lies inside the value they end in (the
        Pixel Data of a slice), the file is not opened again: its length is the one
        :meth:`from_path` found. With ``shapes`` (``walker`` recording), a first
        piece that looks like one walked before is not walked: the walk goes on
        from where that one's was after it (:meth:`CheckedShapes.resumed`); one
        that is walked is remembered.
        """
        assert self.path is not None
        remaining = self.size - self.pad
        walked = 0
        head, self._head = self._head, None
        if head:
            first = head[:remaining]
            walker = self._walk_first(walker, first, shapes)
            walked = len(first)
            remaining -= walked
            if remaining <= walker.skippable:
                walker.skip(remaining)
                return walker
        try:
            with open(self.path, "rb", buffering=0) as fh:
                fh.seek(self.offset + walked)
                if not walked and remaining > 0:
                    first = fh.read(min(chunk_size, _SEEK_OVER, remaining))
                    remaining -= len(first)
                    walker = self._walk_first(walker, first, shapes)
                while remaining > 0:
                    skip = walker.skippable
                    if skip >= _SEEK_OVER:
                        step = min(skip, remaining)
                        walker.skip(step)
                        fh.seek(step, os.SEEK_CUR)
                        remaining -= step
                        continue
                    piece = fh.read(min(chunk_size, _SEEK_OVER, remaining))
                    if not piece:
                        break
                    walker.feed(piece)
                    remaining -= len(piece)
                # Seeking does not notice a file that shrank since it was opened.
                if remaining <= 0 and fh.tell() > os.fstat(fh.fileno()).st_size:
                    raise SourceError("file shorter than when it was opened", path=self.path)
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc), path=self.path) from exc
        return walker

    def _walk_first(
        self, walker: DatasetWalker, first: bytes, shapes: CheckedShapes | None
    ) -> DatasetWalker:
        """Walk the first bytes of the data set (from a copy, when they look like bytes
        walked before); returns the walker that goes on."""
        if shapes is None:
            walker.feed(first)
            return walker
        resumed = shapes.resumed(self.transfer_syntax_uid, first)
        if resumed is not None:
            return resumed
        walker.feed(first)
        shapes.remember_prefix(self.transfer_syntax_uid, first, walker)
        return walker

    def read(self) -> bytes:
        """The whole encoded data set (for transcoding; avoid on the normal path)."""
        return b"".join(self.chunks())

    def dataset(self) -> Dataset:
        """The data set decoded with pydicom (raises :class:`SourceError`)."""
        if self._dataset is not None:
            return self._dataset
        try:
            return decode_dataset(self.read(), self.transfer_syntax_uid)
        except DatasetError as exc:
            raise SourceError(str(exc), path=self.label) from exc
