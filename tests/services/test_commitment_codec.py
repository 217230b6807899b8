"""Storage Commitment data sets and verdicts: encoding, decoding, statuses, store look-ups."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.dimse.status import Status
from dicomnet.services.commitment import (
    EVENT_ALL_COMMITTED,
    EVENT_SOME_FAILED,
    CommitmentError,
    CommitmentRequest,
    CommitmentResult,
    FailedInstance,
    FailureReason,
    InstanceRef,
    decode_action_information,
    decode_event_information,
    encode_action_information,
    encode_event_information,
    evaluate,
    instance_refs,
    store_verdict,
)
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo
from dicomnet.storage.synthetic import make_image, write_part10

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"

uids = (
    st.lists(st.integers(0, 10**12), min_size=2, max_size=6)
    .map(lambda parts: "1." + ".".join(str(p) for p in parts))
    .filter(lambda uid: len(uid) <= 64)
)
refs = st.builds(InstanceRef, uids, uids)
reasons = st.sampled_from(list(FailureReason))
failed = st.builds(FailedInstance, uids, uids, reasons)
syntaxes = st.sampled_from([IMPLICIT_LE, EXPLICIT_LE, BIG_ENDIAN])


@settings(max_examples=40, deadline=None)
@given(uid=uids, instances=st.lists(refs, min_size=1, max_size=5), syntax=syntaxes)
def test_action_information_round_trips(
    uid: str, instances: list[InstanceRef], syntax: str
) -> None:
    request = CommitmentRequest(uid, tuple(instances))
    assert decode_action_information(encode_action_information(request, syntax), syntax) == request


@settings(max_examples=40, deadline=None)
@given(
    uid=uids,
    committed=st.lists(refs, max_size=4),
    failures=st.lists(failed, max_size=4),
    syntax=syntaxes,
)
def test_event_information_round_trips(
    uid: str, committed: list[InstanceRef], failures: list[FailedInstance], syntax: str
) -> None:
    result = CommitmentResult(uid, tuple(committed), tuple(failures))
    decoded = decode_event_information(encode_event_information(result, syntax), syntax)
    assert decoded == result
    assert decoded.event_type_id == (EVENT_SOME_FAILED if failures else EVENT_ALL_COMMITTED)


def test_event_information_leaves_out_empty_sequences() -> None:
    ok = CommitmentResult("1.2.3", (InstanceRef(CT, "1.2.3.4"),))
    ds = decode_dataset(encode_event_information(ok, EXPLICIT_LE), EXPLICIT_LE)
    assert "FailedSOPSequence" not in ds
    assert ds.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
    bad = CommitmentResult("1.2.3", (), (FailedInstance(CT, "1.2.3.5", 0x0112),), "ARCHIVE")
    ds = decode_dataset(encode_event_information(bad, EXPLICIT_LE), EXPLICIT_LE)
    assert "ReferencedSOPSequence" not in ds
    assert ds.FailedSOPSequence[0].FailureReason == 0x0112
    assert ds.RetrieveAETitle == "ARCHIVE"


def _action(**elements: object) -> bytes:
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return encode_dataset(ds, EXPLICIT_LE)


def _item(sop_class: str | None, sop_instance: str | None) -> Dataset:
    item = Dataset()
    if sop_class is not None:
        item.ReferencedSOPClassUID = sop_class
    if sop_instance is not None:
        item.ReferencedSOPInstanceUID = sop_instance
    return item


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (None, Status.MISSING_ATTRIBUTE),
        (b"\x08\x00", Status.PROCESSING_FAILURE),
        (_action(ReferencedSOPSequence=[_item(CT, "1.2")]), Status.MISSING_ATTRIBUTE),
        (_action(TransactionUID="", ReferencedSOPSequence=[_item(CT, "1.2")]), 0x0121),
        (_action(TransactionUID="1.2.3"), Status.MISSING_ATTRIBUTE),
        (_action(TransactionUID="1.2.3", ReferencedSOPSequence=[]), 0x0121),
        (_action(TransactionUID="1.2.3", ReferencedSOPSequence=[_item(CT, None)]), 0x0120),
        (_action(TransactionUID="1.2.3", ReferencedSOPSequence=[_item("", "1.2")]), 0x0121),
    ],
)
def test_bad_action_information_names_the_status(data: bytes | None, status: int) -> None:
    with pytest.raises(CommitmentError) as caught:
        decode_action_information(data, EXPLICIT_LE)
    assert caught.value.status == status


def test_instance_refs_accepts_pairs_and_objects() -> None:
    class Stored:
        sop_class_uid = CT
        sop_instance_uid = "1.2.3"

    assert instance_refs([InstanceRef(CT, "1.1"), (MR, "1.2"), Stored()]) == (
        InstanceRef(CT, "1.1"),
        InstanceRef(MR, "1.2"),
        InstanceRef(CT, "1.2.3"),
    )


def _info(sop_class: str, uid: str) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=sop_class, sop_instance_uid=uid, transfer_syntax_uid=EXPLICIT_LE
    )


async def test_memory_store_verdict() -> None:
    store = MemoryStore()
    store.install(_info(CT, "1.2.1"), b"")
    verdict = store_verdict(store)
    assert verdict(InstanceRef(CT, "1.2.1")) is None
    assert verdict(InstanceRef(MR, "1.2.1")) == FailureReason.CLASS_INSTANCE_CONFLICT
    assert verdict(InstanceRef(CT, "1.2.2")) == FailureReason.NO_SUCH_OBJECT_INSTANCE


async def test_folder_store_verdict(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=False)
    image = make_image(sop_class_uid=CT, sop_instance_uid="1.2.7", rows=2, columns=2)
    write_part10(store.path_for("1.2.7"), image, EXPLICIT_LE)
    store.path_for("1.2.8").write_bytes(b"not dicom at all" * 20)
    verdict = store_verdict(store)
    assert verdict(InstanceRef(CT, "1.2.7")) is None
    assert verdict(InstanceRef(MR, "1.2.7")) == FailureReason.CLASS_INSTANCE_CONFLICT
    assert verdict(InstanceRef(CT, "1.2.9")) == FailureReason.NO_SUCH_OBJECT_INSTANCE
    assert verdict(InstanceRef(CT, "1.2.8")) == FailureReason.PROCESSING_FAILURE


async def test_evaluate_with_async_and_raising_verdicts() -> None:
    async def verdict(ref: InstanceRef) -> int | None:
        if ref.sop_instance_uid == "1.3":
            raise RuntimeError("broken index")
        return None if ref.sop_instance_uid == "1.1" else FailureReason.RESOURCE_LIMITATION

    request = CommitmentRequest(
        "9.9", (InstanceRef(CT, "1.1"), InstanceRef(CT, "1.2"), InstanceRef(CT, "1.3"))
    )
    result = await evaluate(request, verdict)
    assert result.committed == (InstanceRef(CT, "1.1"),)
    assert result.failed == (
        FailedInstance(CT, "1.2", FailureReason.RESOURCE_LIMITATION),
        FailedInstance(CT, "1.3", FailureReason.PROCESSING_FAILURE),
    )
    assert not result.all_committed
