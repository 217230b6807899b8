"""A stored instance's path leaves the journal (pending) and doomed tables in its transaction.

The SQLite writer skips those deletions while it knows both tables are empty;
rows added by its own journal, its own deletions, or another connection must
still be removed when the path is indexed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.archive import SqliteIndex
from dicomnet.archive.entry import IndexEntry, entry_from_header

EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _entry(n: int) -> IndexEntry:
    ds = Dataset(archive_datasets()[n % 5])
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{n}"
    return entry_from_header(
        ds,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        transfer_syntax_uid=EXPLICIT_LE,
        path=f"/x/{n}.dcm",
        size=1,
    )


def _side_rows(path: Path) -> tuple[list[str], list[str]]:
    conn = sqlite3.connect(path)
    try:
        pending = [str(p) for (p,) in conn.execute("SELECT path FROM pending ORDER BY path")]
        doomed = [str(p) for (p,) in conn.execute("SELECT path FROM doomed ORDER BY path")]
    finally:
        conn.close()
    return pending, doomed


async def test_paths_leave_the_side_tables_whoever_wrote_them(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        await index.put(_entry(0))  # both tables seen empty
        # Its own journal row.
        await index.journal("/x/1.dcm", _entry(1).sop_instance_uid)
        await index.put(_entry(1))
        assert _side_rows(path) == ([], [])
        # Another connection's rows (e.g. a deletion by `dicomnet index delete`).
        other = sqlite3.connect(path)
        with other:
            other.execute("INSERT INTO pending (path, uid) VALUES ('/x/2.dcm', 'u')")
            other.execute("INSERT INTO doomed (path) VALUES ('/x/3.dcm')")
        other.close()
        await index.put_many([_entry(2), _entry(3)])
        assert _side_rows(path) == ([], [])
        # Its own deletion notes the file to remove; storing that path again forgets it.
        await index.delete(sop_instance_uid=_entry(0).sop_instance_uid)
        assert _side_rows(path) == ([], ["/x/0.dcm"])
        await index.put(replace(_entry(4), path="/x/0.dcm"))
        assert _side_rows(path) == ([], [])
        assert await index.count() == 4


async def test_another_connections_commit_without_side_rows_costs_no_deletions(
    tmp_path: Path,
) -> None:
    """Workers sharing the index commit in turns: each sees the other's commits, which add
    no journal or doomed rows; the writer looks once, and skips the per-path deletions."""
    path = tmp_path / "index.sqlite"
    async with await SqliteIndex.open(path, fsync=False) as index:
        await index.put(_entry(0))
        other = sqlite3.connect(path)
        with other:  # another worker's batch: instance rows only (here: a plain table)
            other.execute("CREATE TABLE elsewhere (n INTEGER)")
        other.close()
        statements: list[str] = []
        assert index._writer is not None
        index._writer.set_trace_callback(statements.append)
        await index.put(_entry(1))
        index._writer.set_trace_callback(None)
        assert not [s for s in statements if s.startswith("DELETE")], statements
        assert await index.count() == 2
