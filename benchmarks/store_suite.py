"""Suite ``store``: C-STORE on loopback, dicomnet beside pynetdicom and DCMTK, in one run.

Pairs (SCU -> SCP): each implementation with itself, and dicomnet crossed
with DCMTK and with pynetdicom both ways. Workloads (see
:mod:`benchmarks.datasets`): (a) 200 x 0.5 MB CT, (b) 2000 small instances,
(c) 5 x 64 MB. The SCP either discards what it receives or writes files.
Extra dicomnet rows: 1 MB PDUs on (c), an asynchronous operations window of
16 on (b) and of 4 on (a) discarding (beside the synchronous rows), on (a) writing with
fsync and running on uvloop, and on (a) and (b)
writing without the data set check (the walk of every element header that
refuses truncated data sets). A check table times that walk in-process over
each workload's data sets and sets it beside the writing SCP's time and CPU. A latency
table sends a subset of (b) through :mod:`benchmarks.proxy` with 10 ms each
way. The ceiling table pushes the same bytes through a bare asyncio socket.

Every peer is its own process, started and stopped here, on an ephemeral
port. Figures per row: instances/s and MB/s (file bytes, MB = 10**6),
seconds, CPU seconds of each side, peak RSS of each side. Python SCUs time
themselves from association request to release; DCMTK's storescu is timed
from process start to exit. SCP CPU is the difference of /proc/<pid>/stat
around the transfer; SCU CPU is what the SCU reports (Python) or its rusage
(DCMTK); peak RSS is each process's own VmHWM over its whole life.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from . import processes, walk_cost
from .datasets import WORKLOADS, InstanceSet, Workload, generate
from .harness import Column, Options, Ratio, Row, SuiteResult, Table, machine_info, ratio
from .pair_run import (
    best_rows,
    median_ratio,
    paired_median,
    proxy_argv,
    read_report,
    run_pair,
    tail,
    target_runs,
    wait_port_line,
)
from .scratch import remove_scratch, retire_files, scratch_folder
from .settle import Settled, settle
from .store_peers import CHILD_CWD, Implementation, Variant, implementations

__all__ = ["PAIRS", "Case", "plan", "run"]

#: SCU -> SCP pairs of every workload, in table order.
PAIRS: tuple[tuple[str, str], ...] = (
    ("dicomnet", "dicomnet"),
    ("pynetdicom", "pynetdicom"),
    ("dcmtk", "dcmtk"),
    ("dicomnet", "dcmtk"),
    ("dcmtk", "dicomnet"),
    ("dicomnet", "pynetdicom"),
    ("pynetdicom", "dicomnet"),
)
_MODES = ("discard", "write")
_LATENCY_DELAY = 0.010  # seconds, each direction
_LATENCY_COUNT = 200
_QUICK_COUNTS = {"ct": 20, "small": 200, "large": 1}
_QUICK_LATENCY_COUNT = 40
_LATENCY = "latency"
_FULL_REPEAT = 3  # runs per row (the best is kept) unless --repeat says otherwise
#: Runs of each row the index's targets compare (issue 9: index on / off in one durability
#: mode), unless --repeat says otherwise: their paired ratio over 3 rounds moved by about
#: 5% between suites minutes apart, as much as the margin it is read against; and on a
#: shared two-core machine one run of a row can use a third more CPU than the next for the
#: same work, so a best of 7 was still sometimes a run slowed all through.
TARGET_REPEAT = 11
#: Seconds a full run waits at most, before its first write row, for the file system to be
#: quiet (benchmarks.settle): ext4 remembered freed inodes here for up to six minutes.
SETTLE_BUDGET: Final = 480.0
#: The index's targets: (index on, index off), small instances.
_INDEX_TARGETS: Final = (
    ("dicomnet -> dicomnet, write (window 16, index)", "dicomnet -> dicomnet, write (window 16)"),
    (
        "dicomnet -> dicomnet, write (window 16, fsync, index)",
        "dicomnet -> dicomnet, write (window 16, fsync)",
    ),
)
#: Asynchronous operations window of the extra ct rows ("(window 4)").
CT_WINDOW = 4

_COLUMNS = [
    Column("instances_per_second", "inst/s", ",.1f"),
    Column("mb_per_second", "MB/s", ",.1f"),
    Column("seconds", "s", ".2f"),
    Column("scu_cpu_seconds", "CPU SCU s", ".2f"),
    Column("scp_cpu_seconds", "CPU SCP s", ".2f"),
    Column("scu_peak_rss_mb", "RSS SCU MB", ".0f"),
    Column("scp_peak_rss_mb", "RSS SCP MB", ".0f"),
]
_CHECK_COLUMNS = [
    Column("microseconds_per_instance", "us/inst", ",.1f"),
    Column("mb_per_second", "MB/s", ",.0f"),
    Column("seconds", "check s", ".4f"),
    Column("share_of_scp_cpu", "% of SCP CPU", ".2f"),
    Column("share_of_write_time", "% of write s", ".2f"),
]
_CEILING_COLUMNS = [
    Column("mb_per_second", "MB/s", ",.1f"),
    Column("seconds", "s", ".3f"),
    Column("sender_cpu_seconds", "CPU send s", ".2f"),
    Column("sink_cpu_seconds", "CPU sink s", ".2f"),
    Column("bytes", "bytes", ",d"),
]


@dataclass(frozen=True, slots=True)
class Case:
    """One measured transfer: a workload from one SCU to one SCP."""

    workload: str
    scu: str
    scp: str
    mode: str  # "discard" or "write"
    variant: Variant = field(default_factory=Variant)
    delay: float = 0.0  # seconds each way through the latency proxy (0: direct)

    @property
    def label(self) -> str:
        """Row label, unique within its table."""
        return f"{self.scu} -> {self.scp}, {self.mode}{self.variant.suffix}"

    @property
    def table(self) -> str:
        """Key of the table the row goes to (a workload, or the latency table)."""
        return _LATENCY if self.delay else self.workload

    @property
    def key(self) -> str:
        """Label with its table, as matched by ``--only``."""
        return f"{self.table} {self.label}"


def plan(quick: bool) -> tuple[dict[str, Workload], list[Case]]:
    """The workloads (scaled down when ``quick``) and every case, in run order."""
    workloads = {
        name: workload.scaled(_QUICK_COUNTS[name]) if quick else workload
        for name, workload in WORKLOADS.items()
    }
    latency_count = _QUICK_LATENCY_COUNT if quick else _LATENCY_COUNT
    workloads[_LATENCY] = Workload(
        _LATENCY,
        latency_count,
        WORKLOADS["small"].rows,
        WORKLOADS["small"].columns,
        f"{latency_count} small instances through a {_LATENCY_DELAY * 1000:.0f} ms each-way proxy",
    )
    cases: list[Case] = []
    for name in WORKLOADS:
        for mode in _MODES:
            pairs = PAIRS
            if quick:  # crosses on (a) only, writing on (a) only
                if mode == "write" and name != "ct":
                    continue
                pairs = PAIRS if name == "ct" and mode == "discard" else PAIRS[:3]
            cases.extend(Case(name, scu, scp, mode) for scu, scp in pairs)
        dn = ("dicomnet", "dicomnet")
        if name == "ct":
            cases.append(Case(name, *dn, "discard", Variant(uvloop=True)))
            # Beside the synchronous rows (never instead of them): the SCU sends the
            # next instances while the SCP finishes one, which DCMTK cannot.
            # (Writing with a window measured slower than synchronous writing: no row.)
            cases.append(Case(name, *dn, "discard", Variant(window=CT_WINDOW)))
            cases.append(Case(name, *dn, "write", Variant(check=False)))
            if not quick:
                cases.append(Case(name, *dn, "write", Variant(fsync=True)))
        if name == "small":
            cases.append(Case(name, *dn, "discard", Variant(window=16)))
            if not quick:
                cases.append(Case(name, *dn, "write", Variant(window=16)))
                cases.append(Case(name, *dn, "write", Variant(check=False)))
                # The archive's index against the same durability mode without it.
                cases.append(Case(name, *dn, "write", Variant(window=16, fsync=True)))
                for fsync in (False, True):
                    variant = Variant(window=16, fsync=fsync, index=True)
                    cases.append(Case(name, *dn, "write", variant))
        if name == "large":
            cases.append(Case(name, *dn, "discard", Variant(max_pdu=1 << 20)))
            if not quick:
                cases.append(Case(name, *dn, "write", Variant(max_pdu=1 << 20)))
    for scu, scp, variant in (
        ("dicomnet", "dicomnet", Variant()),
        ("dicomnet", "dicomnet", Variant(window=16)),
        ("pynetdicom", "pynetdicom", Variant()),
        ("dcmtk", "dcmtk", Variant()),
    ):
        cases.append(Case(_LATENCY, scu, scp, "discard", variant, delay=_LATENCY_DELAY))
    return workloads, cases


@dataclass(slots=True)
class _Context:
    """What every case of one run shares."""

    options: Options
    impls: dict[str, Implementation]
    workdir: Path
    timeout: float
    logs: Path
    repeat: int
    #: Write runs so far (each writes into its own new folder).
    runs: int = 0


def _count_files(root: Path) -> int:
    """Regular files under ``root``, not counting hidden files or hidden directories."""
    count = 0
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for f in files if not f.startswith("."))
    return count


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _run_cases(cases: list[Case], sets: dict[str, InstanceSet], ctx: _Context) -> list[Row]:
    """Best of ``ctx.repeat`` runs of each case, taken in turns (see :func:`best_rows`)."""

    def once(case: Case) -> Callable[[], Row]:
        def measure() -> Row:
            if ctx.options.verbose:
                print(f"... {case.key}", flush=True)
            return _run_case_once(case, sets[case.workload], ctx)

        return measure

    measures = [once(case) for case in cases]
    targets = {label for pair in _INDEX_TARGETS for label in pair}
    target_repeat = _target_repeat(ctx.options, ctx.repeat)
    repeats = [
        target_repeat if case.table == "small" and case.label in targets else ctx.repeat
        for case in cases
    ]
    return best_rows(
        measures, repeat=ctx.repeat, retries=2, key="instances_per_second", repeats=repeats
    )


def _run_case_once(case: Case, instances: InstanceSet, ctx: _Context) -> Row:
    scu_impl, scp_impl = ctx.impls[case.scu], ctx.impls[case.scp]
    missing = scu_impl.unavailable() or scp_impl.unavailable()
    if missing is not None:
        return Row(case.label, unavailable=missing)

    slug = _slug(case.key)
    for stale in ctx.logs.glob(f"{slug}.*"):
        stale.unlink()
    output = None
    if case.mode == "write":
        # A fresh, empty folder for every run of every row (see scratch.retire_files
        # for why the folders of earlier runs are kept until the end of the suite).
        ctx.runs += 1
        output = ctx.workdir / "received" / f"{slug}.{ctx.runs}"
        output.mkdir(parents=True)
    try:
        run = run_pair(
            lambda port: scp_impl.scp(port, output, case.variant),
            lambda port: scu_impl.scu(port, instances.directory, case.variant),
            logs=ctx.logs,
            slug=slug,
            timeout=ctx.timeout,
            delay=case.delay,
        )
        stored = _count_files(output) if output is not None else instances.count
    finally:
        if output is not None:
            retire_files(output)
    if isinstance(run, str):
        return Row(case.label, unavailable=run)
    report = run.report
    if report is not None:
        stored = min(stored, int(report.get("sent", 0)))
    if stored != instances.count:
        return Row(case.label, unavailable=f"only {stored} of {instances.count} stored")

    end = run.scu
    seconds = float(report["seconds"]) if report is not None else end.wall_seconds
    scu_cpu = float(report["cpu_seconds"]) if report is not None else end.cpu_seconds
    scp_rss = run.scp_peak_rss_bytes
    return Row(
        case.label,
        {
            "instances": instances.count,
            "file_bytes": instances.file_bytes,
            "seconds": seconds,
            "instances_per_second": instances.count / seconds,
            "mb_per_second": instances.file_bytes / seconds / 1e6,
            "scu_cpu_seconds": scu_cpu,
            "scp_cpu_seconds": run.scp_cpu_seconds,
            "scu_peak_rss_mb": end.peak_rss_bytes / 1e6,
            "scp_peak_rss_mb": None if scp_rss is None else scp_rss / 1e6,
            "scu_process_wall_seconds": end.wall_seconds,
            "scu_process_cpu_seconds": end.cpu_seconds,
            "timed_by": "SCU report" if report is not None else "SCU process lifetime",
        },
    )


def _check_row(name: str, instances: InstanceSet, table: Table) -> Row:
    """The check's own time over ``instances``, and its share of the writing SCP's."""
    cost = walk_cost.measure(instances)
    values: dict[str, object] = {
        "microseconds_per_instance": cost.microseconds_per_instance,
        "mb_per_second": cost.mb_per_second,
        "seconds": cost.seconds,
        "instances": cost.instances,
        "dataset_bytes": cost.dataset_bytes,
    }
    write = "dicomnet -> dicomnet, write"
    scp_cpu = _value(table, write, "scp_cpu_seconds")
    seconds = _value(table, write, "seconds")
    count = _value(table, write, "instances")
    if count:  # the table's rows may have fewer instances (quick runs scale them)
        scale = count / cost.instances
        if scp_cpu:
            values["share_of_scp_cpu"] = cost.seconds * scale / scp_cpu * 100
        if seconds:
            values["share_of_write_time"] = cost.seconds * scale / seconds * 100
    return Row(f"{name}: {instances.count} data sets", values)


#: Write size of the big-PDU ceiling row (the "pdu 1024 KB" rows' PDU size).
BIG_WRITE = 1024 * 1024


def _ceiling_label(name: str, chunk: int = 16384) -> str:
    suffix = "" if chunk == 16384 else f" ({chunk // 1024} KB writes)"
    return f"asyncio raw socket, {name}{suffix}"


def _run_ceiling(name: str, total: int, ctx: _Context, chunk: int = 16384) -> Row:
    label = _ceiling_label(name, chunk)
    slug = f"{name}_{chunk}"
    sink_out = ctx.logs / f"ceiling_{slug}.sink.out"
    sink = processes.start(
        proxy_argv("sink", "--total", str(total)),
        log=ctx.logs / f"ceiling_{slug}.sink.log",
        stdout=sink_out,
        cwd=CHILD_CWD,
    )
    try:
        try:
            port = wait_port_line(sink, sink_out)
        except RuntimeError as exc:
            return Row(label, unavailable=f"sink {exc}")
        send_out = ctx.logs / f"ceiling_{slug}.send.out"
        cpu_before = processes.cpu_seconds(sink.pid)
        started = time.perf_counter()
        sender = processes.start(
            proxy_argv("send", str(port), "--total", str(total), "--chunk", str(chunk)),
            log=ctx.logs / f"ceiling_{slug}.send.log",
            stdout=send_out,
            cwd=CHILD_CWD,
            trace_exit=True,
        )
        end = processes.wait_with_rusage(sender, started, ctx.timeout)
        cpu_after = processes.cpu_seconds(sink.pid)
    finally:
        processes.stop(sink)
    report = read_report(send_out)
    if end is None or end.returncode != 0 or report is None:
        return Row(label, unavailable=f"sender failed: {tail(send_out)}")
    seconds = float(report["seconds"])
    return Row(
        label,
        {
            "bytes": total,
            "seconds": seconds,
            "mb_per_second": total / seconds / 1e6,
            "sender_cpu_seconds": end.cpu_seconds,
            "sink_cpu_seconds": (
                None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            ),
        },
    )


#: (numerator pair, denominator pair, which side's CPU to compare)
_COMPARISONS = (
    ("dicomnet -> dicomnet", "pynetdicom -> pynetdicom", "both"),
    ("dicomnet -> dicomnet", "dcmtk -> dcmtk", "both"),
    ("dicomnet -> dcmtk", "dcmtk -> dcmtk", "scu"),
    ("dcmtk -> dicomnet", "dcmtk -> dcmtk", "scp"),
    ("dicomnet -> pynetdicom", "pynetdicom -> pynetdicom", "scu"),
    ("pynetdicom -> dicomnet", "pynetdicom -> pynetdicom", "scp"),
)


def _value(table: Table, label: str, key: str) -> float | None:
    row = table.row(label)
    if row is None or not row.ok:
        return None
    value = row.values.get(key)
    return float(value) if isinstance(value, int | float) else None


def _cpu(table: Table, label: str, side: str) -> float | None:
    if side == "both":
        scu, scp = _value(table, label, "scu_cpu_seconds"), _value(table, label, "scp_cpu_seconds")
        return None if scu is None or scp is None else scu + scp
    return _value(table, label, f"{side}_cpu_seconds")


def _comparison_label(top: str, bottom: str, side: str) -> str:
    who = {"both": "both sides", "scu": "SCU", "scp": "SCP"}[side]
    return f"{who}: {top} / {bottom}"


def _ratio_tables(ratios: list[Ratio]) -> list[Table]:
    """The pair comparisons as two grids: comparison x (workload, mode)."""
    columns = [
        Column(f"{name}_{mode}", f"{name} {mode}", ".2f") for name in WORKLOADS for mode in _MODES
    ]
    speed = Table("Ratios of instances/s (above 1: the first pair is faster)", columns)
    cpu = Table("Ratios of CPU seconds on the side named (below 1: dicomnet uses less)", columns)
    for top, bottom, side in _COMPARISONS:
        label = _comparison_label(top, bottom, side)
        speed_row, cpu_row = Row(label), Row(label)
        for r in ratios:
            name, _, rest = r.name.partition(": ")
            if rest.startswith(top + ", ") and r.denominator.startswith(bottom + ", "):
                mode = r.numerator.rsplit(", ", 1)[1]
                target = cpu_row if r.lower_is_better else speed_row
                target.values[f"{name}_{mode}"] = r.value
        speed.rows.append(speed_row)
        cpu.rows.append(cpu_row)
    return [speed, cpu]


def _pair_ratios(tables: dict[str, Table]) -> Iterator[Ratio]:
    """Each comparison of :data:`_COMPARISONS` per workload and mode: speed and CPU."""
    for name in WORKLOADS:
        table = tables[name]
        for mode in _MODES:
            for top, bottom, side in _COMPARISONS:
                num, den = f"{top}, {mode}", f"{bottom}, {mode}"
                yield Ratio(
                    f"{name}: {num} / {bottom}",
                    "inst/s",
                    num,
                    den,
                    ratio(
                        _value(table, num, "instances_per_second"),
                        _value(table, den, "instances_per_second"),
                    ),
                )
                what = {"both": "CPU s both sides", "scu": "CPU s SCU", "scp": "CPU s SCP"}
                yield Ratio(
                    f"{name}: {num} / {bottom}",
                    what[side],
                    num,
                    den,
                    ratio(_cpu(table, num, side), _cpu(table, den, side)),
                    lower_is_better=True,
                )


def _other_ratios(tables: dict[str, Table], ceilings: Table) -> Iterator[Ratio]:
    """dicomnet against the raw-socket ceiling, and its variants against its defaults."""
    for name in WORKLOADS:
        table = tables[name]
        ceiling = f"asyncio raw socket, {name}"
        yield Ratio(
            f"{name}: dicomnet -> dicomnet, discard / raw asyncio socket",
            "MB/s",
            "dicomnet -> dicomnet, discard",
            ceiling,
            ratio(
                _value(table, "dicomnet -> dicomnet, discard", "mb_per_second"),
                _value(ceilings, ceiling, "mb_per_second"),
            ),
        )
    big = "dicomnet -> dicomnet, discard (pdu 1024 KB)"
    yield Ratio(
        f"large: {big} / raw asyncio socket, 1024 KB writes",
        "MB/s",
        big,
        _ceiling_label("large", BIG_WRITE),
        ratio(
            _value(tables["large"], big, "mb_per_second"),
            _value(ceilings, _ceiling_label("large", BIG_WRITE), "mb_per_second"),
        ),
    )
    variants = (
        ("large", "dicomnet -> dicomnet, discard (pdu 1024 KB)", "dicomnet -> dicomnet, discard"),
        ("small", "dicomnet -> dicomnet, discard (window 16)", "dicomnet -> dicomnet, discard"),
        ("ct", "dicomnet -> dicomnet, discard (uvloop)", "dicomnet -> dicomnet, discard"),
        ("ct", f"dicomnet -> dicomnet, discard (window {CT_WINDOW})", "dcmtk -> dcmtk, discard"),
        ("ct", "dicomnet -> dicomnet, write (fsync)", "dicomnet -> dicomnet, write"),
        ("ct", "dicomnet -> dicomnet, write", "dicomnet -> dicomnet, write (no data set check)"),
        (
            "small",
            "dicomnet -> dicomnet, write",
            "dicomnet -> dicomnet, write (no data set check)",
        ),
        ("small", "dicomnet -> dicomnet, write (window 16)", "dcmtk -> dcmtk, write"),
        *(("small", on, off) for on, off in _INDEX_TARGETS),
        (_LATENCY, "dicomnet -> dicomnet, discard (window 16)", "dicomnet -> dicomnet, discard"),
        (
            _LATENCY,
            "dicomnet -> dicomnet, discard (window 16)",
            "pynetdicom -> pynetdicom, discard",
        ),
        (_LATENCY, "dicomnet -> dicomnet, discard (window 16)", "dcmtk -> dcmtk, discard"),
        (_LATENCY, "dicomnet -> dicomnet, discard", "dcmtk -> dcmtk, discard"),
    )
    for name, num, den in variants:
        table = tables[name]
        yield Ratio(
            f"{name}: {num} / {den}",
            "inst/s",
            num,
            den,
            ratio(
                _value(table, num, "instances_per_second"),
                _value(table, den, "instances_per_second"),
            ),
        )
    # The index's targets also as the median of paired runs (see paired_median), and as
    # the ratio of the two rows' median runs (see median_ratio).
    for num, den in _INDEX_TARGETS:
        top, bottom = tables["small"].row(num), tables["small"].row(den)
        value, pairs = paired_median(top, bottom, "instances_per_second")
        yield Ratio(
            f"small: {num} / {den}, median of {pairs} paired runs", "inst/s", num, den, value
        )
        value, runs = median_ratio(top, bottom, "instances_per_second")
        yield Ratio(f"small: {num} / {den}, median runs of {runs} each", "inst/s", num, den, value)


def run(options: Options) -> SuiteResult:
    """Generate the instances, run every selected case and the ceilings, plot, report."""
    workloads, cases = plan(options.quick)
    timeout = 120.0 if options.quick else 600.0
    workdir = scratch_folder("dicomnet-bench-store-")
    logs = workdir / "logs"
    logs.mkdir()
    repeat = options.repeat or (1 if options.quick else _FULL_REPEAT)
    ctx = _Context(options, implementations(), workdir, timeout, logs, repeat)
    tables = {
        name: Table(
            f"({letter}) {workload.description}" if name != _LATENCY else workload.description,
            _COLUMNS,
        )
        for (name, workload), letter in zip(workloads.items(), "abcd", strict=True)
    }
    ceilings = Table("Ceiling: the same bytes through a bare asyncio socket", _CEILING_COLUMNS)
    checks = Table(
        "Data set check (walk of every element header), in-process, beside the writing SCP",
        _CHECK_COLUMNS,
    )
    result = SuiteResult("store", tables=[*tables.values(), ceilings, checks])
    sets: dict[str, InstanceSet] = {}
    try:
        chosen = [case for case in cases if options.selected(case.key)]
        for case in chosen:
            if case.workload not in sets:
                sets[case.workload] = generate(
                    workloads[case.workload], workdir / "data" / case.workload
                )
        settled = _settle(chosen, workdir, options)
        if settled is not None:
            result.notes.append(settled.describe())
            result.settings["file_system_before_write_rows"] = {
                "baseline_us": settled.baseline_us,
                "costs_us": settled.costs_us,
                "waited_seconds": settled.waited_seconds,
                "since_clean_up_seconds": settled.since_clean_up,
                "quiet": settled.quiet,
            }
        for case, row in zip(chosen, _run_cases(chosen, sets, ctx), strict=True):
            tables[case.table].rows.append(row)
        for name in WORKLOADS:
            if name in sets and options.selected(f"ceiling {name}"):
                ceilings.rows.append(_run_ceiling(name, sets[name].file_bytes, ctx))
                if name == "large":
                    row = _run_ceiling(name, sets[name].file_bytes, ctx, BIG_WRITE)
                    ceilings.rows.append(row)
        for name in WORKLOADS:
            if name in sets and options.selected(f"check {name}"):
                checks.rows.append(_check_row(name, sets[name], tables[name]))
    finally:
        remove_scratch(workdir)
    pair_ratios = list(_pair_ratios(tables))
    other_ratios = list(_other_ratios(tables, ceilings))
    result.ratios.extend(pair_ratios + other_ratios)
    result.tables.extend(_ratio_tables(pair_ratios))
    result.printed_ratios = other_ratios  # the pair ratios are printed as the grids above
    result.settings.update(
        {
            "workloads": {
                name: {
                    "count": w.count,
                    "rows": w.rows,
                    "columns": w.columns,
                    "file_bytes": sets[name].file_bytes if name in sets else None,
                    "dataset_bytes": sets[name].dataset_bytes if name in sets else None,
                }
                for name, w in workloads.items()
            },
            "latency_delay_seconds_each_way": _LATENCY_DELAY,
            "default_max_pdu": 16384,
            "dcmtk_env": {"TCP_NODELAY": "1"},
            "scu_timeout_seconds": timeout,
            "repeat": repeat,
            "target_repeat": _target_repeat(options, repeat),
        }
    )
    result.notes.extend(_notes(options, repeat))
    from .plot import plot_store

    result.machine = machine_info()
    plotted = plot_store(result, options.output_dir / "store.png")
    if plotted is None:
        result.notes.append("plot skipped: matplotlib is not installed")
    else:
        result.files.append(str(plotted))
    return result


def _settle(chosen: Sequence[Case], workdir: Path, options: Options) -> Settled | None:
    """Before the first write row of a full run, wait (at most :data:`SETTLE_BUDGET`)
    until creating files costs what it usually does (see benchmarks.settle)."""
    if options.quick or not any(case.mode == "write" for case in chosen):
        return None
    settled = settle(workdir / "received", budget=SETTLE_BUDGET)  # (where runs write)
    if not settled.quiet:
        print(f"warning: {settled.describe()}", file=sys.stderr)
    return settled


def _target_repeat(options: Options, repeat: int) -> int:
    """Runs of each row of the index's targets (see TARGET_REPEAT)."""
    return target_runs(options, repeat, TARGET_REPEAT)


