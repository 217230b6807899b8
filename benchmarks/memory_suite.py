"""Suite ``memory``: resident size of a dicomnet SCP, idle and after bursts of associations.

One :mod:`benchmarks.dicomnet_scp` process per row. Its VmRSS (from
``/proc/<pid>/status``) is read when it is idle; with N silent TCP
connections open (connected, nothing sent, within ARTIM); after they closed;
and after each of two rounds of M concurrent associations (established
together, one C-ECHO each, released: :mod:`benchmarks.dicomnet_assoc_load`).
Each reading waits until the server holds no connection any more, plus a
short settle. The target: after the second round, at most idle + 20 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import processes
from .harness import Column, Options, Row, SuiteResult, Table
from .pair_run import tail
from .store_peers import CHILD_CWD, Dicomnet, Variant

__all__ = ["run"]

_HOST = "127.0.0.1"
_SILENT, _QUICK_SILENT = 500, 100
_ASSOCIATIONS, _QUICK_ASSOCIATIONS = 1000, 200
_ROUNDS = 2
#: What the second round may leave above idle (MB).
TARGET_GROWTH_MB = 20.0
_SETTLE_SECONDS = 0.5

_COLUMNS = [
    Column("idle_mb", "idle MB", ".1f"),
    Column("silent_open_mb", "silent open MB", ".1f"),
    Column("silent_closed_mb", "silent closed MB", ".1f"),
    Column("round_1_mb", "after round 1 MB", ".1f"),
    Column("round_2_mb", "after round 2 MB", ".1f"),
    Column("growth_mb", "round 2 - idle MB", ".1f"),
    Column("peak_mb", "peak MB", ".1f"),
    Column("within_target", "<= idle+20"),
]


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for process {pid}")


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _wait_fds(pid: int, predicate: Callable[[int], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(_open_fds(pid)):
            return
        time.sleep(0.02)
    raise RuntimeError(f"server holds {_open_fds(pid)} descriptors after {timeout:.0f} s")


def _settled_mb(pid: int, idle_fds: int) -> float:
    """VmRSS once the server holds no connection, after a short settle."""
    _wait_fds(pid, lambda n: n <= idle_fds)
    time.sleep(_SETTLE_SECONDS)
    return _status_mb(pid, "VmRSS")


def _measure(variant: Variant, silent: int, associations: int, logs: Path) -> Row:
    label = f"dicomnet SCP{variant.suffix}"
    impl = Dicomnet()
    missing = impl.unavailable()
    if missing is not None:
        return Row(label, unavailable=missing)
    port = processes.free_port()
    command = impl.scp(port, None, variant)
    log = logs / f"scp{variant.suffix.replace(' ', '_')}.log"
    scp = processes.start(command.argv, log=log, env=command.env, cwd=CHILD_CWD)
    try:
        processes.wait_listening(scp, port)
        time.sleep(_SETTLE_SECONDS)
        idle_fds = _open_fds(scp.pid)
        values: dict[str, float | int | str] = {"idle_mb": _status_mb(scp.pid, "VmRSS")}
        sockets = [socket.create_connection((_HOST, port)) for _ in range(silent)]
        try:
            _wait_fds(scp.pid, lambda n: n >= idle_fds + silent)
            time.sleep(_SETTLE_SECONDS)
            values["silent_open_mb"] = _status_mb(scp.pid, "VmRSS")
        finally:
            for sock in sockets:
                sock.close()
        values["silent_closed_mb"] = _settled_mb(scp.pid, idle_fds)
        loop_args = [] if variant.uvloop else ["--no-uvloop"]
        for number in range(1, _ROUNDS + 1):
            argv = [
                *(command.argv[0], "-m", "benchmarks.dicomnet_assoc_load", _HOST, str(port)),
                *("--count", str(associations), *loop_args),
            ]
            done = subprocess.run(
                argv, cwd=CHILD_CWD, capture_output=True, text=True, timeout=300, check=False
            )
            lines = done.stdout.strip().splitlines()
            report = json.loads(lines[-1]) if lines else {}
            if done.returncode != 0:
                return Row(label, unavailable=f"round {number}: {report or done.stderr[-300:]}")
            values[f"round_{number}_mb"] = _settled_mb(scp.pid, idle_fds)
        values["peak_mb"] = _status_mb(scp.pid, "VmHWM")
        growth = float(values[f"round_{_ROUNDS}_mb"]) - float(values["idle_mb"])
        values["growth_mb"] = growth
        values["within_target"] = "yes" if growth <= TARGET_GROWTH_MB else "NO"
        values.update({"silent_connections": silent, "associations_per_round": associations})
        return Row(label, values)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Row(label, unavailable=f"{exc}: {tail(log)}")
    finally:
        processes.stop(scp)


def run(options: Options) -> SuiteResult:
    """The dicomnet SCP on the asyncio loop and on uvloop."""
    silent = _QUICK_SILENT if options.quick else _SILENT
    associations = _QUICK_ASSOCIATIONS if options.quick else _ASSOCIATIONS
    table = Table(
        f"dicomnet SCP resident size: idle, {silent} silent connections, "
        f"{_ROUNDS} rounds of {associations} concurrent associations",
        _COLUMNS,
    )
    workdir = Path(tempfile.mkdtemp(prefix="dicomnet-bench-memory-"))
    try:
        for variant in (Variant(), Variant(uvloop=True)):
            if options.selected(f"dicomnet SCP{variant.suffix}"):
                table.rows.append(_measure(variant, silent, associations, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = SuiteResult("memory", tables=[table])
    result.settings.update(
        {
            "silent_connections": silent,
            "associations_per_round": associations,
            "rounds": _ROUNDS,
            "target_growth_mb": TARGET_GROWTH_MB,
        }
    )
    result.notes.extend(
        [
            "VmRSS of the SCP process, read once it holds no connection and "
            f"{_SETTLE_SECONDS} s have passed; peak is its VmHWM over the whole run",
            "silent connections send nothing and are read while ARTIM still holds them",
            "each round: benchmarks.dicomnet_assoc_load opens every association at once, "
            "sends one C-ECHO on each, and releases them",
        ]
    )
    return result
