"""Index entries from the Storage SCP's walk equal those read from the header bytes.

:func:`~dicomnet.archive.walked.entry_from_walk` takes the values the data set
walker captured; :func:`~dicomnet.archive.entry.entry_from_data_set` (the
reference) parses the header again. For every data set and native syntax
here, either the walk gives exactly the reference entry, or it declines
(``None``) and the ingest falls back to the reference.
"""

from __future__ import annotations

import sqlite3
import struct
import warnings
from collections.abc import Callable
from dataclasses import fields, replace
from typing import cast

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from query.fixtures import archive_datasets

from dicomnet.archive.entry import IndexEntry, _raw_encoding, decode_header, entry_from_data_set
from dicomnet.archive.rows import LEVEL_COLUMNS, instance_values
from dicomnet.archive.sqlite_rows import _instance_values
from dicomnet.archive.walked import (
    SERIES_WALK_TAGS,
    WALK_TAGS,
    WalkColumns,
    entry_from_walk,
    walked_entry,
)
from dicomnet.dimse.dataset import dataset_walker, encode_dataset, transfer_syntax_encoding
from dicomnet.dimse.walker import DatasetWalker, InflatingWalker
from dicomnet.services.dataset_check import capture_set
from dicomnet.storage.sinks import InstanceInfo, SeriesMemo, WalkedHeader

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
NATIVE = (IMPLICIT, EXPLICIT, BIG)


def walked(data: bytes, syntax: str, *, piece: int = 0) -> WalkedHeader:
    """The walk of ``data`` as the Storage SCP makes it (in pieces of ``piece`` bytes)."""
    walker = dataset_walker(syntax, capture=WALK_TAGS)
    step = piece or len(data)
    for start in range(0, len(data), step):
        walker.feed(data[start : start + step])
    walker.finish()
    inner = walker.walker if isinstance(walker, InflatingWalker) else walker
    return WalkedHeader(
        values=inner.captured,
        uncaptured=frozenset(inner.uncaptured),
        pixel_offset=inner.pixel_offset,
        size=inner.offset,
    )


_WHERE = {
    "sop_instance_uid": "1.2.3.4",
    "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
    "path": "/x.dcm",
    "size": 1234,
    "source_ae_title": "SCU",
}


def reference(data: bytes, syntax: str, keep: int) -> IndexEntry | None:
    return entry_from_data_set(
        data[:keep], complete=keep >= len(data), transfer_syntax_uid=syntax, **_WHERE
    )


def from_walk(data: bytes, syntax: str, keep: int, *, piece: int = 0) -> IndexEntry | None:
    return entry_from_walk(
        data[:keep], walked(data, syntax, piece=piece), transfer_syntax_uid=syntax, **_WHERE
    )


def same(a: IndexEntry, b: IndexEntry) -> bool:
    return replace(a, received=0.0) == replace(b, received=0.0)


def _set(ds: Dataset, **values: object) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd values on purpose
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    return ds


def _base() -> Dataset:
    return archive_datasets()[0]


def _bare() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4"
    return ds


def _sequences() -> Dataset:
    ds = _base()
    inner = Dataset()
    inner.PatientID = "NESTED"  # a column tag inside an item: not the patient's
    inner.StudyDescription = "nested"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.9"
    item.ReferencedImageSequence = Sequence([inner])
    ds.ReferencedStudySequence = Sequence([item])
    ds.add_new(0x00091010, "LO", "PRIVATE CREATOR")
    ds.add_new(0x00091011, "SH", "private value")
    ds.add_new(0x00291010, "OB", b"\x01\x02" * 40)
    return ds


def _undefined_lengths() -> Dataset:
    ds = _sequences()
    ds.ReferencedStudySequence.is_undefined_length = True
    ds.ReferencedStudySequence[0].ReferencedImageSequence.is_undefined_length = True
    return ds


def _float_pixels() -> Dataset:
    ds = _base()
    del ds.PixelData
    ds.FloatPixelData = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    return ds


def _no_pixels() -> Dataset:
    ds = _base()
    del ds.PixelData
    return ds


