"""The WAL reader of the frames-per-commit tool, and a real run of it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from benchmarks.wal_frames import WalFrames, measure, new_frames, read_frames, render


def _wal_of(path: Path) -> bytes:
    return path.with_name(path.name + "-wal").read_bytes()


def _writer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    return conn


def test_frames_of_a_real_wal_are_its_commits_pages(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = _writer(path)
    try:
        conn.execute("CREATE TABLE t (x BLOB)")
        first = read_frames(_wal_of(path))
        conn.execute("INSERT INTO t VALUES (zeroblob(100))")
        second = read_frames(_wal_of(path))
        conn.execute("INSERT INTO t VALUES (zeroblob(30000))")  # (overflow pages: the file grows)
        third = read_frames(_wal_of(path))
    finally:
        conn.close()
    assert first.pages and first.salts == second.salts == third.salts
    assert new_frames(first, second) == (2,)  # the table's root page only
    grown = new_frames(second, third)
    assert 1 in grown  # (the header: the file grew)
    assert 2 in grown
    assert len(grown) >= 1 + 30000 // 4096  # the blob's overflow pages too
    assert third.pages[: len(second.pages)] == second.pages


def test_a_restarted_wal_counts_only_its_new_generation(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = _writer(path)
    try:
        conn.execute("CREATE TABLE t (x BLOB)")
        for _ in range(3):
            conn.execute("INSERT INTO t VALUES (zeroblob(5000))")
        before = read_frames(_wal_of(path))
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        conn.execute("INSERT INTO t VALUES (zeroblob(10))")  # restarts the WAL from its start
        after = read_frames(_wal_of(path))
    finally:
        conn.close()
    assert after.salts != before.salts
    assert len(after.pages) < len(before.pages)  # (stale frames past the new ones ignored)
    assert new_frames(before, after) == after.pages


def test_a_short_or_empty_wal_has_no_frames() -> None:
    assert read_frames(b"") == WalFrames((0, 0), ())
    assert read_frames(b"\0" * 20).pages == ()


def test_the_index_writes_its_header_and_instance_rows_in_every_commit() -> None:
    commits, names = asyncio.run(measure(3, 4))
    assert len(commits) == 3
    for pages in commits:
        assert 1 in pages  # the header: every batch makes the file grow
        assert {names[page] for page in pages if page != 1} >= {"instance", "instance_key"}
    table = render(commits, names, 4)
    assert table.splitlines()[0].startswith("3 commits of 4 entries:")
    assert "header (page 1)" in table
    assert "instance_series" in table
