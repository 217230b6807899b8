"""Python bytecode the Storage SCP runs per stored instance, by function: index on against off.

``python -m benchmarks.ingest_opcodes [-N COUNT] [--top K]`` starts the benchmark
SCP (:mod:`benchmarks.dicomnet_scp`, plain asyncio loop, window 16, files written
into a scratch folder) twice, without and with ``--index``. Each time the load
client (:mod:`benchmarks.dicomnet_scu`, window 16) first stores a warm-up set,
then the SCP counts, function by function, the bytecode instructions its Python
code executes and the calls of each function (a coroutine's resumptions count as
calls) while the client stores ``COUNT`` small instances of one series. The table
gives both runs per instance and their difference, the largest first, with the
totals. The counts come back from run to run to within 0.1% (the event loop's
turns vary a little), so the difference of two trees (or of index on and off)
shows where a change adds or saves interpreter work, without valgrind and beside
the noise of real time. What runs in C (SQLite, the
system calls, ``bytes`` methods) is not counted: ``benchmarks/README.md`` has the
callgrind figures for that.

The counter is :func:`sys.settrace` with opcode events, switched on and off in the
SCP process by ``SIGUSR1`` (``--serve``, the mode the tool starts it in): it slows
the SCP tenfold, so only the counts mean anything, not its time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from .processes import free_port, start, stop, wait_listening
from .scratch import memory_folder

#: Instances the client stores before the counting starts (a first association walks
#: its first instance whole, later ones of its series partly).
WARM_UP = 50


class OpcodeCounter:
    """Counts the bytecode instructions and the calls of each function run in this thread."""

    def __init__(self) -> None:
        self.opcodes: Counter[CodeType] = Counter()
        self.calls: Counter[CodeType] = Counter()
        # The trace function set before start (a coverage tool's), put back by stop.
        self._before: Any = None

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        self.calls[frame.f_code] += 1
        return self._step

    def _step(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.opcodes[frame.f_code] += 1
        return self._step

    def start(self) -> None:
        """Count from now on (frames already running are not counted, their callees are)."""
        self._before = sys.gettrace()
        sys.settrace(self._call)

    def stop(self) -> None:
        sys.settrace(self._before)

    def table(self) -> dict[str, tuple[int, int]]:
        """(opcodes, calls) by function: ``folder/file.py:line qualified name`` (a function
        made from a string, as a dataclass's ``__init__``, also names its first arguments)."""
        out: dict[str, tuple[int, int]] = {}
        for code in self.calls.keys() | self.opcodes.keys():
            key = f"{_short(code.co_filename)}:{code.co_firstlineno} {code.co_qualname}"
            if code.co_filename.startswith("<string"):
                key += f"({', '.join(code.co_varnames[1 : min(4, code.co_argcount)])}, ...)"
            opcodes, calls = out.get(key, (0, 0))
            out[key] = (opcodes + self.opcodes[code], calls + self.calls[code])
        return out


def _short(filename: str) -> str:
    """The last two parts of a source path (``archive/walked.py``)."""
    parts = Path(filename).parts
    return "/".join(parts[-2:])


def write_table(table: Mapping[str, tuple[int, int]], path: Path) -> None:
    """Write a table as tab-separated lines (opcodes, calls, function), then rename it
    into place (its reader waits for the name)."""
    part = path.with_suffix(".part")
    lines = [f"{opcodes}\t{calls}\t{key}\n" for key, (opcodes, calls) in table.items()]
    part.write_text("".join(lines), encoding="utf-8")
    part.rename(path)


def read_table(path: Path) -> dict[str, tuple[int, int]]:
    table: dict[str, tuple[int, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        opcodes, calls, key = line.split("\t", 2)
        table[key] = (int(opcodes), int(calls))
    return table


@dataclass(frozen=True)
class Row:
    """One function's counts per instance: without, with, and the difference."""

    function: str
    plain_opcodes: float
    indexed_opcodes: float
    plain_calls: float
    indexed_calls: float

    @property
    def extra_opcodes(self) -> float:
        return self.indexed_opcodes - self.plain_opcodes


def difference(
    plain: Mapping[str, tuple[int, int]], indexed: Mapping[str, tuple[int, int]], count: int
) -> list[Row]:
    """The functions of both tables per instance, the largest difference (either way) first."""
    rows = [
        Row(
            key,
            plain.get(key, (0, 0))[0] / count,
            indexed.get(key, (0, 0))[0] / count,
            plain.get(key, (0, 0))[1] / count,
            indexed.get(key, (0, 0))[1] / count,
        )
        for key in plain.keys() | indexed.keys()
    ]
    rows.sort(key=lambda row: (-abs(row.extra_opcodes), row.function))
    return rows


def totals(table: Mapping[str, tuple[int, int]], count: int) -> tuple[float, float]:
    """All opcodes and calls of a table, per instance."""
    return (
        sum(opcodes for opcodes, _ in table.values()) / count,
        sum(calls for _, calls in table.values()) / count,
    )


def serve(output: Path, scp_args: Sequence[str]) -> int:
    """The SCP with the counter: the first SIGUSR1 starts it, the second writes ``output``."""
    counter = OpcodeCounter()
    counting = False

    def toggle(signum: int, frame: FrameType | None) -> None:
        nonlocal counting
        if not counting:
            counting = True
            counter.start()
            return
        counter.stop()
        write_table(counter.table(), output)

    signal.signal(signal.SIGUSR1, toggle)
    from .dicomnet_scp import main as scp_main

    return scp_main(list(scp_args))


def _store(port: int, folder: Path, log: Path) -> None:
    """Store the set in ``folder`` with the load client; raise if an instance failed."""
    argv = [sys.executable, "-m", "benchmarks.dicomnet_scu", "127.0.0.1", str(port)]
    argv += [str(folder), "--window", "16", "--no-uvloop"]
    with log.open("ab") as err:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, check=False)
    if done.returncode != 0 or b'"failed": 0' not in done.stdout:
        raise RuntimeError(f"the load client failed ({done.stdout!r}); see {log}")


def count_run(
    warm: Path, measured: Path, scratch: Path, *, index: bool, timeout: float = 120.0
) -> dict[str, tuple[int, int]]:
    """The SCP's counts while the client stores ``measured`` (after ``warm``)."""
    label = "indexed" if index else "plain"
    output = scratch / f"{label}.tsv"
    log = scratch / f"{label}.log"
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.ingest_opcodes", "--serve", str(output), "--"]
    argv += [str(port), "--no-uvloop", "--window", "16", "--output", str(scratch / label)]
    if index:
        argv.append("--index")
    proc = start(argv, log=log, cwd=Path(__file__).resolve().parent.parent)
    try:
        wait_listening(proc, port)
        _store(port, warm, log)
        proc.send_signal(signal.SIGUSR1)
        _store(port, measured, log)
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not output.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SCP wrote no counts; see {log}")
            time.sleep(0.05)
    finally:
        stop(proc)
    return read_table(output)


def measure(count: int) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """(plain, indexed) counts of ``count`` small instances, sets made in a scratch folder."""
    from .datasets import WORKLOADS, generate

    with tempfile.TemporaryDirectory(dir=memory_folder()) as name:
        scratch = Path(name)
        tables = []
        for index in (False, True):
            # New sets for each run: the same UIDs again would be duplicates (kept first).
            sets = scratch / ("sets-indexed" if index else "sets-plain")
            generate(WORKLOADS["small"].scaled(WARM_UP), sets / "warm")
            generate(WORKLOADS["small"].scaled(count), sets / "measured")
            tables.append(count_run(sets / "warm", sets / "measured", scratch, index=index))
        return tables[0], tables[1]


def render(
    plain: Mapping[str, tuple[int, int]],
    indexed: Mapping[str, tuple[int, int]],
    count: int,
    top: int,
) -> str:
    plain_ops, plain_calls = totals(plain, count)
    indexed_ops, indexed_calls = totals(indexed, count)
    lines = [
        f"{count} small instances, window 16; per instance:",
        f"  opcodes  {plain_ops:8.1f} without the index, {indexed_ops:8.1f} with it "
        f"({indexed_ops - plain_ops:+.1f})",
        f"  calls    {plain_calls:8.1f} without the index, {indexed_calls:8.1f} with it "
        f"({indexed_calls - plain_calls:+.1f})",
        "",
        f"{'extra':>8} {'without':>8} {'with':>8} {'calls':>11}  function",
    ]
    for row in difference(plain, indexed, count)[:top]:
        calls = f"{row.plain_calls:.2f}>{row.indexed_calls:.2f}"
        lines.append(
            f"{row.extra_opcodes:8.1f} {row.plain_opcodes:8.1f} {row.indexed_opcodes:8.1f} "
            f"{calls:>11}  {row.function}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--serve"]:
        if len(args_in) < 3 or args_in[2] != "--":
            raise SystemExit("usage: --serve OUTPUT -- SCP-ARGUMENTS")
        return serve(Path(args_in[1]), args_in[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", "--count", type=int, default=300, help="instances counted")
    parser.add_argument("--top", type=int, default=40, help="functions listed")
    args = parser.parse_args(args_in)
    if args.count < 1:
        parser.error("--count must be positive")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    plain, indexed = measure(args.count)
    print(render(plain, indexed, args.count, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
