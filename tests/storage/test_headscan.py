"""The fast header read: the same values as pydicom, or a plain "cannot" (None)."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from query.fixtures import archive_datasets

from dicomnet.archive import entry
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.storage.headscan import scan_header

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
PATIENT_ID = 0x00100020
STUDY_UID = 0x0020000D


def _with_sequences(ds: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    inner = Dataset()
    inner.CodeValue = "X"
    item.ConceptNameCodeSequence = Sequence([inner])
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds.ImageComments = "a\\b"
    return ds


def _undefined_lengths(ds: Dataset) -> None:
    ds.ReferencedImageSequence.is_undefined_length = True
    for item in ds.ReferencedImageSequence:
        item.is_undefined_length_sequence_item = True
        if "ConceptNameCodeSequence" in item:
            item.ConceptNameCodeSequence.is_undefined_length = True


@pytest.mark.parametrize("syntax", [IMPLICIT_LE, EXPLICIT_LE])
@pytest.mark.parametrize("undefined", [False, True])
def test_columns_read_without_pydicom_match_pydicom(syntax: str, undefined: bool) -> None:
    for ds in archive_datasets():
        _with_sequences(ds)
        if undefined:
            _undefined_lengths(ds)
        data = encode_dataset(ds, syntax)
        fast = entry._fast_entry(data, implicit=syntax == IMPLICIT_LE, little=True, complete=True)
        assert fast is not None
        columns, end = fast
        header = Dataset(ds)
        del header.PixelData
        assert columns == entry.column_values(header)
        assert data[end : end + 4] == b"\xe0\x7f\x10\x00"  # Pixel Data's tag: the header ends


def test_values_that_need_a_character_set_are_left_to_pydicom() -> None:
    ds = archive_datasets()[0]
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jörg"
    data = encode_dataset(ds, EXPLICIT_LE)
    assert entry._fast_entry(data, implicit=False, little=True, complete=True) is None
    made = entry.entry_from_data_set(
        data,
        complete=True,
        sop_instance_uid="1.2.3",
        sop_class_uid="1.2",
        transfer_syntax_uid=EXPLICIT_LE,
        path="/x",
        size=len(data),
    )
    assert made is not None and made.columns["patient_name_fold"] == "müller^jörg"


def test_scan_gives_up_on_bytes_it_cannot_read_plainly() -> None:
    ds = archive_datasets()[0]
    data = encode_dataset(ds, EXPLICIT_LE)
    wanted = {PATIENT_ID, STUDY_UID}
    found = scan_header(data, implicit=False, wanted=wanted, complete=True)
    assert found is not None
    assert found.values[PATIENT_ID].rstrip(b" ") == str(ds.PatientID).encode()
    # Cut inside the header: the rest may hold wanted values.
    assert scan_header(data[:40], implicit=False, wanted=wanted, complete=False) is None
    assert scan_header(data[:40], implicit=False, wanted=wanted, complete=True) is None
    # A VR that is not two capital letters, a delimiter at the top level.
    bad = bytearray(data)
    bad[4:6] = b"\x01\x02"
    assert scan_header(bad, implicit=False, wanted=wanted, complete=True) is None
    assert (
        scan_header(b"\xfe\xff\xdd\xe0" + bytes(4), implicit=True, wanted=(), complete=True) is None
    )
    # An undefined-length sequence that never ends.
    open_sequence = (
        b"\x08\x00\x40\x11SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
    )
    assert scan_header(open_sequence, implicit=False, wanted=(), complete=True) is None
