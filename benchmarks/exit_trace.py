"""Stop a child on its way out, while its memory map still exists (Linux ptrace).

A process's own peak RSS (``VmHWM`` in ``/proc/<pid>/status``) is gone once it
has exited: a zombie has no memory map, and the ``ru_maxrss`` that ``wait4``
reports also covers the parent's memory that the child had before ``exec``.
Sampling VmHWM while the child runs misses a peak reached shortly before the
exit. A child traced with ``PTRACE_O_TRACEEXIT`` stops inside ``exit`` before
its memory is released, so VmHWM read at that stop is exact.

Tracing starts in the child (:func:`trace_me`, run between ``fork`` and
``exec``), so it holds from the new program's first instruction: ``execve``
stops the traced child until the parent has set the options and lets it go.
Where ptrace is not permitted the child runs untraced and :func:`is_traced`
says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path

__all__ = ["TracedChild", "is_exit_stop", "is_traced", "trace_me"]

_PTRACE_TRACEME = 0
_PTRACE_CONT = 7
_PTRACE_SETOPTIONS = 0x4200
_PTRACE_O_TRACEEXEC = 0x10
_PTRACE_O_TRACEEXIT = 0x40
_PTRACE_O_EXITKILL = 0x100000
_PTRACE_EVENT_EXIT = 6
_OPTIONS = _PTRACE_O_TRACEEXIT | _PTRACE_O_TRACEEXEC | _PTRACE_O_EXITKILL
#: Signals that would stop the child for job control: a measured child is never stopped.
_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.restype = ctypes.c_long
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def _call(request: int, pid: int, data: int = 0) -> None:
    if _ptrace(request, pid, None, data) == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"ptrace({request:#x}, {pid}): {os.strerror(errno)}")


def trace_me() -> None:
    """In the child before ``exec`` (a ``preexec_fn``): ask to be traced by the parent.

    Refused ptrace (a seccomp profile, Yama) is not an error: the child then runs
    untraced.
    """
    _ptrace(_PTRACE_TRACEME, 0, None, 0)


def is_traced(pid: int) -> bool:
    """True if this process traces ``pid`` (its ``TracerPid``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1]) == os.getpid()
    return False


def is_exit_stop(status: int) -> bool:
    """True if ``status`` (from ``wait4``) is the stop inside ``exit``."""
    return os.WIFSTOPPED(status) and status >> 16 == _PTRACE_EVENT_EXIT


class TracedChild:
    """The parent's half for one traced child: wait for its stops and resume them.

    A traced child's stops and its exit each send ``SIGCHLD``. While the block is
    active, ``SIGCHLD`` is blocked in this thread so that :meth:`wait` cannot miss
    one; another thread that leaves it unblocked may take it, and :meth:`wait` is
    then late by at most its ``seconds``.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._configured = False
        self._previous: set[signal.Signals] = set()

    def __enter__(self) -> TracedChild:
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        return self

    def __exit__(self, *exc: object) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)

    def wait(self, seconds: float) -> bool:
        """True once a ``SIGCHLD`` arrived (from any child), False after ``seconds``."""
        return signal.sigtimedwait({signal.SIGCHLD}, seconds) is not None

    def resume(self, status: int) -> None:
        """Let the child, stopped as ``status`` (from ``wait4``) says, run on.

        The first stop is the ``SIGTRAP`` of the ``exec`` that began tracing: the
        options are set there and the signal dropped. Later stops at ptrace events
        (``exec``, ``exit``) resume without a signal; at a signal, the signal is
        delivered, except job-control stops (a measured child is never stopped).
        """
        sig = os.WSTOPSIG(status)
        if not self._configured:
            _call(_PTRACE_SETOPTIONS, self.pid, _OPTIONS)
            self._configured = True
            sig = 0
        if status >> 16 or sig in _STOP_SIGNALS:
            sig = 0
        with contextlib.suppress(ProcessLookupError):  # killed meanwhile
            _call(_PTRACE_CONT, self.pid, sig)
