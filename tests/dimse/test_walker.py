"""The incremental data set walker: every well-framed data set passes in any pieces,
every cut that is not an element boundary is refused, junk never crashes it."""

from __future__ import annotations

import contextlib
import itertools
import string
import struct
import zlib
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence

from dicomnet.dimse import walker as walker_module
from dicomnet.dimse.dataset import dataset_walker, encode_dataset
from dicomnet.dimse.walker import DatasetWalker, FramingError, InflatingWalker, Walker

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE = "1.2.840.10008.1.2.5"
NATIVE = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE)
ALL_SYNTAXES = (*NATIVE, DEFLATED, JPEG_BASELINE, RLE)

TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ^", max_size=24)
EVEN_BYTES = st.binary(max_size=300).map(lambda b: b + b"\0" * (len(b) & 1))
SIMPLE = (
    (0x00080005, "CS", st.just("ISO_IR 100")),
    (0x00080020, "DA", st.sampled_from(["20240101", ""])),
    (0x00080060, "CS", st.sampled_from(["CT", "MR", ""])),
    (0x00100010, "PN", TEXT),
    (0x00100020, "LO", TEXT),
    (0x00181030, "LO", TEXT),
    (0x00200013, "IS", st.integers(0, 99999).map(str)),
    (0x00280010, "US", st.integers(0, 65535)),
    (0x00280030, "DS", st.sampled_from([["0.5", "0.5"], ["1", "2.25"]])),
    (0x00280009, "AT", st.sampled_from([0x00181063, 0x00181065])),
    (0x00189087, "FD", st.floats(allow_nan=False)),
    (0x00186020, "SL", st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4)),
    (0x00189219, "SS", st.integers(-(2**15), 2**15 - 1)),
    (0x00720068, "LT", TEXT),
    (0x00720078, "UL", st.integers(0, 2**32 - 1)),
    (0x00720082, "SV", st.integers(-(2**63), 2**63 - 1)),
    (0x0040A160, "UT", st.text(alphabet=string.ascii_letters, max_size=300)),
    (0x00080119, "UC", TEXT),
    (0x00080120, "UR", st.just("http://example.com/x")),
    (0x00282000, "OB", EVEN_BYTES),
    (0x00640009, "OF", st.binary(max_size=64).map(lambda b: b[: len(b) & ~3])),
    (0x00660023, "OW", EVEN_BYTES),
    (0x00660040, "OL", st.binary(max_size=64).map(lambda b: b[: len(b) & ~3])),
)
SEQUENCES = (0x00081032, 0x00089215, 0x00400275)


@st.composite
def datasets(draw: st.DrawFn, depth: int = 0, *, pixels: str = "none") -> Dataset:
    """Random data sets: simple elements, nested sequences of either length form,
    and at the top level native or encapsulated Pixel Data (``pixels``)."""
    ds = Dataset()
    for tag, vr, values in draw(st.lists(st.sampled_from(SIMPLE), unique=True, max_size=8)):
        ds.add_new(tag, vr, draw(values))
    if depth < 3:
        for tag in draw(st.lists(st.sampled_from(SEQUENCES), unique=True, max_size=2)):
            items = draw(st.lists(datasets(depth + 1), max_size=3))
            for item in items:
                item.is_undefined_length_sequence_item = draw(st.booleans())
            ds.add_new(tag, "SQ", Sequence(items))
            ds[tag].is_undefined_length = draw(st.booleans())
    if pixels == "native" and draw(st.booleans()):
        ds.add_new(0x7FE00010, draw(st.sampled_from(["OB", "OW"])), draw(EVEN_BYTES))
    elif pixels == "encapsulated" and draw(st.booleans()):
        frames = draw(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=3))
        ds.add_new(0x7FE00010, "OB", encapsulate(frames))
        ds["PixelData"].is_undefined_length = True
    return ds


def pixels_for(ts: str) -> str:
    return "encapsulated" if ts in (JPEG_BASELINE, RLE) else "native"


@st.composite
def encoded_datasets(draw: st.DrawFn) -> tuple[str, Dataset, bytes]:
    ts = draw(st.sampled_from(ALL_SYNTAXES))
    ds = draw(datasets(pixels=pixels_for(ts)))
    return ts, ds, encode_dataset(ds, ts)


