"""The file header writer and the dropping sink."""

from __future__ import annotations

import io

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.storage.meta import PREAMBLE_LENGTH, encode_file_meta, file_header
from dicomnet.storage.sinks import (
    DroppingSink,
    InstanceInfo,
    Outcome,
    StorageError,
    StoredInstance,
)
from storage.test_scp_support import EXPLICIT_BE, IMPLICIT_LE, encoded, make_dataset


def info_for(ts: str, **changes: str) -> InstanceInfo:
    values = {
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
        "sop_instance_uid": "1.2.3.4.5",
        "transfer_syntax_uid": ts,
        "source_ae_title": "MODALITY",
    }
    values.update(changes)
    return InstanceInfo(**values)


def test_header_layout_and_group_length() -> None:
    info = info_for(IMPLICIT_LE)
    header = file_header(info)
    assert header[:PREAMBLE_LENGTH] == bytes(PREAMBLE_LENGTH)
    assert header[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] == b"DICM"
    meta = header[PREAMBLE_LENGTH + 4 :]
    assert meta == encode_file_meta(info)
    # (0002,0000) UL 4 <length of the rest>
    assert meta[:8] == b"\x02\x00\x00\x00UL\x04\x00"
    assert int.from_bytes(meta[8:12], "little") == len(meta) - 12
    assert len(meta) % 2 == 0


@pytest.mark.parametrize("ts", [IMPLICIT_LE, EXPLICIT_BE])
def test_pydicom_reads_header_plus_data_set(ts: str) -> None:
    ds = make_dataset(sop_instance="1.2.3.4.5")
    info = info_for(ts)
    read = pydicom.dcmread(io.BytesIO(file_header(info) + encoded(ds, ts)))
    meta = read.file_meta
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert meta.MediaStorageSOPClassUID == info.sop_class_uid
    assert meta.MediaStorageSOPInstanceUID == "1.2.3.4.5"
    assert meta.TransferSyntaxUID == ts
    assert meta.ImplementationClassUID == info.implementation_class_uid
    assert meta.ImplementationVersionName == info.implementation_version_name
    assert meta.SourceApplicationEntityTitle == "MODALITY"
    assert read.PatientName == "Test^Patient"
    assert read.PixelData == ds.PixelData


def test_optional_elements_left_out_when_unknown() -> None:
    meta = encode_file_meta(
        info_for(IMPLICIT_LE, source_ae_title="  ", implementation_version_name="")
    )
    read = pydicom.dcmread(io.BytesIO(bytes(128) + b"DICM" + meta)).file_meta
    assert "SourceApplicationEntityTitle" not in read
    assert "ImplementationVersionName" not in read


def test_absurdly_long_value_is_refused() -> None:
    with pytest.raises(StorageError):
        encode_file_meta(info_for(IMPLICIT_LE, sop_instance_uid="1" * 70000))


uid_text = (
    st.lists(st.integers(0, 10**12), min_size=1, max_size=6)
    .map(lambda parts: ".".join(map(str, parts)))
    .filter(lambda uid: len(uid) <= 64)
)


@settings(max_examples=50)
@given(uid_text, uid_text, st.text(alphabet="ABCDEFGHIJ_- ", max_size=16))
def test_meta_values_round_trip(sop_class: str, sop_instance: str, ae: str) -> None:
    info = info_for(
        IMPLICIT_LE, sop_class_uid=sop_class, sop_instance_uid=sop_instance, source_ae_title=ae
    )
    meta = pydicom.dcmread(io.BytesIO(file_header(info))).file_meta
    assert meta.MediaStorageSOPClassUID == sop_class
    assert meta.MediaStorageSOPInstanceUID == sop_instance
    assert meta.get("SourceApplicationEntityTitle", "") == ae.strip()


async def test_dropping_sink_counts_and_returns_the_kept_copy() -> None:
    kept = StoredInstance(
        info=info_for(IMPLICIT_LE), location="x", size=10, outcome=Outcome.DUPLICATE_KEPT
    )
    sink = DroppingSink(kept)
    await sink.write(b"abcd")
    await sink.write(memoryview(b"ef"))
    assert sink.size == 6
    assert await sink.commit(info_for(IMPLICIT_LE)) is kept
    await sink.discard()
