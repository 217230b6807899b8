"""A small message's two PDUs (command, data set) are those the general cutter makes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.pdv import UNLIMITED_PDU_LENGTH, fragment_message, whole_message


def wire(pdus: object) -> list[bytes]:
    return [b"".join(bytes(s) for s in pdu) for pdu in pdus]  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(
    context_id=st.integers(0, 127).map(lambda n: 2 * n + 1),
    command=st.binary(min_size=1, max_size=300),
    dataset=st.binary(max_size=3000),
    max_pdu=st.sampled_from([0, 7, 8, 64, 200, 1000, 16384]),
    pack=st.booleans(),
)
def test_same_pdus_as_the_general_path(
    context_id: int, command: bytes, dataset: bytes, max_pdu: int, pack: bool
) -> None:
    fast = fragment_message(
        context_id, command, dataset, max_pdu_length=max_pdu, pack_command_and_data=pack
    )
    # An iterable of chunks always takes the general path.
    general = fragment_message(
        context_id, command, iter([dataset]), max_pdu_length=max_pdu, pack_command_and_data=pack
    )
    assert wire(fast) == wire(general)


def test_a_small_message_is_two_pdus() -> None:
    pdus = wire(fragment_message(3, b"\x01" * 10, b"\x02" * 100, max_pdu_length=16384))
    assert pdus == [
        b"\x04\x00\x00\x00\x00\x10" + b"\x00\x00\x00\x0c\x03\x03" + b"\x01" * 10,
        b"\x04\x00\x00\x00\x00\x6a" + b"\x00\x00\x00\x66\x03\x02" + b"\x02" * 100,
    ]


@settings(max_examples=200, deadline=None)
@given(
    command=st.binary(min_size=1, max_size=300),
    max_pdu=st.sampled_from([0, 7, 8, 64, 200, 16384]),
    pack=st.booleans(),
)
def test_a_command_alone_is_cut_as_the_general_path_cuts_it(
    command: bytes, max_pdu: int, pack: bool
) -> None:
    fast = fragment_message(5, command, None, max_pdu_length=max_pdu, pack_command_and_data=pack)
    # A memoryview command takes the general path.
    general = fragment_message(
        5, memoryview(command), None, max_pdu_length=max_pdu, pack_command_and_data=pack
    )
    assert wire(fast) == wire(general)


@settings(max_examples=300, deadline=None)
@given(
    context_id=st.integers(0, 256),
    command=st.binary(max_size=300),
    dataset=st.none() | st.binary(max_size=3000),
    max_pdu=st.sampled_from([0, 6, 7, 8, 64, 200, 1000, 16384]),
    pack=st.booleans(),
)
def test_a_whole_message_is_the_bytes_of_its_cut_pdus(
    context_id: int, command: bytes, dataset: bytes | None, max_pdu: int, pack: bool
) -> None:
    whole = whole_message(
        context_id, command, dataset, max_pdu_length=max_pdu, pack_command_and_data=pack
    )
    limit = (max_pdu or UNLIMITED_PDU_LENGTH) - 6
    small = (
        context_id & 1 == 1
        and context_id <= 255
        and 0 < len(command) <= limit
        and (dataset is None or (not pack and 0 < len(dataset) <= limit))
    )
    if not small:
        assert whole is None
        return
    assert whole is not None
    segments, size = whole
    cut = wire(
        fragment_message(
            context_id, command, dataset, max_pdu_length=max_pdu, pack_command_and_data=pack
        )
    )
    assert b"".join(segments) == b"".join(cut)
    assert size == sum(len(pdu) for pdu in cut)
    # The payloads go out as given, not copied.
    assert segments[1] is command
    assert dataset is None or segments[3] is dataset


def test_whole_message_takes_only_bytes() -> None:
    assert whole_message(1, b"\x01" * 10, memoryview(b"\x02" * 8), max_pdu_length=0) is None
    assert whole_message(1, b"\x01" * 10, [b"\x02" * 8], max_pdu_length=0) is None
    assert whole_message(1, bytearray(10), None, max_pdu_length=0) is None
