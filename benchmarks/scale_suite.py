"""Suite ``scale``: many concurrent storing associations against multi-process servers.

Levels of 50, 200 and 1000 associations opened at once, each storing 20
small CT images (its own SOP Instance UIDs) with up to 4 requests in flight,
sent by one load client (:mod:`benchmarks.dicomnet_store_load`, the same
for every server) to:

* ``dicomnet serve --workers 1`` and ``--workers 2`` with the SQLite index,
  and with a PostgreSQL index (a throwaway cluster started by the suite);
* DCMTK ``storescp --fork`` (``TCP_NODELAY=1``; a child per association);
* pynetdicom's ``storescp`` (its defaults).

Each row is the best of 3 runs (``--repeat``; the highest instances per
second, with that run's CPU and memory), the rows of a level taken in turns
(pynetdicom's, slow, once). Per row: failed associations, instances
acknowledged and per second, the server's CPU seconds (its whole process
tree, reaped children included) per instance, the client's CPU, and the
server tree's peak resident memory (VmRSS summed over its processes,
sampled every 0.25 s). The machine's cores
are shared by the client and the servers. Each case writes into a folder of
its own, kept until the suite ends, in a scratch folder whose subfolders the
file system spreads out (:mod:`benchmarks.scratch`), so that no case creates
its files among inodes the case before it freed.

A last row kills (SIGKILL) one of two dicomnet workers (SQLite index) once a
quarter of the 200-association run is on disk; then the supervisor is
stopped and the suite checks that every instance the client saw
acknowledged is indexed and that the index and the folder agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import processes
from .harness import Column, Options, Ratio, Row, SuiteResult, Table, find_dcmtk, ratio
from .pair_run import best_rows, paired_median, target_runs
from .scale_procs import children, process_cpus, role, tree_cpu, tree_rss
from .scratch import remove_scratch, scratch_folder
from .store_peers import CHILD_CWD

__all__ = ["run"]

_HOST = "127.0.0.1"
_AE = "BENCH-SCP"
LEVELS, QUICK_LEVELS = (50, 200, 1000), (10, 40)
INSTANCES = 20
WINDOW = 4
KILL_LEVEL, QUICK_KILL_LEVEL = 200, 40
#: Associations (of INSTANCES each) sent to every server before its measured run, outside it.
WARM_UP = 20
#: Runs per row (the best kept) unless --repeat says otherwise.
_FULL_REPEAT = 3
#: Runs of each row issue 14's targets compare (dicomnet --workers 1 and 2, SQLite) unless
#: --repeat says otherwise: their paired ratios over 3 rounds moved by more than the
#: targets' margins between suites minutes apart.
TARGET_REPEAT = 7
_SAMPLE = 0.25

_COLUMNS = [
    Column("failed", "failed assoc"),
    Column("instances", "instances"),
    Column("per_second", "inst/s", ".0f"),
    Column("server_cpu", "server CPU s", ".1f"),
    Column("cpu_ms_per_instance", "server CPU ms/inst", ".2f"),
    Column("client_cpu", "client CPU s", ".1f"),
    Column("peak_rss_mb", "peak RSS MB (sum)", ".0f"),
    Column("seconds", "wall s", ".1f"),
    Column("by_process", "CPU s: supervisor / workers"),
    Column("why", "failed: stage (count)"),
]
_KILL_COLUMNS = [
    Column("failed", "failed assoc"),
    Column("acknowledged", "acknowledged"),
    Column("lost", "acknowledged not indexed"),
    Column("rows_without_file", "rows without file"),
    Column("files_without_row", "files without row"),
    Column("leftovers", "files left in .incoming"),
    Column("exit", "supervisor exit"),
    Column("why", "failed: stage (count)"),
]


@dataclass(frozen=True, slots=True)
class Server:
    """One server under test."""

    label: str
    kind: str  # dicomnet, storescp, pynetdicom
    workers: int = 0
    index: str = ""  # sqlite, postgresql (dicomnet)


SERVERS = (
    Server("dicomnet --workers 1 (SQLite)", "dicomnet", 1, "sqlite"),
    Server("dicomnet --workers 2 (SQLite)", "dicomnet", 2, "sqlite"),
    Server("dicomnet --workers 1 (PostgreSQL)", "dicomnet", 1, "postgresql"),
    Server("dicomnet --workers 2 (PostgreSQL)", "dicomnet", 2, "postgresql"),
    Server("DCMTK storescp --fork", "storescp"),
    Server("pynetdicom storescp", "pynetdicom"),
)


class _Databases:
    """The PostgreSQL cluster, started on first use (``None`` URL when unavailable)."""

    def __init__(self) -> None:
        self.cluster: Any = None
        self.problem: str | None = None

    def new(self) -> str | None:
        if self.problem is not None:
            return None
        if self.cluster is None:
            try:
                from .postgres_cluster import Cluster, find_bin

                found = find_bin()
                if found is None:
                    self.problem = "PostgreSQL (initdb, pg_ctl) not installed"
                    return None
                self.cluster = Cluster(found).start()
            except Exception as exc:
                self.problem = f"PostgreSQL did not start: {exc}"
                return None
        url: str = self.cluster.create_database()
        return url

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def _is_target(server: Server) -> bool:
    """A row issue 14's targets compare (see TARGET_REPEAT)."""
    return server.kind == "dicomnet" and server.index == "sqlite"


