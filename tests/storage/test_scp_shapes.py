"""The Storage SCP's check of a whole data set that looks like one that passed.

A data set that arrived whole (one fragment) and has the shape of one that passed
the check (same syntax, length, and bytes at every header) is not walked: its
captured values are cut from where the walk of that one found them. The answer
(status, captured values, what the sink is told of the header) must be the one a
full walk gives, whatever the look-alike's values or damage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from dimse.test_walker import SLOW, encoded_datasets
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomnet.dimse.walker import DatasetWalker, FramingError
from dicomnet.services.dataset_check import DatasetCheck, capture_set
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.shapes import MAX_SHAPES, WalkedShapes
from dicomnet.storage.sinks import InstanceInfo, WalkedHeader
from storage.test_scp_support import (
    CT_IMAGE_STORAGE,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    encoded,
    make_dataset,
    part10_dataset_bytes,
    store_request,
)

DEFLATED = "1.2.840.10008.1.2.1.99"
#: SOP UIDs, Patient ID and Name, Rows (the index and the coercion capture such tags).
CAPTURE = capture_set(capture=(0x00100020, 0x00100010, 0x00280010))


def info(ts: str, uid: str = "1.2.3", sop_class: str = CT_IMAGE_STORAGE) -> InstanceInfo:
    return InstanceInfo(sop_class_uid=sop_class, sop_instance_uid=uid, transfer_syntax_uid=ts)


def walked_in_full(data: bytes, ts: str, uid: str) -> tuple[int | None, WalkedHeader | None]:
    check = DatasetCheck(info(ts, uid), capture=CAPTURE)
    failure = check.feed(data) or check.finish()
    if failure is not None:
        return failure.status, None
    return None, check.walked()


def checked_whole(
    data: bytes, ts: str, uid: str, shapes: WalkedShapes
) -> tuple[int | None, WalkedHeader | None]:
    check = DatasetCheck(info(ts, uid), capture=CAPTURE, shapes=shapes)
    failure = check.feed_whole(data) or check.finish()
    if failure is not None:
        return failure.status, None
    return None, check.walked()


def same(a: WalkedHeader | None, b: WalkedHeader | None) -> bool:
    if a is None or b is None:
        return a is b
    return (dict(a.values), a.uncaptured, a.pixel_offset, a.size) == (
        dict(b.values),
        b.uncaptured,
        b.pixel_offset,
        b.size,
    )


class CountingWalks:
    """Counts DatasetWalker.feed calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = DatasetWalker.feed

        def feed(walker: DatasetWalker, chunk: bytes | bytearray | memoryview) -> None:
            self.count += 1
            real(walker, chunk)

        monkeypatch.setattr(DatasetWalker, "feed", feed)


@SLOW
@given(
    encoded_datasets(),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(["1.2.3", "1.2.4"]),
)
def test_a_damaged_look_alike_gets_the_answer_of_a_full_walk(
    case: tuple[str, Dataset, bytes], damage: list[tuple[int, int]], uid: str
) -> None:
    ts, _, data = case
    if not data:
        return
    shapes = WalkedShapes()
    for _ in range(2):  # the second walk of a length is recorded
        assert checked_whole(data, ts, "1.2.3", shapes)[0] == walked_in_full(data, ts, "1.2.3")[0]
    damaged = bytearray(data)
    for where, value in damage:
        damaged[where % len(damaged)] = value
    other = bytes(damaged)
    status, header = checked_whole(other, ts, uid, shapes)
    full_status, full_header = walked_in_full(other, ts, uid)
    assert status == full_status
    assert same(header, full_header)


