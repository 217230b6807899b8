"""The store suite's pure parts: the case matrix, report parsing and the ratio grids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import store_suite
from benchmarks.harness import Options, Row, Table
from benchmarks.pair_run import best_row, best_rows, read_report
from benchmarks.store_peers import Variant, implementations


@pytest.mark.parametrize("quick", [False, True])
def test_plan_labels_are_unique_per_table(quick: bool) -> None:
    workloads, cases = store_suite.plan(quick)
    keys = Counter(case.key for case in cases)
    assert keys and max(keys.values()) == 1
    assert {case.workload for case in cases} <= set(workloads)


def test_full_plan_covers_every_pair_mode_and_variant() -> None:
    workloads, cases = store_suite.plan(quick=False)
    assert workloads["ct"].count == 200 and workloads["latency"].count == 200
    for name in ("ct", "small", "large"):
        for mode in ("discard", "write"):
            pairs = {(c.scu, c.scp) for c in cases if c.workload == name and c.mode == mode}
            assert pairs >= set(store_suite.PAIRS)
    labels = {case.key for case in cases}
    assert "large dicomnet -> dicomnet, discard (pdu 1024 KB)" in labels
    assert "small dicomnet -> dicomnet, discard (window 16)" in labels
    # The ct window rows stand beside the synchronous ones.
    assert "ct dicomnet -> dicomnet, discard (window 4)" in labels
    assert "ct dicomnet -> dicomnet, discard" in labels
    latency = [case for case in cases if case.delay]
    assert {case.variant.window for case in latency} == {1, 16}
    assert {case.scu for case in latency} == {"dicomnet", "pynetdicom", "dcmtk"}


def test_the_index_targets_name_rows_of_the_full_plan() -> None:
    _, cases = store_suite.plan(quick=False)
    small = {case.label for case in cases if case.table == "small"}
    assert {label for pair in store_suite._INDEX_TARGETS for label in pair} <= small


def test_the_index_targets_rows_run_more_often_unless_told() -> None:
    assert store_suite._target_repeat(Options(), 3) == store_suite.TARGET_REPEAT > 3
    more = store_suite.TARGET_REPEAT + 2  # (a default of more runs than the targets')
    assert store_suite._target_repeat(Options(), more) == more
    assert store_suite._target_repeat(Options(repeat=2), 2) == 2  # --repeat: every row
    assert store_suite._target_repeat(Options(quick=True), 1) == 1


def test_quick_plan_is_smaller() -> None:
    full = store_suite.plan(quick=False)[1]
    workloads, quick = store_suite.plan(quick=True)
    assert len(quick) < len(full)
    assert workloads["large"].count == 1


def test_variant_suffix() -> None:
    assert Variant().suffix == ""
    assert Variant(max_pdu=1 << 20, window=16).suffix == " (pdu 1024 KB, window 16)"


def test_peer_commands_carry_the_case_options(tmp_path: Path) -> None:
    impls = implementations()
    scu = impls["dicomnet"].scu(1234, tmp_path, Variant(window=16, max_pdu=1 << 20))
    assert scu.reports_json
    assert scu.argv[scu.argv.index("--window") + 1] == "16"
    assert scu.argv[scu.argv.index("--max-pdu") + 1] == str(1 << 20)
    dcmtk_scp = impls["dcmtk"].scp(1234, None, Variant())
    assert "--ignore" in dcmtk_scp.argv and dcmtk_scp.argv[-1] == "1234"
    assert dcmtk_scp.env == {"TCP_NODELAY": "1"}
    writing = impls["pynetdicom"].scp(1234, tmp_path, Variant())
    assert writing.argv[writing.argv.index("--output") + 1] == str(tmp_path)


def test_report_is_the_last_json_line(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text('noise\n{"sent": 1}\nmore noise\n{"sent": 2, "seconds": 0.5}\n')
    assert read_report(path) == {"sent": 2, "seconds": 0.5}
    path.write_text("no report\n")
    assert read_report(path) is None


def test_count_files_skips_hidden_temporaries(tmp_path: Path) -> None:
    (tmp_path / ".incoming").mkdir()
    (tmp_path / ".incoming" / "partial.dcm").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.dcm").write_bytes(b"x")
    (tmp_path / "sub" / "b.dcm").write_bytes(b"x")
    assert store_suite._count_files(tmp_path) == 2


def row(label: str, rate: float, scu_cpu: float, scp_cpu: float) -> Row:
    values = {"instances_per_second": rate, "scu_cpu_seconds": scu_cpu, "scp_cpu_seconds": scp_cpu}
    return Row(label, values)


def test_pair_ratios_and_their_grid() -> None:
    tables = {name: Table(name, []) for name in ("ct", "small", "large", "latency")}
    tables["ct"].rows += [
        row("dicomnet -> dicomnet, discard", 300.0, 1.0, 1.0),
        row("pynetdicom -> pynetdicom, discard", 60.0, 4.0, 4.0),
        row("dcmtk -> dicomnet, discard", 100.0, 0.5, 3.0),
        row("dcmtk -> dcmtk, discard", 200.0, 0.5, 1.5),
    ]
    ratios = list(store_suite._pair_ratios(tables))
    by_name = {(r.name, r.metric): r.value for r in ratios}
    both = "ct: dicomnet -> dicomnet, discard / pynetdicom -> pynetdicom"
    assert by_name[(both, "inst/s")] == pytest.approx(5.0)
    assert by_name[(both, "CPU s both sides")] == pytest.approx(0.25)
    scp = "ct: dcmtk -> dicomnet, discard / dcmtk -> dcmtk"
    assert by_name[(scp, "inst/s")] == pytest.approx(0.5)
    assert by_name[(scp, "CPU s SCP")] == pytest.approx(2.0)
    assert by_name[("ct: dicomnet -> dicomnet, write / dcmtk -> dcmtk", "inst/s")] is None

    speed, cpu = store_suite._ratio_tables(ratios)
    first = speed.rows[0]
    assert first.label == "both sides: dicomnet -> dicomnet / pynetdicom -> pynetdicom"
    assert first.values["ct_discard"] == pytest.approx(5.0)
    assert first.values["ct_write"] is None
    scp_row = next(r for r in cpu.rows if r.label.startswith("SCP: dcmtk -> dicomnet"))
    assert scp_row.values["ct_discard"] == pytest.approx(2.0)


def test_best_row_keeps_the_fastest_run_and_the_failures() -> None:
    outcomes = [
        Row("x", {"rate": 5.0}),
        Row("x", unavailable="SCU exit status 1: stalled"),
        Row("x", {"rate": 7.0}),
    ]
    row = best_row(lambda: outcomes.pop(0), repeat=2, retries=2, key="rate")
    assert not outcomes  # two successes needed three runs
    assert row.ok and row.values["rate"] == 7.0
    assert row.values["runs"] == 2
    assert row.values["failed_attempts"] == ["SCU exit status 1: stalled"]


def test_best_row_gives_up_after_its_retries() -> None:
    calls: list[int] = []

    def failing() -> Row:
        calls.append(1)
        return Row("x", unavailable="SCP exited with status 1 before listening")

    row = best_row(failing, repeat=1, retries=2, key="rate")
    assert len(calls) == 3
    assert row.unavailable is not None and row.unavailable.startswith("failed 3 times")


def test_best_row_does_not_retry_a_missing_peer() -> None:
    calls: list[int] = []

    def missing() -> Row:
        calls.append(1)
        return Row("x", unavailable="DCMTK storescu not found")

    row = best_row(missing, repeat=2, retries=2, key="rate")
    assert calls == [1]
    assert row.unavailable == "DCMTK storescu not found"


def test_best_rows_take_the_rows_runs_in_turns() -> None:
    """Every row runs once before any runs again; each keeps its own best and failures."""
    calls: list[str] = []
    outcomes = {
        "a": [Row("a", {"rate": 1.0}), Row("a", {"rate": 3.0})],
        "b": [Row("b", unavailable="SCU exit status 1"), Row("b", {"rate": 2.0}),
              Row("b", {"rate": 1.0})],
        "c": [Row("c", unavailable="pynetdicom not installed")],
    }  # fmt: skip

    def measure(name: str) -> Callable[[], Row]:
        def run() -> Row:
            calls.append(name)
            return outcomes[name].pop(0)

        return run

    rows = best_rows([measure(n) for n in "abc"], repeat=2, retries=2, key="rate")
    assert calls == ["a", "b", "c", "a", "b", "b"]
    assert [r.label for r in rows] == ["a", "b", "c"]
    assert rows[0].values["rate"] == 3.0 and rows[0].values["runs"] == 2
    assert rows[1].values["rate"] == 2.0 and rows[1].values["failed_attempts"] == [
        "SCU exit status 1"
    ]
    assert rows[2].unavailable == "pynetdicom not installed"


def test_plan_has_rows_without_the_data_set_check(tmp_path: Path) -> None:
    for quick in (False, True):
        labels = {case.key for case in store_suite.plan(quick)[1]}
        assert "ct dicomnet -> dicomnet, write (no data set check)" in labels
    assert Variant(check=False).suffix == " (no data set check)"
    impls = implementations()
    plain = impls["dicomnet"].scp(1234, tmp_path, Variant())
    unchecked = impls["dicomnet"].scp(1234, tmp_path, Variant(check=False))
    assert "--no-check" not in plain.argv and "--no-check" in unchecked.argv


def test_check_cost_walks_every_data_set_and_refuses_a_cut_one(tmp_path: Path) -> None:
    from benchmarks import walk_cost
    from benchmarks.datasets import WORKLOADS, generate

    instances = generate(WORKLOADS["small"].scaled(3), tmp_path / "set")
    cost = walk_cost.measure(instances, repeat=1)
    assert cost.instances == 3 and cost.dataset_bytes == instances.dataset_bytes
    assert cost.seconds > 0 and cost.mb_per_second > 0
    table = Table("t", [])
    table.rows.append(
        Row("dicomnet -> dicomnet, write", {"instances": 3, "scp_cpu_seconds": 1.0, "seconds": 2.0})
    )
    row = store_suite._check_row("small", instances, table)
    assert 0 < row.values["share_of_write_time"] < row.values["share_of_scp_cpu"]
    path = instances.paths[1]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(RuntimeError, match="refused"):
        walk_cost.measure(instances, repeat=1)
