"""Disk quota (A700 past it) and least-recently-used auto-delete, from a system file."""

from __future__ import annotations

from pathlib import Path

import pytest
from query.fixtures import archive_datasets, write_archive

from dicomnet.ae import AE
from dicomnet.errors import ConfigurationError
from dicomnet.policy import ProposedContext
from dicomnet.storage.quota import DiskQuota
from dicomnet.storage.scu import store
from dicomnet.storage.source import InstanceSource
from dicomnet.systems import RunningSystem, load_system, start_system
from dicomnet.systems.quota import RetrieveTouches

SYSTEM = """
[system]
name = "quota"
[resources]
store = "disk"
{limits}
[[ae]]
name = "disk"
profile = "kodak-disk-server"
port = 0
services = ["storage", "qr"]
"""

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


async def _start(tmp_path: Path, limits: str) -> RunningSystem:
    path = tmp_path / "quota.toml"
    path.write_text(SYSTEM.format(limits=limits))
    return await start_system(load_system(path), host="127.0.0.1", root=tmp_path, fsync=False)


async def _store_all(running: RunningSystem, files: list[Path]) -> list[int]:
    sources = [InstanceSource.from_path(f) for f in files]
    contexts = [
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE))
        for uid in sorted({s.sop_class_uid for s in sources})
    ]
    async with AE("SENDER").associate(
        "127.0.0.1", running.ports["disk"], called_ae="DISK_SERVER", contexts=contexts
    ) as association:
        return [(await store(association, source)).status for source in sources]


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return write_archive(tmp_path / "src")[:3]


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_quota_refuses_with_a700_past_it(tmp_path: Path, files: list[Path]) -> None:
    limit = _size(files[0]) + _size(files[1]) + 300  # room for two, not three
    running = await _start(tmp_path, f"max_bytes = {limit}")
    try:
        statuses = await _store_all(running, files)
        assert statuses[:2] == [0, 0] and statuses[2] == 0xA700
        assert running.resources.index is not None
        assert await running.resources.index.count() == 2
    finally:
        await running.close()
    assert len(list((tmp_path / "disk").glob("*.dcm"))) == 2


async def test_auto_delete_removes_the_least_recently_used(
    tmp_path: Path, files: list[Path]
) -> None:
    limit = _size(files[0]) + _size(files[1]) + 300
    running = await _start(tmp_path, f"auto_delete_over = {limit}")
    uids = [ds.SOPInstanceUID for ds in archive_datasets()[:3]]
    try:
        assert await _store_all(running, files) == [0, 0, 0]
        index = running.resources.index
        assert index is not None
        assert await index.locate(uids[0]) is None  # the oldest went, file and row
        assert all([await index.locate(uid) is not None for uid in uids[1:]])
    finally:
        await running.close()
    kept = sorted(p.stem for p in (tmp_path / "disk").glob("*.dcm"))
    assert kept == sorted(uids[1:])


async def test_quota_counts_what_the_folder_held_at_start(
    tmp_path: Path, files: list[Path]
) -> None:
    limit = _size(files[0]) + _size(files[1]) + 300
    running = await _start(tmp_path, f"max_bytes = {limit}")
    try:
        assert await _store_all(running, files[:2]) == [0, 0]
    finally:
        await running.close()
    running = await _start(tmp_path, f"max_bytes = {limit}")
    try:
        assert running.resources.quota is not None and len(running.resources.quota) == 2
        assert await _store_all(running, files[2:]) == [0xA700]
    finally:
        await running.close()


async def test_lru_order_follows_retrieves() -> None:
    deleted: list[str] = []

    async def delete(uid: str) -> None:
        deleted.append(uid)

    quota = DiskQuota(auto_delete_over=300, delete=delete)
    quota.track_all([("a", 100), ("b", 100), ("c", 100)])
    quota.touch("a")  # retrieved: now the most recently used
    await quota.make_room(100)
    assert deleted == ["b"] and quota.total == 200
    with pytest.raises(OSError, match="quota"):
        await DiskQuota(max_bytes=50).make_room(51)


async def test_retrieve_touches_the_selected_instances() -> None:
    class Source:
        async def instances(self, query: object) -> list[object]:
            return [type("R", (), {"sop_instance_uid": "a"})()]

    quota = DiskQuota()
    quota.track_all([("a", 1), ("b", 1)])
    touches = RetrieveTouches(Source(), quota)  # type: ignore[arg-type]
    await touches.instances(None)  # type: ignore[arg-type]
    assert list(quota._sizes) == ["b", "a"]


def test_quota_needs_an_index(tmp_path: Path) -> None:
    path = tmp_path / "q.toml"
    path.write_text(
        SYSTEM.format(limits="index = false\nmax_bytes = 10").replace(
            '"storage", "qr"', '"storage"'
        )
    )
    with pytest.raises(ConfigurationError, match=r"resources\.max_bytes"):
        load_system(path)
