"""A data set laid out in the sender's buffer (PDataRun) gives the PDUs the general cutter makes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.layout import PDataRun, ReadableData
from dicomnet_pdu.pdv import fragment_message


class BytesData(ReadableData):
    """Bytes in memory as ReadableData, recording each readinto call's view sizes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.reads: list[list[int]] = []
        self.closed = False

    @property
    def length(self) -> int:
        return len(self.data)

    def readinto(self, views: list[memoryview]) -> None:
        self.reads.append([len(v) for v in views])
        for view in views:
            view[:] = self.data[self.position : self.position + len(view)]
            self.position += len(view)

    def chunks(self) -> Iterator[bytes]:
        yield self.data

    def close(self) -> None:
        self.closed = True


def laid_out_wire(items: object, buffer_size: int) -> list[bytes]:
    """The bytes of each item: a PDU's list of buffers, or each buffer a run fills."""
    out: list[bytes] = []
    buffer = memoryview(bytearray(buffer_size))
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, PDataRun):
            room = max(buffer_size, item.largest_pdu)
            if len(buffer) < room:
                buffer = memoryview(bytearray(room))
            used = item.fill(buffer[:room])
            out.append(bytes(buffer[:used]))
        else:
            out.append(b"".join(bytes(s) for s in item))
    return out


def general_wire(items: object) -> list[bytes]:
    return [b"".join(bytes(s) for s in pdu) for pdu in items]  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(
    context_id=st.integers(0, 127).map(lambda n: 2 * n + 1),
    command=st.binary(min_size=1, max_size=300),
    size=st.integers(0, 5000),
    max_pdu=st.sampled_from([0, 7, 8, 9, 64, 201, 1000, 16384]),
    buffer_size=st.sampled_from([1, 13, 100, 4096, 65536]),
)
def test_same_bytes_as_the_general_path(
    context_id: int, command: bytes, size: int, max_pdu: int, buffer_size: int
) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    readable = BytesData(data)
    laid = fragment_message(context_id, command, readable, max_pdu_length=max_pdu)
    general = fragment_message(context_id, command, iter([data]), max_pdu_length=max_pdu)
    assert b"".join(laid_out_wire(laid, buffer_size)) == b"".join(general_wire(general))
    assert readable.closed
    assert readable.position == size


@pytest.mark.parametrize("payloads", [0, 1, 2, 3])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_pdu_boundaries_at_the_maximum_length(payloads: int, extra: int) -> None:
    max_pdu = 100  # 94 bytes of data per PDU
    size = max(0, payloads * 94 + extra)
    data = bytes(i % 251 for i in range(size))
    run_items = fragment_message(1, b"\x09" * 10, BytesData(data), max_pdu_length=max_pdu)
    # A buffer that holds exactly one whole PDU: every fill is one PDU.
    laid = laid_out_wire(run_items, 112)
    general = general_wire(fragment_message(1, b"\x09" * 10, iter([data]), max_pdu_length=max_pdu))
    assert laid == general
    for pdu in laid[1:]:
        assert int.from_bytes(pdu[2:6], "big") <= max_pdu
    assert laid[-1][11] == 0x02  # the last fragment of the data set


def test_one_fill_lays_out_every_pdu_that_fits_and_reads_them_at_once() -> None:
    readable = BytesData(bytes(1000))
    run = PDataRun(3, readable, 94)
    buffer = memoryview(bytearray(350))
    assert run.fill(buffer) == 3 * 106  # three whole PDUs fit, a fourth does not
    assert readable.reads == [[94, 94, 94]]
    assert bytes(buffer[:12]) == b"\x04\x00\x00\x00\x00\x64\x00\x00\x00\x60\x03\x00"
    assert not run.done


def test_an_empty_data_set_is_one_empty_last_fragment() -> None:
    readable = BytesData(b"")
    run = PDataRun(5, readable, 94)
    buffer = memoryview(bytearray(64))
    assert run.fill(buffer) == 12
    assert bytes(buffer[:12]) == b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x05\x02"
    assert run.done
    assert readable.reads == []


def test_a_buffer_too_small_for_the_next_pdu_is_refused() -> None:
    run = PDataRun(1, BytesData(bytes(200)), 94)
    assert run.largest_pdu == 106
    with pytest.raises(LocalProtocolError):
        run.fill(memoryview(bytearray(105)))


def test_packing_command_and_data_takes_the_general_path() -> None:
    data = bytes(range(200))
    packed = fragment_message(
        1, b"\x01" * 4, BytesData(data), max_pdu_length=100, pack_command_and_data=True
    )
    items = list(packed)
    assert not any(isinstance(item, PDataRun) for item in items)
    expected = fragment_message(
        1, b"\x01" * 4, iter([data]), max_pdu_length=100, pack_command_and_data=True
    )
    assert general_wire(items) == general_wire(expected)
