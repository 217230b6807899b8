"""Child processes of the benchmarks: ports, start-up, CPU time and peak memory.

Linux only: CPU time and peak RSS of a running child come from
``/proc/<pid>/stat`` and ``/proc/<pid>/status``. A child whose end is measured
is started with ``trace_exit``: its peak RSS is then read as it exits (see
``exit_trace``) and its CPU time comes from ``os.wait4``. A server is ready when
``/proc/net/tcp`` shows its port in the LISTEN state, so no probe connection
ever reaches a DICOM peer.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import exit_trace

__all__ = [
    "ExitInfo",
    "cpu_seconds",
    "free_port",
    "is_listening",
    "peak_rss_bytes",
    "start",
    "stop",
    "wait_listening",
    "wait_with_rusage",
]

log = logging.getLogger(__name__)

_TCP_LISTEN = "0A"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(port: int) -> bool:
    """True if some socket listens on TCP ``port`` (IPv4 or IPv6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 3 and fields[3] == _TCP_LISTEN
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def start(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
    trace_exit: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stderr (and stdout unless ``stdout`` is given) to ``log``.

    With ``trace_exit`` the child is traced so that :func:`wait_with_rusage` reads
    its peak RSS as it exits; it waits, stopped at ``exec``, until that call, which
    must follow at once (and nothing else may wait for the child).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with log.open("ab") as err, (stdout or log).open("ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=full_env,
            cwd=cwd,
            preexec_fn=exit_trace.trace_me if trace_exit else None,  # noqa: PLW1509
        )


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
    """Wait until ``port`` listens; raise RuntimeError if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        if is_listening(port):
            return
        time.sleep(0.02)
    raise RuntimeError(f"not listening on port {port} after {timeout:.0f} s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by the running process ``pid``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def peak_rss_bytes(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of the running process ``pid``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass(frozen=True, slots=True)
class ExitInfo:
    """How a child ended: exit code, wall seconds since ``started``, CPU and peak RSS.

    ``peak_rss_at_exit`` says whether the peak was read as the child exited
    (exact) or only sampled while it ran (may miss a late peak).
    """

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    peak_rss_at_exit: bool


def wait_with_rusage(
    proc: subprocess.Popen[bytes], started: float, timeout: float
) -> ExitInfo | None:
    """Reap ``proc`` with ``os.wait4``; kill it and return None after ``timeout`` seconds.

    ``started`` is the ``time.perf_counter()`` value taken just before it started.
    Peak RSS is the child's own VmHWM (the ``ru_maxrss`` of ``wait4`` would also
    count the parent's memory the child had before exec). For a child started
    with ``trace_exit`` it is read in the child's exit stop, so it is exact, and
    the exit is noticed by its ``SIGCHLD``. Otherwise (or where ptrace is not
    permitted) it is sampled every 20 ms while the child runs and the exit is
    noticed through a pidfd.
    """
    deadline = time.monotonic() + timeout
    traced = exit_trace.is_traced(proc.pid)
    if not traced:
        log.info("pid %d is not traced: its peak RSS is sampled every 20 ms", proc.pid)
    peak, at_exit, killed = 0, False, False
    waiter = exit_trace.TracedChild(proc.pid) if traced else _PidWaiter(proc.pid)
    with waiter:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                peak = max(peak, peak_rss_bytes(proc.pid) or 0)
                if not killed and time.monotonic() > deadline:
                    proc.kill()
                    killed = True
                waiter.wait(0.02)
            elif os.WIFSTOPPED(status):
                if exit_trace.is_exit_stop(status):
                    peak = max(peak, peak_rss_bytes(proc.pid) or 0)
                    at_exit = True
                assert isinstance(waiter, exit_trace.TracedChild)
                waiter.resume(status)
            else:
                break
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        return None
    return ExitInfo(
        returncode=proc.returncode,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=peak or usage.ru_maxrss * 1024,  # ru_maxrss is in kilobytes on Linux
        peak_rss_at_exit=at_exit,
    )


class _PidWaiter:
    """Wait for a child to exit without reaping it (pidfd, or polling where there is none)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._fd: int | None = None
        self._poll: select.poll | None = None

    def __enter__(self) -> _PidWaiter:
        try:
            self._fd = os.pidfd_open(self._pid)
        except (AttributeError, OSError):
            return self
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)

    def wait(self, seconds: float) -> bool:
        """True once the child has exited (it is left for ``wait4`` to reap)."""
        if self._poll is not None:
            return bool(self._poll.poll(seconds * 1000))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, self._pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
            time.sleep(0.002)
        return False


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate ``proc`` (SIGTERM, then SIGKILL after ``grace`` seconds) and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
