"""Suite ``web``: DICOMweb beside DIMSE on the same archive and the same server process.

The find suite's archive (``--size N`` instances, 100,000 by default, 1,000
with ``--quick``; index rows put through the backend) gets a study of
512 x 512 x 16-bit images with files (:mod:`benchmarks.web_load`); one
``dicomnet serve --http`` serves both sides. Rows, each the best of
``--repeat`` runs:

* QIDO-RS searches (httpx, keep-alive) beside the same searches as C-FIND
  (DCMTK ``findscu`` through the find suite's timing proxy, association
  set-up excluded); "all studies" is paged with ``limit``/``offset`` in
  pages of the server's result limit (10,000);
* WADO-RS retrieval of the image study (``transfer-syntax=*``, streamed and
  counted) beside C-GET of it (``getscu`` through the proxy: C-GET-RQ to
  the final C-GET-RSP), in MB/s of file bytes;
* STOW-RS of small new instances in one request beside C-STORE of as many
  (``storescu`` through the proxy, first C-STORE-RQ to the last RSP).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import httpx

from .find_data import STUDIES_PER_PATIENT, Archive, Query
from .find_peers import AE_TITLES, environment, load_dicomnet, scp_argv
from .harness import Column, Options, Ratio, Row, SuiteResult, Table, ratio
from .processes import free_port, start, stop, wait_listening
from .scratch import remove_scratch, retire_files, scratch_folder
from .web_load import (
    BIG_STUDY,
    IMAGE_STUDY,
    add_big_study,
    add_image_study,
    big_instance,
    write_instances,
)

__all__ = ["qido_request", "run"]

_PAGE: Final = 10_000
_COLUMNS = [
    Column("expected", "expected", ",d"),
    Column("answered", "answered", ",d"),
    Column("ms", "ms", ".1f"),
    Column("per_second", "results/s", ",.0f"),
    Column("check", "check", ""),
]
_MEMORY_COLUMNS = [
    Column("mb", "MB moved", ",.0f"),
    Column("rss_before", "RSS before MB", ".0f"),
    Column("rss_after", "RSS after MB", ".0f"),
    Column("peak", "peak RSS MB", ".0f"),
]
_TRANSFER_COLUMNS = [
    Column("instances", "instances", ",d"),
    Column("mb", "MB", ".1f"),
    Column("seconds", "s", ".3f"),
    Column("mb_per_s", "MB/s", ",.1f"),
    Column("per_second", "inst/s", ",.0f"),
]


def qido_request(query: Query) -> tuple[str, list[tuple[str, str]]]:
    """The QIDO-RS path and parameters asking what a find-suite query asks."""
    keys = dict(query.keys)
    params: list[tuple[str, str]] = []
    if query.level == "IMAGE":
        path = (
            f"/studies/{keys.pop('StudyInstanceUID')}"
            f"/series/{keys.pop('SeriesInstanceUID')}/instances"
        )
    else:
        path = "/studies"
    for key, value in keys.items():
        if value:
            params.append((key, value.replace("\\", ",")))
        else:
            params.append(("includefield", key))
    return path, params


class _Proxy:
    """DCMTK tools through the find suite's timing proxy; the last timed report line."""

    def __init__(self, port: int, report: Path) -> None:
        self.port = port
        self.report = report

    def _lines(self) -> list[str]:
        return self.report.read_text().splitlines() if self.report.exists() else []

    def run(self, argv: list[str], timeout: float = 600) -> dict[str, Any]:
        before = len(self._lines())
        subprocess.run(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            env={**environment(), "PATH": "/usr/bin:/bin"},
            check=False,
        )
        deadline = time.monotonic() + 10
        while len(self._lines()) <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        fresh = [json.loads(line) for line in self._lines()[before:]]
        timed = [r for r in fresh if r.get("requests")]
        return timed[-1] if timed else {}


def _qido(client: httpx.Client, query: Query) -> tuple[int, float]:
    path, params = qido_request(query)
    headers = {"Accept": "application/dicom+json"}
    count = 0
    start_time = time.perf_counter()
    if query.selective:
        response = client.get(path, params=params, headers=headers)
        if response.status_code == 200:
            count = len(response.json())
    else:
        offset = 0
        while True:
            page = [*params, ("limit", str(_PAGE)), ("offset", str(offset))]
            response = client.get(path, params=page, headers=headers)
            got = len(response.json()) if response.status_code == 200 else 0
            count += got
            offset += got
            if got < _PAGE:
                break
    return count, time.perf_counter() - start_time


