"""Fuzzed C-STORE traffic against a folder Storage SCP: stored instances stay intact.

One Storage SCP with a :class:`~dicomnet.storage.folder.FolderStore` serves
the whole test. Three instances are stored normally first; then every
example opens an association with a raw client and sends one to three
C-STOREs whose parts are drawn at random:

* SOP Instance UID: one already stored (a duplicate, kept-first), a new
  valid UID, or a hostile one (``../..`` path traversal, separators,
  over-long, non-ASCII, empty);
* data set: the right one, one naming another instance (A900), random
  element-shaped bytes, a valid one cut short, nothing;
* delivery: random PDU sizes, and sometimes the connection closed or reset
  at a random byte of the P-DATA stream.

After each example (once the server has ended the association): every file
stored before is byte-identical, instances answered with success are there
with the data set sent, ``.incoming`` is empty, every file name in the
store is a safe one, and nothing was written outside the store's folder.
A fresh association still C-ECHOes at the end.
"""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import replace
from pathlib import Path

from helpers.raw_ul import command_set, element, pdata_bytes
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from storage.test_scp_support import encoded, make_dataset, part10_dataset_bytes

from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.commands import CStoreRQ, CStoreRSP
from dicomnet.policy import ProposedContext, Timers
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.filenames import INVALID_UID_PREFIX, is_valid_uid
from dicomnet.storage.folder import FolderStore
from dicomnet_pdu.pdus import AAbort, AReleaseRP, AReleaseRQ
from fuzz.mutations import dataset_bytes
from fuzz.support import BadRecords, LoopServer, ResponseReader, close_quietly, open_association

SCP_TITLE = "STORE-SCP"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
CONTEXTS = (ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,)),)
STORED_FIRST = tuple(f"1.2.826.0.1.3680043.99.500.{n}" for n in (1, 2, 3))
PROCESSING_FAILURE = 0x0110

# Command elements (PS3.7 Annex E).
AFFECTED_SOP_CLASS = 0x00000002
COMMAND_FIELD = 0x00000100
MESSAGE_ID = 0x00000110
PRIORITY = 0x00000700
DATA_SET_TYPE = 0x00000800
AFFECTED_SOP_INSTANCE = 0x00001000

HOSTILE_UIDS = (
    "../../escaped",
    "..",
    ".",
    "1.2/../../../escaped",
    "/tmp/escaped",
    "..\\..\\escaped",
    "1.2.3.dcm",
    "1." + "2" * 80,
    "1.02.3",
    "1..2",
    "\u00e9t\u00e9",
    "",
)


def store_command(message_id: int, sop_class: str, uid: str) -> bytes:
    """A C-STORE-RQ built by hand, so any UID text can be sent."""
    return command_set(
        element(AFFECTED_SOP_CLASS, sop_class),
        element(COMMAND_FIELD, 0x0001),
        element(MESSAGE_ID, message_id),
        element(PRIORITY, 0),
        element(DATA_SET_TYPE, 0x0000),
        element(AFFECTED_SOP_INSTANCE, uid.encode("utf-8") + b"\0" * (len(uid.encode()) % 2)),
    )


@functools.cache
def good_data(uid: str) -> bytes:
    """A small CT data set for ``uid`` (the same bytes every time: examples must replay)."""
    ds = make_dataset(sop_instance=uid, pixels=256)
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.99.700"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.99.700.1"
    return encoded(ds, EXPLICIT_LE)


@st.composite
def operations(draw: st.DrawFn) -> dict[str, object]:
    uid = draw(
        st.one_of(
            st.sampled_from(STORED_FIRST),
            st.integers(1, 10**6).map(lambda n: f"1.2.826.0.1.3680043.99.600.{n}"),
            st.sampled_from(HOSTILE_UIDS),
            st.text(max_size=20),
        )
    )
    kind = draw(st.sampled_from(["good", "other-uid", "random", "truncated", "empty"]))
    if kind == "good":
        data = good_data(uid) if is_valid_uid(uid) else good_data("1.2.3")
    elif kind == "other-uid":
        data = good_data(draw(st.sampled_from(STORED_FIRST)))
    elif kind == "random":
        data = draw(dataset_bytes(explicit=True))
    elif kind == "truncated":
        whole = good_data(uid if is_valid_uid(uid) else "1.2.3")
        data = whole[: draw(st.integers(0, len(whole) - 1))]
    else:
        data = b""
    return {
        "uid": uid,
        "sop_class": draw(st.sampled_from([CT_IMAGE_STORAGE, CT_IMAGE_STORAGE, MR_IMAGE_STORAGE])),
        "data": data,
        "max_pdu": draw(st.sampled_from([128, 1024, 16384])),
        "cut": draw(st.one_of(st.none(), st.floats(0, 1, exclude_max=True))),
        "reset": draw(st.booleans()),
    }


