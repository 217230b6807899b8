"""Index entries from the bytes of a data set as received, and the headers kept."""

from __future__ import annotations

from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.archive.entry import decode_header, entry_from_data_set
from dicomnet.dimse.dataset import encode_dataset

SYNTAXES = {
    "1.2.840.10008.1.2": "implicit LE",
    "1.2.840.10008.1.2.1": "explicit LE",
    "1.2.840.10008.1.2.2": "explicit BE",
}


def _entry(data: bytes, syntax: str, *, complete: bool = True):  # type: ignore[no-untyped-def]
    return entry_from_data_set(
        data,
        complete=complete,
        sop_instance_uid="1.2.3",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        transfer_syntax_uid=syntax,
        path="/x.dcm",
        size=len(data),
    )


def test_header_parsed_from_the_received_bytes_in_each_native_syntax() -> None:
    ds = archive_datasets()[0]
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jörg"
    for syntax, name in SYNTAXES.items():
        data = encode_dataset(ds, syntax)
        entry = _entry(data, syntax)
        assert entry is not None, name
        assert entry.columns["patient_name_fold"] == "müller^jörg"
        assert entry.columns["study_uid"] == str(ds.StudyInstanceUID)
        header = decode_header(entry.headers["STUDY"])
        assert str(header.PatientName) == "Müller^Jörg"
        assert 0x7FE00010 not in header  # kept up to Pixel Data only
        assert len(entry.headers["IMAGE"]) < len(data)


def test_a_header_cut_short_asks_for_the_file() -> None:
    ds = archive_datasets()[0]
    ds.ImageComments = "x" * 5000
    data = encode_dataset(ds, "1.2.840.10008.1.2.1")
    # Only the first 1000 bytes were kept: the header runs past them.
    assert _entry(data[:1000], "1.2.840.10008.1.2.1", complete=False) is None
    # Deflated or unknown syntaxes are read from the file too.
    assert _entry(data, "1.2.840.10008.1.2.1.99") is None
    assert _entry(data, "1.2.3.4") is None
    # A data set without Pixel Data, complete: all of it is the header.
    bare = Dataset()
    bare.PatientID = "P"
    entry = _entry(encode_dataset(bare, "1.2.840.10008.1.2"), "1.2.840.10008.1.2")
    assert entry is not None and entry.columns["patient_id"] == "P"
