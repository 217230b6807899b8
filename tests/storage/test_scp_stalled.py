"""SCUs that send a C-STORE-RQ and part of its data set, then go silent.

Each one holds a socket and a partial file in the store's ``.incoming``
folder. The DIMSE timer runs while the data set arrives: when it expires the
association is aborted (A-ABORT on the wire), the partial file is removed, and
ARTIM bounds the wait for the peer to close. Meanwhile a well-behaved SCU is
served as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from helpers.raw_ul import RawClient

from dicomnet.ae import AE, Server
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CStoreRQ
from dicomnet.negotiation import build_request
from dicomnet.policy import VERIFICATION_SOP_CLASS, Policy, ProposedContext
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.pdus import AAbort, AAssociateAC
from dicomnet_pdu.pdv import fragment_message
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    EXPLICIT_LE,
    encoded,
    files_being_received,
    make_dataset,
)

SCP_TITLE = "STORE-SCP"
#: Short timers: a stalled SCU is aborted after DIMSE seconds and closed after ARTIM more.
DIMSE = 0.8
ARTIM = 0.5
#: Stalled SCUs in the load test.
STALLED = 60
CONTEXTS = (ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,)),)
ECHO_CONTEXT = ProposedContext(
    abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(EXPLICIT_LE,)
)


@pytest.fixture
async def scp(tmp_path: Path) -> AsyncIterator[tuple[Server, FolderStore]]:
    store = FolderStore(tmp_path / "store", fsync=False)
    policy = storage_policy(SCP_TITLE)
    policy = replace(policy, timers=replace(policy.timers, dimse=DIMSE, artim=ARTIM))
    ae = AE(SCP_TITLE, policy, handlers=[StorageService(store)])
    async with await ae.serve("127.0.0.1", 0) as server:
        yield server, store


def partial_cstore(uid: str) -> bytes:
    """A C-STORE-RQ command and the first P-DATA-TF of its data set (more announced)."""
    command = encode_command(
        CStoreRQ(
            message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
        )
    )
    data = encoded(make_dataset(sop_instance=uid, pixels=40_000), EXPLICIT_LE)
    pdus = list(fragment_message(1, command, data, max_pdu_length=16384))
    assert len(pdus) > 3
    return b"".join(bytes(segment) for pdu in pdus[:2] for segment in pdu)


@dataclass
class Stalled:
    """What one silent SCU saw."""

    abort: AAbort | None = None
    closed_by_scp: bool = False


async def stall(port: int, uid: str, seen: Stalled, started: asyncio.Event) -> None:
    """Associate, send half a C-STORE, then say nothing and never close first."""
    raw = await RawClient.connect("127.0.0.1", port)
    try:
        rq = build_request(Policy(ae_title="STALLER"), called_ae_title=SCP_TITLE, contexts=CONTEXTS)
        assert isinstance(await raw.request(rq), AAssociateAC)
        raw.send(partial_cstore(uid))
        started.set()
        answer = await raw.receive(timeout=30)
        assert isinstance(answer, AAbort)
        seen.abort = answer
        seen.closed_by_scp = await raw.at_eof(timeout=30)
    finally:
        await raw.close()


def partial_files(store: FolderStore) -> list[str]:
    return files_being_received(store.incoming)


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate()`` until true (a liveness bound, not a timing check)."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


async def test_silent_scu_mid_data_set_is_aborted_and_its_partial_file_removed(
    scp: tuple[Server, FolderStore],
) -> None:
    server, store = scp
    uid = "1.2.826.0.1.3680043.99.31"
    seen = Stalled()
    started = asyncio.Event()
    task = asyncio.create_task(stall(server.port, uid, seen, started))
    await asyncio.wait_for(started.wait(), 10)
    await until(lambda: bool(partial_files(store)) or task.done(), "the partial file")
    await asyncio.wait_for(task, 60)
    assert seen.abort is not None and seen.abort.source == AbortSource.SERVICE_USER
    assert seen.closed_by_scp
    await until(lambda: not server.active, "the association to end")
    assert partial_files(store) == []
    assert uid not in store


async def test_many_silent_scus_are_aborted_while_a_normal_scu_is_served(
    scp: tuple[Server, FolderStore],
) -> None:
    server, store = scp
    seen = [Stalled() for _ in range(STALLED)]
    started = [asyncio.Event() for _ in range(STALLED)]
    uids = [f"1.2.826.0.1.3680043.99.4.{n}" for n in range(STALLED)]
    stalling = [
        asyncio.create_task(stall(server.port, uid, s, e))
        for uid, s, e in zip(uids, seen, started, strict=True)
    ]
    all_done = asyncio.gather(*stalling)

    most_partial_files = 0

    async def count_partial_files() -> None:
        nonlocal most_partial_files
        while not all_done.done():
            most_partial_files = max(most_partial_files, len(partial_files(store)))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(count_partial_files())
    # A normal SCU keeps echoing and storing until every stalled one has been dealt with.
    served_while_stalled = 0
    stored: list[str] = []
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 60)
    while not all_done.done() or not stored:
        stalled_now = any(s.abort is None for s in seen)
        uid = f"1.2.826.0.1.3680043.99.5.{len(stored) + 1}"
        data = encoded(make_dataset(sop_instance=uid), EXPLICIT_LE)
        contexts = (*CONTEXTS, ECHO_CONTEXT)
        async with AE("SCU").associate(
            "127.0.0.1", server.port, called_ae=SCP_TITLE, contexts=contexts
        ) as assoc:
            assert (await assoc.echo()).is_success
            request = CStoreRQ(
                message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
            )
            response = await assoc.send_request(request, data)
            assert response.status == 0
        stored.append(uid)
        served_while_stalled += stalled_now
    await all_done
    await sampler

    assert served_while_stalled >= 1  # begun while stalled SCUs held their connections
    assert most_partial_files >= 1  # the stalled SCUs' data sets did reach the store
    # Every stalled SCU got an A-ABORT, then the SCP closed the connection itself.
    assert all(s.abort is not None and s.abort.source == AbortSource.SERVICE_USER for s in seen)
    assert all(s.closed_by_scp for s in seen)
    await until(lambda: not server.active, "every association to end")
    # Nothing partial is left, nothing of the stalled SCUs is stored; the normal SCU's is.
    assert partial_files(store) == []
    assert not any(uid in store for uid in uids)
    assert all(uid in store for uid in stored)
    async with AE("SCU").associate("127.0.0.1", server.port, called_ae=SCP_TITLE) as assoc:
        assert (await assoc.echo()).is_success
