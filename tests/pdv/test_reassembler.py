"""Reassembler: command joining, data streaming, and the PS3.8 Annex E sequence checks."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.errors import LocalProtocolError, RemoteProtocolError
from dicomnet_pdu.pdus import PDV, PDataTF
from dicomnet_pdu.pdv import Fragment, Reassembler

UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER
INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE


def cmd(context_id: int, data: bytes | memoryview, *, last: bool = True) -> PDV:
    return PDV(context_id=context_id, is_command=True, is_last=last, data=data)


def dat(context_id: int, data: bytes | memoryview, *, last: bool = True) -> PDV:
    return PDV(context_id=context_id, is_command=False, is_last=last, data=data)


def pdata(*pdvs: PDV) -> PDataTF:
    return PDataTF(pdvs=pdvs)


def feed_all(reassembler: Reassembler, *pdus: PDataTF) -> list[Fragment]:
    return [fragment for pdu in pdus for fragment in reassembler.feed(pdu)]


# ----------------------------------------------------------------------- good sequences


def test_command_fragments_are_joined_once() -> None:
    r = Reassembler()
    assert feed_all(r, pdata(cmd(1, b"ab", last=False))) == []
    assert r.in_message
    assert feed_all(r, pdata(cmd(1, b"cd", last=False)), pdata(cmd(1, b"ef"))) == [
        Fragment(1, True, True, b"abcdef")
    ]
    assert not r.in_message


def test_command_parts_are_copied_before_the_receive_buffer_is_reused() -> None:
    buffer = bytearray(b"first")
    r = Reassembler()
    feed_all(r, pdata(cmd(3, memoryview(buffer), last=False)))
    buffer[:] = b"XXXXX"
    (fragment,) = feed_all(r, pdata(cmd(3, b"-second")))
    assert fragment.data == b"first-second"
    assert isinstance(fragment.data, bytes)


def test_data_fragments_stream_through_without_copying() -> None:
    parts = [memoryview(b"one"), memoryview(b"two"), memoryview(b"three")]
    r = Reassembler()
    out = feed_all(
        r,
        pdata(cmd(5, b"C"), dat(5, parts[0], last=False)),
        pdata(dat(5, parts[1], last=False)),
        pdata(dat(5, parts[2])),
    )
    assert out[0] == Fragment(5, True, True, b"C")
    data = out[1:]
    assert [f.data for f in data] == parts
    assert all(f.data is p for f, p in zip(data, parts, strict=True))
    assert [f.is_last for f in data] == [False, False, True]
    assert not r.in_message


def test_fragments_are_yielded_before_the_whole_pdu_is_checked() -> None:
    r = Reassembler()
    stream = r.feed(pdata(cmd(1, b"C"), dat(1, b"x", last=False), dat(3, b"bad")))
    assert next(stream) == Fragment(1, True, True, b"C")
    assert next(stream) == Fragment(1, False, False, b"x")
    with pytest.raises(RemoteProtocolError):
        next(stream)


def test_commands_without_data_sets_may_follow_each_other_on_any_context() -> None:
    r = Reassembler()
    out = feed_all(r, pdata(cmd(1, b"a")), pdata(cmd(3, b"b"), cmd(1, b"c")))
    assert [(f.context_id, f.data) for f in out] == [(1, b"a"), (3, b"b"), (1, b"c")]


def test_messages_on_different_contexts_in_turn() -> None:
    r = Reassembler()
    out = feed_all(
        r,
        pdata(cmd(1, b"c1"), dat(1, b"d1")),
        pdata(cmd(3, b"c3", last=False)),
        pdata(cmd(3, b"!"), dat(3, b"d3")),
    )
    assert [(f.context_id, f.is_command, bytes(f.data)) for f in out] == [
        (1, True, b"c1"),
        (1, False, b"d1"),
        (3, True, b"c3!"),
        (3, False, b"d3"),
    ]


def test_empty_last_data_fragment_ends_the_data_set() -> None:
    r = Reassembler()
    out = feed_all(r, pdata(cmd(1, b"C"), dat(1, b"")))
    assert out[1] == Fragment(1, False, True, b"")
    assert not r.in_message


# ----------------------------------------------------------------------- protocol errors


def assert_refused(reason: AbortReason, *pdus: PDataTF) -> None:
    r = Reassembler()
    with pytest.raises(RemoteProtocolError) as info:
        feed_all(r, *pdus)
    assert info.value.abort_reason == reason
    assert info.value.abort_source == AbortSource.SERVICE_PROVIDER


def test_data_before_any_command() -> None:
    assert_refused(UNEXPECTED, pdata(dat(1, b"x")))


def test_data_while_the_command_is_incomplete() -> None:
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c", last=False)), pdata(dat(1, b"x")))


def test_data_on_another_context_than_the_command() -> None:
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c")), pdata(dat(3, b"x")))


def test_data_after_the_data_set_has_ended() -> None:
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c"), dat(1, b"x")), pdata(dat(1, b"y")))


def test_data_after_a_later_command_on_another_context() -> None:
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c"), cmd(3, b"e")), pdata(dat(1, b"x")))


def test_second_command_while_the_data_set_is_in_progress() -> None:
    assert_refused(
        UNEXPECTED, pdata(cmd(1, b"c"), dat(1, b"x", last=False)), pdata(cmd(1, b"again"))
    )


@pytest.mark.parametrize("is_command", [True, False])
def test_context_switch_in_the_middle_of_a_command(is_command: bool) -> None:
    other = cmd(3, b"y") if is_command else dat(3, b"y")
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c", last=False)), pdata(other))


@pytest.mark.parametrize("is_command", [True, False])
def test_context_switch_in_the_middle_of_a_data_set(is_command: bool) -> None:
    other = cmd(3, b"y") if is_command else dat(3, b"y")
    assert_refused(UNEXPECTED, pdata(cmd(1, b"c"), dat(1, b"x", last=False), other))


@pytest.mark.parametrize("context_id", [2, 254])
def test_even_context_id(context_id: int) -> None:
    assert_refused(INVALID, pdata(cmd(context_id, b"c")))


def test_context_id_zero() -> None:
    pdv = cmd(1, b"c")
    object.__setattr__(pdv, "context_id", 0)  # the PDV constructor itself refuses 0
    assert_refused(INVALID, pdata(pdv))


# ------------------------------------------------------------------ command set bound


def test_command_set_beyond_the_limit_is_refused_and_dropped() -> None:
    r = Reassembler(max_command_set=1000)
    # 9 fragments of 100 bytes: 9 * (6 + 100) = 954 bytes counted, still within the limit
    for _ in range(9):
        assert feed_all(r, pdata(cmd(1, bytes(100), last=False))) == []
    assert r.buffered == 900
    with pytest.raises(RemoteProtocolError) as info:
        feed_all(r, pdata(cmd(1, bytes(100), last=False)))
    assert info.value.abort_source == AbortSource.SERVICE_PROVIDER
    assert info.value.abort_reason == AbortReason.NOT_SPECIFIED
    assert "exceeds 1000 bytes" in str(info.value)
    assert r.buffered == 0  # what was held is given back at once


def test_empty_command_fragments_count_against_the_limit() -> None:
    """Fragments without data cost the peer 6 bytes each on the wire; they end too."""
    r = Reassembler(max_command_set=600)
    with pytest.raises(RemoteProtocolError):
        for _ in range(101):
            feed_all(r, pdata(*[cmd(1, b"", last=False)] * 10))


def test_a_single_last_fragment_is_bounded_too() -> None:
    r = Reassembler(max_command_set=100)
    assert feed_all(r, pdata(cmd(1, bytes(94)))) == [Fragment(1, True, True, bytes(94))]
    with pytest.raises(RemoteProtocolError):
        feed_all(r, pdata(cmd(1, bytes(95))))


def test_the_limit_applies_to_each_command_set_not_to_their_sum() -> None:
    r = Reassembler(max_command_set=300)
    for message_id in range(50):
        out = feed_all(r, pdata(cmd(1, bytes(100), last=False)), pdata(cmd(1, bytes(100))))
        assert out == [Fragment(1, True, True, bytes(200))], message_id
        assert r.buffered == 0


def test_default_limit_is_generous_for_real_command_sets() -> None:
    r = Reassembler()
    command = bytes(8000)  # far beyond any command set a DIMSE service defines
    pieces = [cmd(1, command[i : i + 10], last=False) for i in range(0, 7990, 10)]
    out = feed_all(r, *(pdata(p) for p in pieces), pdata(cmd(1, command[7990:])))
    assert out == [Fragment(1, True, True, command)]


def test_limit_must_be_positive() -> None:
    with pytest.raises(LocalProtocolError):
        Reassembler(max_command_set=0)
