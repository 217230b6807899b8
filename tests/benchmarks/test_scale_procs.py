"""CPU time of a benchmark's server tree: live processes to the nanosecond, reaped ones too."""

from __future__ import annotations

import subprocess
import sys

from benchmarks import scale_procs

#: Burn this much CPU (the process's own clock), then say so and wait for stdin to close.
_BURN = """
import sys, time
while time.process_time() < {seconds}:
    pass
print(time.process_time(), flush=True)
sys.stdin.read()
"""

#: Run a burning child to its end (it is reaped), then burn, say so and wait.
_PARENT = """
import subprocess, sys, time
subprocess.run([sys.executable, "-c", {child!r}], input=b"", check=True, stdout=subprocess.DEVNULL)
while time.process_time() < 0.05:
    pass
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def _started(code: str) -> tuple[subprocess.Popen[bytes], float]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    said = float(proc.stdout.readline())
    return proc, said


def _ended(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


def test_process_cpu_reads_a_live_process_clock_finer_than_ticks() -> None:
    proc, said = _started(_BURN.format(seconds=0.23))
    try:
        measured = scale_procs.process_cpu(proc.pid)
        assert measured is not None
        # At least what the child counted itself by then (the clock it reads is this one).
        assert measured >= said >= 0.23
    finally:
        _ended(proc)
    assert scale_procs.process_cpu(proc.pid) is None  # reaped: no clock


def test_tree_cpu_counts_a_reaped_child_and_the_live_parent() -> None:
    child = _BURN.format(seconds=0.3).replace("sys.stdin.read()", "")
    proc, said = _started(_PARENT.format(child=child))
    try:
        own = scale_procs.process_cpu(proc.pid)
        assert own is not None and own >= said
        total = scale_procs.tree_cpu(proc.pid)
        # The reaped child's 0.3 s, read in whole clock ticks as the kernel's accounting
        # splits it between user and system time (a tick or two may be lost).
        assert total >= own + 0.25
    finally:
        _ended(proc)


def test_process_cpus_gives_each_live_process_of_the_tree_and_its_role() -> None:
    parent = _BURN.format(seconds=0.05).replace(
        "import sys, time",
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {_BURN.format(seconds=0.1)!r}],"
        " stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
        "child.stdout.readline()",
    )
    proc, _said = _started(parent)
    try:
        each = scale_procs.process_cpus(proc.pid)
        assert proc.pid in each and len(each) == 2
        (child,) = set(each) - {proc.pid}
        assert each[child] >= 0.1  # what the child burnt before the parent went on
        assert scale_procs.role(proc.pid, proc.pid) == "supervisor"
        assert scale_procs.role(proc.pid, child) == "worker"
    finally:
        _ended(proc)