def boundaries(ds: Dataset, ts: str) -> set[int]:
    """Offsets of the top-level element boundaries of ``ds`` encoded in ``ts``."""
    offsets = {0}
    total = 0
    for elem in ds:
        one = Dataset()
        one[elem.tag] = elem
        total += len(encode_dataset(one, ts))
        offsets.add(total)
    return offsets


def walk(ts: str, pieces: Iterable[bytes | bytearray | memoryview]) -> Walker:
    walker = dataset_walker(ts, capture=(0x00100010,))
    for piece in pieces:
        walker.feed(piece)
    walker.finish()
    return walker


def split(data: bytes, cuts: list[int]) -> list[bytes | bytearray | memoryview]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    kinds = (bytes, bytearray, memoryview)
    return [kinds[i % 3](data[a:b]) for i, (a, b) in enumerate(itertools.pairwise(points))]


SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(encoded_datasets(), st.lists(st.integers(0, 1 << 20), max_size=12))
def test_well_framed_data_set_passes_in_any_pieces(
    case: tuple[str, Dataset, bytes], cuts: list[int]
) -> None:
    ts, ds, data = case
    walker = walk(ts, split(data, cuts))
    if "PatientName" in ds:
        assert walker.captured[0x00100010] == ds["PatientName"].value.encode().ljust(
            len(walker.captured[0x00100010])
        )


@SLOW
@given(encoded_datasets(), st.data())
def test_a_cut_is_refused_unless_at_an_element_boundary(
    case: tuple[str, Dataset, bytes], data: st.DataObject
) -> None:
    ts, ds, full = case
    if ts == DEFLATED:
        # The deflate stream must be whole; only the padding NUL may go.
        body = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        body.decompress(full)
        needed = len(full) - len(body.unused_data)
        cut = data.draw(st.integers(0, needed - 1))
        with pytest.raises(FramingError):
            walk(ts, [full[:cut]])
        return
    allowed = boundaries(ds, ts)
    assert len(full) in allowed
    cuts = data.draw(st.lists(st.integers(0, len(full)), min_size=1, max_size=8))
    for cut in cuts:
        pieces = split(full[:cut], data.draw(st.lists(st.integers(0, cut), max_size=4)))
        if cut in allowed:
            walk(ts, pieces)
        else:
            with pytest.raises(FramingError):
                walk(ts, pieces)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ALL_SYNTAXES),
    st.binary(max_size=400),
    st.lists(st.integers(0, 400), max_size=6),
)
def test_junk_never_crashes(ts: str, junk: bytes, cuts: list[int]) -> None:
    try:
        walk(ts, split(junk, cuts))
    except FramingError as exc:
        assert exc.reason and exc.offset >= 0


@SLOW
@given(encoded_datasets(), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255))))
def test_damaged_data_set_never_crashes(
    case: tuple[str, Dataset, bytes], damage: list[tuple[int, int]]
) -> None:
    ts, _, data = case
    if not data:
        return
    damaged = bytearray(data)
    for where, value in damage:
        damaged[where % len(damaged)] = value
    with contextlib.suppress(FramingError):
        walk(ts, split(bytes(damaged), [where for where, _ in damage]))


# ---------------------------------------------------------------- hand-made cases


def element(tag: int, vr: bytes, value: bytes, *, length: int | None = None) -> bytes:
    """Explicit VR Little Endian element; ``length`` overrides the length field."""
    size = len(value) if length is None else length
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return head + b"\0\0" + struct.pack("<I", size) + value
    return head + struct.pack("<H", size) + value


def implicit(tag: int, value: bytes, *, length: int | None = None) -> bytes:
    size = len(value) if length is None else length
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, size) + value


def item(body: bytes, *, undefined: bool = False) -> bytes:
    if undefined:
        return struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + body + ITEM_END
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body


ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
UNDEFINED = 0xFFFFFFFF
HEAD = element(0x00080016, b"UI", b"1.2.840.10008.5.1.4.1.1.7\0")


def refused(ts: str, data: bytes) -> FramingError:
    with pytest.raises(FramingError) as info:
        walk(ts, [data[i : i + 5] for i in range(0, len(data), 5)])
    return info.value


