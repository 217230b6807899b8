"""Suite ``echo``: C-ECHO round trips per second on one association, and association cycles.

The same SCU -> SCP pairs as the store suite (each implementation with itself,
dicomnet crossed with DCMTK and pynetdicom both ways), plus dicomnet on uvloop.
Each SCU sends its C-ECHOs one after the other (a round trip each) on one
association; DCMTK's echoscu does so with ``--repeat``. Python SCUs time
association request to release; echoscu is timed from process start to exit.

The cycles table: associate + one C-ECHO + release, one cycle after the other
from one client process (the dicomnet and pynetdicom SCUs with ``--cycles``),
against dicomnet and DCMTK storescp. DCMTK has no looping client, so a shell
loop starting one echoscu per cycle is shown as a reference only.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .harness import Column, Options, Ratio, Row, SuiteResult, Table, ratio
from .pair_run import best_row, run_pair
from .store_peers import Variant, implementations
from .store_suite import PAIRS

__all__ = ["run"]

_COUNT = 2000
_QUICK_COUNT = 200
_CYCLES = 1000
_QUICK_CYCLES = 100
#: SCU -> SCP pairs of the cycles table, in table order.
_CYCLE_PAIRS = (
    ("dicomnet", "dicomnet", Variant()),
    ("dicomnet", "dicomnet", Variant(uvloop=True)),
    ("dicomnet", "dcmtk", Variant()),
    ("pynetdicom", "dicomnet", Variant()),
    ("pynetdicom", "dcmtk", Variant()),
    ("dcmtk", "dicomnet", Variant()),
    ("dcmtk", "dcmtk", Variant()),
)
_CYCLE_COLUMNS = [
    Column("cycles_per_second", "cycles/s", ",.0f"),
    Column("microseconds_per_cycle", "us/cycle", ",.0f"),
    Column("seconds", "s", ".2f"),
    Column("scu_cpu_seconds", "CPU SCU s", ".2f"),
    Column("scp_cpu_seconds", "CPU SCP s", ".2f"),
    Column("scp_peak_rss_mb", "RSS SCP MB", ".0f"),
]
_CYCLE_COMPARISONS = (
    ("cycles: dicomnet -> dicomnet", "cycles: pynetdicom -> dcmtk"),
    ("cycles: dicomnet -> dicomnet (uvloop)", "cycles: dicomnet -> dicomnet"),
    ("cycles: dicomnet -> dcmtk", "cycles: pynetdicom -> dcmtk"),
    ("cycles: pynetdicom -> dicomnet", "cycles: pynetdicom -> dcmtk"),
)

_COLUMNS = [
    Column("echoes_per_second", "echo/s", ",.0f"),
    Column("microseconds_per_echo", "us/echo", ",.0f"),
    Column("seconds", "s", ".2f"),
    Column("scu_cpu_seconds", "CPU SCU s", ".2f"),
    Column("scp_cpu_seconds", "CPU SCP s", ".2f"),
    Column("scu_peak_rss_mb", "RSS SCU MB", ".0f"),
    Column("scp_peak_rss_mb", "RSS SCP MB", ".0f"),
]

_COMPARISONS = (
    ("dicomnet -> dicomnet", "pynetdicom -> pynetdicom"),
    ("dicomnet -> dicomnet", "dcmtk -> dcmtk"),
    ("dicomnet -> dcmtk", "dcmtk -> dcmtk"),
    ("dcmtk -> dicomnet", "dcmtk -> dcmtk"),
    ("dicomnet -> pynetdicom", "pynetdicom -> pynetdicom"),
    ("pynetdicom -> dicomnet", "pynetdicom -> pynetdicom"),
    ("dicomnet -> dicomnet (uvloop)", "dicomnet -> dicomnet"),
)


def _measure(
    scu: str,
    scp: str,
    variant: Variant,
    count: int,
    *,
    logs: Path,
    timeout: float,
    repeat: int,
    cycles: bool = False,
) -> Row:
    """Best of ``repeat`` runs (failed runs retried, see :func:`best_row`)."""
    return best_row(
        lambda: _measure_once(scu, scp, variant, count, logs=logs, timeout=timeout, cycles=cycles),
        repeat=repeat,
        retries=3,
        key="echoes_per_second",
    )


def _measure_once(
    scu: str,
    scp: str,
    variant: Variant,
    count: int,
    *,
    logs: Path,
    timeout: float,
    cycles: bool = False,
) -> Row:
    impls = implementations()
    label = f"{'cycles: ' if cycles else ''}{scu} -> {scp}{variant.suffix}"
    missing = impls[scu].unavailable() or impls[scp].unavailable()
    if missing is not None:
        return Row(label, unavailable=missing)
    client = impls[scu].echo_cycles if cycles else impls[scu].echo_scu
    run = run_pair(
        lambda port: impls[scp].scp(port, None, variant),
        lambda port: client(port, count, variant),
        logs=logs,
        slug="".join(c if c.isalnum() else "_" for c in label),
        timeout=timeout,
    )
    if isinstance(run, str):
        return Row(label, unavailable=run)
    report = run.report
    if report is not None and int(report.get("sent", 0)) != count:
        return Row(label, unavailable=f"only {report.get('sent')} of {count} echoes succeeded")
    seconds = float(report["seconds"]) if report is not None else run.scu.wall_seconds
    scu_cpu = float(report["cpu_seconds"]) if report is not None else run.scu.cpu_seconds
    rss = run.scp_peak_rss_bytes
    per_cycle = {
        "cycles_per_second": count / seconds,
        "microseconds_per_cycle": seconds / count * 1e6,
    }
    return Row(
        label,
        {
            **(per_cycle if cycles else {}),
            "echoes": count,
            "seconds": seconds,
            "echoes_per_second": count / seconds,
            "microseconds_per_echo": seconds / count * 1e6,
            "scu_cpu_seconds": scu_cpu,
            "scp_cpu_seconds": run.scp_cpu_seconds,
            "scu_peak_rss_mb": run.scu.peak_rss_bytes / 1e6,
            "scp_peak_rss_mb": None if rss is None else rss / 1e6,
            "timed_by": "SCU report" if report is not None else "SCU process lifetime",
        },
    )


def run(options: Options) -> SuiteResult:
    """Every pair once; ratios of echoes per second."""
    count = _QUICK_COUNT if options.quick else _COUNT
    timeout = 120.0 if options.quick else 300.0
    repeat = options.repeat or (1 if options.quick else 2)
    table = Table(f"C-ECHO, {count} round trips on one association", _COLUMNS)
    cases = [(scu, scp, Variant()) for scu, scp in PAIRS]
    cases.append(("dicomnet", "dicomnet", Variant(uvloop=True)))
    cycle_count = _QUICK_CYCLES if options.quick else _CYCLES
    cycle_table = Table(
        f"associate + C-ECHO + release, {cycle_count} cycles from one client process",
        _CYCLE_COLUMNS,
    )
    workdir = Path(tempfile.mkdtemp(prefix="dicomnet-bench-echo-"))
    try:
        for scu, scp, variant in cases:
            if options.selected(f"{scu} -> {scp}{variant.suffix}"):
                row = _measure(
                    scu, scp, variant, count, logs=workdir, timeout=timeout, repeat=repeat
                )
                table.rows.append(row)
        for scu, scp, cycle_variant in _CYCLE_PAIRS:
            if options.selected(f"cycles: {scu} -> {scp}{cycle_variant.suffix}"):
                row = _measure(
                    scu,
                    scp,
                    cycle_variant,
                    cycle_count,
                    logs=workdir,
                    timeout=timeout,
                    repeat=repeat,
                    cycles=True,
                )
                cycle_table.rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def rate(label: str) -> float | None:
        found = table.row(label) or cycle_table.row(label)
        return found.values.get("echoes_per_second") if found is not None and found.ok else None

    result = SuiteResult("echo", tables=[table, cycle_table])
    result.ratios.extend(
        Ratio(f"{top} / {bottom}", unit, top, bottom, ratio(rate(top), rate(bottom)))
        for comparisons, unit in ((_COMPARISONS, "echo/s"), (_CYCLE_COMPARISONS, "cycles/s"))
        for top, bottom in comparisons
    )
    result.settings.update(
        {
            "echoes": count,
            "cycles": cycle_count,
            "repeat": repeat,
            "dcmtk_env": {"TCP_NODELAY": "1"},
        }
    )
    result.notes.extend(
        [
            f"best of {repeat} run(s) per row on loopback; every peer is its own process on an "
            "ephemeral port; failed runs are retried (pynetdicom's requestor can lose a fast "
            "response and stall), listed in failed_attempts in the JSON",
            "association set-up and release are inside the timed span for every SCU",
            "SCPs: benchmarks.dicomnet_scp, benchmarks.pynetdicom_scp, DCMTK storescp "
            "(all answer C-ECHO); DCMTK with TCP_NODELAY=1, pynetdicom with TCP_NODELAY set",
            "cycles: each cycle associates, sends one C-ECHO and releases; the dicomnet and "
            "pynetdicom SCUs loop in one process (timed from the first request to the last "
            "release); 'dcmtk ->' rows start one echoscu process per cycle from a shell loop "
            "(timed from the loop's start to its exit), a reference only",
        ]
    )
    return result