DATA_SETS: dict[str, Callable[[], Dataset]] = {
    **{f"archive {n}": (lambda n=n: archive_datasets()[n]) for n in range(5)},
    "bare (most attributes missing)": _bare,
    "empty values": lambda: _set(_base(), PatientName="", StudyDate="", Modality=""),
    "several values": lambda: _set(
        _base(), PatientID="A\\B", StudyDescription="\\second", BodyPartExamined="\\"
    ),
    "padding": lambda: _set(_base(), PatientID=" P1 ", AccessionNumber="ACC\0"),
    "control characters": lambda: _set(_base(), PatientID="A\x01B", StudyID="\x01"),
    "dates with dots, times with colons": lambda: _set(
        _base(), StudyDate="2024.01.10", ContentDate="2024.01.11", StudyTime="10:15:00.5"
    ),
    "person names": lambda: _set(
        _base(), PatientName="Doe^John^^^", ReferringPhysicianName="SMITH^=ideo"
    ),
    "sequences and private tags": _sequences,
    "undefined-length sequences": _undefined_lengths,
    "float pixel data": _float_pixels,
    "no pixel data": _no_pixels,
    "every column": lambda: _set(
        _base(),
        IssuerOfPatientID="ISS",
        ReferringPhysicianName="REF^ERRING",
        StudyDescription="desc",
        SeriesDescription="series desc",
        BodyPartExamined="CHEST",
        SeriesDate="20240110",
        ContentDate="20240111",
    ),
}


@pytest.mark.parametrize("syntax", NATIVE)
@pytest.mark.parametrize("name", sorted(DATA_SETS))
def test_the_walk_gives_the_reference_entry(name: str, syntax: str) -> None:
    data = encode_dataset(DATA_SETS[name](), syntax)
    expected = reference(data, syntax, len(data))
    assert expected is not None
    for piece in (0, 1, 7, 64):  # values captured whole or across pieces
        got = from_walk(data, syntax, len(data), piece=piece)
        assert got is not None, (name, piece)
        assert same(got, expected), (name, piece)
    assert 0x7FE00010 not in decode_header(expected.headers["IMAGE"])


def test_a_walked_entry_has_every_field_the_class_would_give_it() -> None:
    # walked_entry stores the entry's slots itself: none may be left unset, and the entry
    # equals the one the class makes of the same values.
    data = encode_dataset(DATA_SETS["every column"](), EXPLICIT)
    got = from_walk(data, EXPLICIT, len(data))
    assert got is not None
    values = {field.name: getattr(got, field.name) for field in fields(IndexEntry)}
    assert IndexEntry(**values) == got
    assert (got.sync_folders, got.forward_to, got.link) == ((), (), None)


@pytest.mark.parametrize("syntax", NATIVE)
def test_only_the_header_is_kept_when_the_bytes_kept_are_a_prefix(syntax: str) -> None:
    ds = _base()
    ds.PixelData = b"\0" * 4000
    data = encode_dataset(ds, syntax)
    keep = len(data) - 1000  # the Pixel Data value runs past the bytes kept
    expected = reference(data, syntax, keep)
    got = from_walk(data, syntax, keep)
    assert expected is not None and got is not None and same(got, expected)
    # The ingest hands its buffer of the first bytes; the header kept is bytes still.
    kept = entry_from_walk(
        bytearray(data[:keep]), walked(data, syntax), transfer_syntax_uid=syntax, **_WHERE
    )
    assert kept is not None and same(kept, expected)
    assert all(type(header) is bytes for header in kept.headers.values())
    # A header running past the bytes kept: both read the file instead.
    assert reference(data, syntax, 200) is None
    assert from_walk(data, syntax, 200) is None


