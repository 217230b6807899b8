"""feed_items (runs of PDVs, the receive path) accepts and refuses exactly what feed does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet_pdu.errors import RemoteProtocolError
from dicomnet_pdu.pdus import PDV, PDataTF
from dicomnet_pdu.pdv import DataParts, Fragment, Reassembler

Item = tuple[int, int, bytes]
_items = st.lists(
    st.tuples(
        st.sampled_from([1, 1, 1, 3, 2, 4, 255]),
        st.sampled_from([0, 1, 2, 3, 3, 2, 0x13]),
        st.binary(max_size=12),
    ),
    max_size=14,
)


def by_feed(items: list[Item], limit: int) -> tuple[list[tuple[int, bool, bool, bytes]], str]:
    reassembler = Reassembler(max_command_set=limit)
    out: list[tuple[int, bool, bool, bytes]] = []
    try:
        for context_id, control, data in items:
            pdv = PDV(
                context_id=context_id,
                is_command=bool(control & 1),
                is_last=bool(control & 2),
                data=memoryview(data),
            )
            out.extend(
                (f.context_id, f.is_command, f.is_last, bytes(f.data))
                for f in reassembler.feed(PDataTF(pdvs=(pdv,)))
            )
    except RemoteProtocolError as exc:
        return out, f"{exc.abort_reason} {exc}"
    return out, ""


def by_runs(
    items: list[Item], limit: int, cut: int
) -> tuple[list[tuple[int, bool, bool, bytes]], str]:
    reassembler = Reassembler(max_command_set=limit)
    out: list[tuple[int, bool, bool, bytes]] = []
    runs = [items[:cut], items[cut:]]
    try:
        for run in runs:
            for item in reassembler.feed_items((c, k, memoryview(d)) for c, k, d in run):
                if isinstance(item, DataParts):
                    for n, part in enumerate(item.parts):
                        last = item.is_last and n == len(item.parts) - 1
                        out.append((item.context_id, False, last, bytes(part)))
                else:
                    assert isinstance(item, Fragment)
                    out.append((item.context_id, item.is_command, item.is_last, bytes(item.data)))
    except RemoteProtocolError as exc:
        return out, f"{exc.abort_reason} {exc}"
    return out, ""


@settings(max_examples=600, deadline=None)
@given(_items, st.sampled_from([8, 12, 20, 1 << 20]), st.integers(0, 14))
def test_runs_give_what_single_pdus_give(items: list[Item], limit: int, cut: int) -> None:
    assert by_runs(items, limit, cut) == by_feed(items, limit)


def test_a_command_and_its_data_set_in_one_run() -> None:
    items = [(1, 3, b"cmd"), (1, 0, b"ab"), (1, 2, b"cd"), (3, 3, b"next")]
    out, error = by_runs(items, 1 << 20, 4)
    assert error == ""
    assert out == [
        (1, True, True, b"cmd"),
        (1, False, False, b"ab"),
        (1, False, True, b"cd"),
        (3, True, True, b"next"),
    ]