def _best(runs: list[tuple[int, float]]) -> tuple[int, float]:
    return min(runs, key=lambda r: r[1])


def _expected(query: Query) -> int:
    """The answer count: the two studies the suite adds (images, big) count for "all"."""
    return query.expected + (0 if query.selective else 2)


def _search_rows(
    archive: Archive, client: httpx.Client, proxy: _Proxy, repeat: int, table: Table
) -> None:
    for query in archive.queries():
        if query.move:
            continue
        expected = _expected(query)
        count, seconds = _best([_qido(client, query) for _ in range(repeat)])
        table.rows.append(
            Row(
                f"QIDO-RS: {query.name}",
                {
                    "expected": expected,
                    "answered": count,
                    "ms": seconds * 1000,
                    "per_second": count / seconds if seconds > 0 else None,
                    "check": "ok" if count == expected else f"expected {expected}",
                },
            )
        )
        keys = [arg for key, value in query.keys for arg in ("-k", f"{key}={value}")]
        argv = [
            "findscu", "-q", "-S", "-aec", AE_TITLES["dicomnet"], "-aet", "FINDSCU",
            "-to", "60", "-ta", "60", "-td", "60", "127.0.0.1", str(proxy.port),
            "-k", f"QueryRetrieveLevel={query.level}", *keys,
        ]  # fmt: skip
        best: dict[str, Any] = {}
        for _ in range(repeat):
            got = proxy.run(argv)
            if got.get("last_ms") is not None and (not best or got["last_ms"] < best["last_ms"]):
                best = got
        if not best:
            table.rows.append(Row(f"C-FIND: {query.name}", unavailable="no response timed"))
            continue
        answered = max(0, int(best.get("responses", 0)) - 1)
        table.rows.append(
            Row(
                f"C-FIND: {query.name}",
                {
                    "expected": expected,
                    "answered": answered,
                    "ms": best["last_ms"],
                    "per_second": answered / (best["last_ms"] / 1000) if answered else None,
                    "check": "ok" if answered == expected else f"expected {expected}",
                },
            )
        )


def _wado(client: httpx.Client) -> tuple[int, float]:
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    size = 0
    start_time = time.perf_counter()
    with client.stream("GET", f"/studies/{IMAGE_STUDY}", headers={"Accept": accept}) as response:
        for chunk in response.iter_raw(1 << 20):
            size += len(chunk)
    return size, time.perf_counter() - start_time


def _transfer_row(label: str, count: int, size: int, seconds: float) -> Row:
    return Row(
        label,
        {
            "instances": count,
            "mb": size / 1e6,
            "seconds": seconds,
            "mb_per_s": size / 1e6 / seconds if seconds > 0 else None,
            "per_second": count / seconds if seconds > 0 else None,
        },
    )


def _retrieve_rows(
    client: httpx.Client, proxy: _Proxy, work: Path, *, files: int, size: int, repeat: int
) -> list[Row]:
    body, seconds = _best([_wado(client) for _ in range(repeat)])
    rows = [_transfer_row("WADO-RS study (multipart, as stored)", files, body, seconds)]
    best: float | None = None
    for _ in range(repeat):
        # A new folder per run; the last run's files are emptied, not deleted (see
        # scratch.retire_files: creating files among just-freed inodes costs more).
        received = Path(tempfile.mkdtemp(prefix="got-", dir=work))
        argv = [
            "getscu", "-q", "-S", "-aec", AE_TITLES["dicomnet"], "-aet", "GETSCU",
            "-od", str(received), "127.0.0.1", str(proxy.port),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={IMAGE_STUDY}",
        ]  # fmt: skip
        got = proxy.run(argv)
        complete = len(list(received.iterdir())) == files
        retire_files(received)
        if got.get("last_ms") is not None and complete:
            best = got["last_ms"] / 1000 if best is None else min(best, got["last_ms"] / 1000)
    if best is None:
        rows.append(Row("C-GET study", unavailable="no complete C-GET timed"))
    else:
        rows.append(_transfer_row("C-GET study", files, size, best))
    return rows