def _command(server: Server, port: int, output: Path, index: str | None) -> tuple[list[str], dict]:
    if server.kind == "dicomnet":
        argv = [
            sys.executable, "-m", "dicomnet.cli.main", "serve", "--host", _HOST,
            "--port", str(port), "--aet", _AE, "--output", str(output), "--no-fsync",
            "--workers", str(server.workers), "--drain", "5",
        ]  # fmt: skip
        if index is not None:
            argv += ["--index", index]
        return argv, {}
    if server.kind == "storescp":
        program = find_dcmtk("storescp") or "storescp"
        argv = [program, "--fork", "-aet", _AE, "--output-directory", str(output), str(port)]
        return argv, {"TCP_NODELAY": "1"}
    argv = [sys.executable, "-m", "pynetdicom", "storescp", "-aet", _AE, "-od", str(output)]
    return [*argv, str(port)], {}


def _unavailable(server: Server) -> str | None:
    if server.kind == "storescp" and find_dcmtk("storescp") is None:
        return "DCMTK storescp not found"
    if server.kind == "pynetdicom":
        try:
            import pynetdicom  # noqa: F401
        except ImportError:
            return "pynetdicom not installed"
    return None


def _wait_ready(server: Server, proc: subprocess.Popen[bytes], port: int, stdout: Path) -> None:
    if server.kind != "dicomnet":
        processes.wait_listening(proc, port, timeout=60)
        return
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        if "listening on" in stdout.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError("not listening after 180 s")


def _dicom_files(folder: Path) -> list[Path]:
    found = []
    for directory, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(directory) / n for n in names if not n.startswith("."))
    return found


def _kill_a_worker(supervisor: int) -> int | None:
    """SIGKILL the first worker of ``supervisor`` (not multiprocessing's resource tracker)."""
    for pid in sorted(children(supervisor)):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" in command:
            continue
        os.kill(pid, signal.SIGKILL)
        return pid
    return None


@dataclass
class _Run:
    """What one case measured."""

    report: dict[str, Any]
    server_cpu: float
    peak_rss: int
    exit_code: int | None
    output: Path
    acked: Path
    killed: int | None = None
    #: The server's WARNING and ERROR log lines (a few), kept when associations failed.
    server_log: tuple[str, ...] = ()
    #: dicomnet: CPU seconds of the supervisor and of each worker (lived through the load).
    by_process: str = ""


