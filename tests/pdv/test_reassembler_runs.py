"""feed_items and continue_data (runs of PDVs, the receive path) accept and refuse exactly
what feed does."""

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
    items: list[Item], limit: int, cut: int, *, continued: bool = False
) -> tuple[list[tuple[int, bool, bool, bytes]], str]:
    """``items`` in two runs to feed_items; ``continued``: in runs of at most ``cut``
    items, each offered to continue_data first, as the association does."""
    reassembler = Reassembler(max_command_set=limit)
    out: list[tuple[int, bool, bool, bytes]] = []
    if continued:
        size = max(cut, 1)
        runs = [items[at : at + size] for at in range(0, len(items), size)]
    else:
        runs = [items[:cut], items[cut:]]
    try:
        for run in runs:
            views = [(c, k, memoryview(d)) for c, k, d in run]
            whole = reassembler.continue_data(views) if continued and views else None
            given = reassembler.feed_items(views) if whole is None else iter((whole,))
            for item in given:
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


@settings(max_examples=600, deadline=None)
@given(_items, st.sampled_from([8, 12, 20, 1 << 20]), st.integers(1, 5))
def test_runs_offered_to_continue_data_give_what_single_pdus_give(
    items: list[Item], limit: int, size: int
) -> None:
    assert by_runs(items, limit, size, continued=True) == by_feed(items, limit)


def test_continue_data_takes_only_runs_that_continue_the_open_data_set() -> None:
    r = Reassembler()
    assert r.continue_data([(1, 0, memoryview(b"x"))]) is None  # nothing open
    list(r.feed_items([(1, 3, memoryview(b"cmd")), (1, 0, memoryview(b"a"))]))
    # A command, another context or a last fragment before the end: left to feed_items.
    for run in (
        [(1, 0, memoryview(b"b")), (1, 3, memoryview(b"c"))],
        [(1, 0, memoryview(b"b")), (3, 0, memoryview(b"c"))],
        [(1, 2, memoryview(b"b")), (1, 0, memoryview(b"c"))],
        [(1, 1, memoryview(b"b"))],
    ):
        assert r.continue_data(run) is None
        assert r.in_message  # unchanged
    views = [memoryview(b"b"), memoryview(b"c")]
    parts = r.continue_data([(1, 0, views[0]), (1, 0, views[1])])
    assert parts == DataParts(1, False, views) and parts.parts[0] is views[0]
    assert r.in_message
    parts = r.continue_data([(1, 0, views[0]), (1, 0x12, views[1])])  # reserved bits ignored
    assert parts == DataParts(1, True, views)
    assert not r.in_message
    assert r.continue_data([(1, 0, memoryview(b"late"))]) is None  # the data set has ended


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