def _stow(client: httpx.Client, files: list[Path]) -> float:
    boundary = "web-suite-boundary"
    parts = [
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + path.read_bytes()
        + b"\r\n"
        for path in files
    ]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }
    start_time = time.perf_counter()
    response = client.post("/studies", content=body, headers=headers)
    seconds = time.perf_counter() - start_time
    if response.status_code != 200:
        raise RuntimeError(f"STOW-RS answered {response.status_code}: {response.text[:200]}")
    return seconds


def _store_rows(
    client: httpx.Client, proxy: _Proxy, work: Path, count: int, repeat: int
) -> list[Row]:
    stow: float | None = None
    store: float | None = None
    size = 0
    for run in range(repeat):
        files = write_instances(work / f"stow-{run}", count)
        size = sum(p.stat().st_size for p in files)
        seconds = _stow(client, files)
        stow = seconds if stow is None else min(stow, seconds)
        files = write_instances(work / f"store-{run}", count)
        got = proxy.run(
            ["storescu", "-aec", AE_TITLES["dicomnet"], "127.0.0.1", str(proxy.port)]
            + [str(p) for p in files]
        )
        if got.get("last_ms") is not None and int(got.get("responses", 0)) == count:
            timed = got["last_ms"] / 1000
            store = timed if store is None else min(store, timed)
    rows = []
    if stow is not None:
        rows.append(_transfer_row(f"STOW-RS {count} instances, one request", count, size, stow))
    if store is None:
        rows.append(Row("C-STORE", unavailable="no complete C-STORE timed"))
    else:
        rows.append(
            _transfer_row(f"C-STORE {count} instances, one association", count, size, store)
        )
    return rows


def _status(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def _memory_rows(client: httpx.Client, pid: int, work: Path, stow_size: int) -> list[Row]:
    """Server RSS around a whole-study retrieve and a large STOW (first thing after start)."""
    rows = []
    before = _status(pid)
    size, seconds = 0, 0.0
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    start_time = time.perf_counter()
    with client.stream("GET", f"/studies/{BIG_STUDY}", headers={"Accept": accept}) as response:
        for chunk in response.iter_raw(1 << 20):
            size += len(chunk)
    seconds = time.perf_counter() - start_time
    after = _status(pid)
    rows.append(
        Row(
            f"WADO-RS study of {size / 1e9:.2f} GB ({size / 1e6 / seconds:,.0f} MB/s)",
            {
                "mb": size / 1e6,
                "rss_before": before["VmRSS"],
                "rss_after": after["VmRSS"],
                "peak": after["VmHWM"],
            },
        )
    )
    path = big_instance(work / "stow-big.dcm", stow_size, study=BIG_STUDY)
    boundary = "web-suite-big"

    def body():  # type: ignore[no-untyped-def]
        yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }
    response = client.post("/studies", content=body(), headers=headers)
    stored = _status(pid)
    rows.append(
        Row(
            f"STOW-RS one instance of {path.stat().st_size / 1e6:.0f} MB ({response.status_code})",
            {
                "mb": path.stat().st_size / 1e6,
                "rss_before": after["VmRSS"],
                "rss_after": stored["VmRSS"],
                "peak": stored["VmHWM"],
            },
        )
    )
    path.unlink()
    return rows