@pytest.mark.parametrize("ts", [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE])
def test_a_look_alike_is_not_walked_and_its_own_values_are_captured(
    ts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = encoded(make_dataset(sop_instance="1.2.3.4", pixels=512), ts)
    shapes = WalkedShapes()
    for _ in range(2):
        assert checked_whole(first, ts, "1.2.3.4", shapes) == walked_in_full(first, ts, "1.2.3.4")
    second = first.replace(b"1.2.3.4", b"1.2.3.5").replace(b"ID-1", b"ID-2")
    assert len(second) == len(first)
    walks = CountingWalks(monkeypatch)
    status, header = checked_whole(second, ts, "1.2.3.5", shapes)
    assert walks.count == 0
    assert status is None and header is not None
    assert header.values[0x00080018].rstrip(b"\0") == b"1.2.3.5"
    assert header.values[0x00100020].rstrip(b" ") == b"ID-2"
    assert header.size == len(second)
    # The command names another instance: A900, as the walk says, without a walk.
    assert checked_whole(second, ts, "1.2.3.4", shapes)[0] == 0xA900
    assert walks.count == 0
    # One header byte differs (Patient ID's length): walked, and refused like a walk does.
    bad = second.replace(b"LO\x04\x00ID-2", b"LO\x06\x00ID-2") if ts != IMPLICIT_LE else second
    if bad != second:
        assert checked_whole(bad, ts, "1.2.3.5", shapes)[0] == 0xC000
        assert walks.count == 1


def test_a_value_whose_place_is_not_certain_is_not_remembered() -> None:
    # A nested SOP Instance UID equal to the top-level one: which one was captured
    # cannot be told from the headers alone, so the shape is not kept.
    ds = make_dataset(sop_instance="1.2.3", pixels=64)
    item = Dataset()
    item.SOPInstanceUID = "1.2.3"
    ds.ReferencedImageSequence = Sequence([item])
    data = encoded(ds, EXPLICIT_LE)
    shapes = WalkedShapes()
    for _ in range(2):
        assert checked_whole(data, EXPLICIT_LE, "1.2.3", shapes)[0] is None
    assert shapes.walked(EXPLICIT_LE, data) is None
    # With another nested value the place is certain.
    item.SOPInstanceUID = "1.2.9"
    data = encoded(ds, EXPLICIT_LE)
    assert checked_whole(data, EXPLICIT_LE, "1.2.3", shapes)[0] is None
    seen = shapes.walked(EXPLICIT_LE, data)
    assert seen is not None and seen.values[0x00080018].rstrip(b"\0") == b"1.2.3"


def test_a_failed_data_set_is_not_remembered_and_deflated_is_always_walked() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64), EXPLICIT_LE)
    shapes = WalkedShapes()
    for _ in range(2):
        assert checked_whole(data, EXPLICIT_LE, "1.2.4", shapes)[0] == 0xA900
    assert shapes.walked(EXPLICIT_LE, data) is None
    deflated = encoded(make_dataset(sop_instance="1.2.3", pixels=64), DEFLATED)
    for _ in range(2):
        assert checked_whole(deflated, DEFLATED, "1.2.3", shapes)[0] is None
    assert shapes.walked(DEFLATED, deflated) is None


def test_only_the_last_shapes_are_kept() -> None:
    shapes = WalkedShapes()
    ds = make_dataset(sop_instance="1.2.3")
    sets = []
    for n in range(MAX_SHAPES + 1):
        ds.PixelData = bytes(2 * n + 2)
        sets.append(encoded(ds, EXPLICIT_LE))
    for data in sets:
        for _ in range(2):
            assert checked_whole(data, EXPLICIT_LE, "1.2.3", shapes)[0] is None
    assert shapes.walked(EXPLICIT_LE, sets[0]) is None
    assert all(shapes.walked(EXPLICIT_LE, data) is not None for data in sets[1:])


async def store_whole(service: StorageService, data: bytes, uid: str) -> int:
    request = store_request(CT_IMAGE_STORAGE, uid, EXPLICIT_LE)
    assert request.data is not None
    request.data.feed(data)  # all of it before the handler starts, as for a small instance
    request.data.finish()
    return (await service.handle(request)).status


