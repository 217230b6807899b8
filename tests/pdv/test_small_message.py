"""A small message's two PDUs (command, data set) are those the general cutter makes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.pdv import fragment_message


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
