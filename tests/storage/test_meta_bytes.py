"""The in-memory File Meta reader gives what the file-object reader gives, for any bytes."""

from __future__ import annotations

import io
import os
import struct
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.storage.source import FileMeta, parse_file_meta, parse_file_meta_bytes

PREFIX = b"\0" * 128 + b"DICM"
CT = b"1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = b"1.2.840.10008.1.2.1"


def element(number: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"UN", b"UT"):
        return struct.pack("<HH2s2xI", 2, number, vr, len(value)) + value
    if vr == b"??":  # written as Implicit VR: a 4-byte length after the tag
        return struct.pack("<HHI", 2, number, len(value)) + value
    return struct.pack("<HH2sH", 2, number, vr, len(value)) + value


def meta_group(elements: list[bytes], group_length: int | None) -> bytes:
    body = b"".join(elements)
    head = b"" if group_length is None else element(0, b"UL", struct.pack("<I", group_length))
    return head + body


def same(data: bytes) -> FileMeta | None:
    fast = parse_file_meta_bytes(data)
    assert fast == parse_file_meta(io.BytesIO(data))
    return fast


def test_a_valid_file_meta_group() -> None:
    elements = [
        element(1, b"OB", b"\0\1"),
        element(2, b"UI", CT + b"\0"),
        element(3, b"UI", b"1.2.3.4"),
        element(0x10, b"UI", EXPLICIT_LE + b"\0"),
    ]
    group = meta_group(elements, sum(map(len, elements)))
    data = PREFIX + group + struct.pack("<HH2sH", 8, 0x16, b"UI", 2) + b"12"
    meta = same(data)
    assert meta == FileMeta(
        sop_class_uid=CT.decode(),
        sop_instance_uid="1.2.3.4",
        transfer_syntax_uid=EXPLICIT_LE.decode(),
        dataset_offset=len(PREFIX) + len(group),
    )


_vrs = st.sampled_from([b"OB", b"UN", b"UT", b"UI", b"SH", b"UL", b"??"])
_values = st.binary(max_size=40) | st.sampled_from([CT, EXPLICIT_LE, b"1.2.3\0", b" \0"])
_extras = st.lists(
    st.builds(element, st.sampled_from([1, 2, 3, 0x10, 0x12, 0x13, 0x100]), _vrs, _values),
    max_size=4,
)
_uid_vrs = st.sampled_from([b"UI", b"UN", b"??"])


@st.composite
def meta_groups(draw: st.DrawFn) -> bytes:
    """A meta group that is mostly valid: the three UIDs present, extras around them."""
    elements = [
        element(2, draw(_uid_vrs), CT + b"\0"),
        element(3, draw(_uid_vrs), b"1.2.3.4"),
        element(0x10, draw(_uid_vrs), EXPLICIT_LE + b"\0"),
        *draw(_extras),
    ]
    elements = draw(st.permutations(elements))
    exact = sum(map(len, elements))
    group_length = draw(st.sampled_from([exact, None]) | st.integers(0, exact + 40))
    return meta_group(list(elements), group_length)


@settings(max_examples=500, deadline=None)
@given(
    group=meta_groups(),
    after=st.binary(max_size=24),
    cut=st.none() | st.integers(0, 600),
    flips=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), max_size=3),
    prefix=st.sampled_from([PREFIX, PREFIX, b"\0" * 128 + b"DICN", b"DICM", b""]),
)
def test_random_and_damaged_meta_groups(
    group: bytes,
    after: bytes,
    cut: int | None,
    flips: list[tuple[int, int]],
    prefix: bytes,
) -> None:
    data = bytearray(prefix + group + after)
    for position, value in flips:
        if position < len(data):
            data[position] = value
    if cut is not None:
        del data[cut:]
    same(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_the_prefix(tail: bytes) -> None:
    same(PREFIX + tail)


def test_every_cut_of_a_valid_file() -> None:
    elements = [
        element(1, b"OB", b"\0\1"),
        element(2, b"UI", CT + b"\0"),
        element(3, b"UN", b"1.2.3.4"),
        element(0x10, b"??", EXPLICIT_LE + b"\0"),
        element(0x13, b"SH", b"NAME"),
    ]
    whole = PREFIX + meta_group(elements, sum(map(len, elements))) + b"\x08\x00\x16\x00UI"
    found = [same(whole[:cut]) for cut in range(len(whole) + 1)]
    assert found[-1] is not None
    assert found[len(whole) - 60] is None


@settings(max_examples=200, deadline=None)
@given(
    padding=st.integers(0, 5000),
    group_length=st.booleans(),
    tail=st.integers(0, 20),
)
def test_a_large_files_head_read_gives_what_the_stream_reader_gives(
    padding: int, group_length: bool, tail: int
) -> None:
    # A meta group of any length (a long private value puts its end before, at or past
    # the first read's end) and a data set of ``tail`` bytes after it.
    from dicomnet.storage.source import _meta_from_head

    elements = [
        element(2, b"UI", CT + b"\0"),
        element(3, b"UI", b"1.2.3.4"),
        element(0x10, b"UI", EXPLICIT_LE + b"\0"),
        element(0x100, b"OB", b"\1" * padding),
    ]
    body = sum(map(len, elements))
    group = meta_group(elements, body if group_length else None)
    data = PREFIX + group + (struct.pack("<HH2sH", 8, 0x16, b"UI", 2) + b"12")[:tail]
    expected = parse_file_meta(io.BytesIO(data))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.dcm"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            # The first read of a file listed (4 KB) or sent (32 KB); the file's offset
            # is left after it, as from_path leaves it.
            for size in (4096, 32 * 1024):
                os.lseek(fd, 0, os.SEEK_SET)
                assert _meta_from_head(os.read(fd, size), fd) == expected
        finally:
            os.close(fd)
