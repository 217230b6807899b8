"""dicomnet SCU -> StorageService over loopback TCP, and connections cut mid-C-STORE."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dicomnet.ae import AE, Server
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CStoreRQ
from dicomnet.negotiation import build_request
from dicomnet.policy import Policy, ProposedContext
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.pdv import fragment_message
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    EXPLICIT_LE,
    JPEG_BASELINE,
    NATIVE_SYNTAXES,
    SECONDARY_CAPTURE,
    encoded,
    jpeg_baseline_file,
    make_dataset,
    part10_dataset_bytes,
)

SCP_TITLE = "STORE-SCP"


async def wait_for(predicate: object, what: str) -> None:
    """Poll ``predicate()`` until true (a liveness bound, not a timing check)."""
    assert callable(predicate)
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
async def folder_scp(tmp_path: Path) -> AsyncIterator[tuple[Server, FolderStore]]:
    store = FolderStore(tmp_path / "store")
    ae = AE(SCP_TITLE, storage_policy(SCP_TITLE), handlers=[StorageService(store)])
    async with await ae.serve("127.0.0.1", 0) as server:
        yield server, store


def stored_files(store: FolderStore) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*") if p.is_file())


async def test_every_native_syntax_and_jpeg_round_trips_byte_for_byte(
    folder_scp: tuple[Server, FolderStore],
) -> None:
    server, store = folder_scp
    sent: dict[str, tuple[str, bytes]] = {}
    contexts = [
        ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(ts,))
        for ts in NATIVE_SYNTAXES
    ]
    jpeg = jpeg_baseline_file()
    if jpeg is not None:
        contexts.append(
            ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(JPEG_BASELINE,))
        )
    async with AE("SCU").associate(
        "127.0.0.1", server.port, called_ae=SCP_TITLE, contexts=contexts
    ) as assoc:
        assert len(assoc.contexts) == len(contexts)
        for ctx in assoc.contexts:
            if ctx.transfer_syntax == JPEG_BASELINE:
                assert jpeg is not None
                raw = Path(jpeg).read_bytes()
                data = part10_dataset_bytes(raw)
                uid = str(pydicom.dcmread(jpeg).SOPInstanceUID)
            else:
                uid = f"1.2.826.0.1.3680043.99.{ctx.context_id}"
                data = encoded(make_dataset(sop_instance=uid, pixels=40_000), ctx.transfer_syntax)
            request = CStoreRQ(
                message_id=1,
                affected_sop_class_uid=ctx.abstract_syntax,
                affected_sop_instance_uid=uid,
            )
            response = await assoc.send_request(request, data, context=ctx)
            assert response.status == 0x0000
            assert response.message.affected_sop_instance_uid == uid
            sent[uid] = (ctx.transfer_syntax, data)
    assert len(sent) == len(contexts)
    for uid, (ts, data) in sent.items():
        path = store.path_for(uid)
        raw = path.read_bytes()
        assert part10_dataset_bytes(raw) == data
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        assert meta.TransferSyntaxUID == ts
        assert meta.MediaStorageSOPInstanceUID == uid
        assert meta.SourceApplicationEntityTitle == "SCU"
    assert stored_files(store) == sorted(store.path_for(uid).name for uid in sent)


async def test_data_set_sent_in_chunks_is_stored_whole(
    folder_scp: tuple[Server, FolderStore],
) -> None:
    server, store = folder_scp
    data = encoded(make_dataset(sop_instance="1.2.3.4", pixels=100_000), EXPLICIT_LE)
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,))]
    async with AE("SCU").associate("127.0.0.1", server.port, contexts=contexts) as assoc:
        chunks = (data[i : i + 7000] for i in range(0, len(data), 7000))
        request = CStoreRQ(
            message_id=1,
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid="1.2.3.4",
        )
        assert (await assoc.send_request(request, chunks)).status == 0
        # The mismatch check answers A900 over the network too, and keeps nothing.
        wrong = CStoreRQ(
            message_id=1,
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid="1.2.3.5",
        )
        response = await assoc.send_request(wrong, data)
        assert response.status == 0xA900
        assert response.message.offending_element == (0x00080018,)
    assert part10_dataset_bytes(store.path_for("1.2.3.4").read_bytes()) == data
    assert stored_files(store) == ["1.2.3.4.dcm"]


# ------------------------------------------------------------------ cut connections

VICTIM_UID = "1.2.826.0.1.3680043.99.2"


def cstore_byte_stream() -> tuple[bytes, bytes]:
    """What an SCU sends: the A-ASSOCIATE-RQ, and one C-STORE (several P-DATA-TF PDUs)."""
    policy = Policy(ae_title="CUTTER")
    rq = build_request(
        policy,
        called_ae_title=SCP_TITLE,
        contexts=(
            ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,)),
        ),
    )
    command = encode_command(
        CStoreRQ(
            message_id=1,
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid=VICTIM_UID,
        )
    )
    data = encoded(make_dataset(sop_instance=VICTIM_UID, pixels=40_000), EXPLICIT_LE)
    pdus = fragment_message(1, command, data, max_pdu_length=16384)
    return encode_pdu(rq), b"".join(bytes(segment) for pdu in pdus for segment in pdu)


ASSOCIATE_RQ, CSTORE_PDATA = cstore_byte_stream()
STREAM = ASSOCIATE_RQ + CSTORE_PDATA


async def send_like_an_scu(port: int, length: int) -> asyncio.StreamWriter:
    """Send the first ``length`` bytes of STREAM, waiting for the A-ASSOCIATE-AC in between."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ASSOCIATE_RQ[:length])
    await writer.drain()
    if length > len(ASSOCIATE_RQ):
        header = await reader.readexactly(6)
        assert header[0] == 0x02, "association not accepted"
        await reader.readexactly(int.from_bytes(header[2:6], "big"))
        writer.write(CSTORE_PDATA[: length - len(ASSOCIATE_RQ)])
        await writer.drain()
    return writer


