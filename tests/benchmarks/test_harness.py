"""The harness's pure parts: ratios, timing loop, tables, JSON, suite registry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.harness import (
    SUITES,
    Column,
    Options,
    Ratio,
    Row,
    SuiteResult,
    Table,
    best_of,
    format_result,
    format_table,
    ratio,
    write_result,
)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (10.0, 2.0, 5.0),
        (1.0, 4.0, 0.25),
        (None, 2.0, None),
        (2.0, None, None),
        (2.0, 0.0, None),
        (math.inf, 1.0, None),
        (1.0, math.nan, None),
    ],
)
def test_ratio(numerator: float | None, denominator: float | None, expected: float | None) -> None:
    assert ratio(numerator, denominator) == expected


class FakeClock:
    """Each call of the timed function costs ``cost`` fake seconds; loop i adds ``noise[i]``."""

    def __init__(self, cost: float, noise: list[float]) -> None:
        self.now = 0.0
        self.cost = cost
        self.noise = noise
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads % 2 == 0 and self.noise:  # end of a loop: add that loop's disturbance
            self.now += self.noise.pop(0)
        return self.now

    def work(self) -> None:
        self.now += self.cost


def test_best_of_calibrates_and_takes_the_minimum() -> None:
    clock = FakeClock(cost=0.001, noise=[0.0, 0.0, 0.5, 0.0, 0.3])
    seconds = best_of(clock.work, repeat=3, min_time=0.1, clock=clock)
    # Calibration takes 1, 10, then 100 calls; of the 100-call loops only the
    # undisturbed one gives exactly the per-call cost.
    assert seconds == pytest.approx(0.001)


def test_best_of_counts_calls() -> None:
    calls = 0

    def func() -> None:
        nonlocal calls
        calls += 1

    best_of(func, repeat=2, min_time=0.0)
    assert calls == 2  # one calibration loop of one call, then one more loop


def make_result() -> SuiteResult:
    table = Table(
        "Demo",
        [Column("rate", "per s", ",.1f"), Column("mb", "MB/s", ".2f")],
        [
            Row("fast thing", {"rate": 12345.678, "mb": 1.5}),
            Row("slow thing", {"rate": 10.0, "mb": None}),
            Row("missing thing", unavailable="peer not installed"),
        ],
    )
    return SuiteResult(
        "demo",
        tables=[table],
        ratios=[Ratio("fast / slow", "per s", "fast thing", "slow thing", 1234.5678)],
        notes=["a note"],
        settings={"quick": True},
    )


def test_format_table_aligns_and_explains_missing_rows() -> None:
    text = format_table(make_result().tables[0])
    lines = text.splitlines()
    assert lines[0] == "Demo"
    assert "12,345.7" in text and "1.50" in text
    slow = next(line for line in lines if line.startswith("slow thing"))
    assert slow.rstrip().endswith("-")  # None renders as a dash
    assert "missing thing: unavailable: peer not installed" in text
    header = lines[2]
    fast = next(line for line in lines if line.startswith("fast thing"))
    assert len(header) == len(fast)  # right-aligned columns end together


def test_format_result_lists_ratios_and_notes() -> None:
    text = format_result(make_result())
    assert "fast / slow" in text and "1234.57x" in text
    assert "* a note" in text


def test_write_result_round_trips_every_figure(tmp_path: Path) -> None:
    result = make_result()
    result.machine = {"cpu_count": 2}
    path = write_result(result, tmp_path / "out")
    assert path == tmp_path / "out" / "demo.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["suite"] == "demo"
    assert data["machine"] == {"cpu_count": 2}
    rows = data["tables"][0]["rows"]
    assert rows[0] == {
        "label": "fast thing",
        "values": {"rate": 12345.678, "mb": 1.5},
        "unavailable": None,
    }
    assert rows[2]["unavailable"] == "peer not installed"
    assert data["ratios"][0]["value"] == pytest.approx(1234.5678)
    assert data["notes"] == ["a note"]


def test_options_only_filter() -> None:
    assert Options().selected("anything")
    only = Options(only=("dicomnet", "small"))
    assert only.selected("dcmtk->dicomnet ct")
    assert only.selected("dcmtk->dcmtk small")
    assert not only.selected("dcmtk->dcmtk ct")


def test_list_names_every_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("pdu", "store"):
        assert name in SUITES
        assert any(line.startswith(name) for line in out.splitlines())
