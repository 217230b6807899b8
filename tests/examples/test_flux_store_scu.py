"""Flux Store SCU example: DCMTK storescp as the peer (transfer syntax groups), and the Kodak
Disk-Server example refusing with A700 (the SCU then aborts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pydicom
import pytest
from helpers.peers import dcmtk_program, free_port, wait_port_open

from .support import (
    CT_IMAGE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    TIMEOUT,
    make_dataset,
    run_example,
    server_example,
    write_instance,
)

pytestmark = pytest.mark.interop

RLE_LOSSLESS = "1.2.840.10008.1.2.5"


@asynccontextmanager
async def storescp(folder: Path, *options: str) -> AsyncIterator[int]:
    """DCMTK storescp filing into ``folder``; yields its port."""
    folder.mkdir()
    port = free_port()
    with (folder.parent / "storescp.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            dcmtk_program("storescp"), "-od", str(folder), *options, str(port),
            stdout=log, stderr=log,
        )  # fmt: skip
    try:
        await wait_port_open("127.0.0.1", port)
        yield port
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), TIMEOUT)


def pages(tmp_path: Path) -> list[tuple[Path, pydicom.Dataset]]:
    """Two Secondary Capture images, Implicit VR Little Endian files."""
    made = []
    for number in (1, 2):
        ds = make_dataset(instance_number=number)
        made.append((write_instance(ds, tmp_path / f"page{number}.dcm", IMPLICIT_LE), ds))
    return made


def filed(folder: Path) -> dict[str, pydicom.Dataset]:
    """What storescp wrote, by SOP Instance UID."""
    found = {}
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        found[str(ds.SOPInstanceUID)] = ds
    return found


@pytest.mark.parametrize(
    ("group", "syntax"),
    [("native", EXPLICIT_LE), ("flux-rle", RLE_LOSSLESS)],
)
async def test_group_decides_what_storescp_can_choose(
    tmp_path: Path, group: str, syntax: str
) -> None:
    sent = pages(tmp_path)
    inbox = tmp_path / "inbox"
    async with storescp(inbox, "+xr") as port:  # storescp prefers RLE when it is offered
        code, out = await run_example(
            "flux_store_scu.py", "--port", str(port), "--group", group, *(p for p, _ in sent)
        )
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "2 of 2 stored"
    for _, ds in sent:
        assert f"{ds.SOPInstanceUID}: status 0x0000 in {syntax}" in lines
    kept = filed(inbox)
    assert set(kept) == {str(ds.SOPInstanceUID) for _, ds in sent}
    for _, ds in sent:
        got = kept[str(ds.SOPInstanceUID)]
        assert got.file_meta.TransferSyntaxUID == syntax
        assert got.pixel_array.tobytes() == ds.PixelData


async def test_not_secondary_capture_is_not_sent(tmp_path: Path) -> None:
    (page, ds), _ = pages(tmp_path)
    ct = write_instance(make_dataset(sop_class=CT_IMAGE), tmp_path / "ct.dcm", EXPLICIT_LE)
    async with storescp(tmp_path / "inbox") as port:
        code, out = await run_example("flux_store_scu.py", "--port", str(port), ct, page)
    assert code == 1, out
    assert f"{ct}: not sent:" in out
    assert f"{ds.SOPInstanceUID}: status 0x0000" in out
    assert out.splitlines()[-1] == "1 of 2 stored"


async def test_failure_status_aborts_the_association(tmp_path: Path) -> None:
    sent = pages(tmp_path)
    async with server_example(
        "kodak_disk_server.py", "--output", tmp_path / "disk", "--max-bytes", "100",
        log=tmp_path / "disk.log",
    ) as disk:  # fmt: skip
        code, out = await run_example(
            "flux_store_scu.py", "--port", str(disk.port), "--called-ae", "DISK_SERVER",
            *(p for p, _ in sent),
        )  # fmt: skip
    assert code == 1, out
    assert f"{sent[0][1].SOPInstanceUID}: status 0xA700" in out
    assert "aborting" in out
    assert str(sent[1][1].SOPInstanceUID) not in out  # nothing sent after the failure
    assert out.splitlines()[-1] == "0 of 2 stored"
