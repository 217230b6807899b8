"""A data set that looks like one that passed the walk, header for header, passes it:
the shape cache never lets through what a full walk refuses."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from test_walker import SLOW, encoded_datasets

from dicomnet.dimse.dataset import dataset_walker
from dicomnet.dimse.walker import DatasetWalker, FramingError
from dicomnet.storage.shapes import MAX_SHAPES, CheckedShapes
from dicomnet.storage.source import InstanceSource, SourceError

CT = "1.2.840.10008.5.1.4.1.1.2"


def full_walk_passes(ts: str, data: bytes) -> bool:
    walker = dataset_walker(ts)
    try:
        walker.feed(data)
        walker.finish()
    except FramingError:
        return False
    return True


def recorded(ts: str, data: bytes) -> list[slice]:
    walker = dataset_walker(ts, record=True)
    walker.feed(data)
    walker.finish()
    assert isinstance(walker, DatasetWalker) and walker.headers is not None
    return walker.headers


def source(ts: str, data: bytes) -> InstanceSource:
    return InstanceSource.from_bytes(
        data, sop_class_uid=CT, sop_instance_uid="1.2.3", transfer_syntax_uid=ts
    )


def checked(ts: str, data: bytes, shapes: CheckedShapes) -> bool:
    try:
        source(ts, data).check(shapes=shapes)
    except SourceError:
        return False
    return True


@SLOW
@given(
    encoded_datasets(),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_a_damaged_look_alike_passes_only_if_a_full_walk_passes(
    case: tuple[str, Dataset, bytes], damage: list[tuple[int, int]]
) -> None:
    ts, _, data = case
    if not data or ts == "1.2.840.10008.1.2.1.99":  # deflated: never cached
        return
    shapes = CheckedShapes()
    assert checked(ts, data, shapes)
    damaged = bytearray(data)
    for where, value in damage:
        damaged[where % len(damaged)] = value
    other = bytes(damaged)
    if shapes.passed(ts, other):
        assert full_walk_passes(ts, other)
    assert checked(ts, other, shapes) == full_walk_passes(ts, other)


@SLOW
@given(encoded_datasets(), st.data())
def test_a_header_byte_changed_is_walked_again(
    case: tuple[str, Dataset, bytes], data: st.DataObject
) -> None:
    ts, _, encoded = case
    if not encoded or ts == "1.2.840.10008.1.2.1.99":
        return
    headers = recorded(ts, encoded)
    shapes = CheckedShapes()
    shapes.remember(ts, encoded, headers)
    assert shapes.passed(ts, encoded)
    if not headers:
        return
    where = data.draw(st.sampled_from(headers))
    at = data.draw(st.integers(where.start, where.stop - 1))
    damaged = bytearray(encoded)
    damaged[at] ^= data.draw(st.integers(1, 255))
    assert not shapes.passed(ts, bytes(damaged))


@SLOW
@given(encoded_datasets())
def test_recording_does_not_change_the_walk(case: tuple[str, Dataset, bytes]) -> None:
    ts, _, encoded = case
    plain = dataset_walker(ts)
    plain.feed(encoded)
    plain.finish()
    walker = dataset_walker(ts, record=True)
    walker.feed(encoded)
    walker.finish()
    if isinstance(walker, DatasetWalker):
        assert walker.headers is not None
        starts = [piece.start for piece in walker.headers]
        assert starts == sorted(set(starts))
        assert all(piece.stop - piece.start in (8, 12) for piece in walker.headers)


def test_values_may_differ_headers_and_length_may_not() -> None:
    ts = "1.2.840.10008.1.2.1"
    first = (
        b"\x08\x00\x18\x00UI\x06\x001.2.34"  # (0008,0018) SOP Instance UID
        b"\x10\x00\x10\x00PN\x04\x00ABCD"
        b"\xe0\x7f\x10\x00OW\x00\x00\x04\x00\x00\x00\x01\x02\x03\x04"
    )
    shapes = CheckedShapes()
    assert checked(ts, first, shapes)
    values_changed = first.replace(b"1.2.34", b"1.2.56").replace(b"ABCD", b"WXYZ")
    assert shapes.passed(ts, values_changed)
    assert not shapes.passed(ts, first + b"\0\0")
    # A length in a header changed: the same size overall, but no longer framed.
    bad_length = first.replace(b"PN\x04\x00", b"PN\x06\x00")
    assert not shapes.passed(ts, bad_length)
    assert not checked(ts, bad_length, shapes)
    assert not shapes.passed("1.2.840.10008.1.2", first)


def test_only_the_last_shapes_are_kept() -> None:
    ts = "1.2.840.10008.1.2.1"
    shapes = CheckedShapes()
    sets = [b"\x10\x00\x10\x00PN" + bytes([2 * n, 0]) + b"A" * 2 * n for n in range(MAX_SHAPES + 1)]
    for data in sets:
        assert checked(ts, data, shapes)
    assert not shapes.passed(ts, sets[0])
    assert all(shapes.passed(ts, data) for data in sets[1:])


def test_a_truncated_file_is_refused_after_a_whole_one(tmp_path: object) -> None:
    ts = "1.2.840.10008.1.2.1"
    whole = b"\x10\x00\x10\x00PN\x04\x00ABCD\xe0\x7f\x10\x00OW\x00\x00\x08\x00\x00\x00" + b"\1" * 8
    shapes = CheckedShapes()
    assert checked(ts, whole, shapes)
    with contextlib.suppress(SourceError):
        source(ts, whole[:-2]).check(shapes=shapes)
    assert not checked(ts, whole[:-2], shapes)


def test_a_source_listed_before_sending_uses_the_shapes_too(tmp_path: Path) -> None:
    ts = "1.2.840.10008.1.2.1"
    body = b"\x10\x00\x10\x00PN\x04\x00ABCD\xe0\x7f\x10\x00OW\x00\x00\x04\x00\x00\x00\1\2\3\4"
    meta = (
        b"\0" * 128
        + b"DICM"
        + b"".join(
            struct.pack("<HH2sH", 2, element, b"UI", len(value)) + value
            for element, value in ((2, b"1.2.3\0"), (3, b"1.2.4\0"), (0x10, ts.encode() + b"\0"))
        )
    )
    paths = []
    for n, value in enumerate((b"ABCD", b"WXYZ")):
        path = tmp_path / f"{n}.dcm"
        path.write_bytes(meta + body.replace(b"ABCD", value))
        paths.append(path)
    shapes = CheckedShapes()
    first, second = (InstanceSource.from_path(path) for path in paths)  # not read ahead
    first.check(shapes=shapes)
    assert shapes.passed(ts, body.replace(b"ABCD", b"WXYZ"))
    walked: list[bytes] = []
    real_feed = DatasetWalker.feed

    def spy(self: DatasetWalker, chunk: bytes) -> None:
        walked.append(bytes(chunk))
        real_feed(self, chunk)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatasetWalker, "feed", spy)
        second.check(shapes=shapes)
    assert walked == []  # passed by its shape, read once (and kept to be sent)
    assert second.take_whole() == body.replace(b"ABCD", b"WXYZ")
