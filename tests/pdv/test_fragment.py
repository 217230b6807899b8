"""fragment_message: wire layout, limits, packing, laziness, and round trips."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.codec import decode_pdu, encode_pdata_segments
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.pdus import PDV, PDataTF
from dicomnet_pdu.pdv import UNLIMITED_PDU_LENGTH, Reassembler, fragment_message

Segment = bytes | memoryview


def parse_pdata(wire: bytes) -> tuple[int, list[tuple[int, int, bytes]]]:
    """Test-local P-DATA-TF parser: (PDU-length field, [(context, control, payload)])."""
    pdu_type, reserved, length = struct.unpack_from(">BBI", wire)
    assert pdu_type == 0x04
    assert reserved == 0
    assert length == len(wire) - 6
    pdvs = []
    pos = 6
    while pos < len(wire):
        item_length, context_id, control = struct.unpack_from(">IBB", wire, pos)
        assert item_length >= 2
        assert control & ~0x03 == 0
        end = pos + 4 + item_length
        assert end <= len(wire)
        pdvs.append((context_id, control, wire[pos + 6 : end]))
        pos = end
    return length, pdvs


def to_pdata(wire: bytes) -> PDataTF:
    _, pdvs = parse_pdata(wire)
    return PDataTF(
        pdvs=tuple(
            PDV(
                context_id=context_id,
                is_command=bool(control & 1),
                is_last=bool(control & 2),
                data=memoryview(payload),
            )
            for context_id, control, payload in pdvs
        )
    )


def wire_pdus(pdus: Iterator[list[Segment]]) -> list[bytes]:
    return [b"".join(segments) for segments in pdus]


# ----------------------------------------------------------------------- exact layout


def test_fragmented_message_byte_layout() -> None:
    command = b"0123456789"
    dataset = b"abcdefghi"
    wire = wire_pdus(fragment_message(3, command, dataset, max_pdu_length=12))
    assert wire == [
        bytes.fromhex("04 00 0000000c 00000008 03 01") + b"012345",
        bytes.fromhex("04 00 0000000a 00000006 03 03") + b"6789",
        bytes.fromhex("04 00 0000000c 00000008 03 00") + b"abcdef",
        bytes.fromhex("04 00 00000009 00000005 03 02") + b"ghi",
    ]


def test_packed_message_byte_layout() -> None:
    wire = wire_pdus(
        fragment_message(1, b"CMD!", b"DATA5", max_pdu_length=30, pack_command_and_data=True)
    )
    assert wire == [
        bytes.fromhex("04 00 00000015 00000006 01 03")
        + b"CMD!"
        + bytes.fromhex("00000007 01 02")
        + b"DATA5"
    ]


def test_packing_continues_data_in_the_command_pdu_when_room_is_left() -> None:
    # 20 bytes of PDU payload: command PDV takes 6+4, data PDV gets 6+4, then 6+14 per PDU.
    wire = wire_pdus(
        fragment_message(
            5, b"CMD!", bytes(range(20)), max_pdu_length=20, pack_command_and_data=True
        )
    )
    assert wire == [
        bytes.fromhex("04 00 00000014 00000006 05 03")
        + b"CMD!"
        + bytes.fromhex("00000006 05 00")
        + bytes(range(4)),
        bytes.fromhex("04 00 00000014 00000010 05 00") + bytes(range(4, 18)),
        bytes.fromhex("04 00 00000008 00000004 05 02") + bytes(range(18, 20)),
    ]


def test_no_dataset_sends_only_the_command() -> None:
    wire = wire_pdus(fragment_message(1, b"\x01\x02", None, max_pdu_length=16384))
    assert wire == [bytes.fromhex("04 00 00000008 00000004 01 03 0102")]


@pytest.mark.parametrize("empty", [b"", [], [b"", b""], iter(())])
def test_empty_dataset_is_one_last_fragment_of_length_zero(empty: object) -> None:
    wire = wire_pdus(fragment_message(1, b"CC", empty, max_pdu_length=16384))  # type: ignore[arg-type]
    assert wire == [
        bytes.fromhex("04 00 00000008 00000004 01 03") + b"CC",
        bytes.fromhex("04 00 00000006 00000002 01 02"),
    ]


def test_chunks_share_one_pdv_as_separate_slices() -> None:
    chunks = [b"ab", b"cd", b"ef"]
    pdus = list(fragment_message(1, b"C", chunks, max_pdu_length=100))
    data_pdu = pdus[1]
    assert data_pdu[0] == bytes.fromhex("04 00 0000000c")
    assert data_pdu[1] == bytes.fromhex("00000008 01 02")
    assert [bytes(s) for s in data_pdu[2:]] == chunks


def test_payloads_are_views_of_the_callers_buffers() -> None:
    command = bytearray(b"C" * 40)
    dataset = bytearray(b"D" * 100)
    pdus = list(fragment_message(1, command, dataset, max_pdu_length=30))
    payloads = [seg for pdu in pdus for seg in pdu[2::2]]
    assert payloads
    for seg in payloads:
        assert isinstance(seg, memoryview)
        assert seg.obj is command or seg.obj is dataset
    dataset[0:1] = b"X"  # same length, so the views stay valid
    assert bytes(pdus[2][2])[0:1] == b"X"


def test_unlimited_length_still_cuts_large_datasets() -> None:
    dataset = bytes(UNLIMITED_PDU_LENGTH * 2 + 10)
    wire = wire_pdus(fragment_message(1, b"C", dataset, max_pdu_length=0))
    lengths = [parse_pdata(w)[0] for w in wire]
    assert max(lengths) == UNLIMITED_PDU_LENGTH
    assert len(wire) == 1 + 3


def test_multibyte_format_memoryview_is_sent_as_bytes() -> None:
    words = memoryview(bytearray(8)).cast("H")
    wire = wire_pdus(fragment_message(1, b"C", words, max_pdu_length=100))
    assert parse_pdata(wire[1])[1] == [(1, 0x02, bytes(8))]


@pytest.mark.parametrize(
    ("context_id", "max_pdu_length", "max_pdvs"),
    [(1, 6, 0), (1, -1, 0), (1, 100, -1), (2, 100, 0), (0, 100, 0), (257, 100, 0)],
)
def test_invalid_arguments_are_refused_at_call_time(
    context_id: int, max_pdu_length: int, max_pdvs: int
) -> None:
    with pytest.raises(LocalProtocolError):
        fragment_message(
            context_id, b"C", b"D", max_pdu_length=max_pdu_length, max_pdvs_per_pdu=max_pdvs
        )


def test_smallest_pdu_length_carries_one_byte_per_pdv() -> None:
    wire = wire_pdus(fragment_message(1, b"ab", b"c", max_pdu_length=7))
    assert [parse_pdata(w)[1] for w in wire] == [
        [(1, 0x01, b"a")],
        [(1, 0x03, b"b")],
        [(1, 0x02, b"c")],
    ]


def test_max_pdvs_per_pdu_one_disables_packing() -> None:
    wire = wire_pdus(
        fragment_message(
            1, b"C", b"D", max_pdu_length=100, pack_command_and_data=True, max_pdvs_per_pdu=1
        )
    )
    assert len(wire) == 2


# ----------------------------------------------------------------------- laziness


def test_dataset_iterable_is_consumed_lazily() -> None:
    pulled = 0

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b"x" * 100

    pdus = fragment_message(1, b"C" * 10, chunks(), max_pdu_length=256)
    next(pdus)  # the command PDU needs no data
    assert pulled == 0
    first = next(pdus)  # 250 bytes of data: three chunks
    assert parse_pdata(b"".join(first))[0] == 256
    assert pulled == 3
    next(pdus)  # 500 bytes in: five chunks plus one look-ahead at the boundary
    assert pulled == 6
    rest = list(pdus)
    assert pulled == 100
    assert parse_pdata(b"".join(rest[-1]))[1][-1][1] == 0x02


def test_last_flag_needs_only_one_chunk_of_look_ahead() -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(3):
            pulled.append(i)
            yield b"y" * 10

    pdus = fragment_message(1, b"C", chunks(), max_pdu_length=16)
    next(pdus)
    assert parse_pdata(b"".join(next(pdus)))[1] == [(1, 0x00, b"y" * 10)]
    assert pulled == [0, 1]
    assert parse_pdata(b"".join(next(pdus)))[1] == [(1, 0x00, b"y" * 10)]
    assert parse_pdata(b"".join(next(pdus)))[1] == [(1, 0x02, b"y" * 10)]
    assert pulled == [0, 1, 2]
    assert next(pdus, None) is None


# ----------------------------------------------------------------------- properties

dataset_strategy = st.one_of(
    st.none(),
    st.binary(max_size=3000),
    st.lists(st.binary(max_size=300), max_size=20),
)
max_length_strategy = st.one_of(
    st.just(0), st.integers(7, 100), st.integers(100, 5000), st.just(16384)
)


@settings(max_examples=300, deadline=None)
@given(
    context_id=st.integers(0, 127).map(lambda n: 2 * n + 1),
    command=st.binary(min_size=1, max_size=400),
    dataset=dataset_strategy,
    max_pdu_length=max_length_strategy,
    pack=st.booleans(),
    max_pdvs=st.integers(0, 3),
    as_generator=st.booleans(),
)
def test_fragmentation_properties(
    *,
    context_id: int,
    command: bytes,
    dataset: bytes | list[bytes] | None,
    max_pdu_length: int,
    pack: bool,
    max_pdvs: int,
    as_generator: bool,
) -> None:
    source = (c for c in dataset) if as_generator and isinstance(dataset, list) else dataset
    limit = max_pdu_length or UNLIMITED_PDU_LENGTH
    wire = wire_pdus(
        fragment_message(
            context_id,
            command,
            source,
            max_pdu_length=max_pdu_length,
            pack_command_and_data=pack,
            max_pdvs_per_pdu=max_pdvs,
        )
    )
    expected_data = dataset if dataset is None or isinstance(dataset, bytes) else b"".join(dataset)

    commands: list[tuple[int, bytes]] = []
    data: list[tuple[int, bytes]] = []
    for pdu in wire:
        length, pdvs = parse_pdata(pdu)
        assert 0 < length <= limit
        assert pdvs
        if max_pdvs:
            assert len(pdvs) <= max_pdvs
        if not pack or max_pdvs == 1:
            assert len(pdvs) == 1
        else:
            assert len(pdvs) <= 2
        for ctx, control, payload in pdvs:
            assert ctx == context_id
            (commands if control & 1 else data).append((control, payload))
        # a PDU is cut short only where its last PDV ends a stream
        if not pdvs[-1][1] & 2:
            assert length == limit
    # all command fragments come before any data fragment
    kinds = [c & 1 for pdu in wire for _, c, _ in parse_pdata(pdu)[1]]
    assert kinds == sorted(kinds, reverse=True)

    assert b"".join(p for _, p in commands) == command
    assert [c & 2 for c, _ in commands] == [0] * (len(commands) - 1) + [2]
    if expected_data is None:
        assert data == []
    else:
        assert b"".join(p for _, p in data) == expected_data
        assert [c & 2 for c, _ in data] == [0] * (len(data) - 1) + [2]
        assert all(p for _, p in data) or len(data) == 1

    decoded = [decode_pdu(pdu) for pdu in wire]
    assert all(isinstance(d, PDataTF) for d in decoded)
    pdatas = [d for d in decoded if isinstance(d, PDataTF)]
    assert pdatas == [to_pdata(pdu) for pdu in wire]
    assert [b"".join(encode_pdata_segments(d)) for d in pdatas] == wire

    reassembler = Reassembler()
    fragments = [f for pdu in pdatas for f in reassembler.feed(pdu)]
    assert fragments[0].is_command
    assert fragments[0].is_last
    assert fragments[0].context_id == context_id
    assert fragments[0].data == command
    rest = fragments[1:]
    assert all(not f.is_command and f.context_id == context_id for f in rest)
    if expected_data is None:
        assert rest == []
    else:
        assert b"".join(bytes(f.data) for f in rest) == expected_data
        assert [f.is_last for f in rest] == [False] * (len(rest) - 1) + [True]
    assert not reassembler.in_message
