"""What the Storage SCP's data set check costs, measured in-process.

:func:`measure` feeds the data set of every file of an instance set to a
:class:`~dicomnet.services.dataset_check.DatasetCheck` (the walker the SCP
runs on each received fragment), cut in the pieces a 16384-byte PDU carries,
and times only the check: per instance, per MB, and in total. The store suite
sets it beside the SCP's own time and CPU for the same instances.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

from .datasets import InstanceSet

__all__ = ["PIECE", "WalkCost", "dataset_of", "measure"]

#: Data set bytes in one PDV of a 16384-byte P-DATA-TF (PDV item header: 6 bytes).
PIECE = 16384 - 6
_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


@dataclass(frozen=True, slots=True)
class WalkCost:
    """Check time over a whole instance set (best of the repeats)."""

    instances: int
    dataset_bytes: int
    seconds: float

    @property
    def microseconds_per_instance(self) -> float:
        """Mean check time per instance."""
        return self.seconds / self.instances * 1e6

    @property
    def mb_per_second(self) -> float:
        """Data set bytes checked per second, MB = 10**6 bytes."""
        return self.dataset_bytes / self.seconds / 1e6


def dataset_of(path: Path) -> bytes:
    """The data set of the Part 10 file ``path`` (the bytes after its file meta group)."""
    raw = path.read_bytes()
    # Preamble, "DICM", then (0002,0000) UL: 8-byte header, 4-byte group length.
    (group_length,) = struct.unpack_from("<I", raw, 128 + 4 + 8)
    return raw[128 + 4 + 12 + group_length :]


def measure(instances: InstanceSet, *, repeat: int = 3) -> WalkCost:
    """Time :class:`DatasetCheck` over every data set of ``instances``; raises if one fails."""
    from dicomnet.services.dataset_check import DatasetCheck
    from dicomnet.storage.sinks import InstanceInfo

    best = float("inf")
    total_bytes = 0
    for _ in range(repeat):
        elapsed = 0.0
        total_bytes = 0
        for path, uid in zip(instances.paths, instances.sop_instance_uids, strict=True):
            data = dataset_of(path)
            view = memoryview(data)
            pieces = [view[i : i + PIECE] for i in range(0, len(data), PIECE)]
            info = InstanceInfo(
                sop_class_uid=_CT_IMAGE_STORAGE,
                sop_instance_uid=uid,
                transfer_syntax_uid=_EXPLICIT_VR_LITTLE_ENDIAN,
            )
            started = time.perf_counter()
            check = DatasetCheck(info)
            verdict = None
            for piece in pieces:
                verdict = check.feed(piece) or verdict
            verdict = verdict or check.finish()
            elapsed += time.perf_counter() - started
            if verdict is not None:
                raise RuntimeError(f"{path}: refused by the check: {verdict.fields}")
            total_bytes += len(data)
        best = min(best, elapsed)
    return WalkCost(instances=instances.count, dataset_bytes=total_bytes, seconds=best)
