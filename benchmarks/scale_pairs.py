"""Paired runs of warm servers of the scale suite, side by side, in turns.

``python -m benchmarks.scale_pairs --associations 1000 --starts 3 --pairs 3``

One row of the scale suite is the best of a few runs of a fresh server, and
on a shared machine its CPU per instance moves by a tenth from run to run.
This tool judges a ratio from many runs instead: each *start* launches every
server given (default ``dicomnet serve --workers 1`` and ``--workers 2``,
SQLite index, the suite's options), alive side by side, warms each up with
the suite's warm-up load, then takes ``--pairs`` rounds in which the suite's
load client runs against each server in turn (the order alternating from
round to round, so that neither server always runs right after the other).
Per run it reads, before and after, every process of the server's tree:
its CPU-time clock, its user and system ticks, its voluntary and involuntary
context switches; and the load average as the run starts. It prints one line
per run, the medians per server and, for each server against the first, the
ratios of paired runs (same round) with their median.

``--tmpfs`` puts the servers' folders in ``/dev/shm``: on ext4 without a
journal a run's system time can double when another process removed files
shortly before (see :mod:`benchmarks.scratch`), which is noise for a
comparison of code. ``--lock FILE`` holds ``flock(FILE)`` during each round,
so that two timed jobs sharing the machine do not overlap. ``--server
NAME=WORKERS[:PYTHONPATH]`` (repeatable) compares other servers, e.g. two
source trees: ``--server old=2:/src/old --server new=2:/src/new``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import processes
from .scale_procs import process_counters, role, tree
from .scale_suite import INSTANCES, WARM_UP, Server, _command, _load_argv, _wait_ready
from .scratch import remove_scratch, scratch_folder
from .store_peers import CHILD_CWD

__all__ = ["main"]


def _snapshot(root: int) -> dict[int, tuple[str, dict[str, float]]]:
    out = {}
    for pid in tree(root):
        found = process_counters(pid)
        if found is not None:
            out[pid] = (role(root, pid), found)
    return out


@dataclass
class _Live:
    """A started server."""

    name: str
    server: Server
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path


def _start(name: str, workers: int, path: str | None, work: Path) -> _Live:
    server = Server(name, "dicomnet", workers, "sqlite")
    output = work / name
    output.mkdir()
    port = processes.free_port()
    argv, env = _command(server, port, output, None)
    if path is not None:
        env = {**env, "PYTHONPATH": path}
    stdout = work / f"{name}.out"
    proc = processes.start(argv, log=work / f"{name}.log", env=env, cwd=CHILD_CWD, stdout=stdout)
    return _Live(name, server, proc, port, stdout)


def _load(live: _Live, associations: int, prefix: str) -> dict[str, Any]:
    done = subprocess.run(
        _load_argv(live.port, associations, prefix),
        cwd=CHILD_CWD,
        capture_output=True,
        check=False,
        timeout=600,
    )
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{live.name}: load client printed no report")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _measured(live: _Live, associations: int, prefix: str) -> dict[str, Any]:
    load = os.getloadavg()[0]
    before = _snapshot(live.proc.pid)
    report = _load(live, associations, prefix)
    after = _snapshot(live.proc.pid)
    used = {
        pid: (kind, {key: after[pid][1][key] - value for key, value in counts.items()})
        for pid, (kind, counts) in before.items()
        if pid in after
    }
    workers = [counts for kind, counts in used.values() if kind == "worker"]
    cpu = sum(counts["cpu"] for _kind, counts in used.values())
    instances = int(report["instances"])
    return {
        "load": round(load, 2),
        "failed": report["failed"],
        "instances": instances,
        "per_second": instances / report["seconds"] if report["seconds"] else 0.0,
        "cpu": cpu,
        "us_per_instance": 1e6 * cpu / instances if instances else 0.0,
        "workers": [round(counts["cpu"], 3) for counts in workers],
        "user": sum(counts["user"] for counts in workers),
        "system": sum(counts["system"] for counts in workers),
        "voluntary": sum(counts["voluntary"] for counts in workers),
        "involuntary": sum(counts["involuntary"] for counts in workers),
        "client_cpu": report["cpu_seconds"],
    }


@contextlib.contextmanager
def _held(lock: Path | None) -> Iterator[None]:
    if lock is None:
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop(live: _Live) -> None:
    live.proc.send_signal(signal.SIGTERM)
    try:
        live.proc.wait(60)
    except subprocess.TimeoutExpired:
        processes.stop(live.proc)


def _summary(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for name, rows in runs.items():
        medians = {
            key: statistics.median(row[key] for row in rows)
            for key in ("us_per_instance", "per_second", "user", "system", "voluntary")
        }
        lines.append(
            f"{name}: median {medians['us_per_instance']:.1f} us CPU/instance,"
            f" {medians['per_second']:.0f} inst/s, user {medians['user']:.2f} s,"
            f" system {medians['system']:.2f} s, voluntary switches {medians['voluntary']:.0f}"
        )
    names = list(runs)
    for name in names[1:]:
        pairs = list(zip(runs[name], runs[names[0]], strict=True))
        cpu = [top["us_per_instance"] / bottom["us_per_instance"] for top, bottom in pairs]
        rate = [top["per_second"] / bottom["per_second"] for top, bottom in pairs]
        lines.append(
            f"{name} / {names[0]} paired: CPU per instance median {statistics.median(cpu):.3f}"
            f" ({' '.join(f'{x:.2f}' for x in cpu)}), inst/s median"
            f" {statistics.median(rate):.3f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Start the servers, run the pairs, print every run and the paired ratios."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_pairs")
    parser.add_argument("--associations", type=int, default=1000)
    parser.add_argument("--starts", type=int, default=2, help="fresh starts of the servers")
    parser.add_argument("--pairs", type=int, default=3, help="rounds of runs per start")
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME=WORKERS[:PYTHONPATH]",
        help="a dicomnet server (repeatable; default w1=1 and w2=2); the first is the base",
    )
    parser.add_argument("--tmpfs", action="store_true", help="servers' folders in /dev/shm")
    parser.add_argument("--lock", type=Path, default=None, help="flock this file each round")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    args = parser.parse_args(argv)
    specs = []
    for text in args.server or ["w1=1", "w2=2"]:
        name, _, rest = text.partition("=")
        workers, _, path = rest.partition(":")
        specs.append((name, int(workers), path or None))
    if args.tmpfs:
        work = Path(tempfile.mkdtemp(prefix="dicomnet-pairs-", dir="/dev/shm"))
    else:
        work = scratch_folder("dicomnet-pairs-")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in specs}
    serial = iter(range(100, 10**6))
    try:
        for start in range(args.starts):
            folder = work / f"start{start}"
            folder.mkdir()
            servers = [_start(name, workers, path, folder) for name, workers, path in specs]
            try:
                for live in servers:
                    _wait_ready(live.server, live.proc, live.port, live.stdout)
                for live in servers:
                    _load(live, WARM_UP, f"{next(serial)}9")
                for turn in range(args.pairs):
                    order = servers if (start + turn) % 2 == 0 else servers[::-1]
                    with _held(args.lock):
                        for live in order:
                            row = _measured(live, args.associations, str(next(serial)))
                            row.update(start=start, turn=turn)
                            runs[live.name].append(row)
                            print(live.name, json.dumps(row), flush=True)
            finally:
                for live in servers:
                    _stop(live)
    finally:
        remove_scratch(work)
    print(f"{args.associations} associations x {INSTANCES} instances; load average now"
          f" {os.getloadavg()[0]:.2f}")  # fmt: skip
    for line in _summary(runs):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(runs), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
