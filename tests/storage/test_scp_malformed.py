"""Truncated and mislabelled data sets sent over a real association are refused (C000).

A dicomnet SCU sends crafted data set bytes to a folder Storage SCP on each
kind of presentation context; the SCP must answer a failure with an Error
Comment, keep nothing (no file, no temporary file, the copy stored before
byte-identical), and go on serving the association.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dicomnet.ae import AE, Server
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.commands import CStoreRQ
from dicomnet.policy import ProposedContext
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import Duplicate
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    DEFLATED,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    JPEG_BASELINE,
    encoded,
    make_dataset,
    part10_dataset_bytes,
)

SCP_TITLE = "STORE-SCP"
KEPT_UID = "1.2.826.0.1.3680043.99.7.1"
SYNTAXES = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED, JPEG_BASELINE)


@pytest.fixture
async def scp(tmp_path: Path) -> AsyncIterator[tuple[Server, FolderStore]]:
    store = FolderStore(tmp_path / "store", duplicates=Duplicate.REPLACE)
    ae = AE(SCP_TITLE, storage_policy(SCP_TITLE), handlers=[StorageService(store)])
    async with await ae.serve("127.0.0.1", 0) as server:
        yield server, store


def request(uid: str) -> CStoreRQ:
    return CStoreRQ(
        message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
    )


def encapsulated_pixel_data() -> bytes:
    """Explicit VR LE Pixel Data of undefined length: empty offset table, one fragment."""
    return (
        b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
        + b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
        + b"\xfe\xff\x00\xe0\x04\x00\x00\x00\xff\xd8\xff\xd9"
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )


def without_pixels(ts: str, uid: str) -> bytes:
    ds = make_dataset(sop_instance=uid)
    del ds.PixelData
    return encoded(ds, ts)


def bad_data_sets(ts: str, uid: str) -> dict[str, bytes]:
    """Malformed data sets for ``ts``, by what is wrong with them."""
    if ts == JPEG_BASELINE:
        whole = without_pixels(ts, uid) + encapsulated_pixel_data()
        return {
            "cut inside a fragment": whole[:-12],
            "native Pixel Data": encoded(make_dataset(sop_instance=uid), EXPLICIT_LE),
        }
    full = encoded(make_dataset(sop_instance=uid, pixels=8192), ts)
    if ts == DEFLATED:
        return {"deflate stream cut": full[: len(full) // 2]}
    cases = {
        "Pixel Data 8192 declared, 5000 sent": full[: len(full) - 8192 + 5000],
        "cut inside a header": full[: len(full) - 8192 - 3],
    }
    if ts == EXPLICIT_LE:
        cases["encapsulated Pixel Data"] = without_pixels(ts, uid) + encapsulated_pixel_data()
        cases["length 0xFFFFFFF0"] = (
            without_pixels(ts, uid) + b"\xe0\x7f\x10\x00OB\x00\x00\xf0\xff\xff\xff" + b"\0" * 64
        )
    return cases


@pytest.mark.parametrize("ts", SYNTAXES)
async def test_malformed_data_sets_are_refused_and_nothing_is_kept(
    scp: tuple[Server, FolderStore], ts: str
) -> None:
    server, store = scp
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(ts,))]
    good = encoded(make_dataset(sop_instance=KEPT_UID), ts)
    if ts == JPEG_BASELINE:
        good = without_pixels(ts, KEPT_UID) + encapsulated_pixel_data()
    async with AE("SCU").associate(
        "127.0.0.1", server.port, called_ae=SCP_TITLE, contexts=contexts
    ) as assoc:
        assert (await assoc.send_request(request(KEPT_UID), good)).status == 0
        kept = store.path_for(KEPT_UID).read_bytes()
        for what, data in bad_data_sets(ts, KEPT_UID).items():
            chunks = (data[i : i + 3000] for i in range(0, len(data), 3000))
            response = await assoc.send_request(request(KEPT_UID), chunks)
            assert response.status == 0xC000, what
            comment = response.message.error_comment
            assert comment and "at byte" in comment, what
            assert sorted(os.listdir(store.root)) == [".incoming", f"{KEPT_UID}.dcm"], what
            assert not os.listdir(store.incoming), what
            assert store.path_for(KEPT_UID).read_bytes() == kept, what
        # The association goes on: a good instance is still stored.
        other = "1.2.826.0.1.3680043.99.7.2"
        data = encoded(make_dataset(sop_instance=other), ts)
        if ts == JPEG_BASELINE:
            data = without_pixels(ts, other) + encapsulated_pixel_data()
        assert (await assoc.send_request(request(other), data)).status == 0
    assert part10_dataset_bytes(store.path_for(KEPT_UID).read_bytes()) == good