def _wait_http(client: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("dicomnet serve exited")
        try:
            client.get("/studies", params={"PatientID": "none"})
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("HTTP side not answering")


def run(options: Options) -> SuiteResult:
    """One archive per size: searches, retrieval and storage, HTTP beside DIMSE."""
    repeat = options.repeat or (1 if options.quick else 3)
    sizes = list(options.sizes) or [1_000 if options.quick else 100_000]
    images = 20 if options.quick else 100
    big_total = (64 if options.quick else 1024) * 1024 * 1024
    big_file = (16 if options.quick else 64) * 1024 * 1024
    stow_big = (16 if options.quick else 64) * 1024 * 1024
    stored = 50 if options.quick else 500
    result = SuiteResult("web")
    workdir = scratch_folder("dicomnet-bench-web-")
    try:
        for size in sizes:
            archive = Archive(max(1, size // (STUDIES_PER_PATIENT * 5)))
            folder = workdir / f"archive-{size}"
            loaded = load_dicomnet(archive, folder)
            image_bytes, _ = add_image_study(folder, images)
            add_big_study(folder, big_total, big_file)
            port, move_port, proxy_port, http_port = (free_port() for _ in range(4))
            argv = [*scp_argv("dicomnet", loaded, port, move_port), "--http", str(http_port)]
            proc = start(argv, log=workdir / "serve.log", env=environment(), cwd=workdir)
            report = workdir / f"proxy-{size}.jsonl"
            proxy_proc = start(
                [sys.executable, "-m", "benchmarks.find_proxy", "--port", str(proxy_port),
                 "--target", str(port), "--report", str(report)],
                log=workdir / "proxy.log",
                env=environment(),
            )  # fmt: skip
            searches = Table(
                f"{archive.instances:,} instances ({archive.study_count:,} studies): "
                "QIDO-RS beside C-FIND, ms to the last result",
                _COLUMNS,
            )
            memory = Table(
                "Server memory (VmRSS / VmHWM of `dicomnet serve`) around large transfers",
                _MEMORY_COLUMNS,
            )
            transfers = Table(
                f"{archive.instances:,}-instance archive: retrieval and storage", _TRANSFER_COLUMNS
            )
            base = f"http://127.0.0.1:{http_port}/dicomweb"
            try:
                wait_listening(proc, port, timeout=300)
                wait_listening(proxy_proc, proxy_port)
                proxy = _Proxy(proxy_port, report)
                with httpx.Client(base_url=base, timeout=600) as client:
                    _wait_http(client, proc)
                    memory.rows.extend(_memory_rows(client, proc.pid, workdir, stow_big))
                    _search_rows(archive, client, proxy, repeat, searches)
                    transfers.rows.extend(
                        _retrieve_rows(
                            client, proxy, workdir, files=images, size=image_bytes, repeat=repeat
                        )
                    )
                    transfers.rows.extend(_store_rows(client, proxy, workdir, stored, repeat))
            except (RuntimeError, OSError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
                searches.rows.append(Row("(all)", unavailable=str(exc)))
            finally:
                stop(proxy_proc)
                stop(proc)
                retire_files(folder)  # removed with workdir at the end (see retire_files)
            result.tables.extend([searches, transfers, memory])
            result.ratios.extend(_ratios(archive, searches, transfers))
    finally:
        remove_scratch(workdir)
    result.settings.update({"repeat": repeat, "sizes": sizes, "images": images, "stored": stored})
    result.notes.extend(
        [
            f"best of {repeat} run(s) per row; one `dicomnet serve --http` process serves both",
            "QIDO-RS timed in the client (httpx, keep-alive connection, JSON parsed); C-FIND "
            "timed by the proxy from C-FIND-RQ to the final response",
            f"all studies over QIDO-RS: pages of {_PAGE} (limit/offset)",
            "WADO-RS MB/s counts body bytes; C-GET MB/s counts file bytes, C-GET-RQ to final RSP",
            "STOW-RS timed in the client, whole request; C-STORE first RQ to last RSP (proxy)",
        ]
    )
    return result


def _ratios(archive: Archive, searches: Table, transfers: Table) -> list[Ratio]:
    def value(table: Table, label: str, key: str) -> Any:
        row = table.row(label)
        return row.values.get(key) if row is not None and row.ok else None

    def by_prefix(table: Table, prefix: str, key: str) -> tuple[str, Any]:
        for row in table.rows:
            if row.label.startswith(prefix) and row.ok:
                return row.label, row.values.get(key)
        return prefix, None

    out = []
    for query in archive.queries():
        if query.move:
            continue
        mine, theirs = f"QIDO-RS: {query.name}", f"C-FIND: {query.name}"
        out.append(
            Ratio(
                f"{theirs} ms / {mine} ms ({archive.instances:,})",
                "ms (above 1: QIDO-RS faster)",
                theirs,
                mine,
                ratio(value(searches, theirs, "ms"), value(searches, mine, "ms")),
            )
        )
    wado, wado_rate = by_prefix(transfers, "WADO-RS", "mb_per_s")
    get, get_rate = by_prefix(transfers, "C-GET", "mb_per_s")
    out.append(
        Ratio("WADO-RS / C-GET", "MB/s (target >= 0.5)", wado, get, ratio(wado_rate, get_rate))
    )
    stow, stow_rate = by_prefix(transfers, "STOW-RS", "per_second")
    store, store_rate = by_prefix(transfers, "C-STORE", "per_second")
    out.append(
        Ratio(
            "STOW-RS / C-STORE", "inst/s (target >= 0.5)", stow, store, ratio(stow_rate, store_rate)
        )
    )
    return out
