"""Storage SCU against an in-process recording SCP: context choice, bytes, statuses, window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from helpers.policies import make_policy
from pydicom.data import get_testdata_file

from dicomnet.ae import AE, Server
from dicomnet.dimse.commands import CommandField, CStoreRQ, Priority
from dicomnet.dimse.dataset import decode_dataset
from dicomnet.dimse.status import StatusCategory
from dicomnet.errors import AssociationAborted
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.storage.scu import store, store_all, store_many
from dicomnet.storage.source import InstanceSource, SourceError
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.storage.transcode import TranscodeError, transcode

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
MR = "1.2.840.10008.5.1.4.1.1.4"
CT = "1.2.840.10008.5.1.4.1.1.2"
SC = "1.2.840.10008.5.1.4.1.1.7"
ALL_SYNTAXES = (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED, JPEG_BASELINE)


def data_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(path)


@dataclass
class Received:
    """What the recording SCP got: per SOP Instance UID, (transfer syntax, data set bytes)."""

    stored: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: dict[str, CStoreRQ] = field(default_factory=dict)
    abort_on: str | None = None
    order: list[str] = field(default_factory=list)
    status: dict[str, Reply] = field(default_factory=dict)
    gate: Callable[[str], asyncio.Event | None] = lambda uid: None
    busy: int = 0
    most_busy: int = 0


def recording_scp(received: Received) -> Binding:
    async def handle(request: IncomingRequest) -> Reply:
        message = request.message
        assert isinstance(message, CStoreRQ)
        uid = message.affected_sop_instance_uid
        received.requests[uid] = message
        if uid == received.abort_on:
            request.association.abort_nowait("test")
            return Reply(status=0x0000)
        received.busy += 1
        received.most_busy = max(received.most_busy, received.busy)
        try:
            data = await request.dataset_bytes()
            assert data is not None
            received.stored[uid] = (request.context.transfer_syntax, data)
            received.order.append(uid)
            gate = received.gate(uid)
            if gate is not None:
                await asyncio.wait_for(gate.wait(), 5)
            return received.status.get(uid, Reply(status=0x0000))
        finally:
            received.busy -= 1

    return Binding(command_field=CommandField.C_STORE_RQ, handler=handle)


async def serve(
    received: Received, accepted: dict[str, tuple[str, ...]], *, window: int = 1
) -> Server:
    policy = make_policy(
        "STORE-SCP",
        accepted_contexts=tuple(
            AcceptedContext(abstract_syntax=sop_class, transfer_syntaxes=syntaxes)
            for sop_class, syntaxes in accepted.items()
        ),
        max_operations_performed=window,
        max_operations_invoked=window,
    )
    return await AE("STORE-SCP", policy).serve("127.0.0.1", 0, handlers=[recording_scp(received)])


def requestor(window: int = 1) -> AE:
    return AE("STORE-SCU", make_policy("STORE-SCU", max_operations_invoked=window))


def propose(*sop_syntaxes: tuple[str, tuple[str, ...]]) -> list[ProposedContext]:
    return [ProposedContext(abstract_syntax=s, transfer_syntaxes=t) for s, t in sop_syntaxes]


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def everything(received: Received) -> AsyncIterator[Server]:
    """An SCP that accepts MR, CT and SC in every syntax it is offered."""
    server = await serve(received, {MR: ALL_SYNTAXES, CT: ALL_SYNTAXES, SC: ALL_SYNTAXES})
    async with server:
        yield server


def odd_deflated_file(folder: Path) -> Path:
    """A deflated file whose stream has an odd length (sent with a NUL pad byte)."""
    for seed in range(64):
        ds = make_image(rows=8, columns=8, seed=seed, sop_instance_uid=f"1.2.3.{seed}")
        path = write_part10(folder / f"{seed}.dcm", ds, DEFLATED, unpadded=True)
        if InstanceSource.from_path(path).pad:
            return path
    raise AssertionError("no odd-length deflate stream found")


@pytest.mark.parametrize(
    "name",
    ["MR_small_implicit.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "deflated",
     "SC_rgb_jpeg_dcmtk.dcm"],
)  # fmt: skip
async def test_file_bytes_go_out_as_read(
    name: str, everything: Server, received: Received, tmp_path: Path
) -> None:
    path = odd_deflated_file(tmp_path) if name == "deflated" else data_file(name)
    source = InstanceSource.from_path(path)
    contexts = propose((source.sop_class_uid, (source.transfer_syntax_uid, IMPLICIT_LE)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        result = await store(assoc, path)
    assert result.status == 0x0000
    assert result.category is StatusCategory.SUCCESS
    assert result.ok
    assert not result.transcoded
    assert result.transfer_syntax == source.transfer_syntax_uid
    assert result.bytes_sent == source.size
    assert result.label == str(path)
    syntax, data = received.stored[source.sop_instance_uid]
    assert syntax == source.transfer_syntax_uid
    assert data == path.read_bytes()[source.offset :] + b"\0" * source.pad
    assert source.pad == (name == "deflated")


async def test_file_cut_short_is_not_sent(
    everything: Server, received: Received, tmp_path: Path
) -> None:
    whole = data_file("MR_small.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole.read_bytes()[:5000])  # head -c 5000: inside Pixel Data
    contexts = propose((MR, (EXPLICIT_LE, IMPLICIT_LE)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        with pytest.raises(SourceError, match="truncated at byte 5000"):
            await store(assoc, cut)
        refused, stored = await store_all(assoc, [cut, whole])
        assert assoc.is_established
    assert refused.label == str(cut)
    assert refused.status is None and refused.bytes_sent == 0
    assert refused.describe() == (
        f"{cut}: not sent: truncated at byte 5000: data set ends inside the value of"
        " (7FE0,0010): 4692 bytes of it missing"
    )
    assert stored.ok
    # Only the whole file reached the peer (both carry the same SOP Instance UID).
    assert received.order == [stored.sop_instance_uid]


async def test_transcodes_when_only_another_syntax_was_accepted(received: Received) -> None:
    source = InstanceSource.from_path(data_file("MR_small.dcm"))  # Explicit VR LE
    async with await serve(received, {MR: (IMPLICIT_LE,)}) as server:
        contexts = propose((MR, (EXPLICIT_LE, IMPLICIT_LE)))
        async with requestor().associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            result = await store(assoc, source)
    assert result.ok
    assert result.transcoded
    assert result.transfer_syntax == IMPLICIT_LE
    syntax, data = received.stored[source.sop_instance_uid]
    assert syntax == IMPLICIT_LE
    assert data == transcode(source, IMPLICIT_LE)
    assert result.bytes_sent == len(data)
    stored = decode_dataset(data, IMPLICIT_LE)
    original = pydicom.dcmread(data_file("MR_small.dcm"))
    assert stored.PixelData == original.PixelData
    assert stored.PatientName == original.PatientName


async def test_prefers_the_context_with_the_file_syntax(received: Received) -> None:
    source = InstanceSource.from_path(data_file("MR_small_bigendian.dcm"))
    async with await serve(received, {MR: (IMPLICIT_LE, EXPLICIT_BE)}) as server:
        # Two contexts for MR: the first accepted with Implicit LE, the second with BE.
        contexts = propose((MR, (IMPLICIT_LE,)), (MR, (EXPLICIT_BE,)))
        async with requestor().associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            assert [c.transfer_syntax for c in assoc.contexts] == [IMPLICIT_LE, EXPLICIT_BE]
            result = await store(assoc, source)
    assert not result.transcoded
    assert received.stored[source.sop_instance_uid][0] == EXPLICIT_BE


async def test_refused_transcoding_is_a_result_naming_both_syntaxes(received: Received) -> None:
    native = InstanceSource.from_path(data_file("MR_small.dcm"))
    async with await serve(received, {MR: (JPEG_BASELINE,)}) as server:
        contexts = propose((MR, (JPEG_BASELINE,)))
        async with requestor().associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            with pytest.raises(TranscodeError, match="JPEG Baseline"):
                await store(assoc, native)
            results = await store_all(assoc, [native])
            assert assoc.is_established  # nothing was sent, nothing broke
    assert received.stored == {}
    [result] = results
    assert result.status is None
    assert result.category is StatusCategory.FAILURE
    assert not result.ok
    assert result.error is not None
    assert EXPLICIT_LE in result.error and JPEG_BASELINE in result.error


async def test_sop_class_not_accepted_is_reported(everything: Server, received: Received) -> None:
    contexts = propose((CT, (EXPLICIT_LE,)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        results = await store_all(assoc, [data_file("MR_small.dcm"), data_file("CT_small.dcm")])
    by_label = {Path(r.label).name: r for r in results}
    assert by_label["CT_small.dcm"].ok
    assert by_label["MR_small.dcm"].status is None
    assert "no accepted presentation context" in (by_label["MR_small.dcm"].error or "")


async def test_warning_counts_as_stored_and_failure_keeps_comment(
    everything: Server, received: Received
) -> None:
    mr = InstanceSource.from_path(data_file("MR_small.dcm"))
    ct = InstanceSource.from_path(data_file("CT_small.dcm"))
    received.status[mr.sop_instance_uid] = Reply(status=0xB000)
    received.status[ct.sop_instance_uid] = Reply(
        status=0xA700, fields={"error_comment": "disk full"}
    )
    contexts = propose((MR, (EXPLICIT_LE,)), (CT, (EXPLICIT_LE,)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        warned = await store(assoc, mr)
        failed = await store(assoc, ct)
    assert warned.status == 0xB000
    assert warned.category is StatusCategory.WARNING
    assert warned.ok
    assert failed.status == 0xA700
    assert failed.category is StatusCategory.FAILURE
    assert not failed.ok
    assert failed.error_comment == "disk full"
    assert "disk full" in failed.describe()


async def test_pydicom_dataset_is_encoded_in_the_accepted_syntax(
    everything: Server, received: Received
) -> None:
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    contexts = propose((CT, (IMPLICIT_LE,)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        result = await store(assoc, ds)
    assert result.ok
    syntax, data = received.stored[ds.SOPInstanceUID]
    assert syntax == IMPLICIT_LE
    stored = decode_dataset(data, IMPLICIT_LE)
    assert stored.PixelData == ds.PixelData
    assert stored.PatientID == ds.PatientID


async def test_window_keeps_several_requests_in_flight(received: Received) -> None:
    files = ["MR_small.dcm", "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"]
    sources = [InstanceSource.from_path(data_file(n)) for n in files]
    first = sources[0].sop_instance_uid
    last_arrived = asyncio.Event()

    def gate(uid: str) -> asyncio.Event | None:
        # The first instance is answered only after the last one arrived.
        if uid == sources[-1].sop_instance_uid:
            last_arrived.set()
        return last_arrived if uid == first else None

    received.gate = gate
    async with await serve(received, {MR: ALL_SYNTAXES, CT: ALL_SYNTAXES}, window=4) as server:
        contexts = propose((MR, (EXPLICIT_LE,)), (CT, (EXPLICIT_LE,)))
        async with requestor(4).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            assert assoc.negotiated.max_operations_invoked == 4
            results = [r async for r in store_many(assoc, sources)]
    assert [r.ok for r in results] == [True] * 4
    assert results[-1].sop_instance_uid == first  # answered last, yielded last
    assert received.most_busy >= 2
    assert received.order == [s.sop_instance_uid for s in sources]


async def test_window_of_one_is_sequential(received: Received) -> None:
    sources = [InstanceSource.from_path(data_file(n)) for n in ("MR_small.dcm", "CT_small.dcm")]
    async with await serve(received, {MR: ALL_SYNTAXES, CT: ALL_SYNTAXES}, window=4) as server:
        contexts = propose((MR, (EXPLICIT_LE,)), (CT, (EXPLICIT_LE,)))
        async with requestor(4).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            results = [r async for r in store_many(assoc, sources, window=1)]
    assert [r.sop_instance_uid for r in results] == [s.sop_instance_uid for s in sources]
    assert received.most_busy == 1


async def test_priority_and_move_originator_are_sent(
    everything: Server, received: Received
) -> None:
    source = InstanceSource.from_path(data_file("CT_small.dcm"))
    contexts = propose((CT, (EXPLICIT_LE,)))
    async with requestor().associate("127.0.0.1", everything.port, contexts=contexts) as assoc:
        result = await store(assoc, source, priority=Priority.HIGH, move_originator=("MOVER", 7))
    assert result.ok
    request = received.requests[source.sop_instance_uid]
    assert request.priority == Priority.HIGH
    assert request.move_originator_ae_title == "MOVER"
    assert request.move_originator_message_id == 7
    assert request.affected_sop_class_uid == CT


async def test_association_lost_midway_is_raised(everything: Server, received: Received) -> None:
    names = ["MR_small.dcm", "CT_small.dcm", "MR_small_implicit.dcm"]
    ct = InstanceSource.from_path(data_file("CT_small.dcm"))
    received.abort_on = ct.sop_instance_uid
    contexts = propose((MR, (EXPLICIT_LE, IMPLICIT_LE)), (CT, (EXPLICIT_LE,)))
    results = []
    assoc = await requestor().associate("127.0.0.1", everything.port, contexts=contexts)
    with pytest.raises(AssociationAborted):
        async for result in store_many(assoc, [data_file(n) for n in names]):
            results.append(result)  # noqa: PERF401 (keeps results yielded before the abort)
    await assoc.wait_closed()
    assert [Path(r.label).name for r in results] == ["MR_small.dcm"]
    assert assoc.is_ended
