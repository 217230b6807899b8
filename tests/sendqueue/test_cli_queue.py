"""``dicomnet queue list|show|retry|purge|pause|resume`` on a store folder's database."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from dicomnet.archive.sqlite import SqliteIndex
from dicomnet.cli.main import main
from dicomnet.queue import JobState, Outcome, SqliteQueueStore
from sendqueue.test_store import _entry


async def _prepare(folder: Path) -> None:
    index = await SqliteIndex.open(folder / ".index" / "index.sqlite", fsync=False)
    store = await SqliteQueueStore.open(index)
    try:
        await index.put_many([_entry(n, "pacs") for n in range(4)])
        jobs = await store.claim("pacs", time.time(), 3)
        now = time.time()
        await store.finish(
            [
                Outcome(jobs[0].id, JobState.SENT, 1, status=0),
                Outcome(jobs[1].id, JobState.SENT, 1, status=0),
                Outcome(jobs[2].id, JobState.ERROR, 5, status=0xA700, error="Out of Resources"),
            ],
            now,
        )
    finally:
        await store.close()
        await index.close()


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(["queue", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_show_retry_purge_pause_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_prepare(tmp_path))
    folder = str(tmp_path)
    (pacs,) = _json(capsys, "list", folder)  # type: ignore[misc]
    assert pacs["states"] == {"queued": 1, "sending": 0, "sent": 2, "failed": 0, "error": 1}
    assert pacs["progress"] == 0.5 and pacs["bytes_sent"] == 100 + 101 and not pacs["paused"]
    errors = _json(capsys, "show", folder, "--state", "error")
    assert [(j["sop_instance_uid"], j["attempts"], j["last_status"]) for j in errors] == [  # type: ignore[union-attr]
        ("1.2.3.2", 5, 0xA700)
    ]
    assert main(["queue", "list", folder]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:6] == ["destination", "queued", "sending", "sent", "failed", "error"]
    assert table[1].split()[:6] == ["pacs", "1", "0", "2", "0", "1"]
    assert main(["queue", "retry", folder, "--destination", "pacs"]) == 0
    assert "1 job(s) queued again" in capsys.readouterr().out
    assert main(["queue", "retry", folder]) == 1  # nothing left to retry
    capsys.readouterr()
    assert main(["queue", "purge", folder]) == 0  # the two sent
    assert "2 job(s) deleted" in capsys.readouterr().out
    assert main(["queue", "pause", folder, "pacs"]) == 0
    assert capsys.readouterr().out == "pacs paused\n"
    (pacs,) = _json(capsys, "list", folder)  # type: ignore[misc]
    assert pacs["paused"] and pacs["states"]["queued"] == 2
    assert main(["queue", "resume", folder, "pacs"]) == 0
    capsys.readouterr()
    (pacs,) = _json(capsys, "list", folder)  # type: ignore[misc]
    assert not pacs["paused"]


def test_a_folder_without_a_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "list", str(tmp_path)]) == 2
    assert "no database" in capsys.readouterr().err
