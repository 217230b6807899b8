"""Fixtures of the DICOMweb tests: a small indexed archive and an HTTP client on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from query.fixtures import write_archive

from dicomnet.archive import SqliteIndex, entry_from_file
from dicomnet.archive.ingest import IndexedStore
from dicomnet.storage.folder import FolderStore
from dicomnet.web import WebArchive, create_app


@dataclass
class WebFixture:
    """The archive, its files and a client on the application."""

    archive: WebArchive
    client: httpx.AsyncClient
    files: list[Path]
    root: Path


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[WebFixture]:
    root = tmp_path / "store"
    root.mkdir()
    files = write_archive(root / "files")
    index = await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False)
    for path in files:
        await index.put(entry_from_file(path))
    store = FolderStore(root, fsync=False)
    archive = WebArchive(index=index, root=root, ingest=IndexedStore(store, index))
    transport = httpx.ASGITransport(app=create_app(archive))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield WebFixture(archive, client, files, root)
    await index.close()
