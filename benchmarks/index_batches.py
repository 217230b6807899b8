"""The SQLite index's group commit in process: what a batch of walked entries costs.

``python -m benchmarks.index_batches [--batches N] [--size S] [--writers W] [--callgrind]``
makes walked entries of small CT instances (as the Storage SCP's walk makes
them, each of its own SOP Instance UID, one series), commits 20 warm-up
batches, then ``N`` batches of ``S`` entries through
:meth:`dicomnet.archive.SqliteIndex.put_shared` (no fsync, an index on
``/dev/shm`` when it exists), one batch at a time, the collector off, and prints
the writer's transactions and the thread time per batch. With ``--writers 2``
two indexes (two connections and write locks, as two workers have) on the one
file commit the batches in turns, so each transaction follows the other's
commit. With ``--callgrind``
the run is meant for ``valgrind --tool=callgrind --instr-atstart=no``: it turns
the instrumentation on for the measured batches only (``callgrind_control``),
so the totals of two runs (e.g. ``-S 16`` and ``-S 9``, or two trees) give
instructions per batch and per instance.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .scratch import memory_folder

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
WARM_UP = 20


def walked_entries(count: int, directory: Path) -> list[object]:
    """Walked entries of ``count`` small instances (made in ``directory``)."""
    import pydicom

    from dicomnet.archive.walked import WALK_TAGS, entry_from_walk
    from dicomnet.dimse.dataset import dataset_walker, encode_dataset
    from dicomnet.storage.sinks import WalkedHeader

    from .datasets import WORKLOADS, generate

    generate(WORKLOADS["small"].scaled(count), directory)
    entries: list[object] = []
    for path in sorted(directory.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        data = encode_dataset(ds, EXPLICIT_VR_LITTLE_ENDIAN)
        walker = dataset_walker(EXPLICIT_VR_LITTLE_ENDIAN, capture=WALK_TAGS)
        walker.feed(data)
        walker.finish()
        walk = WalkedHeader(
            values=walker.captured,
            uncaptured=frozenset(walker.uncaptured),
            pixel_offset=walker.pixel_offset,
            size=walker.offset,
        )
        uid = str(ds.SOPInstanceUID)
        entry = entry_from_walk(
            data,
            walk,
            sop_instance_uid=uid,
            sop_class_uid=str(ds.SOPClassUID),
            transfer_syntax_uid=EXPLICIT_VR_LITTLE_ENDIAN,
            path=f"{directory}/{uid}.dcm",
            size=len(data),
            source_ae_title="BENCH-SCU",
        )
        if entry is None:
            raise SystemExit(f"{path}: no walked entry")
        entries.append(entry)
    return entries


def _instrument(on: bool) -> None:
    state = "on" if on else "off"
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())], check=False, capture_output=True
    )


async def measure(batches: int, size: int, callgrind: bool, writers: int = 1) -> None:
    from dicomnet.archive import SqliteIndex

    with tempfile.TemporaryDirectory(dir=memory_folder()) as folder:
        entries: Sequence[object] = walked_entries((WARM_UP + batches) * size, Path(folder) / "set")
        indexes = [
            await SqliteIndex.open(Path(folder) / "index.sqlite", fsync=False)
            for _ in range(max(1, writers))
        ]
        try:
            position = 0
            turn = 0

            async def commit(count: int) -> None:
                nonlocal position, turn
                for _ in range(count):
                    index = indexes[turn % len(indexes)]
                    turn += 1
                    run = entries[position : position + size]
                    position += size
                    futures = [index.put_shared(entry) for entry in run]  # type: ignore[arg-type]
                    await futures[-1]
                    if futures[-1].result() is not None:
                        raise SystemExit(f"batch failed: {futures[-1].result()}")

            await commit(WARM_UP)
            gc.collect()
            gc.disable()
            commits = sum(index.commits for index in indexes)
            if callgrind:
                _instrument(True)
            start = time.thread_time()
            await commit(batches)
            seconds = time.thread_time() - start
            if callgrind:
                _instrument(False)
            gc.enable()
            print(
                f"{batches} batches of {size}:"
                f" {sum(index.commits for index in indexes) - commits} transactions,"
                f" {seconds / batches * 1e6:.1f} us thread time a batch"
            )
        finally:
            for index in indexes:
                await index.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", "--batches", type=int, default=40)
    parser.add_argument("-S", "--size", type=int, default=16)
    parser.add_argument(
        "-W", "--writers", type=int, default=1, help="indexes on the file, committing in turns"
    )
    parser.add_argument("--callgrind", action="store_true", help="instrument the batches only")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.batches, args.size, args.callgrind, args.writers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