async def test_the_scp_stores_look_alikes_unwalked_and_refuses_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path, fsync=False)
    service = StorageService(store)
    first = encoded(make_dataset(sop_instance="1.2.3.10"), EXPLICIT_LE)
    assert await store_whole(service, first, "1.2.3.10") == 0
    assert await store_whole(service, first.replace(b"1.2.3.10", b"1.2.3.19"), "1.2.3.19") == 0
    walks = CountingWalks(monkeypatch)
    second = first.replace(b"1.2.3.10", b"1.2.3.11")
    assert await store_whole(service, second, "1.2.3.11") == 0
    assert walks.count == 0
    stored = (tmp_path / "1.2.3.11.dcm").read_bytes()
    assert part10_dataset_bytes(stored) == second
    # The data set names another instance than the command: A900, nothing kept.
    third = first.replace(b"1.2.3.10", b"1.2.3.12")
    assert await store_whole(service, third, "1.2.3.13") == 0xA900
    assert walks.count == 0
    assert not (tmp_path / "1.2.3.13.dcm").exists()
    # Cut short by a byte: another length, so walked, and refused.
    short = second[:-1].replace(b"1.2.3.11", b"1.2.3.14")
    assert await store_whole(service, short, "1.2.3.14") == 0xC000
    assert walks.count == 1
    assert sorted(p.name for p in tmp_path.glob("*.dcm")) == [
        "1.2.3.10.dcm",
        "1.2.3.11.dcm",
        "1.2.3.19.dcm",
    ]


# ------------------------------------------------- the first fragment of a longer data set


def checked_in_pieces(
    pieces: list[bytes], ts: str, uid: str, shapes: WalkedShapes | None
) -> tuple[int | None, WalkedHeader | None]:
    check = DatasetCheck(info(ts, uid), capture=CAPTURE, shapes=shapes)
    failure = None
    for piece in pieces:
        if not check.skip(len(piece)):
            failure = check.feed(piece)
        if failure is not None:
            return failure.status, None
    failure = check.finish()
    if failure is not None:
        return failure.status, None
    return None, check.walked()


@SLOW
@given(
    encoded_datasets(),
    st.integers(1, 1 << 16),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
    st.sampled_from(["1.2.3", "1.2.4"]),
)
def test_a_damaged_look_alike_in_pieces_gets_the_answer_of_a_full_walk(
    case: tuple[str, Dataset, bytes], cut: int, damage: list[tuple[int, int]], uid: str
) -> None:
    ts, _, data = case
    if len(data) < 2:
        return
    cut = 1 + cut % (len(data) - 1)
    shapes = WalkedShapes()
    checked_in_pieces([data[:cut], data[cut:]], ts, "1.2.3", shapes)
    primed = checked_in_pieces([data[:cut], data[cut:]], ts, "1.2.3", shapes)
    assert primed == checked_in_pieces([data[:cut], data[cut:]], ts, "1.2.3", None)
    damaged = bytearray(data)
    for where, value in damage:
        damaged[where % len(damaged)] = value
    other = bytes(damaged)
    for pieces in ([other[:cut], other[cut:]], [other[:cut], other[cut:-1]]):
        status, header = checked_in_pieces(pieces, ts, uid, shapes)
        full_status, full_header = checked_in_pieces(pieces, ts, uid, None)
        assert status == full_status
        assert same(header, full_header)