class Archive:
    """The store, and what must still be in it: path -> exact file bytes."""

    def __init__(self, area: Path) -> None:
        self.area = area
        self.store = FolderStore(area / "store")
        self.kept: dict[Path, bytes] = {}

    def make_ae(self) -> AE:
        policy = replace(storage_policy(SCP_TITLE), timers=Timers(artim=0.5, dimse=3.0))
        return AE(SCP_TITLE, policy, handlers=[StorageService(self.store)])

    def remember(self, uid: str, data: bytes) -> None:
        """``uid`` was answered with success: a new one must now hold ``data``."""
        path = self.store.path_for(uid)
        if path in self.kept:
            return  # a duplicate: the first copy stays (checked in check())
        raw = path.read_bytes()
        assert part10_dataset_bytes(raw) == data, f"{uid!r}: stored data set differs from sent"
        self.kept[path] = raw

    def check(self) -> None:
        for path, raw in self.kept.items():
            assert path.read_bytes() == raw, f"{path.name} changed"
        assert os.listdir(self.store.incoming) == [], "temporary files left in .incoming"
        assert sorted(os.listdir(self.area)) == ["store"], "something written beside the store"
        for entry in self.store.root.iterdir():
            if entry.name == ".incoming":
                continue
            assert entry.is_file() and entry.name.endswith(".dcm"), entry
            stem = entry.name[: -len(".dcm")]
            assert is_valid_uid(stem) or stem.startswith(INVALID_UID_PREFIX), entry.name


async def store_normally(port: int, archive: Archive) -> None:
    async with AE("SCU").associate(
        "127.0.0.1", port, called_ae=SCP_TITLE, contexts=CONTEXTS
    ) as assoc:
        for uid in STORED_FIRST:
            data = good_data(uid)
            request = CStoreRQ(
                message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
            )
            assert (await assoc.send_request(request, data)).status == 0
            archive.remember(uid, data)


async def fuzz_association(port: int, archive: Archive, ops: list[dict[str, object]]) -> None:
    raw, _ = await open_association(port, CONTEXTS, called=SCP_TITLE)
    reader = ResponseReader(raw)
    try:
        for message_id, op in enumerate(ops, start=1):
            uid, data = str(op["uid"]), bytes(op["data"])  # type: ignore[arg-type]
            command = store_command(message_id, str(op["sop_class"]), uid)
            wire = pdata_bytes(1, command, data, max_pdu=int(op["max_pdu"]))  # type: ignore[call-overload]
            cut = op["cut"]
            if isinstance(cut, float):
                raw.send(wire[: int(cut * len(wire))])
                await raw.writer.drain()
                if op["reset"]:
                    raw.writer.transport.abort()
                event("connection cut")
                return
            raw.send(wire)
            answer = await reader.next()
            if isinstance(answer, AAbort):
                event("A-ABORT")
                return
            assert isinstance(answer, CStoreRSP), answer
            assert answer.message_id_being_responded_to == message_id
            assert answer.status != PROCESSING_FAILURE, answer
            event(f"status {answer.status:04X}")
            if answer.status == 0:
                archive.remember(uid, data)
        raw.send(AReleaseRQ())
        assert isinstance(await reader.next(), AReleaseRP | AAbort)
    finally:
        await close_quietly(raw)


async def wait_incoming_empty(store: FolderStore) -> None:
    for _ in range(500):
        if not os.listdir(store.incoming):
            return
        await asyncio.sleep(0.01)


async def echo(port: int) -> None:
    async with AE("SCU").associate("127.0.0.1", port, called_ae=SCP_TITLE) as assoc:
        assert (await assoc.echo()).is_success


def test_fuzzed_stores_never_touch_what_is_stored(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "area")
    with BadRecords.installed() as bad, LoopServer.started(archive.make_ae) as scp:
        scp.run(lambda: store_normally(scp.port, archive))
        first = dict(archive.kept)
        assert len(first) == len(STORED_FIRST)

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(ops=st.lists(operations(), min_size=1, max_size=3))
        def one(ops: list[dict[str, object]]) -> None:
            bad.take()  # what a failed example left behind
            scp.run(lambda: fuzz_association(scp.port, archive, ops))
            scp.settle()
            scp.run(lambda: wait_incoming_empty(archive.store))
            archive.check()
            assert bad.take() == []

        one()
        for path, raw in first.items():
            assert path.read_bytes() == raw
        scp.run(lambda: echo(scp.port))
        assert bad.take() == []
