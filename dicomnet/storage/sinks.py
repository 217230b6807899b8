"""Where received instances go: the sink and store interfaces and their values.

A *store* (:class:`InstanceStore`) opens one *sink* (:class:`StorageSink`) per
C-STORE request. The C-STORE-RQ command set carries the SOP Class and
Instance UIDs before the data set, so the sink is opened with the complete
:class:`InstanceInfo` and may write the file meta information first; the data
set fragments are then written as they arrive, and :meth:`StorageSink.commit`
makes the instance visible at once, or :meth:`StorageSink.discard` drops it
without a trace. A store never exposes a partly received instance.

A sink may also take what the Storage SCP's walk of the data set saw of its
header (:class:`WalkedHeader`): it names the top-level elements it wants in
``header_tags`` and gets them in ``header_walked(walk)``, called once the data
set is complete and checked, before ``commit`` (the archive's ingest indexes
them without parsing the header again). Neither is required.

A sink that also names ``series_tags`` (fewer elements: those it needs of an
instance whose series it has seen whole) is walked for those alone once the
association has sent it an instance walked whole, and gets
``header_walked(walk, memo, partial)``: ``memo`` is that association's
:data:`SeriesMemo` (made by the Storage SCP, kept by it for the association
alone, filled and read by the sink), ``partial`` whether the walk captured
``series_tags`` only. A memo never outlives its association, so a series deleted
and sent again corrected (same UIDs, other values) is read anew.

Errors: an :class:`OSError` from a sink means the instance could not be kept
(disk full, permissions); :class:`DuplicateRefused` means the store's
:class:`Duplicate` policy refuses a second copy of an instance UID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final, NamedTuple, Protocol

from dicomnet.errors import DicomNetError
from dicomnet.policy import Policy

__all__ = [
    "DroppingSink",
    "Duplicate",
    "DuplicateRefused",
    "InstanceInfo",
    "InstanceStore",
    "Outcome",
    "SeriesMemo",
    "StorageError",
    "StorageSink",
    "StoredInstance",
    "WalkedHeader",
]

_POLICY_DEFAULTS: Final = Policy(ae_title="")


class Duplicate(Enum):
    """What a store does with an instance whose SOP Instance UID it already holds."""

    KEEP_FIRST = "keep-first"  # keep the stored copy, drop the new one (and report success)
    REPLACE = "replace"  # the new copy replaces the stored one
    REFUSE = "refuse"  # drop the new copy and report a failure


class Outcome(Enum):
    """What a commit did."""

    STORED = "stored"  # a new instance
    REPLACED = "replaced"  # an earlier copy was overwritten (Duplicate.REPLACE)
    DUPLICATE_KEPT = "duplicate-kept"  # the earlier copy was kept, this one dropped


class StorageError(DicomNetError):
    """A store cannot take an instance for a reason other than an OS error."""


class DuplicateRefused(StorageError):
    """The instance UID is already stored and the store's policy is :attr:`Duplicate.REFUSE`."""

    def __init__(self, sop_instance_uid: str) -> None:
        self.sop_instance_uid = sop_instance_uid
        super().__init__(f"SOP Instance {sop_instance_uid!r} is already stored")


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceInfo:
    """What is known of an instance before its data set arrives.

    ``transfer_syntax_uid`` is the one negotiated for the presentation
    context (the data set is kept as received, in that syntax);
    ``source_ae_title`` is the calling peer's AE title; the implementation
    class UID and version name are *ours* (PS3.10 §7.1: the implementation
    that wrote the file).
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    source_ae_title: str = ""
    #: The AE title the peer called (ours on that association); "" when unknown.
    called_ae_title: str = ""
    implementation_class_uid: str = _POLICY_DEFAULTS.implementation_class_uid
    implementation_version_name: str = _POLICY_DEFAULTS.implementation_version_name


class StoredInstance:
    """A committed instance: where it is and what the commit did.

    ``path`` is ``None`` for stores that are not files; ``size`` is the length
    of the data set in bytes (without file meta information). For
    :attr:`Outcome.DUPLICATE_KEPT` the path is that of the copy kept.

    Read-only once made. ``path`` may be given as a ``str``: the
    :class:`~pathlib.Path` is then made when first asked for (a Storage SCP
    that never looks at it does not pay for one per instance).
    """

    __slots__ = ("_path", "info", "location", "outcome", "size")

    info: InstanceInfo
    location: str
    size: int
    outcome: Outcome
    _path: Path | str | None

    def __init__(
        self,
        info: InstanceInfo,
        location: str,
        size: int,
        outcome: Outcome = Outcome.STORED,
        path: Path | str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "info", info)
        set_(self, "location", location)
        set_(self, "size", size)
        set_(self, "outcome", outcome)
        set_(self, "_path", path)

    @property
    def path(self) -> Path | None:
        """The file (``None``: the store keeps no files)."""
        path = self._path
        if isinstance(path, str):
            path = Path(path)
            object.__setattr__(self, "_path", path)
        return path

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"StoredInstance is read-only ({name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"StoredInstance is read-only ({name!r})")

    def _key(self) -> tuple[object, ...]:
        return (self.info, self.location, self.size, self.outcome, self.path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredInstance):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"StoredInstance(info={self.info!r}, location={self.location!r}, "
            f"size={self.size!r}, outcome={self.outcome!r}, path={self.path!r})"
        )


class WalkedHeader(NamedTuple):
    """What the walk of a complete data set saw of its header (see the module docstring).

    ``values``: the raw values (as received) of the wanted top-level elements
    present; ``uncaptured``: wanted elements present whose value was not
    captured (too long, or of undefined length); ``pixel_offset``: where the
    first top-level Pixel Data, Float or Double Float Pixel Data element
    starts (``None``: there is none); ``size``: the data set's length. Offsets
    and length count the bytes as walked (inflated, for a deflated syntax).
    """

    values: Mapping[int, bytes]
    uncaptured: frozenset[int]
    pixel_offset: int | None
    size: int


#: One association's memo of the series it sent, for a sink that names ``series_tags``:
#: the Series Instance UID (raw, as walked) of each series walked whole -> the raw values
#: the sink keeps of its first instance (``None``: none it can take from the memo).
SeriesMemo = dict[bytes, Mapping[int, bytes] | None]


class StorageSink(Protocol):
    """One instance being received."""

    async def write(self, chunk: bytes | memoryview) -> None:
        """Append a fragment of the data set."""
        ...

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """The data set is complete: make the instance visible (atomically)."""
        ...

    async def discard(self) -> None:
        """Drop everything written; safe to call more than once and after a failed commit."""
        ...


class InstanceStore(Protocol):
    """Something that keeps received instances (a folder, memory, a database...)."""

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink for one instance; may raise :class:`DuplicateRefused` or :class:`OSError`."""
        ...


class DroppingSink:
    """A sink that keeps nothing: the answer for a duplicate the store does not keep.

    It counts the bytes it is given and commits to the ``kept`` instance
    (the copy the store already has).
    """

    def __init__(self, kept: StoredInstance) -> None:
        self.kept = kept
        #: Bytes of the data set received (and dropped).
        self.size = 0

    async def write(self, chunk: bytes | memoryview) -> None:
        """Count and drop ``chunk``."""
        self.size += len(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """The instance already stored (outcome :attr:`Outcome.DUPLICATE_KEPT`)."""
        return self.kept

    async def discard(self) -> None:
        """Nothing to drop."""
