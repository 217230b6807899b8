"""Streaming: a large retrieve or upload never sits in memory whole (traced allocations).

The application is called directly as ASGI (no HTTP client buffering the
body): the response body is counted and dropped as it is sent, the upload is
received in 64 KiB pieces. ``tracemalloc`` gives the peak of Python
allocations during the request, which must stay far below the instance size.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.uid import generate_uid

from dicomnet.archive import entry_from_file
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.web import create_app

from .conftest import WebFixture

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SIZE = 48 * 1024 * 1024
LIMIT = 12 * 1024 * 1024  # a quarter of the instance


def big_file(folder: Path) -> Path:
    ds = make_image(rows=8, columns=8, sop_instance_uid=generate_uid())
    ds.Rows, ds.Columns = 4096, SIZE // (4096 * 2)
    ds.PixelData = bytes(SIZE)
    ds["PixelData"].VR = "OW"
    folder.mkdir(parents=True, exist_ok=True)
    return write_part10(folder / "big.dcm", ds, EXPLICIT_LE)


async def call(app: Any, scope: dict[str, Any], body: AsyncIterator[bytes]) -> tuple[int, int]:
    """(status, body bytes sent) of one request; the body is dropped as it goes."""
    status = 0
    sent = 0
    finished = asyncio.Event()
    ended = False

    async def receive() -> dict[str, Any]:
        nonlocal ended
        if not ended:
            try:
                chunk = await anext(body)
            except StopAsyncIteration:
                ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        await finished.wait()  # as a server does: nothing more until the client goes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, sent
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    await app(scope, receive, send)
    return status, sent


def scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
    }


async def nothing() -> AsyncIterator[bytes]:
    return
    yield b""


async def test_retrieve_streams_the_file(web: WebFixture, tmp_path: Path) -> None:
    path = big_file(web.root / "big")
    await web.archive.index.put(entry_from_file(path))
    ds = dcmread(path, stop_before_pixels=True)
    app = create_app(web.archive)
    url = f"/dicomweb/studies/{ds.StudyInstanceUID}"
    accept = {"accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    tracemalloc.start()
    try:
        status, sent = await call(app, scope("GET", url, accept), nothing())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200
    assert sent > path.stat().st_size
    assert peak < LIMIT, f"peak {peak / 1e6:.1f} MB"


async def test_stow_of_a_large_instance_streams_to_disk(web: WebFixture, tmp_path: Path) -> None:
    path = big_file(tmp_path / "in")
    boundary = "big-boundary"
    head = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                yield chunk
        yield tail

    headers = {
        "content-type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "accept": "application/dicom+json",
    }
    app = create_app(web.archive)
    tracemalloc.start()
    try:
        status, _ = await call(app, scope("POST", "/dicomweb/studies", headers), body())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200
    stored = list(web.root.glob("*.dcm"))
    assert len(stored) == 1
    assert stored[0].stat().st_size >= SIZE
    assert peak < LIMIT, f"peak {peak / 1e6:.1f} MB"
