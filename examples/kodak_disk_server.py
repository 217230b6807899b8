"""Kodak DirectView Web Software, Disk-Server AE: Storage to disk + Study Root FIND/MOVE SCP.

Plays the Disk-Server of the Kodak DirectView conformance statement (seed
``004_10981dd9c438091f.txt``, §3.1) by configuration: the
``kodak-disk-server`` profile gives the AE title (``DISK_SERVER``, the only
called AE title answered), Verification, the image Storage SOP classes,
Study Root FIND and MOVE, 16 KB PDUs, one operation at a time, and the
statement's transfer syntax preference: Explicit VR Big Endian, then
Explicit VR Little Endian, then Implicit VR Little Endian, whatever order
the requestor proposes them in.

Received instances are written to ``--output`` as Part 10 files, as they
arrive (a second copy of an instance is dropped, the first kept). Every
stored instance is added at once to the index that Study Root C-FIND and
C-MOVE work on (files already in the folder are indexed at start-up).
C-FIND takes the Study Root Required and Unique keys plus the statement's
optional keys; other keys are left out of the responses. A C-FIND-CANCEL
stops the matching (final status FE00). C-MOVE sends all the images over one
association to the Move Destination, looked up among the
``--destination AET=HOST:PORT`` options (unknown: A801), proposing the
profile's Table 3 contexts; a C-STORE that fails aborts that association and
the C-MOVE ends with A702, as §3.1.2.1.2.1 says.

Disk space: ``--max-bytes`` is a quota on the stored files; an instance
that would go over it is refused with A700 (out of resources), which is
what the statement answers when the disk is full (a real full disk gives
the same status). ``--auto-delete-over BYTES`` turns on the statement's
least-recently-used auto-delete: when the stored files would go over BYTES
(or over the quota), the images stored or retrieved longest ago are deleted
to make room for the new one.

Not done: the coercion of OW Pixel Data to OB when Bits Allocated is 8
(instances are kept as received).

Run::

    python examples/kodak_disk_server.py --output /data/kodak --port 11112 \\
        --destination WORKSTATION=10.0.0.7:104 --auto-delete-over 50000000000
    python examples/kodak_disk_server.py --help

Prints ``listening on PORT`` when ready (and ``indexed N instance(s)`` on
stderr); stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import example_parser, parse_address, profile_policy, run_main, serve_policy

from dicomnet.conformance import load_profile
from dicomnet.dimse.status import Status
from dicomnet.query import InstanceIndex
from dicomnet.query.index import InstanceRecord
from dicomnet.services.base import IncomingRequest
from dicomnet.services.qr import QueryRetrieveService
from dicomnet.services.storage_scp import StorageService
from dicomnet.services.suboperations import RetrieveRules
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import InstanceInfo, Outcome, StorageSink, StoredInstance
from dicomnet.storage.source import InstanceSource

PROFILE = "kodak-disk-server"

log = logging.getLogger("kodak.disk_server")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedRecord(InstanceRecord):
    """An index record that tells the disk ledger when it is retrieved."""

    touch: Callable[[str], None]

    def source(self) -> InstanceSource:
        """The instance as stored; marks it as used just now."""
        self.touch(self.sop_instance_uid)
        return InstanceRecord.source(self)


class DiskLedger:
    """The stored files, least recently used first, with the quota and auto-delete rules.

    ``max_bytes`` (``None``: no quota) is the most the files may take;
    ``auto_delete_over`` (``None``: never delete) is the size above which the
    least recently used files are deleted to make room.
    """

    def __init__(
        self, index: InstanceIndex, *, max_bytes: int | None, auto_delete_over: int | None
    ) -> None:
        self.index = index
        self.max_bytes = max_bytes
        self.auto_delete_over = auto_delete_over
        self._files: OrderedDict[str, tuple[Path, int]] = OrderedDict()
        self.total = 0

    def __len__(self) -> int:
        return len(self._files)

    def track(self, record: InstanceRecord) -> None:
        """Index a stored file (as the most recently used) and count its size."""
        assert record.path is not None
        uid = record.sop_instance_uid
        self.forget(uid)
        size = record.path.stat().st_size
        self._files[uid] = (record.path, size)
        self.total += size
        fields = {name: getattr(record, name) for name in InstanceRecord.__dataclass_fields__}
        self.index.add(TrackedRecord(**fields, touch=self.touch))

    def touch(self, sop_instance_uid: str) -> None:
        """The instance was just used (retrieved)."""
        if sop_instance_uid in self._files:
            self._files.move_to_end(sop_instance_uid)

    def forget(self, sop_instance_uid: str) -> None:
        """Stop counting an instance (its file is left alone)."""
        entry = self._files.pop(sop_instance_uid, None)
        if entry is not None:
            self.total -= entry[1]

    def make_room(self, extra: int) -> None:
        """Ensure ``extra`` more bytes fit; raises ``OSError(ENOSPC)`` when they cannot."""
        limits = [limit for limit in (self.auto_delete_over, self.max_bytes) if limit is not None]
        if not limits:
            return
        limit = min(limits)
        if self.auto_delete_over is not None:
            while self._files and self.total + extra > limit:
                self._delete_oldest()
        if self.max_bytes is not None and self.total + extra > self.max_bytes:
            raise OSError(errno.ENOSPC, "out of disk space (quota reached)")

    def _delete_oldest(self) -> None:
        uid, (path, size) = self._files.popitem(last=False)
        self.total -= size
        self.index.remove(uid)
        path.unlink(missing_ok=True)
        log.info("auto-delete: removed %s (%d bytes, least recently used)", uid, size)


class QuotaSink:
    """A file sink that refuses to grow past what the ledger allows."""

    def __init__(self, inner: StorageSink, ledger: DiskLedger, header_size: int) -> None:
        self.inner = inner
        self.ledger = ledger
        self.size = header_size

    async def write(self, chunk: bytes | memoryview) -> None:
        """Check the room left, then write."""
        self.ledger.make_room(self.size + len(chunk))
        self.size += len(chunk)
        await self.inner.write(chunk)

    async def commit(self, info: InstanceInfo) -> StoredInstance:
        """Move the file into place."""
        return await self.inner.commit(info)

    async def discard(self) -> None:
        """Drop the file."""
        await self.inner.discard()


class DiskStore:
    """A :class:`FolderStore` (first copy of a duplicate kept) under a :class:`DiskLedger`."""

    #: Rough size of a Part 10 header, counted against the quota before the data set.
    HEADER_SIZE = 256

    def __init__(self, folder: FolderStore, ledger: DiskLedger) -> None:
        self.folder = folder
        self.ledger = ledger

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        """A sink for one instance; ``OSError(ENOSPC)`` when even its header does not fit."""
        if info.sop_instance_uid in self.folder:
            return await self.folder.open_sink(info)  # dropped: first copy kept
        self.ledger.make_room(self.HEADER_SIZE)
        return QuotaSink(await self.folder.open_sink(info), self.ledger, self.HEADER_SIZE)

    async def stored(self, request: IncomingRequest, stored: StoredInstance) -> int:
        """After a commit: index the new file (``decide`` hook of the Storage SCP)."""
        if stored.outcome is not Outcome.DUPLICATE_KEPT and stored.path is not None:
            try:
                self.ledger.track(self.ledger.index.add_file(stored.path))
            except (OSError, ValueError) as exc:
                log.warning("stored but not indexed: %s", exc)
        return Status.SUCCESS


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="DISK_SERVER", output="kodak-disk")
    parser.add_argument(
        "--destination",
        dest="destinations",
        action="append",
        type=parse_address,
        default=[],
        metavar="AET=HOST:PORT",
        help="a C-MOVE destination (repeat for several)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="disk quota for the stored files; beyond it C-STORE is refused with A700",
    )
    parser.add_argument(
        "--auto-delete-over",
        type=int,
        default=None,
        metavar="BYTES",
        help="delete least recently used images when the files would take more than BYTES",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Index what is on disk, then serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    folder = FolderStore(args.output)
    index = InstanceIndex()
    ledger = DiskLedger(index, max_bytes=args.max_bytes, auto_delete_over=args.auto_delete_over)
    for record in InstanceIndex.from_folder(args.output):
        ledger.track(record)
    print(f"indexed {len(ledger)} instance(s)", file=sys.stderr, flush=True)
    store = DiskStore(folder, ledger)
    profile = load_profile(PROFILE)
    support = QueryRetrieveService.support_from_profile(
        profile.query_keys, with_required=True, omit_unsupported=True
    )
    rules = RetrieveRules.from_profile(profile)  # a failed C-STORE ends the move with A702
    qr = QueryRetrieveService(
        index, destinations=dict(args.destinations), support=support, rules=rules
    )
    return await serve_policy(args, policy, [StorageService(store, decide=store.stored), qr])


if __name__ == "__main__":
    run_main(build_parser(), main)
