"""What the SQLite index's commits write to its WAL: frames per commit, by B-tree.

``python -m benchmarks.wal_frames [--batches N] [--size S]`` commits 20 warm-up
batches of ``S`` walked entries (small CT instances of one series, as
:mod:`benchmarks.index_batches` makes them) through
:meth:`dicomnet.archive.SqliteIndex.put_shared` (no fsync, on ``/dev/shm`` when
it exists), then ``N`` batches more, one batch at a time, and after each reads
the frames the commit appended to the WAL. Once the index is closed, each page
number is named by the B-tree that holds it (SQLite's ``dbstat`` table; pages
are never freed by these inserts, so a page keeps its B-tree). Page 1 is the
database header (``sqlite_schema`` in ``dbstat``): SQLite rewrites it in every
transaction that makes the file grow.

The table gives, per B-tree, the frames of an average commit and the commits
that wrote any. Every frame is two ``pwrite`` calls (its 24-byte header, then
the page) and one checksum pass over the page.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .index_batches import walked_entries
from .scratch import memory_folder

__all__ = ["WalFrames", "measure", "new_frames", "read_frames", "render"]

WARM_UP = 20
#: The WAL file's header: magic, format, page size, checkpoint sequence, salts, checksums.
_WAL_HEADER = struct.Struct(">IIIIIIII")
#: A frame's header: page number, database size after a commit (0 inside a transaction),
#: salts, checksums.
_FRAME_HEADER = struct.Struct(">IIIIII")


@dataclass(frozen=True)
class WalFrames:
    """The valid frames of a WAL file: its salts and each frame's page number, in order."""

    salts: tuple[int, int]
    pages: tuple[int, ...]


def read_frames(data: bytes) -> WalFrames:
    """The frames of the WAL ``data`` that belong to its current generation (their salts
    are the header's): a WAL restarted after a checkpoint overwrites from its start, and
    what lies past the frames written since is stale."""
    if len(data) < _WAL_HEADER.size:
        return WalFrames((0, 0), ())
    header = _WAL_HEADER.unpack_from(data)
    page_size, salts = header[2], (header[4], header[5])
    pages: list[int] = []
    offset = _WAL_HEADER.size
    while offset + _FRAME_HEADER.size + page_size <= len(data):
        page, _, salt1, salt2, _, _ = _FRAME_HEADER.unpack_from(data, offset)
        if (salt1, salt2) != salts:
            break
        pages.append(page)
        offset += _FRAME_HEADER.size + page_size
    return WalFrames(salts, tuple(pages))


def new_frames(before: WalFrames, after: WalFrames) -> tuple[int, ...]:
    """The page numbers of the frames in ``after`` that ``before`` did not have."""
    if after.salts != before.salts:  # (restarted: every frame of it is new)
        return after.pages
    return after.pages[len(before.pages) :]


async def measure(batches: int, size: int) -> tuple[list[tuple[int, ...]], dict[int, str]]:
    """The pages of each measured commit's frames, and the B-tree of every page."""
    from dicomnet.archive import SqliteIndex

    with tempfile.TemporaryDirectory(dir=memory_folder()) as folder:
        entries: Sequence[object] = walked_entries((WARM_UP + batches) * size, Path(folder) / "set")
        path = Path(folder) / "index.sqlite"
        wal = path.with_name(path.name + "-wal")
        index = await SqliteIndex.open(path, fsync=False)
        commits: list[tuple[int, ...]] = []
        try:
            for number in range(WARM_UP + batches):
                before = read_frames(wal.read_bytes() if wal.exists() else b"")
                run = entries[number * size : (number + 1) * size]
                futures = [index.put_shared(entry) for entry in run]  # type: ignore[arg-type]
                await futures[-1]
                if futures[-1].result() is not None:
                    raise SystemExit(f"batch failed: {futures[-1].result()}")
                if number >= WARM_UP:
                    commits.append(new_frames(before, read_frames(wal.read_bytes())))
        finally:
            await index.close()
        conn = sqlite3.connect(path)
        try:
            names = {
                int(page): str(name)
                for page, name in conn.execute("SELECT pageno, name FROM dbstat")
            }
        finally:
            conn.close()
    return commits, names


def render(commits: Sequence[tuple[int, ...]], names: dict[int, str], size: int) -> str:
    """The table: per B-tree, frames per commit and the share of commits that wrote one."""
    frames: Counter[str] = Counter()
    writers: Counter[str] = Counter()
    for pages in commits:
        named = [("header (page 1)" if page == 1 else names.get(page, "?")) for page in pages]
        frames.update(named)
        writers.update(set(named))
    count = len(commits)
    total = sum(frames.values())
    lines = [
        f"{count} commits of {size} entries: {total / count:.2f} frames a commit,"
        f" {total / count / size:.2f} an entry ({2 * total / count / size:.2f} pwrite calls)",
        "",
        f"{'B-tree':<24} {'frames/commit':>13} {'commits writing it':>19}",
    ]
    for name, number in frames.most_common():
        lines.append(f"{name:<24} {number / count:>13.2f} {writers[name] / count:>18.0%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", "--batches", type=int, default=40)
    parser.add_argument("-S", "--size", type=int, default=8)
    args = parser.parse_args(argv)
    commits, names = asyncio.run(measure(args.batches, args.size))
    print(render(commits, names, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