def test_pixel_data_shorter_than_declared_is_refused() -> None:
    data = HEAD + element(0x7FE00010, b"OW", b"\1" * 5000, length=8192)
    error = refused(EXPLICIT_LE, data)
    assert error.reason == walker_module.TRUNCATED
    assert error.tag == 0x7FE00010 and error.offset == len(data)
    assert "3192 bytes" in str(error)


@pytest.mark.parametrize("ts", NATIVE)
def test_a_huge_declared_length_is_refused(ts: str) -> None:
    order = ">" if ts == EXPLICIT_BE else "<"
    if ts == IMPLICIT_LE:
        data = implicit(0x00100010, b"AB", length=0xFFFFFFF0)
    else:
        data = struct.pack(f"{order}HH2sHI", 0x0010, 0x0010, b"UT", 0, 0xFFFFFFF0) + b"AB"
    assert refused(ts, data).reason == walker_module.TRUNCATED


def test_header_cut_short_is_refused() -> None:
    error = refused(EXPLICIT_LE, HEAD + element(0x00100010, b"PN", b"AB")[:5])
    assert "header" in str(error)


def test_encapsulated_pixel_data_on_a_native_context_is_refused() -> None:
    pixels = element(0x7FE00010, b"OB", b"", length=UNDEFINED) + item(b"") + item(b"\xff\xd8")
    data = HEAD + pixels + SEQUENCE_END
    error = refused(EXPLICIT_LE, data)
    assert error.reason == walker_module.ENCAPSULATED_PIXELS and error.tag == 0x7FE00010
    walk(JPEG_BASELINE, [data])  # the same bytes on an encapsulated context are fine
    implicit_data = implicit(0x7FE00010, b"", length=UNDEFINED) + item(b"") + SEQUENCE_END
    assert refused(IMPLICIT_LE, implicit_data).reason == walker_module.ENCAPSULATED_PIXELS


def test_native_pixel_data_on_an_encapsulated_context_is_refused() -> None:
    data = HEAD + element(0x7FE00010, b"OW", b"\0" * 64)
    assert refused(JPEG_BASELINE, data).reason == walker_module.NATIVE_PIXELS
    walk(EXPLICIT_LE, [data])
    # A native icon inside a sequence is allowed on an encapsulated context.
    icon = element(0x00880200, b"SQ", item(element(0x7FE00010, b"OW", b"\0" * 16)))
    walk(JPEG_BASELINE, [HEAD + icon])


def test_unclosed_sequences_and_items_are_refused() -> None:
    sequence = element(0x00081032, b"SQ", b"", length=UNDEFINED)
    inner = element(0x00080100, b"SH", b"CODE")
    assert refused(EXPLICIT_LE, HEAD + sequence).reason == walker_module.TRUNCATED
    opened = HEAD + sequence + item(inner, undefined=True)[:-8]
    assert refused(EXPLICIT_LE, opened).reason == walker_module.TRUNCATED
    walk(EXPLICIT_LE, [HEAD + sequence + item(inner, undefined=True) + SEQUENCE_END])


def test_lengths_must_fit_their_item_and_sequence() -> None:
    inner = element(0x00080100, b"SH", b"CODE")
    # The item claims more than its sequence holds.
    bad_item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner) + 2) + inner
    data = HEAD + element(0x00081032, b"SQ", bad_item) + element(0x00100010, b"PN", b"AB")
    assert refused(EXPLICIT_LE, data).reason == walker_module.OVERRUN
    # An element claims more than its item holds.
    long_inner = element(0x00080100, b"SH", b"CODE", length=40) + b"\0" * 36
    data = HEAD + element(0x00081032, b"SQ", item(inner)[:8] + long_inner)
    assert refused(EXPLICIT_LE, data).reason == walker_module.OVERRUN