def _measure(
    server: Server,
    associations: int,
    work: Path,
    index: str | None,
    prefix: str,
    *,
    kill_fraction: float | None = None,
) -> _Run:
    # The run's prefix keeps each case's files apart (a stale "listening on" would pass
    # for the next server's).
    slug = f"{server.kind}-w{server.workers}-{server.index or 'none'}-{associations}-{prefix}"
    output = work / slug
    output.mkdir(parents=True)
    log, stdout, acked = work / f"{slug}.log", work / f"{slug}.out", work / f"{slug}.acked"
    port = processes.free_port()
    argv, env = _command(server, port, output, index)
    proc = processes.start(argv, log=log, env=env, cwd=CHILD_CWD, stdout=stdout)
    try:
        _wait_ready(server, proc, port, stdout)
        if kill_fraction is None:
            _warm_up(port, prefix)
        cpu_before = tree_cpu(proc.pid)
        each_before = process_cpus(proc.pid) if server.kind == "dicomnet" else {}
        client_argv = [
            *_load_argv(port, associations, prefix), "--acked", str(acked),
        ]  # fmt: skip
        client = subprocess.Popen(
            client_argv, cwd=CHILD_CWD, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        peak, killed = 0, None
        target = None if kill_fraction is None else kill_fraction * associations * INSTANCES
        while True:
            peak = max(peak, tree_rss(proc.pid))
            if target is not None and killed is None and len(_dicom_files(output)) >= target:
                killed = _kill_a_worker(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                client.wait(_SAMPLE)
                break
        # Read as the client exits, not up to _SAMPLE later: dicomnet releases memory once it
        # has had no connection for TRIM_WHEN_IDLE_SECONDS (0.2 s; a full collection and
        # malloc_trim, 0.02-0.1 CPU s at 1000 associations), and a read that came 0-0.25 s
        # after the exit took that in or not by chance. Housekeeping once idle is left out of
        # every row alike (benchmarks/README.md, scale).
        server_cpu = tree_cpu(proc.pid) - cpu_before
        by_process = _by_process(proc.pid, each_before, process_cpus(proc.pid))
        out = client.stdout.read() if client.stdout is not None else b""
        lines = [line for line in out.decode().splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"load client printed no report (exit {client.returncode})")
        report = json.loads(lines[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code: int | None = proc.wait(60)
        except subprocess.TimeoutExpired:
            processes.stop(proc)
            exit_code = None
    problems: tuple[str, ...] = ()
    if report.get("failed"):
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
        problems = tuple(line for line in text if " WARNING " in line or " ERROR " in line)[:8]
    return _Run(report, server_cpu, peak, exit_code, output, acked, killed, problems, by_process)


def _load_argv(port: int, associations: int, prefix: str) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.dicomnet_store_load", _HOST, str(port),
        "--associations", str(associations), "--instances", str(INSTANCES),
        "--window", str(WINDOW), "--prefix", prefix, "--called-ae", _AE,
    ]  # fmt: skip


def _warm_up(port: int, prefix: str) -> None:
    """:data:`WARM_UP` associations stored before the measured run, which does not count them.

    A fresh process runs its first associations slower (Python specializes the
    code it runs often, and memos fill): callgrind counted a fresh worker's first
    50-association run 1.2% over its third, and two fresh workers 3.2% (each pays
    it), a start-up cost that would have weighed on the server of more processes.
    Their UIDs (prefix ``PREFIX9``) differ from the measured run's; failures
    here are not reported (the measured run shows them).
    """
    # (A server stuck here shows in the measured run.)
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            _load_argv(port, WARM_UP, f"{prefix}9"),
            cwd=CHILD_CWD,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=300,
        )
    time.sleep(_SAMPLE)  # the server's side of the last releases


def _by_process(root: int, before: dict[int, float], after: dict[int, float]) -> str:
    """``supervisor / worker worker``: CPU seconds of each process alive before and after."""
    used = {pid: after[pid] - before[pid] for pid in before if pid in after}
    roles = {pid: role(root, pid) for pid in used}
    if not used:
        return ""
    workers = " ".join(f"{used[pid]:.2f}" for pid in sorted(used) if roles[pid] == "worker")
    return f"{used.get(root, 0.0):.2f} / {workers}"


def _row(label: str, measured: _Run) -> Row:
    report = measured.report
    instances = int(report["instances"])
    seconds = float(report["seconds"])
    return Row(
        label,
        {
            "failed": int(report["failed"]),
            "instances": instances,
            "per_second": instances / seconds if seconds > 0 else None,
            "server_cpu": measured.server_cpu,
            "cpu_ms_per_instance": 1000 * measured.server_cpu / instances if instances else None,
            "client_cpu": float(report["cpu_seconds"]),
            "peak_rss_mb": measured.peak_rss / 1e6,
            "seconds": seconds,
            "by_process": measured.by_process,
            "why": ", ".join(f"{k} ({v})" for k, v in report.get("failures", {}).items()),
            "examples": report.get("examples", {}),
            "server_log": list(measured.server_log),
        },
    )


def _agreement(measured: _Run, index_location: str | Path) -> dict[str, Any]:
    """The kill -9 check: acknowledged instances indexed, index and folder agreeing."""
    from dicomnet.archive.backends import open_index

    async def rows() -> dict[str, str]:
        async with await open_index(index_location) as index:
            return dict(await index.paths_since(0))

    indexed = asyncio.run(rows())
    acknowledged = set(measured.acked.read_text(encoding="ascii").split())
    on_disk = {str(p) for p in _dicom_files(measured.output)}
    leftovers = [p for p in (measured.output / ".incoming").rglob("*") if p.is_file()]
    paths = set(indexed.values())
    return {
        "failed": int(measured.report["failed"]),
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged - set(indexed)),
        "rows_without_file": len(paths - on_disk),
        "files_without_row": len(on_disk - paths),
        "leftovers": len(leftovers),
        "exit": measured.exit_code,
        "why": ", ".join(f"{k} ({v})" for k, v in measured.report.get("failures", {}).items()),
    }


def run(options: Options) -> SuiteResult:
    """Every server at every level, then the kill -9 row."""
    result = SuiteResult("scale")
    levels = QUICK_LEVELS if options.quick else LEVELS
    databases = _Databases()
    work = scratch_folder("dicomnet-scale-")
    serial = iter(range(1, 10**6))
    repeat = options.repeat or (1 if options.quick else _FULL_REPEAT)
    target_repeat = target_runs(options, repeat, TARGET_REPEAT)
    try:
        for associations in levels:
            table = Table(f"{associations} associations x {INSTANCES} instances", list(_COLUMNS))
            chosen = [s for s in SERVERS if options.selected(f"{s.label} @ {associations}")]

            def measure(server: Server, associations: int = associations) -> Row:
                row = _case(server, associations, work, databases, next(serial))
                if options.verbose:
                    print(f"  {row.label}: {row.values or row.unavailable}")
                return row

            # Best of `repeat` runs, the rows in turns (pynetdicom's, 30 s and more, once).
            again = [s for s in chosen if s.kind != "pynetdicom"]
            runs = best_rows(
                [functools.partial(measure, s) for s in again],
                repeat=repeat,
                retries=0,
                key="per_second",
                repeats=[target_repeat if _is_target(s) else repeat for s in again],
            )
            found = dict(zip(again, runs, strict=True))
            for server in chosen:
                row = found.get(server) or measure(server)
                table.rows.append(row)
                result.notes.extend(_failure_notes(row))
            result.tables.append(table)
            result.ratios.extend(_ratios(table, associations))
        kill_level = QUICK_KILL_LEVEL if options.quick else KILL_LEVEL
        label = f"kill -9 of one of 2 workers (SQLite) @ {kill_level}"
        if options.selected(label):
            result.tables.append(_kill_table(label, kill_level, work, next(serial)))
    finally:
        databases.stop()
        remove_scratch(work)
    result.settings.update(
        {
            "levels": list(levels),
            "instances": INSTANCES,
            "window": WINDOW,
            "fsync": False,
            "repeat": repeat,
            "target_repeat": target_repeat,
        }
    )
    result.notes.extend(
        [
            f"best of {repeat} run(s) per row (highest inst/s; its CPU and memory with it),"
            f" dicomnet's SQLite rows (the targets' rows) {target_repeat} runs each,"
            " the rows of a level run in turns; pynetdicom's storescp once",
            "one load client process (dicomnet, uvloop) for every server; it shares the"
            " machine's cores with the server's processes, and its garbage collector is set"
            " as dicomnet serve sets a server's (dicomnet.cli.collector)",
            "no fsync anywhere: dicomnet --no-fsync (storescp and pynetdicom do not fsync);"
            " the PostgreSQL test cluster runs with fsync=off, synchronous_commit=off",
            "each server at its own defaults but for the options shown: DCMTK storescp --fork"
            " (a child process per association, maximum PDU 16384, each data set written to"
            " its own file as received; TCP_NODELAY=1 from the environment), pynetdicom's"
            " storescp (threads, at most 10 associations at once, maximum PDU 16382),"
            " dicomnet serve (maximum PDU 16384, an index row committed before each Success)",
            "each case writes into a new folder that the file system places away from the"
            " earlier cases' (ext4 top-directory flag), and no case's files are removed before"
            " the suite ends: ext4 without a journal walks past every inode freed in the last"
            " minute when it creates a file, which made a case pay for the clean-up of the one"
            " before it",
            "server CPU: user+system seconds of the server's process tree during the load"
            " (reaped children included), read as the client exits (a dicomnet process's"
            " memory release once idle, 0.2 s later, not included); peak RSS: VmRSS summed"
            " over the tree, sampled",
            f"before each measured run the client stores {WARM_UP} associations into the"
            " fresh server, not measured (a fresh process's first associations cost more,"
            " and a server of several processes pays that once per process)",
            f"{WINDOW} C-STOREs in flight per association where the server accepts a window"
            " (dicomnet); the others negotiate 1",
            f"dicomnet's load is loaded by other work on this machine: load average"
            f" {os.getloadavg()[0]:.1f} when the suite ended; compare ratios of one run",
        ]
    )
    if databases.problem:
        result.notes.append(databases.problem)
    return result


def _failure_notes(row: Row) -> list[str]:
    """Why a row's associations failed: the client's first messages, the server's log."""
    if not row.values.get("failed"):
        return []
    examples = row.values["examples"].items()
    out = [f"{row.label}: {reason}: {message}" for reason, message in examples]
    out += [f"{row.label}: server log: {line[:300]}" for line in row.values["server_log"]]
    return out


def _case(server: Server, associations: int, work: Path, databases: _Databases, serial: int) -> Row:
    label = f"{server.label} @ {associations}"
    reason = _unavailable(server)
    if reason is not None:
        return Row(label, unavailable=reason)
    index = None
    if server.index == "postgresql":
        index = databases.new()
        if index is None:
            return Row(label, unavailable=databases.problem or "no PostgreSQL")
    # Each case's folder stays until the suite ends: removing it would leave the next
    # case creating its files among just-freed inodes (see benchmarks.scratch).
    try:
        measured = _measure(server, associations, work, index, str(serial))
    except Exception as exc:
        return Row(label, unavailable=f"{type(exc).__name__}: {exc}")
    return _row(label, measured)


def _kill_table(label: str, associations: int, work: Path, serial: int) -> Table:
    table = Table("kill -9 of one worker during the run", list(_KILL_COLUMNS))
    server = Server("dicomnet --workers 2 (SQLite)", "dicomnet", 2, "sqlite")
    try:
        measured = _measure(server, associations, work, None, str(serial), kill_fraction=0.25)
        values = _agreement(measured, measured.output / ".index" / "index.sqlite")
        values["killed"] = measured.killed
        table.rows.append(Row(label, values))
    except Exception as exc:
        table.rows.append(Row(label, unavailable=f"{type(exc).__name__}: {exc}"))
    return table


def _ratios(table: Table, associations: int) -> list[Ratio]:
    def value(prefix: str, key: str) -> Any:
        row = table.row(f"{prefix} @ {associations}")
        return row.values.get(key) if row is not None and row.ok else None

    def pair(
        name: str, metric: str, top: str, bottom: str, key: str, *, lower: bool = False
    ) -> Ratio:
        return Ratio(
            f"{name} @ {associations}",
            metric,
            f"{top} @ {associations}",
            f"{bottom} @ {associations}",
            ratio(value(top, key), value(bottom, key)),
            lower_is_better=lower,
        )

    def paired(
        name: str, metric: str, top: str, bottom: str, key: str, *, lower: bool = False
    ) -> Ratio:
        # The same ratio as the median of paired runs (see paired_median).
        value, pairs = paired_median(
            table.row(f"{top} @ {associations}"), table.row(f"{bottom} @ {associations}"), key
        )
        return Ratio(
            f"{name}, median of {pairs} paired runs @ {associations}",
            metric,
            f"{top} @ {associations}",
            f"{bottom} @ {associations}",
            value,
            lower_is_better=lower,
        )

    w1, w2 = "dicomnet --workers 1 (SQLite)", "dicomnet --workers 2 (SQLite)"
    p1, p2 = "dicomnet --workers 1 (PostgreSQL)", "dicomnet --workers 2 (PostgreSQL)"
    fork = "DCMTK storescp --fork"
    out: list[Ratio] = [
        pair("workers 2 / 1, SQLite (target >= 1.3)", "inst/s", w2, w1, "per_second"),
        pair(
            "workers 2 / 1, SQLite, CPU per instance (target <= 1)",
            "server CPU ms/inst",
            w2,
            w1,
            "cpu_ms_per_instance",
            lower=True,
        ),
        pair("workers 2 / 1, PostgreSQL", "inst/s", p2, p1, "per_second"),
        pair(
            "workers 2 / 1, PostgreSQL, CPU per instance",
            "server CPU ms/inst",
            p2,
            p1,
            "cpu_ms_per_instance",
            lower=True,
        ),
        paired("workers 2 / 1, SQLite", "inst/s", w2, w1, "per_second"),
        paired(
            "workers 2 / 1, SQLite, CPU per instance",
            "server CPU ms/inst",
            w2,
            w1,
            "cpu_ms_per_instance",
            lower=True,
        ),
        pair("dicomnet workers 2 SQLite / storescp --fork", "inst/s", w2, fork, "per_second"),
        pair("dicomnet workers 1 SQLite / storescp --fork", "inst/s", w1, fork, "per_second"),
        pair(
            "dicomnet workers 2 SQLite / storescp --fork, CPU per instance",
            "server CPU ms/inst",
            w2,
            fork,
            "cpu_ms_per_instance",
            lower=True,
        ),
    ]
    return out
