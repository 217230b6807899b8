"""One SCU process against one SCP process: start, measure, stop.

The SCP is started on a free port and waited for (LISTEN in /proc/net/tcp);
optionally :mod:`benchmarks.proxy` is put in between; then the SCU runs to
completion. Measured: the SCU's exit (wall, CPU, peak RSS), the JSON line it
printed if it prints one, the SCP's CPU seconds during the SCU's run and its
peak RSS. Both processes (and the proxy) are always stopped.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import processes
from .harness import Options, Row
from .store_peers import CHILD_CWD, Command

__all__ = [
    "RETRYABLE",
    "PairRun",
    "best_row",
    "proxy_argv",
    "read_report",
    "run_pair",
    "tail",
    "wait_port_line",
]


@dataclass(frozen=True, slots=True)
class PairRun:
    """What one SCU run against one SCP measured."""

    scu: processes.ExitInfo
    report: dict[str, Any] | None  # the SCU's JSON line, when it prints one
    scp_cpu_seconds: float | None
    scp_peak_rss_bytes: int | None
    scu_output: Path
    scu_log: Path


def tail(path: Path, lines: int = 2, limit: int = 300) -> str:
    """The last non-empty lines of a log (a traceback's last line names the error)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    last = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last)[-limit:]


def read_report(path: Path) -> dict[str, Any] | None:
    """The last line of ``path`` that is a JSON object, or None."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                report: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                return None
            return report
    return None


def wait_port_line(proc: Any, path: Path, timeout: float = 20.0) -> int:
    """The port a child printed as ``PORT <n>`` on its stdout (a file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in path.read_text(encoding="ascii", errors="replace").splitlines():
                if line.startswith("PORT "):
                    return int(line.split()[1])
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before printing its port")
        time.sleep(0.02)
    raise RuntimeError("no PORT line in time")


def proxy_argv(*args: str) -> list[str]:
    """Command line of :mod:`benchmarks.proxy` with ``args``."""
    return [sys.executable, "-m", "benchmarks.proxy", *args]


def run_pair(
    scp_for_port: Callable[[int], Command],
    scu_for_port: Callable[[int], Command],
    *,
    logs: Path,
    slug: str,
    timeout: float,
    delay: float = 0.0,
) -> PairRun | str:
    """Run the SCU against the SCP (through the delay proxy if ``delay``); a reason on failure."""
    port = processes.free_port()
    scp_cmd = scp_for_port(port)
    scp_log = logs / f"{slug}.scp.log"
    scp = processes.start(scp_cmd.argv, log=scp_log, env=scp_cmd.env, cwd=CHILD_CWD)
    proxy = None
    try:
        try:
            processes.wait_listening(scp, port)
        except RuntimeError as exc:
            return f"SCP {exc}: {tail(scp_log)}"
        target = port
        if delay:
            proxy_out = logs / f"{slug}.proxy.out"
            proxy = processes.start(
                proxy_argv("delay", str(port), "--delay", str(delay)),
                log=logs / f"{slug}.proxy.log",
                stdout=proxy_out,
                cwd=CHILD_CWD,
            )
            try:
                target = wait_port_line(proxy, proxy_out)
            except RuntimeError as exc:
                return f"proxy {exc}"
        scu_cmd = scu_for_port(target)
        scu_out, scu_log = logs / f"{slug}.scu.out", logs / f"{slug}.scu.log"
        scp_cpu_before = processes.cpu_seconds(scp.pid)
        started = time.perf_counter()
        scu = processes.start(
            scu_cmd.argv,
            log=scu_log,
            stdout=scu_out,
            env=scu_cmd.env,
            cwd=CHILD_CWD,
            trace_exit=True,
        )
        end = processes.wait_with_rusage(scu, started, timeout)
        scp_cpu_after = processes.cpu_seconds(scp.pid)
        scp_rss = processes.peak_rss_bytes(scp.pid)
    finally:
        if proxy is not None:
            processes.stop(proxy)
        processes.stop(scp)
    if end is None:
        return f"SCU did not finish within {timeout:.0f} s"
    report = read_report(scu_out) if scu_cmd.reports_json else None
    if end.returncode != 0 or (scu_cmd.reports_json and report is None):
        detail = f"{tail(scu_out, 1)} {tail(scu_log)}".strip()
        return f"SCU exit status {end.returncode}: {detail}"
    scp_cpu = (
        None if scp_cpu_before is None or scp_cpu_after is None else scp_cpu_after - scp_cpu_before
    )
    return PairRun(end, report, scp_cpu, scp_rss, scu_out, scu_log)


#: Failures of a run (as opposed to a peer that cannot run here) start with one of these.
RETRYABLE = ("SCU ", "SCP ", "proxy ", "only ")


def best_row(measure: Callable[[], Row], *, repeat: int, retries: int, key: str) -> Row:
    """The best (highest ``key``) of ``repeat`` successful runs of ``measure``.

    A failed run (see :data:`RETRYABLE`) is retried, ``retries`` times at most
    over the whole row; the failures are kept in ``values["failed_attempts"]``.
    pynetdicom's requestor can lose a response that arrives before its
    ``send_c_*`` waits for it (its reactor thread takes it as an unexpected
    message; pynetdicom's own comments describe the race) and then stalls until
    its DIMSE timeout: the peer's behaviour, not a measurement.
    """
    return best_rows([measure], repeat=repeat, retries=retries, key=key)[0]


def target_runs(options: Options, repeat: int, least: int) -> int:
    """Runs of each row a target compares: at least ``least`` in a full run, unless
    ``--repeat`` sets every row (or ``--quick``), then ``repeat`` like the others."""
    if options.quick or options.repeat is not None:
        return repeat
    return max(repeat, least)


def best_rows(
    measures: Sequence[Callable[[], Row]],
    *,
    repeat: int,
    retries: int,
    key: str,
    repeats: Sequence[int] | None = None,
) -> list[Row]:
    """:func:`best_row` of each of ``measures``, their runs taken in turns.

    Round one runs every row once, then round two, and so on, so that a machine
    whose speed drifts during the suite (other load, the page cache, the disk's
    writeback) drifts under every row alike, and two rows' ratio is not the
    drift's. ``repeats``: each measure's own number of runs (else ``repeat``
    each); a row with more runs goes on alone once the others are done.
    """
    counts = [repeat] * len(measures) if repeats is None else list(repeats)
    if len(counts) != len(measures):
        raise ValueError(f"{len(counts)} repeat counts for {len(measures)} rows")
    rows = [_BestOf(count, retries, key) for count in counts]
    while not all(row.done for row in rows):
        for row, measure in zip(rows, measures, strict=True):
            if not row.done:
                row.add(measure())
    return [row.result() for row in rows]


class _BestOf:
    """The runs of one row so far (see :func:`best_row`)."""

    def __init__(self, repeat: int, retries: int, key: str) -> None:
        self.repeat, self.retries, self.key = repeat, retries, key
        self.best: Row | None = None
        self.last: Row | None = None
        self.final: Row | None = None  # a peer that cannot run here at all
        self.failures: list[str] = []
        self.successes = 0
        #: The numbers of every successful run, in order (see :func:`paired_median`).
        self.each: list[dict[str, float]] = []

    @property
    def done(self) -> bool:
        return (
            self.final is not None
            or self.successes >= self.repeat
            or len(self.failures) > self.retries
        )

    def add(self, row: Row) -> None:
        self.last = row
        if row.ok:
            self.successes += 1
            self.each.append(
                {
                    k: v
                    for k, v in row.values.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
            if self.best is None or float(row.values[self.key]) > float(self.best.values[self.key]):
                self.best = row
            return
        reason = row.unavailable or ""
        if reason.startswith(RETRYABLE):
            self.failures.append(reason)
        else:
            self.final = row

    def result(self) -> Row:
        if self.final is not None:
            return self.final
        best = self.best
        if best is None:
            assert self.last is not None
            last = self.failures[-1]
            return Row(
                self.last.label, unavailable=f"failed {len(self.failures)} times; last: {last}"
            )
        best.values["runs"] = self.successes
        best.values["each_run"] = self.each
        if self.failures:
            best.values["failed_attempts"] = self.failures
        return best


def paired_median(top: Row | None, bottom: Row | None, key: str) -> tuple[float | None, int]:
    """The median of ``top``'s ``key`` over ``bottom``'s in runs of the same round, and
    how many pairs there were (``None, 0`` when either row has no runs).

    :func:`best_rows` runs every row once per round, so run *i* of two rows
    ran seconds apart: a ratio per round cancels the machine's drift between
    rounds, and the median of those ratios is not moved by one run slowed by
    something else, as the ratio of two bests can be.
    """
    if top is None or bottom is None or not top.ok or not bottom.ok:
        return None, 0
    ratios = [
        a[key] / b[key]
        for a, b in zip(
            top.values.get("each_run", ()), bottom.values.get("each_run", ()), strict=False
        )
        if key in a and key in b and b[key]
    ]
    if not ratios:
        return None, 0
    return statistics.median(ratios), len(ratios)


def median_ratio(top: Row | None, bottom: Row | None, key: str) -> tuple[float | None, int]:
    """The median of ``top``'s ``key`` over all its runs, over the median of ``bottom``'s,
    and the fewer run count of the two (``None, 0`` when either row has no runs).

    Each row's rate is then the one its middle run reached: no single run decides it,
    as it decides a best, and unlike :func:`paired_median` a run slowed while the
    other row's run of its round was not moves the figure by at most one rank.
    """
    if top is None or bottom is None or not top.ok or not bottom.ok:
        return None, 0
    tops = [run[key] for run in top.values.get("each_run", ()) if key in run]
    bottoms = [run[key] for run in bottom.values.get("each_run", ()) if key in run]
    if not tops or not bottoms:
        return None, 0
    below = statistics.median(bottoms)
    if not below:
        return None, 0
    return statistics.median(tops) / below, min(len(tops), len(bottoms))
