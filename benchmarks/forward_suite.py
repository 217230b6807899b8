"""Suite ``forward``: store through the send queue (router) beside storing directly.

Workload (a) of the store suite: 200 x 0.5 MB CT (``--quick``: 40). The
destination is the store suite's dicomnet SCP writing files
(:mod:`benchmarks.dicomnet_scp`). Rows, per durability mode (``fsync``: the
destination fsyncs each file and the router runs with its default fsync for
files and index; ``no-fsync``: neither syncs):

* **direct**: the dicomnet SCU stores the set to the destination;
* **router**: the same SCU stores it to ``dicomnet serve --system`` with a
  ``[queue]`` forwarding every instance to the same destination (async mode:
  each C-STORE is answered once file, index row and job are durable). Timed
  from the SCU's association request until the last job is 'sent' (read from
  the router's database every 10 ms), so the row covers receiving, persisting
  and forwarding;
* **rate limit**: the set is stored with the destination paused, then forwarding
  alone is timed with ``max_rate`` set (about 5 s worth of the set); the table
  sets the duration beside bytes / rate.

The ratio router / direct is the figure of the issue (target >= 0.8). The SCU
keeps a window of 8 C-STOREs in flight in both rows (the DicomArk Inbound
Server grants 8).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import processes
from .datasets import WORKLOADS, InstanceSet, generate
from .harness import REPO_ROOT, Column, Options, Ratio, Row, SuiteResult, Table, machine_info, ratio
from .pair_run import read_report, tail
from .scratch import remove_scratch, scratch_folder

__all__ = ["run"]

_WINDOW = 8
#: Runs per row (the fastest is kept) unless --repeat says otherwise.
_REPEAT = 3
_QUICK_COUNT = 40
#: The rate-limited run takes about this long (seconds) at its limit.
_LIMITED_SECONDS = 5.0

_COLUMNS = [
    Column("instances_per_second", "inst/s", ",.1f"),
    Column("mb_per_second", "MB/s", ",.1f"),
    Column("seconds", "s", ".2f"),
    Column("ack_seconds", "SCU s", ".2f"),
    Column("scu_cpu_ms", "SCU CPU ms/inst", ".2f"),
    Column("router_cpu_ms", "router CPU ms/inst", ".2f"),
    Column("destination_cpu_ms", "dest CPU ms/inst", ".2f"),
]
_RATE_COLUMNS = [
    Column("limit_mb_per_second", "limit MB/s", ",.2f"),
    Column("bytes_sent", "data set bytes", ",d"),
    Column("expected_seconds", "bytes/limit s", ".2f"),
    Column("seconds", "measured s", ".2f"),
    Column("measured_over_expected", "measured/expected", ".3f"),
]

SYSTEM = """
[system]
name = "forward benchmark"
[resources]
store = "router-store"
index = true
[queue]
profile = "dicomark-send-queue"
poll = 0.2
[[queue.destination]]
name = "dest"
ae_title = "BENCH-SCP"
address = "127.0.0.1:{port}"
max_attempts = 3
send_timeout = 60
max_rate = {rate}
[[queue.route]]
to = ["dest"]
[[ae]]
name = "inbound"
profile = "dicomark-inbound"
port = 0
services = ["storage"]
"""


@dataclass
class _Run:
    workdir: Path
    instances: InstanceSet
    timeout: float
    verbose: bool


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _destination(run: _Run, label: str, fsync: bool) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = processes.free_port()
    output = run.workdir / f"dest-{label}"
    output.mkdir()
    argv = _python(
        "-m", "benchmarks.dicomnet_scp", str(port), "--output", str(output), "--no-uvloop"
    )
    if fsync:
        argv.append("--fsync")
    proc = processes.start(argv, log=run.workdir / f"dest-{label}.log", cwd=REPO_ROOT)
    processes.wait_listening(proc, port)
    return proc, port, output


def _scu(run: _Run, label: str, port: int) -> tuple[float, dict[str, object], float]:
    """Run the SCU to completion; (wall time at its exit, its report, wall time at start)."""
    log = run.workdir / f"scu-{label}.log"
    out = run.workdir / f"scu-{label}.out"
    argv = _python(
        "-m", "benchmarks.dicomnet_scu", "127.0.0.1", str(port), str(run.instances.directory),
        "--window", str(_WINDOW), "--called-ae", "DICOMARK", "--no-uvloop",
    )  # fmt: skip
    started = time.monotonic()
    proc = processes.start(argv, log=log, stdout=out, cwd=REPO_ROOT)
    try:
        proc.wait(run.timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    ended = time.monotonic()
    report = read_report(out)
    if proc.returncode != 0 or report is None or report.get("failed"):
        raise RuntimeError(f"SCU failed ({proc.returncode}): {tail(log)} {report}")
    return ended, report, started


class _Cpu:
    """CPU seconds a running child spent from now on (``/proc``), read with :meth:`spent`."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.pid = proc.pid
        self.start = processes.cpu_seconds(proc.pid)

    def spent(self) -> float | None:
        now = processes.cpu_seconds(self.pid)
        return None if now is None or self.start is None else now - self.start


