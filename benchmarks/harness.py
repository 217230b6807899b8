"""Shared parts of the benchmark suites: results, tables, JSON, timing, machine facts.

A suite is a module with ``run(options: Options) -> SuiteResult``. It fills
one or more :class:`Table` values (rows of figures, or a row saying why a
figure is unavailable) and a list of :class:`Ratio` values; the harness prints
them and writes everything to ``<output_dir>/<suite>.json``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "SUITES",
    "Column",
    "Options",
    "Ratio",
    "Row",
    "SuiteResult",
    "SuiteSpec",
    "Table",
    "best_of",
    "find_dcmtk",
    "format_result",
    "format_table",
    "machine_info",
    "ratio",
    "result_to_json",
    "run_suite",
    "write_result",
]

#: Where ``python -m benchmarks`` writes its JSON (and PNG) files by default.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: The repository root (``benchmarks/`` lives directly below it).
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked for."""

    quick: bool = False
    output_dir: Path = RESULTS_DIR
    only: tuple[str, ...] = ()  # substrings; a case runs if its label contains any of them
    verbose: bool = False
    repeat: int | None = None  # runs per measured row (None: the suite's default)
    sizes: tuple[int, ...] = ()  # archive sizes in instances (suites that take them: find)

    def selected(self, label: str) -> bool:
        """True if ``label`` passes the ``--only`` filter."""
        return not self.only or any(part in label for part in self.only)


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: the key of a row value, its header and its format spec."""

    key: str
    header: str
    fmt: str = ""


@dataclass(slots=True)
class Row:
    """One table row: a label, figures by column key, and why it is missing if it is."""

    label: str
    values: dict[str, Any] = field(default_factory=dict)
    unavailable: str | None = None  # reason, when the row could not be measured

    @property
    def ok(self) -> bool:
        """True if the row was measured."""
        return self.unavailable is None


@dataclass(slots=True)
class Table:
    """A titled table of rows sharing columns."""

    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)

    def row(self, label: str) -> Row | None:
        """The row called ``label``, if any."""
        for row in self.rows:
            if row.label == label:
                return row
        return None


@dataclass(frozen=True, slots=True)
class Ratio:
    """``numerator / denominator`` of one metric between two rows (None if either is missing).

    For rates, above 1 means the numerator is faster; ``lower_is_better``
    marks costs (CPU seconds, memory) where above 1 means the numerator uses more.
    """

    name: str
    metric: str
    numerator: str
    denominator: str
    value: float | None
    lower_is_better: bool = False


@dataclass(slots=True)
class SuiteResult:
    """Everything one suite run produced."""

    suite: str
    tables: list[Table] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # extra artefacts (plots)
    #: Ratios to print when the full list is too long to read (None: print them all).
    printed_ratios: list[Ratio] | None = None


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """A registered suite: the module that runs it and a one-line description."""

    name: str
    module: str
    description: str


#: Every suite ``python -m benchmarks`` knows, by name.
SUITES: Mapping[str, SuiteSpec] = {
    spec.name: spec
    for spec in (
        SuiteSpec(
            "pdu",
            "benchmarks.pdu_suite",
            "PDU encode/decode: dicomnet_pdu beside pynetdicom.pdu (P-DATA-TF, A-ASSOCIATE-RQ)",
        ),
        SuiteSpec(
            "store",
            "benchmarks.store_suite",
            "C-STORE on loopback: dicomnet, pynetdicom and DCMTK SCU/SCP and their crosses",
        ),
        SuiteSpec(
            "echo",
            "benchmarks.echo_suite",
            "C-ECHO round trips per second on one association: dicomnet, pynetdicom, DCMTK",
        ),
        SuiteSpec(
            "stalled",
            "benchmarks.stalled_suite",
            "SCUs silent mid-data-set: aborted after DIMSE, descriptors, memory, partial files",
        ),
        SuiteSpec(
            "forward",
            "benchmarks.forward_suite",
            "Store through the send queue (router) to a destination beside storing directly",
        ),
        SuiteSpec(
            "find",
            "benchmarks.find_suite",
            "C-FIND/C-MOVE from an archive index: dicomnet, pynetdicom qrscp, DCMTK dcmqrscp",
        ),
        SuiteSpec(
            "web",
            "benchmarks.web_suite",
            "DICOMweb beside DIMSE on one archive: QIDO-RS/C-FIND, WADO-RS/C-GET, STOW-RS/C-STORE",
        ),
        SuiteSpec(
            "memory",
            "benchmarks.memory_suite",
            "dicomnet SCP resident size: idle, silent connections, bursts of associations",
        ),
        SuiteSpec(
            "scale",
            "benchmarks.scale_suite",
            "50/200/1000 storing associations: serve --workers 1/2 (SQLite, PostgreSQL),"
            " storescp --fork, pynetdicom; kill -9 of a worker",
        ),
    )
}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None if either is missing, not finite or zero."""
    if numerator is None or denominator is None:
        return None
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator == 0:
        return None
    return numerator / denominator


