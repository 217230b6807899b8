"""``dicomnet index``, ``worklist`` and ``queue`` on an archive whose index is in PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.programs import run_program
from query.fixtures import write_archive
from query.worklist_items import write_items

from dicomnet.archive.backends import open_index


def cli(*argv: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "dicomnet.cli.main", *argv)


@pytest.mark.slow
async def test_index_worklist_and_queue_commands_take_a_url(
    tmp_path: Path, postgres_cluster
) -> None:
    url = postgres_cluster.create_database()
    folder = tmp_path / "store"
    write_archive(folder)
    code, out = await run_program(*cli("index", "rebuild", str(folder), "--index", url))
    assert code == 0 and "indexed 5 instance(s)" in out, out
    async with await open_index(url) as index:
        assert await index.count() == 5
    code, out = await run_program(
        *cli("index", "delete", str(folder), "--index", url, "--instance", "1.2.3.404")
    )
    assert code != 0 and "deleted 0" in out, out
    write_items(tmp_path / "wl")
    item = str(tmp_path / "wl" / "item1.wl")
    code, out = await run_program(*cli("worklist", "add", "--index", url, item))
    assert code == 0, out
    code, out = await run_program(*cli("worklist", "list", "--index", url))
    assert code == 0 and len(out.strip().splitlines()) == 2, out  # header and the item
    code, out = await run_program(*cli("queue", "list", str(folder), "--index", url))
    assert code == 0, out
    code, out = await run_program(
        *cli("index", "rebuild", str(folder), "--index", "postgresql://nobody@127.0.0.1:1/x")
    )
    assert code == 2 and "postgresql://nobody@127.0.0.1:1/x" in out, out
