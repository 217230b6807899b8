"""The best of a row's runs, the median of paired runs' ratios and the ratio of the rows'
median runs (benchmarks.pair_run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from benchmarks.harness import Row
from benchmarks.pair_run import best_rows, median_ratio, paired_median


def _runs(label: str, rates: list[float], order: list[str]) -> Callable[[], Row]:
    """A measure returning ``rates`` one after another, noting each call in ``order``."""
    values: Iterator[float] = iter(rates)

    def measure() -> Row:
        order.append(label)
        return Row(label, {"per_second": next(values), "note": "x", "flag": True})

    return measure


def _best_two(first: list[float], second: list[float], order: list[str]) -> list[Row]:
    """best_rows of two rows whose runs measure ``first`` and ``second`` in turn."""
    measures = [_runs("a", first, order), _runs("b", second, order)]
    return best_rows(measures, repeat=len(first), retries=0, key="per_second")


def test_best_rows_keeps_every_run_in_round_order() -> None:
    order: list[str] = []
    a, b = _best_two([10.0, 30.0, 20.0], [5.0, 4.0, 6.0], order)
    assert order == ["a", "b"] * 3  # the rows in turns, one run each per round
    assert a.values["per_second"] == 30.0 and b.values["per_second"] == 6.0
    assert [run["per_second"] for run in a.values["each_run"]] == [10.0, 30.0, 20.0]
    # Numbers only (no text, no booleans), so the runs stay comparable in the JSON.
    assert all(set(run) == {"per_second"} for run in b.values["each_run"])


def test_paired_median_pairs_runs_of_the_same_round() -> None:
    top, bottom = _best_two([8.0, 9.0, 1.0], [10.0, 10.0, 2.0], [])
    # Per round 0.8, 0.9, 0.5: median 0.8; the ratio of the bests would be 0.9.
    assert paired_median(top, bottom, "per_second") == (pytest.approx(0.8), 3)
    assert paired_median(bottom, top, "per_second")[0] == pytest.approx(10.0 / 8.0)


@pytest.mark.parametrize("figure", [paired_median, median_ratio])
def test_figures_without_runs(figure: Callable[[Row | None, Row | None, str], object]) -> None:
    measured = Row("a", {"per_second": 3.0, "each_run": [{"per_second": 3.0}]})
    assert figure(measured, None, "per_second") == (None, 0)
    assert figure(measured, Row("b", unavailable="no peer"), "per_second") == (None, 0)
    assert figure(measured, Row("c", {"per_second": 1.0}), "per_second") == (None, 0)
    zero = Row("d", {"each_run": [{"per_second": 0.0}]})
    assert figure(measured, zero, "per_second") == (None, 0)
    assert figure(measured, measured, "other") == (None, 0)


def test_unequal_run_counts_pair_the_first_ones() -> None:
    top = Row("a", {"each_run": [{"k": v} for v in (1.0, 2.0, 3.0)]})
    bottom = Row("b", {"each_run": [{"k": v} for v in (1.0, 1.0)]})
    assert paired_median(top, bottom, "k") == (pytest.approx(1.5), 2)


def test_rows_of_their_own_run_count_go_on_alone_after_the_others() -> None:
    order: list[str] = []
    measures = [
        _runs("a", [1.0, 2.0], order),
        _runs("b", [5.0, 9.0, 7.0, 8.0], order),
        _runs("c", [3.0, 3.0, 4.0], order),
    ]
    a, b, c = best_rows(measures, repeat=2, retries=0, key="per_second", repeats=[2, 4, 3])
    assert order == ["a", "b", "c", "a", "b", "c", "b", "c", "b"]
    assert [len(row.values["each_run"]) for row in (a, b, c)] == [2, 4, 3]
    assert b.values["per_second"] == 9.0 and c.values["per_second"] == 4.0
    # Paired over the rounds both rows ran: 3/5, 3/9, 4/7.
    assert paired_median(c, b, "per_second") == (pytest.approx(4.0 / 7.0), 3)


def test_a_repeat_count_per_row_or_none() -> None:
    with pytest.raises(ValueError, match="2 repeat counts for 1 rows"):
        best_rows([_runs("a", [1.0], [])], repeat=1, retries=0, key="per_second", repeats=[1, 2])


def test_median_ratio_takes_each_rows_middle_run() -> None:
    top, bottom = _best_two([8.0, 9.0, 1.0, 7.0, 6.0], [10.0, 5.0, 2.0, 20.0, 8.0], [])
    # Medians 7 and 8, whatever the rounds: 0.875. The paired ratios 0.8, 1.8, 0.5, 0.35,
    # 0.75 have the median 0.75; the bests 9 / 20.
    assert median_ratio(top, bottom, "per_second") == (pytest.approx(7.0 / 8.0), 5)
    assert paired_median(top, bottom, "per_second")[0] == pytest.approx(0.75)
    assert median_ratio(bottom, top, "per_second")[0] == pytest.approx(8.0 / 7.0)


def test_median_ratio_of_uneven_rows() -> None:
    measured = Row("a", {"per_second": 3.0, "each_run": [{"per_second": 3.0}]})
    uneven = Row("e", {"each_run": [{"per_second": v} for v in (1.0, 2.0, 6.0, 9.0)]})
    assert median_ratio(uneven, measured, "per_second") == (pytest.approx(4.0 / 3.0), 1)
