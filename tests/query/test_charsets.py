"""CharsetPolicy: which Specific Character Set an answer gets, replacement, identifier decoding."""

from __future__ import annotations

import logging

import pytest
from helpers.queries import patient_name_query
from pydicom.dataset import Dataset

from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.query.charsets import CharsetPolicy, leading_charset, requester_charsets

ELE = "1.2.840.10008.1.2.1"
IVR = "1.2.840.10008.1.2"
LATIN1 = CharsetPolicy(("ISO_IR 100",))
UTF8 = CharsetPolicy(("ISO_IR 192",))
DEFAULT_ONLY = CharsetPolicy(())
BOTH = CharsetPolicy(("ISO_IR 100", "ISO_IR 192"))


def response(name: str, charset: str | None) -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.PatientID = "P1"
    ds.QueryRetrieveLevel = "PATIENT"
    return ds


def query(charset: str | None) -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    return ds


@pytest.mark.parametrize(
    ("policy", "name", "requester", "expected"),
    [
        (UTF8, "MÜLLER^HANS", None, ("ISO_IR 192", False)),
        (UTF8, "DOE^JOHN", None, ("ISO_IR 192", False)),  # ASCII fits the declared set
        (LATIN1, "MÜLLER^HANS", "ISO_IR 192", ("ISO_IR 100", False)),
        (LATIN1, "山田^太郎", "ISO_IR 192", ("ISO_IR 192", False)),  # the requester reads UTF-8
        (LATIN1, "山田^太郎", "ISO_IR 100", ("ISO_IR 100", True)),  # replaced
        (LATIN1, "山田^太郎", None, ("ISO_IR 100", True)),
        (DEFAULT_ONLY, "DOE^JOHN", None, ("ISO_IR 6", False)),
        (DEFAULT_ONLY, "MÜLLER^HANS", None, ("ISO_IR 6", True)),
        (
            CharsetPolicy(("ISO_IR 100", "ISO_IR 192")),
            "MÜLLER",
            "ISO_IR 192",
            ("ISO_IR 192", False),
        ),
    ],
)
def test_choose(
    policy: CharsetPolicy, name: str, requester: str | None, expected: tuple[str, bool]
) -> None:
    assert policy.choose([name], requester_charsets(query(requester))) == expected


def test_latin1_ae_replaces_what_it_cannot_write_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "dicomnet.query"):
        out = LATIN1.answer(response("山田^太郎", "ISO_IR 192"), ("ISO_IR 6", "ISO_IR 100"))
    data = encode_dataset(out, ELE)
    assert out.SpecificCharacterSet == "ISO_IR 100"
    assert b"??^??" in data
    assert "PatientName" in caplog.text and "replaced by '?'" in caplog.text


def test_utf8_answer_of_latin1_data_is_written_in_utf8() -> None:
    stored = decode_dataset(encode_dataset(response("MÜLLER^HANS", "ISO_IR 100"), ELE), ELE)
    data = encode_dataset(UTF8.answer(stored, ("ISO_IR 6",)), ELE)
    assert b"ISO_IR 192" in data and "MÜLLER^HANS".encode() in data
    assert "MÜLLER".encode("latin-1") not in data


def test_ascii_answer_of_a_default_only_ae_drops_the_character_set() -> None:
    out = DEFAULT_ONLY.answer(response("DOE^JOHN", "ISO_IR 100"), ("ISO_IR 6",))
    assert "SpecificCharacterSet" not in out


def test_stored_bytes_go_out_unchanged_only_when_the_policy_would_choose_them() -> None:
    assert UTF8.fits_as_stored("ISO_IR 192", ("ISO_IR 6",))
    assert UTF8.fits_as_stored(None, ("ISO_IR 6",))
    assert not UTF8.fits_as_stored("ISO_IR 100", ("ISO_IR 6",))
    both = CharsetPolicy(("ISO_IR 100", "ISO_IR 192"))
    assert not both.fits_as_stored("ISO_IR 192", ("ISO_IR 6", "ISO_IR 100"))
    assert not UTF8.fits_as_stored(["", "ISO 2022 IR 87"], ("ISO_IR 6",))


@pytest.mark.parametrize("syntax", [ELE, IVR])
def test_leading_charset_reads_the_first_element(syntax: str) -> None:
    assert leading_charset(encode_dataset(response("X", "ISO_IR 192"), syntax), syntax) == (
        "ISO_IR 192"
    )
    assert leading_charset(encode_dataset(response("X", None), syntax), syntax) is None


def test_identifier_without_character_set_is_read_in_the_declared_one() -> None:
    # UTF-8 bytes with no Specific Character Set: an ISO_IR 192 AE reads them as UTF-8.
    raw = Dataset()
    raw.QueryRetrieveLevel = "PATIENT"
    raw.PatientName = "山田*"
    raw.SpecificCharacterSet = "ISO_IR 192"
    data = encode_dataset(raw, ELE)
    data = data.replace(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 192", b"")  # strip (0008,0005)
    identifier = UTF8.decoding(decode_dataset(data, ELE))
    assert str(identifier.PatientName) == "山田*"
    # A default-only AE leaves the identifier as it came.
    assert "SpecificCharacterSet" not in DEFAULT_ONLY.decoding(decode_dataset(data, ELE))


# ---------------------------------------------------------------- as SCU (requests)


@pytest.mark.parametrize(
    ("supported", "name", "charset", "raw"),
    [
        (
            ("ISO_IR 100", "ISO_IR 192"),
            "MÜLLER^HANS",
            "ISO_IR 100",
            "MÜLLER^HANS".encode("latin-1"),
        ),
        (("ISO_IR 100", "ISO_IR 192"), "山田^太郎", "ISO_IR 192", "山田^太郎".encode()),
        (("ISO_IR 192",), "MÜLLER^HANS", "ISO_IR 192", "MÜLLER^HANS".encode()),
        (("ISO_IR 100",), "山田^太郎", "ISO_IR 100", b"??^??"),
        ((), "MÜLLER^HANS", None, b"M?LLER^HANS"),
        ((), "SMITH", None, b"SMITH"),
    ],
)
def test_request_is_written_in_the_first_declared_set_that_holds_it(
    supported: tuple[str, ...], name: str, charset: str | None, raw: bytes
) -> None:
    original = patient_name_query(name)
    sent = CharsetPolicy(supported).request(original)
    data = encode_dataset(sent, "1.2.840.10008.1.2.1")
    assert leading_charset(data, "1.2.840.10008.1.2.1") == charset
    assert raw in data
    assert str(original.PatientName) == name and "SpecificCharacterSet" not in original


def test_request_with_its_own_character_set_is_sent_as_given() -> None:
    query = patient_name_query("MÜLLER^HANS")
    query.SpecificCharacterSet = "ISO_IR 192"
    assert CharsetPolicy(("ISO_IR 100",)).request(query) is query


def test_unnamed_request_keeps_the_bytes_of_the_set(caplog: pytest.LogCaptureFixture) -> None:
    sent = CharsetPolicy(("ISO_IR 100",)).request(patient_name_query("MÜLLER^HANS"), named=False)
    data = encode_dataset(sent, "1.2.840.10008.1.2.1")
    assert leading_charset(data, "1.2.840.10008.1.2.1") is None
    assert "MÜLLER^HANS".encode("latin-1") in data
    with caplog.at_level(logging.WARNING):
        CharsetPolicy(("ISO_IR 100",)).request(patient_name_query("山田^太郎"))
    assert "PatientName cannot be written in ISO_IR 100" in caplog.text