def _direct(run: _Run, fsync: bool) -> Row:
    label = f"direct-{'fsync' if fsync else 'nofsync'}-{_serial()}"
    dest, port, _ = _destination(run, label, fsync)
    try:
        dest_cpu = _Cpu(dest)
        _, report, _ = _scu(run, label, port)
        cpu = {"scu": _report_cpu(report), "destination": dest_cpu.spent()}
    finally:
        processes.stop(dest)
    seconds = float(str(report["seconds"]))
    return _row(f"direct, {_mode(fsync)}", run, seconds, seconds, cpu)


def _report_cpu(report: dict[str, object]) -> float | None:
    value = report.get("cpu_seconds")
    return float(value) if isinstance(value, int | float) else None


def _router(run: _Run, fsync: bool, rate: float = 0.0) -> Row:
    """The router row; with ``rate``, the instances are all in before forwarding starts."""
    label = f"router-{'fsync' if fsync else 'nofsync'}{'-limited' if rate else ''}-{_serial()}"
    dest, dest_port, _ = _destination(run, label, fsync)
    root = run.workdir / label
    root.mkdir()
    system = root / "router.toml"
    system.write_text(SYSTEM.format(port=dest_port, rate=rate))
    database = root / "router-store" / ".index" / "index.sqlite"
    if rate:
        _pause(database, True)  # made before the router starts: it begins paused
    port = processes.free_port()
    argv = _python(
        "-c", "import sys; from dicomnet.cli.main import main; sys.exit(main())",
        "serve", "--system", str(system), "--root", str(root), "--host", "127.0.0.1",
        "--ae-port", f"inbound={port}", "--no-uvloop", *([] if fsync else ["--no-fsync"]),
    )  # fmt: skip
    log = run.workdir / f"{label}.log"
    router = processes.start(argv, log=log, cwd=REPO_ROOT)
    try:
        processes.wait_listening(router, port)
        _wait_ready(router, log)
        router_cpu, dest_cpu = _Cpu(router), _Cpu(dest)
        ended, report, _ = _scu(run, label, port)
        scu_seconds = float(str(report["seconds"]))
        started = ended - scu_seconds  # the SCU's association request (a little earlier)
        if rate:
            _pause(database, False)
            started = time.monotonic()  # forwarding alone (the router sees it within a poll)
        done = _wait_sent(database, run)
        cpu = {
            "scu": _report_cpu(report),
            "router": router_cpu.spent(),
            "destination": dest_cpu.spent(),
        }
    finally:
        processes.stop(router)
        processes.stop(dest)
    return _row(f"router, {_mode(fsync)}", run, done - started, scu_seconds, cpu)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Until ``serve`` says it is ready: its port is bound (and refuses) before its
    resources, handlers and queue are up (a row started at the bind would time part of
    the start-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"ready: " in log.read_bytes():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"router exited ({proc.returncode}): {tail(log)}")
        time.sleep(0.01)
    raise RuntimeError(f"router not ready after {timeout:.0f} s: {tail(log)}")


_SERIALS = iter(range(1_000_000))


def _serial() -> int:
    return next(_SERIALS)


def _pause(database: Path, paused: bool) -> None:
    """Pause or resume the destination as ``dicomnet queue pause/resume`` does."""
    import asyncio

    from dicomnet.archive.sqlite import SqliteIndex
    from dicomnet.queue.sqlite import SqliteQueueStore

    async def work() -> None:
        index = await SqliteIndex.open(database, fsync=False)
        store = await SqliteQueueStore.open(index, enqueue=False)
        try:
            await store.set_paused("dest", paused)
        finally:
            await store.close()
            await index.close()

    asyncio.run(work())


def _wait_sent(database: Path, run: _Run) -> float:
    """The time at which every job was seen 'sent'."""
    deadline = time.monotonic() + run.timeout
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        while time.monotonic() < deadline:
            (sent,) = conn.execute("SELECT COUNT(*) FROM send_job WHERE state = 'sent'").fetchone()
            if sent >= run.instances.count:
                return time.monotonic()
            time.sleep(0.01)
    finally:
        conn.close()
    raise RuntimeError(f"not every job sent after {run.timeout:.0f} s")


def _mode(fsync: bool) -> str:
    return "fsync" if fsync else "no fsync"


def _row(
    label: str,
    run: _Run,
    seconds: float,
    ack_seconds: float,
    cpu: dict[str, float | None] | None = None,
) -> Row:
    count = run.instances.count
    values: dict[str, float | None] = {
        "instances_per_second": count / seconds,
        "mb_per_second": run.instances.file_bytes / seconds / 1e6,
        "seconds": seconds,
        "ack_seconds": ack_seconds,
    }
    for process, spent in (cpu or {}).items():
        values[f"{process}_cpu_ms"] = None if spent is None else spent * 1000 / count
    return Row(label, values)


