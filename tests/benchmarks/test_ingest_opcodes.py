"""The bytecode counter of the ingest path: what it counts, and a real pair of SCP runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks import ingest_opcodes
from benchmarks.ingest_opcodes import OpcodeCounter, difference, read_table, totals, write_table


def _loop(rounds: int) -> int:
    total = 0
    for step in range(rounds):
        total += step
    return total


def _counted(rounds: int) -> tuple[int, int]:
    counter = OpcodeCounter()
    counter.start()
    try:
        _loop(rounds)
    finally:
        counter.stop()
    for key, counts in counter.table().items():
        if key.endswith(" _loop"):
            return counts
    raise AssertionError("_loop was not counted")


def test_opcodes_grow_with_the_work_and_calls_are_counted_once() -> None:
    one_opcodes, one_calls = _counted(1)
    eleven_opcodes, eleven_calls = _counted(11)
    assert one_calls == eleven_calls == 1
    per_round = (eleven_opcodes - one_opcodes) / 10
    assert per_round >= 3  # (a loop step, a load, an add, a store: at least)
    assert per_round == int(per_round)  # every round runs the same bytecode
    assert _counted(11) == (eleven_opcodes, eleven_calls)  # the same from run to run


def test_a_table_survives_its_file(tmp_path: Path) -> None:
    table = {"archive/walked.py:252 walked_entry": (204, 3), "x.py:1 f": (0, 1)}
    write_table(table, tmp_path / "t.tsv")
    assert read_table(tmp_path / "t.tsv") == table
    assert not (tmp_path / "t.part").exists()


def test_difference_is_per_instance_and_largest_first() -> None:
    plain = {"a": (100, 2), "b": (40, 4), "gone": (60, 2)}
    indexed = {"a": (110, 2), "b": (240, 6), "new": (30, 2)}
    rows = difference(plain, indexed, 2)
    assert [row.function for row in rows] == ["b", "gone", "new", "a"]
    by_name = {row.function: row for row in rows}
    assert by_name["b"].extra_opcodes == 100  # (240 - 40) / 2
    assert (by_name["b"].plain_calls, by_name["b"].indexed_calls) == (2, 3)
    assert by_name["gone"].extra_opcodes == -30
    assert by_name["new"].plain_opcodes == 0
    assert totals(indexed, 2) == (190, 5)


def test_the_indexed_scp_runs_the_index_per_instance() -> None:
    count = 12
    plain, indexed = ingest_opcodes.measure(count)
    archive_calls = {
        key: calls for key, (_, calls) in indexed.items() if key.startswith("archive/")
    }
    # Every stored instance went through the archive's ingest (one walked entry each).
    walked = [calls for key, calls in archive_calls.items() if key.endswith(" walked_entry")]
    assert walked == [count]
    assert not any(
        calls >= count for key, (_, calls) in plain.items() if key.startswith("archive/")
    )
    assert totals(indexed, count)[0] > totals(plain, count)[0]
    text = ingest_opcodes.render(plain, indexed, count, 5)
    assert "walked_entry" in text
    assert len(text.splitlines()) == 5 + 5
