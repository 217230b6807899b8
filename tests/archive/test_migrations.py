"""Versioned schema migrations: fresh databases, old ones brought up to date, newer refused."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import asyncpg
import pytest

from dicomnet.archive import IndexUnavailable
from dicomnet.archive.backends import open_index, open_worklist
from dicomnet.archive.entry import IndexEntry
from dicomnet.archive.migrations import POSTGRES_STEPS, SQLITE_STEPS, SchemaTooNew, latest
from dicomnet.archive.schema import SCHEMA


async def versions(location: object) -> list[int]:
    if isinstance(location, str):
        conn = await asyncpg.connect(location)
        try:
            rows = await conn.fetch("SELECT version FROM schema_version ORDER BY version")
        finally:
            await conn.close()
        return [int(r[0]) for r in rows]
    with sqlite3.connect(location) as conn:  # type: ignore[arg-type]
        return [int(r[0]) for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


async def test_a_new_database_gets_every_step_once(index_location) -> None:
    steps = POSTGRES_STEPS if isinstance(index_location, str) else SQLITE_STEPS
    async with await open_index(index_location):
        pass
    async with await open_index(index_location):  # opened again: nothing applied twice
        pass
    assert await versions(index_location) == [v for v, _, _ in steps]
    assert latest(SQLITE_STEPS) == 3 and latest(POSTGRES_STEPS) == 4


async def test_concurrent_openers_migrate_once(index_location) -> None:
    """Several workers starting at once: the steps run once, every opener works."""
    if not isinstance(index_location, str):
        index_location.parent.mkdir(parents=True)
    indexes = await asyncio.gather(*(open_index(index_location) for _ in range(4)))
    try:
        for index in indexes:
            assert await index.count() == 0
    finally:
        for index in indexes:
            await index.close()
    steps = POSTGRES_STEPS if isinstance(index_location, str) else SQLITE_STEPS
    assert await versions(index_location) == [v for v, _, _ in steps]


_OPEN_AND_COUNT = """
import asyncio, sys
from dicomnet.archive.backends import open_index

async def main():
    async with await open_index(sys.argv[1]) as index:
        print(await index.count())

asyncio.run(main())
"""


async def test_processes_opening_a_new_sqlite_index_at_once_all_succeed(tmp_path: Path) -> None:
    """Workers are processes: each switches the new file to WAL and migrates, one at a time."""
    path = tmp_path / "index" / "index.sqlite"
    for _ in range(3):  # the race is short; a few rounds on fresh files
        if path.parent.exists():
            for leftover in path.parent.iterdir():
                leftover.unlink()
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _OPEN_AND_COUNT,
                str(path),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(6)
        ]
        results = [await proc.communicate() for proc in procs]
        assert [
            (p.returncode, out.strip()) for p, (out, _) in zip(procs, results, strict=True)
        ] == [(0, b"0")] * 6, [err.decode()[-400:] for _, err in results]
    assert await versions(path) == [v for v, _, _ in SQLITE_STEPS]


async def test_an_index_made_before_versions_is_brought_up_to_date(tmp_path: Path) -> None:
    """A SQLite index of the first layout (meta.schema = 1, no worklist, no schema_version)."""
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')")
    async with await open_index(path) as index:
        worklist = await open_worklist(index)
        assert await worklist.count() == 0
        await worklist.close()
    assert await versions(path) == [1, 2, 3]
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "worklist_item_patient" in names  # step 2 ran on the old database
    assert "instance_received" not in names  # and step 3 after it


async def test_step_3_drops_the_received_index_of_a_version_2_index(tmp_path: Path) -> None:
    """An index at version 2 loses ``instance_received``; its rows and paths stay."""
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')")
        conn.executescript(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL, applied REAL NOT NULL);"
            "INSERT INTO schema_version VALUES (1, 'index tables', 0);"
            "INSERT INTO schema_version VALUES (2, 'worklist', 0);"
            "CREATE INDEX instance_received ON instance (received);"
        )
    async with await open_index(path) as index:
        columns = {"patient_id": "P1", "study_uid": "1.2.3", "series_uid": "1.2.3.1"}
        await index.put(
            IndexEntry(
                sop_instance_uid="1.2.3.4",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
                transfer_syntax_uid="1.2.840.10008.1.2.1",
                path=str(tmp_path / "1.2.3.4.dcm"),
                size=10,
                received=5.0,
                columns=columns,
            )
        )
        assert [uid for uid, _ in await index.paths_since(0)] == ["1.2.3.4"]
        assert await index.paths_since(6.0) == []
    assert await versions(path) == [1, 2, 3]
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "instance_received" not in names
    assert {"instance_key", "instance_series"} <= names


async def test_a_newer_schema_is_refused(index_location) -> None:
    async with await open_index(index_location):
        pass
    if isinstance(index_location, str):
        conn = await asyncpg.connect(index_location)
        await conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")
        await conn.close()
    else:
        with sqlite3.connect(index_location) as conn:
            conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)")
    with pytest.raises(SchemaTooNew, match="schema version 99 is newer"):
        await open_index(index_location)
    assert issubclass(SchemaTooNew, IndexUnavailable)
