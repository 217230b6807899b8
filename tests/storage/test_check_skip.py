"""DatasetCheck.skip: runs of bulk Pixel Data are counted unseen, never past the value's end.

The Storage SCP asks the check to skip each run of received views at once
(``_DirectWriter``); only runs that lie wholly inside one value may be skipped,
so a data set cut short or running past its Pixel Data is still refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.services.storage_scp import DatasetCheck, StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import InstanceInfo
from storage.test_scp_service import files_in, run_store
from storage.test_scp_support import EXPLICIT_LE, encoded, make_dataset

CT = "1.2.840.10008.5.1.4.1.1.2"


def info() -> InstanceInfo:
    return InstanceInfo(sop_class_uid=CT, sop_instance_uid="1.2.3", transfer_syntax_uid=EXPLICIT_LE)


def test_only_bytes_inside_one_value_are_skipped() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64 * 1024), EXPLICIT_LE)
    pixels_at = len(data) - 64 * 1024
    check = DatasetCheck(info())
    assert not check.skip(100)  # the header must be looked at
    assert check.feed(data[:pixels_at]) is None
    assert check.skip(60 * 1024)
    assert not check.skip(4 * 1024 + 1)  # one byte past the value
    assert check.skip(4 * 1024)
    assert check.finish() is None


def test_a_skip_never_hides_a_data_set_cut_short() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64 * 1024), EXPLICIT_LE)
    check = DatasetCheck(info())
    assert check.feed(data[: len(data) - 64 * 1024]) is None
    assert check.skip(1000)
    reply = check.finish()
    assert reply is not None and reply.status == 0xC000


@pytest.mark.parametrize("cut", [-1, 1])
async def test_the_scp_refuses_pixel_data_short_or_long_in_big_runs(
    tmp_path: Path, cut: int
) -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=256 * 1024), EXPLICIT_LE)
    data = data[:cut] if cut < 0 else data + b"\0" * cut
    service = StorageService(FolderStore(tmp_path))
    reply = await run_store(service, data, chunk=64 * 1024)
    assert reply.status == 0xC000
    assert files_in(tmp_path) == []


async def test_the_scp_stores_a_whole_data_set_fed_in_big_runs(tmp_path: Path) -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=256 * 1024), EXPLICIT_LE)
    service = StorageService(FolderStore(tmp_path))
    reply = await run_store(service, data, chunk=64 * 1024)
    assert reply.status == 0
    assert (tmp_path / "1.2.3.dcm").read_bytes().endswith(data)
