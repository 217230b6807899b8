"""Suite ``find``: C-FIND and C-MOVE answered by dicomnet, pynetdicom's qrscp and dcmqrscp.

Synthetic archives (:mod:`benchmarks.find_data`) are loaded into each SCP
(:mod:`benchmarks.find_peers`); DCMTK ``findscu``/``movescu`` ask the
queries through a timing proxy (:mod:`benchmarks.find_proxy`) that gives the
milliseconds from the request to the first and to the last response and the
number of responses, association set-up excluded. Every answer count is
checked against the generated data.

Archives: 500 studies (all three SCPs; dcmqrscp keeps at most 500 studies
per storage area) and 10,000 instances (dicomnet and pynetdicom). ``--size N``
adds archives of N instances (e.g. ``--size 100000 --size 1000000``);
pynetdicom is loaded only up to 100,000 instances (its loader commits once
per instance). ``--quick``: 100 studies and 1,000 instances.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from .find_data import STUDIES_PER_PATIENT, Archive, Query
from .find_peers import (
    AE_TITLES,
    MOVE_AE,
    Loaded,
    environment,
    index_open_seconds,
    load_dcmqrscp,
    load_dicomnet,
    load_pynetdicom,
    scp_argv,
)
from .harness import Column, Options, Ratio, Row, SuiteResult, Table, find_dcmtk, ratio
from .processes import free_port, start, stop, wait_listening
from .scratch import remove_scratch

__all__ = ["answered", "archives_for", "check", "run"]

_PYNETDICOM_LIMIT: Final = 100_000
_DCMQRSCP_STUDIES: Final = 500
_COLUMNS = [
    Column("expected", "expected", ",d"),
    Column("answered", "answered", ",d"),
    Column("first_ms", "first ms", ".2f"),
    Column("last_ms", "last ms", ".2f"),
    Column("per_second", "resp/s", ",.0f"),
    Column("check", "check", ""),
]
_INDEX_COLUMNS = [
    Column("instances", "instances", ",d"),
    Column("load_rate", "load inst/s", ",.0f"),
    Column("index_mb", "index MB", ".1f"),
    Column("open_ms", "index open ms", ".1f"),
    Column("startup_s", "serve start s", ".2f"),
    Column("rss_idle_mb", "RSS idle MB", ".0f"),
    Column("rss_after_mb", "RSS after MB", ".0f"),
    Column("hwm_mb", "peak RSS MB", ".0f"),
]


def archives_for(options: Options) -> list[tuple[str, Archive, tuple[str, ...]]]:
    """(label, archive, peers) of every archive the run measures."""
    per_patient = STUDIES_PER_PATIENT * 5
    small = 100 if options.quick else _DCMQRSCP_STUDIES
    sizes = list(options.sizes) or [1000 if options.quick else 10_000]
    found = [
        (
            f"{small} studies",
            Archive(small // STUDIES_PER_PATIENT),
            ("dicomnet", "pynetdicom", "dcmqrscp"),
        )
    ]
    for size in sizes:
        peers = ("dicomnet", "pynetdicom") if size <= _PYNETDICOM_LIMIT else ("dicomnet",)
        found.append((f"{size:,} instances", Archive(max(1, size // per_patient)), peers))
    return found


def answered(query: Query, responses: int, moved_files: int) -> int:
    """The answer count a run gave: C-FIND pending responses, or C-MOVE files received."""
    return moved_files if query.move else max(0, responses - 1)


def check(peer: str, query: Query, count: int | None) -> str:
    """``ok``, or what differs from the generated data (with the known reason if any)."""
    if count is None:
        return "no answer"
    if count == query.expected:
        return "ok"
    if peer == "pynetdicom" and query.level == "STUDY" and not query.move:
        if count == query.expected * 5:
            return "one per instance (qrscp)"
        if "\\" in dict(query.keys).get("StudyInstanceUID", "") and count == 0:
            return "UID list refused (qrscp)"
    return f"expected {query.expected}"


def _rss(pid: int) -> tuple[float | None, float | None]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def mb(key: str) -> float | None:
        value = fields.get(key)
        return int(value.split()[0]) / 1024 if value else None

    return mb("VmRSS"), mb("VmHWM")


class _Client:
    """findscu/movescu through the timing proxy in front of one SCP."""

    def __init__(self, peer: str, proxy_port: int, report: Path, received: Path):
        self.peer = peer
        self.proxy_port = proxy_port
        self.report = report
        #: Where the move destination (a storescp) writes what it receives.
        self.received = received

    def _lines(self) -> int:
        return len(self.report.read_text().splitlines()) if self.report.exists() else 0

    def ask(self, query: Query, timeout: float) -> dict[str, Any]:
        before = self._lines()
        received = self.received
        for old in received.iterdir():
            old.unlink()
        keys = [arg for key, value in query.keys for arg in ("-k", f"{key}={value}")]
        keys = ["-k", f"QueryRetrieveLevel={query.level}", *keys]
        common = ["-q", "-S", "-aec", AE_TITLES[self.peer], "-to", "60", "-ta", "60", "-td", "60"]
        if query.move:
            argv = ["movescu", *common, "-aet", "MOVER", "-aem", MOVE_AE]
        else:
            argv = ["findscu", *common, "-aet", "FINDSCU"]
        argv += ["127.0.0.1", str(self.proxy_port), *keys]
        subprocess.run(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            env={**environment(), "PATH": "/usr/bin:/bin"},
            check=False,
        )
        deadline = time.monotonic() + 10
        while self._lines() <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        lines = self.report.read_text().splitlines() if self.report.exists() else []
        fresh = [json.loads(line) for line in lines[before:]]
        timed = [r for r in fresh if r.get("requests")]
        result: dict[str, Any] = timed[-1] if timed else {}
        if query.move:  # storescp may still be writing the last file
            deadline = time.monotonic() + 5
            while len(list(received.iterdir())) < query.expected and time.monotonic() < deadline:
                time.sleep(0.01)
        result["moved_files"] = sum(1 for _ in received.iterdir())
        return result


def _measure_peer(  # noqa: PLR0917
    peer: str,
    loaded: Loaded,
    archive: Archive,
    work: Path,
    repeat: int,
    timeout: float,
    index_row: Row | None,
) -> list[Row]:
    port, move_port, proxy_port = free_port(), free_port(), free_port()
    report = work / f"{peer}-proxy.jsonl"
    log = work / f"{peer}.log"
    started = time.perf_counter()
    proc = start(scp_argv(peer, loaded, port, move_port), log=log, env=environment(), cwd=work)
    proxy = start(
        [
            sys.executable,
            "-m",
            "benchmarks.find_proxy",
            "--port",
            str(proxy_port),
            "--target",
            str(port),
            "--report",
            str(report),
        ],
        log=work / "proxy.log",
        env=environment(),
    )
    received = work / "received"
    received.mkdir(exist_ok=True)
    destination = start(
        ["storescp", "-aet", MOVE_AE, "-od", str(received), str(move_port)],
        log=work / "storescp.log",
        env=environment(),
    )
    rows: list[Row] = []
    try:
        wait_listening(proc, port, timeout=120)
        startup = time.perf_counter() - started
        wait_listening(proxy, proxy_port)
        wait_listening(destination, move_port)
        idle, _ = _rss(proc.pid)
        client = _Client(peer, proxy_port, report, received)
        for query in archive.queries():
            best: dict[str, Any] | None = None
            for _ in range(repeat):
                got = client.ask(query, timeout)
                if got.get("last_ms") is None:
                    continue
                if best is None or got["last_ms"] < best["last_ms"]:
                    best = got
            label = f"{peer}: {query.name}"
            if best is None:
                rows.append(Row(label, unavailable="no response timed (see logs)"))
                continue
            count = answered(query, int(best.get("responses", 0)), int(best["moved_files"]))
            seconds = best["last_ms"] / 1000.0
            rows.append(
                Row(
                    label,
                    {
                        "expected": query.expected,
                        "answered": count,
                        "first_ms": best["first_ms"],
                        "last_ms": best["last_ms"],
                        "per_second": count / seconds if seconds > 0 and count else None,
                        "check": check(peer, query, count),
                    },
                )
            )
        after, hwm = _rss(proc.pid)
        if index_row is not None:
            index_row.values.update(
                {"startup_s": startup, "rss_idle_mb": idle, "rss_after_mb": after, "hwm_mb": hwm}
            )
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        rows.append(Row(f"{peer}: (all)", unavailable=str(exc)))
    finally:
        stop(destination)
        stop(proxy)
        stop(proc)
    return rows


def _load(peer: str, archive: Archive, folder: Path) -> Loaded:
    if peer == "dicomnet":
        return load_dicomnet(archive, folder)
    if peer == "pynetdicom":
        return load_pynetdicom(archive, folder)
    tool = find_dcmtk("dcmqridx")
    if tool is None:
        raise RuntimeError("dcmqridx not found")
    return load_dcmqrscp(archive, folder, tool)


def run(options: Options) -> SuiteResult:
    """Every archive, every peer, every query; ratios of the last response's time."""
    repeat = options.repeat or (1 if options.quick else 3)
    timeout = 300.0
    result = SuiteResult("find")
    index_table = Table("Archive index (each peer's own store)", _INDEX_COLUMNS)
    workdir = Path(tempfile.mkdtemp(prefix="dicomnet-bench-find-"))
    try:
        for title, archive, peers in archives_for(options):
            table = Table(
                f"{title} ({archive.patients:,} patients x 2 studies x 5 instances): "
                "ms from request to first/last response",
                _COLUMNS,
            )
            for peer in peers:
                if not options.selected(peer):
                    continue
                folder = workdir / f"{peer}-{archive.instances}"
                index_row = Row(f"{peer}, {title}", {"instances": archive.instances})
                try:
                    loaded = _load(peer, archive, folder)
                except Exception as exc:  # a peer that cannot be loaded is a row, not a crash
                    table.rows.append(Row(f"{peer}: (all)", unavailable=f"load failed: {exc}"))
                    continue
                index_row.values.update({"load_rate": loaded.rate, "index_mb": loaded.bytes / 1e6})
                if peer == "dicomnet":
                    index_row.values["open_ms"] = index_open_seconds(folder) * 1000
                index_table.rows.append(index_row)
                table.rows.extend(
                    _measure_peer(peer, loaded, archive, folder, repeat, timeout, index_row)
                )
                shutil.rmtree(folder, ignore_errors=True)
            result.tables.append(table)
            result.ratios.extend(_ratios(table, archive, peers))
    finally:
        remove_scratch(workdir)
    result.tables.append(index_table)
    result.settings.update(
        {"repeat": repeat, "sizes": [a.instances for _, a, _ in archives_for(options)]}
    )
    result.notes.extend(
        [
            f"best of {repeat} run(s) per query (lowest time to the last response)",
            "timed by a proxy between findscu/movescu and the SCP: request PDV to first and "
            "last response PDV, association set-up and release excluded",
            "answered: C-FIND pending responses; C-MOVE: files the destination (DCMTK storescp) "
            "received; its time ends at the final C-MOVE-RSP",
            "pynetdicom qrscp answers a study-level query once per instance and refuses UID "
            "lists (C320); its rows say so in 'check'",
            "dicomnet rows were put into the index through the backend (put_many); only the "
            "moved study has files; start-up = `dicomnet serve` process start to listening",
        ]
    )
    return result


def _ratios(table: Table, archive: Archive, peers: tuple[str, ...]) -> list[Ratio]:
    def value(label: str, key: str) -> Any:
        row = table.row(label)
        return row.values.get(key) if row is not None and row.ok else None

    out = []
    for other in peers:
        if other == "dicomnet":
            continue
        for query in archive.queries():
            mine, theirs = f"dicomnet: {query.name}", f"{other}: {query.name}"
            verdict = str(value(theirs, "check") or "")
            if not (verdict == "ok" or verdict.startswith("one per instance")):
                continue  # a refused or wrong answer has no speed to compare
            out.append(
                Ratio(
                    f"{theirs} / {mine} ({archive.instances:,})",
                    "ms to last (x faster)",
                    theirs,
                    mine,
                    ratio(value(theirs, "last_ms"), value(mine, "last_ms")),
                )
            )
    return out