def _limited(run: _Run) -> Row:
    rate = run.instances.dataset_bytes / _LIMITED_SECONDS
    row = _router(run, fsync=False, rate=rate)
    seconds = float(row.values["seconds"])
    # The bucket starts full (one second's worth), so bytes/rate - 1 s is the floor; the
    # router sees the resume within its poll (0.2 s), which the measured time includes.
    expected = run.instances.dataset_bytes / rate - 1.0
    return Row(
        "router, no fsync, rate-limited",
        {
            "limit_mb_per_second": rate / 1e6,
            "bytes_sent": run.instances.dataset_bytes,
            "expected_seconds": expected,
            "seconds": seconds,
            "measured_over_expected": seconds / expected,
        },
    )


def _safe(label: str, measure: Callable[[], Row]) -> Row:
    try:
        return measure()
    except (RuntimeError, OSError) as exc:
        return Row(label, unavailable=str(exc)[:300])


def run(options: Options) -> SuiteResult:
    """Generate the set, run direct and router rows in both modes, and the limited run."""
    workload = WORKLOADS["ct"].scaled(_QUICK_COUNT) if options.quick else WORKLOADS["ct"]
    workdir = scratch_folder("dicomnet-bench-forward-")
    table = Table(f"Store through the router beside direct: {workload.count} x 0.5 MB CT", _COLUMNS)
    limited = Table("Rate limit: duration beside bytes / limit", _RATE_COLUMNS)
    result = SuiteResult("forward", tables=[table, limited])
    try:
        instances = generate(workload, workdir / "data")
        runner = _Run(workdir, instances, 120.0 if options.quick else 600.0, options.verbose)
        repeat = options.repeat or (1 if options.quick else _REPEAT)
        best: dict[str, Row] = {}
        for _ in range(repeat):  # interleaved, so that a burst of load hits every row alike
            for fsync in (True, False):
                for name, measure in (("direct", _direct), ("router", _router)):
                    label = f"{name}, {_mode(fsync)}"
                    if not options.selected(label):
                        continue
                    if options.verbose:
                        print(f"... {label}", flush=True)
                    row = _safe(label, lambda m=measure, f=fsync: m(runner, f))
                    kept = best.get(label)
                    if (
                        kept is None
                        or not kept.ok
                        or (row.ok and row.values["seconds"] < kept.values["seconds"])
                    ):
                        best[label] = row
        table.rows.extend(best.values())
        if options.selected("rate"):
            limited.rows.append(_safe("router, no fsync, rate-limited", lambda: _limited(runner)))
    finally:
        remove_scratch(workdir)
    for fsync in (True, False):
        direct = table.row(f"direct, {_mode(fsync)}")
        routed = table.row(f"router, {_mode(fsync)}")
        if direct is not None and routed is not None:
            result.ratios.append(
                Ratio(
                    f"router / direct, {_mode(fsync)} (target >= 0.8)",
                    "instances_per_second",
                    routed.label,
                    direct.label,
                    ratio(
                        routed.values.get("instances_per_second"),
                        direct.values.get("instances_per_second"),
                    ),
                )
            )
    for fsync in (True, False):
        direct = table.row(f"direct, {_mode(fsync)}")
        routed = table.row(f"router, {_mode(fsync)}")
        if direct is not None and routed is not None and direct.ok and routed.ok:
            scu = direct.values.get("scu_cpu_ms")
            dest = direct.values.get("destination_cpu_ms")
            result.ratios.append(
                Ratio(
                    f"router CPU / (SCU + destination CPU) of the direct row, {_mode(fsync)}",
                    "router_cpu_ms",
                    routed.label,
                    direct.label,
                    ratio(
                        routed.values.get("router_cpu_ms"),
                        None if scu is None or dest is None else scu + dest,
                    ),
                    lower_is_better=True,
                )
            )
    result.settings.update(
        {
            "count": workload.count,
            "window": _WINDOW,
            "limited_seconds": _LIMITED_SECONDS,
            "repeat": options.repeat or (1 if options.quick else _REPEAT),
        }
    )
    result.notes.extend(
        [
            "best of --repeat runs per row (3; --quick 1), rows interleaved, on loopback; the "
            "machine is shared, so ratios are from one harness run",
            "router rows: from the SCU's association request to the last job 'sent' in the "
            "router's database (polled every 10 ms); SCU s is the time the SCU took to get "
            "every instance acknowledged by the router",
            "the destination is benchmarks.dicomnet_scp writing files, without an index, in "
            "both rows; fsync rows sync the files at the destination and the router's files "
            "and index (SQLite synchronous=FULL), no-fsync rows sync neither",
            "CPU ms/inst: each process's CPU seconds (/proc; the SCU's own report) over the "
            "row, per instance. The router receives what the destination receives and sends "
            "what the SCU sends, on one event loop: on 2 cores beside the SCU and the "
            "destination its row is bound by router CPU and by (SCU + router + destination "
            "CPU) / 2, the direct row by the larger of SCU and destination CPU. With fsync "
            "both the router and the destination write every byte durably to one disk (twice "
            "the bytes of the direct row)",
            "the rate-limited run stores the set with the destination paused, then resumes it "
            "and times forwarding alone at max_rate = data set bytes / 5 s; the bucket starts "
            "with one second's worth, hence bytes / limit - 1 s as the expected time",
        ]
    )
    result.machine = machine_info()
    return result