@pytest.mark.parametrize("syntax", NATIVE)
def test_values_needing_a_character_set_are_left_to_pydicom(syntax: str) -> None:
    latin = _set(_base(), SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jörg")
    iso2022 = _set(
        _base(),
        SpecificCharacterSet=["", "ISO 2022 IR 87"],
        PatientName="Yamada^Tarou=山田^太郎",
    )
    for ds in (latin, iso2022):
        data = encode_dataset(ds, syntax)
        assert from_walk(data, syntax, len(data)) is None
        expected = reference(data, syntax, len(data))
        assert expected is not None  # the fallback
    assert (
        reference(encode_dataset(latin, syntax), syntax, 10**6).columns[  # type: ignore[union-attr]
            "patient_name_fold"
        ]
        == "müller^jörg"
    )


def test_a_value_too_long_to_capture_is_left_to_the_reference() -> None:
    ds = _set(_base(), StudyDescription="x" * 2000)
    data = encode_dataset(ds, EXPLICIT)
    assert 0x00081030 in walked(data, EXPLICIT).uncaptured
    assert from_walk(data, EXPLICIT, len(data)) is None
    expected = reference(data, EXPLICIT, len(data))
    assert expected is not None and expected.columns["study_description"] == "x" * 2000


def test_uncaptured_tags_that_are_not_columns_do_not_matter() -> None:
    data = encode_dataset(_base(), EXPLICIT)
    walk = walked(data, EXPLICIT)
    walk = walk._replace(uncaptured=frozenset({0x7FE00010}))  # e.g. the IOD check's Pixel Data
    got = entry_from_walk(data, walk, transfer_syntax_uid=EXPLICIT, **_WHERE)
    expected = reference(data, EXPLICIT, len(data))
    assert got is not None and expected is not None and same(got, expected)


def test_deflated_and_unknown_syntaxes_are_left_to_the_reference() -> None:
    ds = _base()
    data = encode_dataset(ds, DEFLATED)
    walk = walked(data, DEFLATED)
    assert walk.values[0x00100020] == b"P1"  # captured from the inflated bytes...
    assert entry_from_walk(data, walk, transfer_syntax_uid=DEFLATED, **_WHERE) is None
    plain = encode_dataset(ds, EXPLICIT)
    unknown = entry_from_walk(
        plain, walked(plain, EXPLICIT), transfer_syntax_uid="1.2.3.4.5", **_WHERE
    )
    assert unknown is None


def _un_sequence_data_set() -> bytes:
    """Explicit VR LE with a private sequence sent as UN of undefined length (PS3.5 6.2.2)."""
    ds = _set(_base(), PatientID="UNPAT")
    low = Dataset()
    high = Dataset()
    for element in ds:
        (low if element.tag < 0x00090000 else high).add(element)
    item = struct.pack("<HHI", 0x0009, 0x0010, 4) + b"ABCD"  # implicit VR inside
    un = (
        struct.pack("<HH2sHI", 0x0009, 0x1001, b"UN", 0, 0xFFFFFFFF)
        + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
        + item
        + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    )
    return encode_dataset(low, EXPLICIT) + un + encode_dataset(high, EXPLICIT)


def test_a_un_sequence_of_undefined_length() -> None:
    data = _un_sequence_data_set()
    expected = reference(data, EXPLICIT, len(data))  # pydicom's read (the scan gives up)
    got = from_walk(data, EXPLICIT, len(data))
    assert expected is not None and got is not None and same(got, expected)
    assert got.columns["patient_id"] == "UNPAT"


@pytest.mark.parametrize("syntax", NATIVE)
def test_the_walker_notes_where_the_header_ends(syntax: str) -> None:
    implicit, little = syntax == IMPLICIT, syntax != BIG
    for ds, tag in ((_base(), 0x7FE00010), (_float_pixels(), 0x7FE00008)):
        data = encode_dataset(ds, syntax)
        for piece in (0, 1, 5):
            walker = DatasetWalker(implicit=implicit, little=little, capture=WALK_TAGS)
            step = piece or len(data)
            for start in range(0, len(data), step):
                walker.feed(data[start : start + step])
            walker.finish()
            at = walker.pixel_offset
            assert at is not None
            group, element = struct.unpack_from("<HH" if little else ">HH", data, at)
            assert group << 16 | element == tag
        nested = encode_dataset(_undefined_lengths(), syntax)
        assert walked(nested, syntax).pixel_offset is not None
    no_pixels = encode_dataset(_no_pixels(), syntax)
    assert walked(no_pixels, syntax).pixel_offset is None


def test_walk_columns_are_decoded_on_use_and_read_like_a_dict() -> None:
    data = encode_dataset(_set(_base(), PatientName="Doe^John^^"), EXPLICIT)
    got = from_walk(data, EXPLICIT, len(data))
    expected = reference(data, EXPLICIT, len(data))
    assert got is not None and expected is not None
    columns = got.columns
    assert isinstance(columns, WalkColumns)
    assert columns.get("patient_name_fold") == "doe^john"
    assert columns.get("no such column") is None
    assert columns.get("no such column", "-") == "-"
    with pytest.raises(KeyError):
        columns["no such column"]
    assert dict(columns) == dict(expected.columns)
    assert len(columns) == len(expected.columns)


def test_a_binary_value_captured_beside_the_columns_does_not_stop_the_walk_entry() -> None:
    # The Storage SCP may capture other elements too (Bits Allocated, for a coercion).
    data = encode_dataset(_base(), EXPLICIT)
    walk = walked(data, EXPLICIT)
    walk = walk._replace(values={**walk.values, 0x00280100: b"\x80\x00"})
    got = entry_from_walk(data, walk, transfer_syntax_uid=EXPLICIT, **_WHERE)
    expected = reference(data, EXPLICIT, len(data))
    assert got is not None and expected is not None and same(got, expected)


@pytest.mark.parametrize("syntax", NATIVE)
@pytest.mark.parametrize("name", sorted(DATA_SETS))
def test_rows_made_from_the_walk_equal_rows_of_the_reference(name: str, syntax: str) -> None:
    data = encode_dataset(DATA_SETS[name](), syntax)
    expected = reference(data, syntax, len(data))
    got = from_walk(data, syntax, len(data))
    assert got is not None and expected is not None
    assert isinstance(got.columns, WalkColumns)
    got = replace(got, received=expected.received)
    # The instance row the backends insert (its own columns decoded in one call) ...
    assert instance_values(got, 7) == instance_values(expected, 7)
    assert instance_values(got, 7, str) == instance_values(expected, 7, str)
    # ... the SQLite index's own (the walk's columns in one call) ...
    expected_row = instance_values(expected, 7)
    expected_row[-1] = bytearray(expected_row[-1])  # type: ignore[arg-type]
    keys = {got.columns.get("series_uid", ""): 7}  # the series row is known
    assert _instance_values(cast(sqlite3.Connection, None), got, keys) == expected_row
    # ... and any level's columns, asked before or after other columns were decoded.
    fresh = from_walk(data, syntax, len(data))
    assert fresh is not None and isinstance(fresh.columns, WalkColumns)
    for level in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
        names = LEVEL_COLUMNS[level]
        want = [expected.columns.get(n, "") for n in names]
        assert fresh.columns.row(names) == want, level
        assert [fresh.columns[n] for n in names] == want, level
        assert fresh.columns.row(names) == want, level


@pytest.mark.parametrize(
    "syntax",
    ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.50"],
)
def test_raw_encoding_of_each_syntax_is_what_the_syntax_says(syntax: str) -> None:
    """The table of native syntaxes gives what :func:`transfer_syntax_encoding` does."""
    implicit, little, deflated = transfer_syntax_encoding(syntax)
    assert not deflated
    assert _raw_encoding(syntax) == (implicit, little)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1.99", "1.2.3.4.5"])
def test_no_raw_encoding_for_a_deflated_or_unknown_syntax(syntax: str) -> None:
    assert _raw_encoding(syntax) is None


def _memo_of(first: Dataset, syntax: str) -> SeriesMemo:
    """An association's memo after the walked entry of ``first``, its series' first instance."""
    memo: SeriesMemo = {}
    data = encode_dataset(first, syntax)
    info = InstanceInfo(
        sop_class_uid=str(first.SOPClassUID),
        sop_instance_uid=str(first.SOPInstanceUID),
        transfer_syntax_uid=syntax,
    )
    assert walked_entry(data, walked(data, syntax), info, "/x.dcm", 1, memo=memo) is not None
    return memo


def _later(ds: Dataset, syntax: str, uid: str) -> tuple[bytes, WalkedHeader, InstanceInfo]:
    """A later instance of ``ds``'s series as the Storage SCP walks it once the
    association's memo holds that series (SERIES_WALK_TAGS and the command's UIDs)."""
    ds.SOPInstanceUID = uid
    data = encode_dataset(ds, syntax)
    walker = dataset_walker(syntax, capture=capture_set(capture=SERIES_WALK_TAGS))
    walker.feed(data)
    walker.finish()
    assert isinstance(walker, DatasetWalker)
    walk = WalkedHeader(
        dict(walker.captured), frozenset(walker.uncaptured), walker.pixel_offset, walker.offset
    )
    info = InstanceInfo(
        sop_class_uid=_WHERE["sop_class_uid"],  # type: ignore[arg-type]
        sop_instance_uid=uid,
        transfer_syntax_uid=syntax,
        source_ae_title="SCU",
    )
    return data, walk, info


@pytest.mark.parametrize("syntax", (IMPLICIT, EXPLICIT))
def test_later_instances_of_a_memo_series_get_their_own_instance_columns(syntax: str) -> None:
    # The memo decodes an instance's SOP Class UID and Content Date once while they
    # repeat: each instance still gets its own, and a value that is not plain ASCII
    # still goes to the reference (pydicom).
    memo = _memo_of(_base(), syntax)
    assert len(memo) == 1
    variants: list[dict[str, object]] = [
        {},
        {"InstanceNumber": "7"},
        {"ContentDate": "2024.02.03"},
        {"ContentDate": "20240204", "InstanceNumber": "8"},
        {},  # back to the first date
        {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.4"},
        {"SOPClassUID": ""},  # none in the header: the command's
        {"InstanceNumber": "9\\10"},
        {"ContentDate": ""},
    ]
    for n, values in enumerate(variants):
        ds = _set(_base(), **values)
        uid = f"1.2.3.4.{n}"
        data, walk, info = _later(ds, syntax, uid)
        expected = entry_from_data_set(
            data,
            complete=True,
            sop_instance_uid=uid,
            sop_class_uid=info.sop_class_uid,
            transfer_syntax_uid=syntax,
            path="/x.dcm",
            size=1,
            source_ae_title="SCU",
        )
        got = walked_entry(data, walk, info, "/x.dcm", 1, memo=memo, partial=True)
        assert got is not None and expected is not None, values
        assert isinstance(got.columns, WalkColumns)
        # (Made without the class's call: every slot set.)
        assert all(hasattr(got.columns, name) for name in WalkColumns.__slots__)
        image = dict(zip(LEVEL_COLUMNS["IMAGE"], got.columns.image, strict=False))
        for name, value in image.items():
            if name == "sop_class" and not expected.columns[name]:
                assert value == info.sop_class_uid
            else:
                assert value == expected.columns[name], (values, name)
        assert same(got, expected), values
    # An instance number or own UID not plain ASCII: the entry the slow way (or none).
    ds = _base()
    data, walk, info = _later(ds, syntax, "1.2.3.4.99")
    for tag in (0x00200013, 0x00080018):
        odd = walk._replace(values={**walk.values, tag: b"\xe9\x1b"})
        got = walked_entry(data, odd, info, "/x.dcm", 1, memo=memo, partial=True)
        assert got is None or not isinstance(got.columns, WalkColumns)


def test_later_instances_share_their_series_values_and_keep_their_own() -> None:
    # The WalkColumns of later instances of a memo series share one dict of the series'
    # decoded values: what one instance decodes of its own stays its own.
    memo = _memo_of(_set(_base(), PatientName="Doe^Jane"), EXPLICIT)
    entries = []
    for n in (3, 4):
        data, walk, info = _later(_set(_base(), InstanceNumber=str(n)), EXPLICIT, f"1.2.9.{n}")
        entry = walked_entry(data, walk, info, "/x.dcm", 1, memo=memo, partial=True)
        assert entry is not None
        entries.append(entry)
    one, two = (entry.columns for entry in entries)
    assert isinstance(one, WalkColumns) and isinstance(two, WalkColumns)
    # Each asked in turn, its own values first (decoded on use), then the series'.
    assert (one["instance_number"], one["sop_uid"], one.get("patient_name")) == (
        "3",
        "1.2.9.3",
        "Doe^Jane",
    )
    assert (two["instance_number"], two["sop_uid"], two["patient_name"]) == (
        "4",
        "1.2.9.4",
        "Doe^Jane",
    )
    assert two.row(["sop_uid", "instance_number", "patient_name_fold"]) == [
        "1.2.9.4",
        "4",
        "doe^jane",
    ]
    assert dict(one)["instance_number"] == "3" and dict(two)["sop_uid"] == "1.2.9.4"