def best_of(
    func: Callable[[], object],
    *,
    repeat: int = 5,
    min_time: float = 0.2,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds per call of ``func``: the best of ``repeat`` timed loops.

    The loop length is calibrated first (doubling) until one loop takes at
    least ``min_time``; the minimum over loops is the least disturbed figure.
    """
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            func()
        elapsed = clock() - start
        if elapsed >= min_time or number >= 1 << 30:
            break
        number *= 2 if elapsed <= 0 else max(2, min(10, math.ceil(min_time / elapsed * 1.2)))
    best = elapsed / number
    for _ in range(repeat - 1):
        start = clock()
        for _ in range(number):
            func()
        best = min(best, (clock() - start) / number)
    return best


def _format_value(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if fmt and isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, fmt)
    return str(value)


def format_table(table: Table) -> str:
    """The table as aligned plain text (numbers right-aligned, unavailable rows explained)."""
    headers = ["", *(column.header for column in table.columns)]
    body: list[list[str]] = []
    notes: list[str] = []
    for row in table.rows:
        if row.ok:
            cells = [_format_value(row.values.get(c.key), c.fmt) for c in table.columns]
        else:
            cells = ["n/a"] * len(table.columns)
            notes.append(f"  {row.label}: unavailable: {row.unavailable}")
        body.append([row.label, *cells])
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    lines = [table.title, "=" * len(table.title)]

    def render(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    lines.append(render(headers))
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(render(cells) for cells in body)
    lines.extend(notes)
    return "\n".join(lines)


def _format_ratio(value: float | None) -> str:
    """Two decimals, or three significant digits for small ratios (never a bare 0.00x)."""
    if value is None:
        return "-"
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.3g}x"


def _format_ratios(ratios: Iterable[Ratio]) -> str:
    rows = [
        (
            r.name,
            r.metric,
            _format_ratio(r.value),
            "lower is better" if r.lower_is_better else "",
        )
        for r in ratios
    ]
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["Ratios", "======"]
    lines.extend(
        f"{n.ljust(widths[0])}  {m.ljust(widths[1])}  {v.rjust(widths[2])}  {lb}".rstrip()
        for n, m, v, lb in rows
    )
    return "\n".join(lines)


def format_result(result: SuiteResult) -> str:
    """Every table, the ratios and the notes of ``result`` as printable text."""
    parts = [format_table(table) for table in result.tables]
    ratios = _format_ratios(
        result.ratios if result.printed_ratios is None else result.printed_ratios
    )
    if ratios:
        parts.append(ratios)
    if result.notes:
        parts.append("\n".join(["Notes", "=====", *(f"* {note}" for note in result.notes)]))
    return "\n\n".join(parts)


def result_to_json(result: SuiteResult) -> dict[str, Any]:
    """A JSON-ready dict with every figure, ratio, note and the machine facts."""
    return {
        "suite": result.suite,
        "machine": result.machine,
        "settings": result.settings,
        "tables": [
            {
                "title": table.title,
                "columns": [{"key": c.key, "header": c.header} for c in table.columns],
                "rows": [
                    {"label": row.label, "values": row.values, "unavailable": row.unavailable}
                    for row in table.rows
                ],
            }
            for table in result.tables
        ],
        "ratios": [
            {
                "name": r.name,
                "metric": r.metric,
                "numerator": r.numerator,
                "denominator": r.denominator,
                "value": r.value,
                "lower_is_better": r.lower_is_better,
            }
            for r in result.ratios
        ],
        "notes": result.notes,
        "files": result.files,
    }


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_result(result: SuiteResult, directory: Path) -> Path:
    """Write ``<directory>/<suite>.json`` (directory created if needed); return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.suite}.json"
    text = json.dumps(result_to_json(result), indent=2, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_script(path: str) -> bool:
    """True for an interpreted script (DCMTK's programs are compiled executables)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def find_dcmtk(name: str) -> str | None:
    """Path of DCMTK's program ``name`` (not pynetdicom's script of the same name), or None."""
    candidates = [os.path.join(d, name) for d in os.environ.get("PATH", "").split(os.pathsep)]
    candidates.append(os.path.join("/usr/bin", name))
    seen: set[str] = set()
    for candidate in candidates:
        if candidate in seen or not os.access(candidate, os.X_OK):
            continue
        seen.add(candidate)
        if _is_script(candidate):  # pynetdicom's console scripts (and shims) share the names
            continue
        try:
            out = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "dcmtk" in out.lower():
            return candidate
    return None


def _dcmtk_version() -> str | None:
    program = find_dcmtk("storescu")
    if program is None:
        return None
    out = subprocess.run(
        [program, "--version"], capture_output=True, text=True, timeout=20, check=False
    ).stdout
    for line in out.splitlines():
        if "dcmtk" in line.lower():
            return line.strip().strip("$").strip()
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git_revision() -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=20,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head or None


def machine_info() -> dict[str, Any]:
    """Facts about the machine and the software under test, for the JSON file."""
    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "dicomnet_git": _git_revision(),
        "uvloop": _version("uvloop"),
        "pynetdicom": _version("pynetdicom"),
        "pydicom": _version("pydicom"),
        "dcmtk": _dcmtk_version(),
    }


def run_suite(name: str, options: Options) -> SuiteResult:
    """Import and run the suite called ``name``; fill in the machine facts."""
    spec = SUITES[name]
    module = importlib.import_module(spec.module)
    before = machine_info()  # the load average that matters is the one before the run
    result: SuiteResult = module.run(options)
    result.machine = {
        **before,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "date_utc_at_end": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    result.settings.setdefault("quick", options.quick)
    return result