@pytest.mark.parametrize("ts", [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE])
def test_a_slice_whose_first_fragment_looks_alike_is_walked_on_from_there(
    ts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = encoded(make_dataset(sop_instance="1.2.3.4", pixels=64 * 1024), ts)
    cut = len(first) - 60 * 1024  # the header and some Pixel Data
    pieces = [first[:cut], first[cut : cut + 30 * 1024], first[cut + 30 * 1024 :]]
    shapes = WalkedShapes()
    for _ in range(2):
        assert checked_in_pieces(pieces, ts, "1.2.3.4", shapes) == walked_in_full(
            first, ts, "1.2.3.4"
        )
    second = first.replace(b"1.2.3.4", b"1.2.3.5").replace(b"ID-1", b"ID-2")
    expected = walked_in_full(second, ts, "1.2.3.5")[1]
    walks = 0
    real = DatasetWalker._walk

    def counting(walker: DatasetWalker, view: memoryview) -> None:
        nonlocal walks
        walks += 1
        real(walker, view)

    monkeypatch.setattr(DatasetWalker, "_walk", counting)
    pieces = [second[:cut], second[cut : cut + 30 * 1024], second[cut + 30 * 1024 :]]
    status, header = checked_in_pieces(pieces, ts, "1.2.3.5", shapes)
    assert walks == 0
    assert status is None and header is not None
    assert header.values[0x00080018].rstrip(b"\0") == b"1.2.3.5"
    assert header.values[0x00100020].rstrip(b" ") == b"ID-2"
    assert same(header, expected)
    # Another instance than the command's: A900 at the first fragment.
    assert checked_in_pieces(pieces, ts, "1.2.3.4", shapes)[0] == 0xA900
    # Cut short, or longer than its Pixel Data: refused as the walk refuses it.
    assert checked_in_pieces([*pieces[:2], pieces[2][:-2]], ts, "1.2.3.5", shapes)[0] == 0xC000
    assert checked_in_pieces([*pieces, b"\0" * 4], ts, "1.2.3.5", shapes)[0] == 0xC000
    assert walks == 1  # (the bytes past the Pixel Data were walked)


async def test_the_scp_walks_on_from_a_look_alike_first_fragment(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, fsync=False)
    service = StorageService(store)
    first = encoded(make_dataset(sop_instance="1.2.3.10", pixels=64 * 1024), EXPLICIT_LE)
    cut = len(first) - 60 * 1024

    async def store_in_pieces(data: bytes, uid: str) -> int:
        request = store_request(CT_IMAGE_STORAGE, uid, EXPLICIT_LE)
        stream = request.data
        assert stream is not None
        stream.feed(data[:cut])
        handled = asyncio.ensure_future(service.handle(request))
        await asyncio.sleep(0)
        stream.feed(data[cut:])
        stream.finish()
        return (await handled).status

    assert await store_in_pieces(first, "1.2.3.10") == 0
    assert await store_in_pieces(first.replace(b"1.2.3.10", b"1.2.3.19"), "1.2.3.19") == 0
    second = first.replace(b"1.2.3.10", b"1.2.3.11")
    assert await store_in_pieces(second, "1.2.3.11") == 0
    assert part10_dataset_bytes((tmp_path / "1.2.3.11.dcm").read_bytes()) == second
    assert await store_in_pieces(first.replace(b"1.2.3.10", b"1.2.3.12"), "1.2.3.13") == 0xA900
    assert await store_in_pieces(second[:-2].replace(b"1.2.3.11", b"1.2.3.14"), "1.2.3.14") == (
        0xC000
    )
    assert sorted(p.name for p in tmp_path.glob("*.dcm")) == [
        "1.2.3.10.dcm",
        "1.2.3.11.dcm",
        "1.2.3.19.dcm",
    ]


def test_only_a_length_seen_before_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stream of data sets that are all unlike pays nothing for the memo.
    shapes = WalkedShapes()
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=64), EXPLICIT_LE)
    recorded: list[bool] = []
    real = DatasetWalker.__init__

    def spy(walker: DatasetWalker, **kwargs: object) -> None:
        recorded.append(bool(kwargs.get("record")))
        real(walker, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DatasetWalker, "__init__", spy)
    assert checked_whole(data, EXPLICIT_LE, "1.2.3", shapes)[0] is None
    assert shapes.walked(EXPLICIT_LE, data) is None
    assert checked_whole(data + b"\x10\x00\x10\x00PN\x00\x00", EXPLICIT_LE, "1.2.3", shapes)[0]
    assert recorded == [False, False]
    assert checked_whole(data, EXPLICIT_LE, "1.2.3", shapes)[0] is None
    assert recorded == [False, False, True]
    assert shapes.walked(EXPLICIT_LE, data) is not None


def test_a_walker_copy_walks_on_alone() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=4096), EXPLICIT_LE)
    # Cut inside a sequence-free header run: both go on from the same state.
    cut = len(data) - 4096 - 200
    walker = DatasetWalker(implicit=False, little=True, capture=CAPTURE)
    walker.feed(data[:cut])
    assert walker.at_rest
    twin = walker.copy()
    twin.feed(data[cut:])
    twin.finish()
    assert twin.offset == len(data) and 0x00280010 in twin.captured
    # The original did not move: it is where the copy was made, and walks on the same way.
    assert walker.offset == cut and 0x00280010 not in walker.captured
    walker.feed(data[cut:])
    walker.finish()
    assert walker.captured == twin.captured
    # A copy refuses what the original would.
    other = walker.copy()
    with pytest.raises(FramingError):
        other.feed(b"\x10\x00\x10\x00PN\x02\x00AB")  # after Pixel Data: out of order
