"""The indexed store's sink path in process: what it costs per stored instance outside the batch.

``python -m benchmarks.ingest_cost [-N COUNT] [--plain]`` receives ``COUNT``
small instances of one series (the load client's small set) twice, a warm-up
pass and a measured one, each into a fresh folder, the way the Storage SCP's
handler drives a sink: ``open_sink``, the data set written from one view
(``write_views``), the walk's capture handed over (``header_walked``, with the
association's series memo: later instances of the series are walked for
:data:`~dicomnet.archive.walked.SERIES_WALK_TAGS` only) and ``commit``. The
index is a stub whose ``put_shared`` takes the hand-over, marks the file named
and answers at once: no batch, no SQL, no naming, no park. ``--plain`` measures
the folder store alone (a :class:`~dicomnet.storage.folder.FolderStore` without
the index), so the difference of the two is what the index adds there. The
walks are made before the measured pass (the SCP walks for both paths).

The measured pass runs as ``deque(starmap(one, ...))`` from a loop callback
(no current task, as in the SCP): under ``valgrind --tool=callgrind
--toggle-collect=starmap_next`` only it is counted, the same to the
instruction from run to run (``PYTHONHASHSEED=0``); total / ``COUNT`` is the
cost per instance. Without valgrind it prints the thread time per instance.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from itertools import starmap
from pathlib import Path
from typing import Any

from .scratch import memory_folder

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


class StubIndex:
    """An index that names files itself and answers every hand-over at once (no batch)."""

    links_files = True
    resumable_waits = True

    def __init__(self) -> None:
        from dicomnet.storage.sinks import Outcome
        from dicomnet.wakeup import SharedFuture

        self.links: list[Any] = []
        self._stored = Outcome.STORED
        self._done = SharedFuture()
        self._done.set_result(None)

    def put_shared(self, entry: Any) -> Any:
        entry.link.outcome = self._stored  # (as if its batch had linked it)
        self.links.append(entry.link)
        return self._done

    def close_files(self) -> None:
        """Close the descriptors handed over (no batch links them)."""
        for link in self.links:
            if link.fd >= 0:
                os.close(link.fd)
        self.links.clear()


def _instances(count: int, directory: Path) -> list[tuple[Any, bytes]]:
    """(InstanceInfo, data set) of ``count`` small instances of one series."""
    import pydicom

    from dicomnet.storage.sinks import InstanceInfo

    from .datasets import WORKLOADS, generate
    from .walk_cost import dataset_of

    generate(WORKLOADS["small"].scaled(count), directory)
    instances = []
    for path in sorted(directory.glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        info = InstanceInfo(
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
            source_ae_title="BENCH-SCU",
        )
        instances.append((info, dataset_of(path)))
    return instances


async def _one_instance(store: Any, info: Any, data: bytes, walked: tuple[Any, ...] | None) -> Any:
    sink = await store.open_sink(info)
    sink.write_views([memoryview(data)])
    if walked is not None:
        sink.header_walked(*walked)  # (the walk, the association's memo, partial)
    return await sink.commit(info)


def _step(store: Any, info: Any, data: bytes, walked: tuple[Any, ...] | None) -> Any:
    """One instance through the sink (it never waits: the stub answers at once)."""
    coroutine = _one_instance(store, info, data, walked)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise SystemExit("the sink waited")


def _passes(count: int, folder: Path, plain: bool) -> float:
    from dicomnet.archive.ingest import IndexedStore
    from dicomnet.archive.walked import SERIES_WALK_TAGS, WALK_TAGS
    from dicomnet.services.dataset_check import DatasetCheck, capture_set
    from dicomnet.storage.folder import FolderStore
    from dicomnet.storage.shapes import WalkedShapes

    instances = _instances(count, folder / "set")
    index = StubIndex()
    memo: dict[bytes, Any] = {}  # (the association's, kept from the warm-up on)
    checks = {
        partial: (capture_set(capture=SERIES_WALK_TAGS if partial else WALK_TAGS), WalkedShapes())
        for partial in (False, True)
    }

    def walked(info: Any, data: bytes, partial: bool) -> Any:
        capture, shapes = checks[partial]
        check = DatasetCheck(info, capture=capture, shapes=shapes)
        if check.feed_whole(memoryview(data)) is not None or check.finish() is not None:
            raise SystemExit(f"{info.sop_instance_uid}: the check failed")
        return check.walked()

    seconds = 0.0
    for name in ("warm-up", "measured"):
        folder_store = FolderStore(folder / name, fsync=False)
        store = folder_store if plain else IndexedStore(folder_store, index)  # type: ignore[arg-type]
        calls = []
        for info, data in instances:
            partial = bool(memo)
            handed = None if plain else (walked(info, data, partial), memo, partial)
            if not plain and not memo:
                _step(store, info, data, handed)  # the series' first: into the memo
                continue
            calls.append((store, info, data, handed))
        gc.collect()
        gc.disable()
        start = time.thread_time()
        if name == "measured":
            deque(starmap(_step, calls), maxlen=0)  # (only this, under --toggle-collect)
        else:
            for call in calls:
                _step(*call)
        seconds = time.thread_time() - start
        gc.enable()
        index.close_files()
    return seconds / count


async def measure(count: int, plain: bool) -> None:
    folder = Path(tempfile.mkdtemp(dir=memory_folder()))
    try:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[float] = loop.create_future()
        # From a loop callback: no current task, as for the SCP's handlers.
        loop.call_soon(lambda: done.set_result(_passes(count, folder, plain)))
        per_instance = await done
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    kind = "folder store alone" if plain else "indexed store, stub index"
    print(f"{count} instances, {kind}: {per_instance * 1e6:.1f} us thread time an instance")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", "--count", type=int, default=500)
    parser.add_argument("--plain", action="store_true", help="the folder store without the index")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.count, args.plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