def _notes(options: Options, repeat: int) -> list[str]:
    notes = [
        f"best of {repeat} run(s) per row on loopback (highest inst/s), the rows run in turns "
        "(every row once, then again); the rows of the index's targets (small, window 16, "
        f"with and without the index) {_target_repeat(options, repeat)} runs each; every peer "
        "is its own "
        "process on an ephemeral port; failed runs are retried, up to 2 retries per row "
        "(listed in the row's failed_attempts in the JSON)",
        "MB/s counts Part 10 file bytes, MB = 10**6 bytes; CPU = user + system seconds",
        "dicomnet and pynetdicom SCUs time association request to release (start-up "
        "excluded); DCMTK storescu is timed from process start to exit",
        "DCMTK with TCP_NODELAY=1 exported; storescp --ignore (discard) or "
        "--bit-preserving (write); pynetdicom with TCP_NODELAY set on its sockets, SCP "
        "handler returns 0000 without decoding (discard) or writes encoded_dataset()",
        "dicomnet on the default asyncio loop unless a row says uvloop; its folder store "
        "does not fsync unless a row says fsync (the other peers never do)",
        "pynetdicom and DCMTK have no asynchronous operations window: they always run window 1",
        f"latency table: {_LATENCY_COUNT if not options.quick else _QUICK_LATENCY_COUNT} "
        f"small instances (a subset of (b), for time), {_LATENCY_DELAY * 1000:.0f} ms "
        "each way through benchmarks.proxy",
        "ceiling: benchmarks.proxy send -> sink, 16 KB writes (and 1024 KB writes for the "
        "large workload, the ceiling of its 1 MB PDU row), same byte count as the files",
        "check table: DatasetCheck (the walker the Storage SCP runs on every received "
        "fragment) timed in this process over each workload's data sets, fed in the "
        f"{walk_cost.PIECE}-byte pieces a 16384-byte PDU carries (best of 3); its shares "
        "compare that time with the 'dicomnet -> dicomnet, write' row's SCP CPU and "
        "transfer seconds; the '(no data set check)' rows store without it",
        "write rows: every run writes into a new empty folder on the same file system; "
        "the files of finished runs are emptied, not deleted, until the suite ends (ext4 "
        "without a journal skips inodes freed in the last minutes when it creates files, "
        "which made a run after another run's deletion pay more per file created)",
    ]
    if options.quick:
        notes.append(
            "--quick: counts scaled down (ct 20, small 200, large 1), crosses and writing "
            "on (a) only; figures are a smoke test, not a measurement"
        )
    return notes