def test_order_vr_and_delimiters() -> None:
    name = element(0x00100010, b"PN", b"AB")
    assert refused(EXPLICIT_LE, name + HEAD).reason == walker_module.OUT_OF_ORDER
    assert refused(EXPLICIT_LE, HEAD + HEAD).reason == walker_module.OUT_OF_ORDER
    assert refused(EXPLICIT_LE, element(0x00100010, b"XX", b"AB")).reason == walker_module.BAD_VR
    assert refused(EXPLICIT_LE, HEAD + ITEM_END).reason == walker_module.STRUCTURE
    assert refused(EXPLICIT_LE, element(0x00280010, b"US", b"\1\2\3")).reason == (
        walker_module.BAD_LENGTH
    )
    undefined_text = element(0x0040A160, b"UT", b"", length=UNDEFINED)
    assert refused(EXPLICIT_LE, undefined_text).reason == walker_module.BAD_LENGTH


def test_undefined_length_un_holds_implicit_little_endian() -> None:
    inner = implicit(0x00080100, b"CODE")
    un = element(0x00091010, b"UN", b"", length=UNDEFINED) + item(inner) + SEQUENCE_END
    walk(EXPLICIT_LE, [HEAD + un])
    big_head = struct.pack(">HH2sH", 0x0008, 0x0016, b"UI", 2) + b"1\0"
    big_un = struct.pack(">HH2sHI", 0x0009, 0x1010, b"UN", 0, UNDEFINED)
    walk(EXPLICIT_BE, [big_head + big_un + item(inner) + SEQUENCE_END])


def test_nesting_is_bounded() -> None:
    body = b""
    for _ in range(walker_module.MAX_DEPTH + 2):
        body = element(0x00081032, b"SQ", item(body))
    assert refused(EXPLICIT_LE, body).reason == walker_module.TOO_DEEP


def test_a_large_value_is_skipped_without_looking_at_it() -> None:
    walker = DatasetWalker(implicit=False, little=True)
    walker.feed(HEAD + element(0x7FE00010, b"OB", b"", length=1 << 30))
    for _ in range(1 << 14):
        walker.feed(b"\xff" * (1 << 16))  # one chunk object, fed 16384 times
    assert walker.offset == len(HEAD) + 12 + (1 << 30)
    walker.finish()


def test_deflate_stream_must_be_whole_and_end_the_data_set() -> None:
    body = HEAD + element(0x00100010, b"PN", b"AB")
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    packed = packer.compress(body) + packer.flush()
    walk(DEFLATED, [packed, b"\0"])
    with pytest.raises(FramingError, match="truncated"):
        walk(DEFLATED, [packed[:-1]])
    with pytest.raises(FramingError, match="extra"):
        walk(DEFLATED, [packed + b"\0\0"])
    with pytest.raises(FramingError, match="deflate"):
        walk(DEFLATED, [b"\xff" * 40])
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    cut = packer.compress(body[:-1]) + packer.flush()
    assert refused(DEFLATED, cut).reason == walker_module.TRUNCATED


def test_deflate_bomb_is_inflated_piece_by_piece() -> None:
    # 64 MiB of one value, deflated to about 64 KiB: each zlib call yields at
    # most INFLATE_PIECE bytes, which the walker skips.
    value = 64 << 20
    body = HEAD + element(0x7FE00010, b"OB", b"", length=value)
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    packed = packer.compress(body)
    zeros = bytes(1 << 20)
    packed += b"".join(packer.compress(zeros) for _ in range(value >> 20)) + packer.flush()
    walker = dataset_walker(DEFLATED)
    assert isinstance(walker, InflatingWalker)
    walker.feed(packed)
    walker.finish()
    assert walker.walker.offset == len(body) + value


def test_errors_stick() -> None:
    walker = DatasetWalker(implicit=False, little=True)
    with pytest.raises(FramingError) as first:
        walker.feed(element(0x00100010, b"XX", b"AB"))
    with pytest.raises(FramingError) as again:
        walker.feed(HEAD)
    assert again.value is first.value
    with pytest.raises(FramingError):
        walker.finish()


def test_a_memoryview_of_wider_items_counts_bytes() -> None:
    walker = DatasetWalker(implicit=False, little=True)
    walker.feed(HEAD + element(0x7FE00010, b"OW", b"", length=8))
    walker.feed(memoryview(b"\1\2\3\4\5\6\7\x08").cast("H"))  # 4 items, 8 bytes
    walker.finish()
    assert walker.offset == len(HEAD) + 12 + 8
