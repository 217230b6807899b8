"""Child-process accounting: exit status, CPU, the child's own peak RSS, listening ports."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from benchmarks import processes

ALLOCATE = 80 * 10**6  # bytes the child touches; more than a bare interpreter uses


def test_wait_reports_exit_status_and_the_childs_own_peak_rss(tmp_path: Path) -> None:
    # The peak comes right before the exit (os._exit: no teardown), where sampling misses it.
    touch = "b[::4096] = b'x' * len(b[::4096])"
    code = f"import os; b = bytearray({ALLOCATE}); {touch}; os._exit(3)"
    started = time.perf_counter()
    proc = processes.start(
        [sys.executable, "-c", code], log=tmp_path / "child.log", trace_exit=True
    )
    info = processes.wait_with_rusage(proc, started, timeout=30)
    assert info is not None
    assert info.returncode == 3 == proc.returncode
    assert info.peak_rss_at_exit
    assert info.peak_rss_bytes >= ALLOCATE
    assert info.cpu_seconds > 0
    assert info.wall_seconds > 0


def test_a_traced_child_receives_its_signals(tmp_path: Path) -> None:
    # A handled signal reaches its handler; an unhandled one ends the child as usual.
    handled = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(7))\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "signal.pause()"
    )
    unhandled = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    for code, returncode in ((handled, 7), (unhandled, -signal.SIGTERM)):
        proc = processes.start(
            [sys.executable, "-c", code], log=tmp_path / "child.log", trace_exit=True
        )
        info = processes.wait_with_rusage(proc, time.perf_counter(), timeout=30)
        assert info is not None
        assert info.returncode == returncode == proc.returncode


def test_an_untraced_child_is_sampled(tmp_path: Path) -> None:
    proc = processes.start([sys.executable, "-c", "raise SystemExit(4)"], log=tmp_path / "log")
    info = processes.wait_with_rusage(proc, time.perf_counter(), timeout=30)
    assert info is not None
    assert info.returncode == 4 == proc.returncode
    assert not info.peak_rss_at_exit
    assert info.peak_rss_bytes > 0


@pytest.mark.parametrize("trace_exit", [True, False], ids=["traced", "untraced"])
def test_wait_kills_a_child_past_its_timeout(tmp_path: Path, trace_exit: bool) -> None:
    proc = processes.start(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log=tmp_path / "child.log",
        trace_exit=trace_exit,
    )
    assert processes.wait_with_rusage(proc, time.perf_counter(), timeout=0.2) is None
    assert proc.returncode == -signal.SIGKILL  # killed and reaped


def test_start_passes_environment_and_separates_stdout(tmp_path: Path) -> None:
    out, log = tmp_path / "out", tmp_path / "log"
    code = "import os, sys; print(os.environ['BENCH_X']); print('oops', file=sys.stderr)"
    proc = processes.start([sys.executable, "-c", code], log=log, stdout=out, env={"BENCH_X": "7"})
    assert proc.wait(timeout=30) == 0
    assert out.read_text().strip() == "7"
    assert "oops" in log.read_text()


def test_listening_port_is_seen_and_a_closed_one_is_not() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert not processes.is_listening(port)  # bound, not yet listening
        sock.listen()
        assert processes.is_listening(port)


def test_wait_listening_fails_fast_when_the_server_exits(tmp_path: Path) -> None:
    proc = processes.start([sys.executable, "-c", "pass"], log=tmp_path / "log")
    proc.wait(timeout=30)
    try:
        processes.wait_listening(proc, processes.free_port(), timeout=5)
    except RuntimeError as exc:
        assert "exited" in str(exc)
    else:
        raise AssertionError("wait_listening returned for a server that exited")


def test_cpu_and_rss_of_a_running_process() -> None:
    sum(range(10**6))  # burn a little CPU so the tick count is not zero
    assert (processes.cpu_seconds(os.getpid()) or 0) > 0
    assert (processes.peak_rss_bytes(os.getpid()) or 0) > 10**6


def test_stop_terminates(tmp_path: Path) -> None:
    proc = processes.start(
        [sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "log"
    )
    processes.stop(proc, grace=5)
    assert proc.returncode is not None
    assert proc.poll() is not None