@pytest.fixture
async def scp_with_one_instance(
    folder_scp: tuple[Server, FolderStore],
) -> tuple[Server, FolderStore, bytes]:
    server, store = folder_scp
    data = encoded(make_dataset(sop_instance="1.2.3.1"), EXPLICIT_LE)
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,))]
    async with AE("SCU").associate("127.0.0.1", server.port, contexts=contexts) as assoc:
        request = CStoreRQ(
            message_id=1,
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid="1.2.3.1",
        )
        assert (await assoc.send_request(request, data)).status == 0
    return server, store, store.path_for("1.2.3.1").read_bytes()


async def test_whole_stream_stores_the_instance(folder_scp: tuple[Server, FolderStore]) -> None:
    # The reference point of the cut test: the uncut bytes do store the instance.
    server, store = folder_scp
    writer = await send_like_an_scu(server.port, len(STREAM))
    await wait_for(lambda: store.path_for(VICTIM_UID).exists(), "the instance")
    writer.close()
    await writer.wait_closed()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cut=st.integers(min_value=0, max_value=len(STREAM) - 1), reset=st.booleans())
@example(cut=10, reset=False)  # inside the A-ASSOCIATE-RQ
@example(cut=len(ASSOCIATE_RQ) + 100, reset=True)  # inside the command
@example(cut=len(STREAM) - 1, reset=False)  # all but the last data set byte
@example(cut=len(STREAM) - 1, reset=True)
async def test_connection_cut_anywhere_keeps_nothing_partial(
    scp_with_one_instance: tuple[Server, FolderStore, bytes], cut: int, reset: bool
) -> None:
    server, store, earlier = scp_with_one_instance
    writer = await send_like_an_scu(server.port, cut)
    if reset:
        writer.transport.abort()
    else:
        writer.close()
        await writer.wait_closed()
    await wait_for(lambda: not server.active, "the server to drop the association")
    await wait_for(lambda: not os.listdir(store.incoming), "the temporary file to go")
    assert stored_files(store) == ["1.2.3.1.dcm"]
    assert store.path_for("1.2.3.1").read_bytes() == earlier
    async with AE("SCU").associate("127.0.0.1", server.port, called_ae=SCP_TITLE) as assoc:
        assert (await assoc.echo()).is_success


@pytest.mark.parametrize("max_pdu", [4096, 1 << 20, 0])
async def test_pdus_larger_than_the_receive_buffer_store_byte_for_byte(
    tmp_path: Path, max_pdu: int
) -> None:
    # 1 MiB PDUs (and no limit: 4 MiB ones) are larger than the receive buffer
    # starts: it grows to hold a whole PDU, and what follows one is kept for the next.
    store = FolderStore(tmp_path / "store")
    policy = replace(storage_policy(SCP_TITLE), max_pdu_receive=max_pdu)
    ae = AE(SCP_TITLE, policy, handlers=[StorageService(store)])
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,))]
    sent = {}
    async with await ae.serve("127.0.0.1", 0) as server:
        scu = AE("SCU", Policy(ae_title="SCU", max_pdu_send=max_pdu))
        async with scu.associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            for index, pixels in enumerate((3_000_000, 100, 700_000)):
                uid = f"1.2.3.{index + 1}"
                data = encoded(make_dataset(sop_instance=uid, pixels=pixels), EXPLICIT_LE)
                request = CStoreRQ(
                    message_id=index + 1,
                    affected_sop_class_uid=CT_IMAGE_STORAGE,
                    affected_sop_instance_uid=uid,
                )
                assert (await assoc.send_request(request, data)).status == 0
                sent[uid] = data
    for uid, data in sent.items():
        assert part10_dataset_bytes(store.path_for(uid).read_bytes()) == data
    assert stored_files(store) == sorted(store.path_for(uid).name for uid in sent)
