"""Run a coroutine's first step now; give it a task only when it has to wait.

A request's handler usually answers without waiting for anything (a C-ECHO, a
C-STORE whose data set has arrived and goes into a synchronous sink): started
as a task, it would cost a task, its first step one event-loop turn later, and
its done callback another turn. :func:`start_eager` runs the coroutine at once,
in the caller's callback, until it finishes or first waits; only then does it
become a task, which goes on from that wait (the future it waits on is handed
over as it is, so cancelling the task cancels that wait, as for any task).

On Python 3.12 and later this is the event loop's own eager task start, so
``asyncio.current_task()`` is the task from the first step on. On 3.11 the
first step runs outside any task: code that needs a current task
(``asyncio.timeout``, ``asyncio.current_task``) must come after a first
``await`` of something that waits (``await asyncio.sleep(0)`` will do).

:class:`EagerRun` is the same first step taken apart, for a caller that can
also take the *next* steps itself: when the coroutine waits on a future that
the caller will complete from its own callback (a request's handler waiting
for the end of its data set, which the receive callback sees arrive), the
caller sets the result and steps the coroutine on at once
(:meth:`EagerRun.step`), without a task and a wake-up a loop turn later; for
any other wait it hands the coroutine to a task (:meth:`EagerRun.to_task`).
Such steps run outside any task, like the first one on 3.11. A run made
``resumable`` (its code never needs a current task) may also be parked on
any plain future it waits on and stepped on from that future's completion.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["EagerRun", "start_eager"]


def start_eager(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coroutine`` until it first waits: ``None`` when it is already done, else
    the task that runs the rest. What its first step raises reaches the caller."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):  # pragma: no cover - the test machine runs 3.11
        task = asyncio.Task(coroutine, loop=loop, eager_start=True)
        return None if task.done() else task
    run = EagerRun(coroutine)
    return None if run.step() else run.to_task()


class EagerRun:
    """A coroutine stepped in its caller's callbacks until it is done or handed to a task."""

    __slots__ = ("context", "coroutine", "resumable", "send", "waiting")

    def __init__(self, coroutine: Coroutine[Any, Any, None], *, resumable: bool = False) -> None:
        self.coroutine = coroutine
        #: The coroutine's ``send``, bound once (each step calls it: a bound method made
        #: for each step otherwise).
        self.send = coroutine.send
        #: Its code needs no current task after a wait either: a wait on a plain future
        #: may be taken on by that future's done callback instead of a task.
        self.resumable = resumable
        #: Its context variables, kept from one step to the next (as a task's are).
        self.context = contextvars.copy_context()
        #: What the coroutine waits on since its last step (a future, or None).
        self.waiting: Any = None

    def step(self) -> bool:
        """Run the coroutine until it next waits (``waiting``); True when it is done.

        What it waits on must have its result already (or be a bare yield).
        What the step raises reaches the caller.
        """
        try:
            self.waiting = self.context.run(self.send, None)
        except StopIteration:
            return True
        return False

    def throw(self, exc: BaseException) -> bool:
        """Raise ``exc`` at the wait the coroutine is in (a cancellation, say), run it on
        until it next waits; True when it is done. What it raises reaches the caller."""
        try:
            self.waiting = self.context.run(self.coroutine.throw, exc)
        except StopIteration:
            return True
        return False

    def to_task(self) -> asyncio.Task[None]:
        """A task that takes the coroutine on from its wait (cancelling it cancels that wait)."""
        loop = asyncio.get_running_loop()
        return loop.create_task(_go_on(self.coroutine, self.waiting), context=self.context)


async def _go_on(coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
    """The rest of ``coroutine``, which has just yielded ``waiting`` (what it waits on)."""
    while True:
        try:
            await _wait_on(waiting)
        except BaseException as exc:  # the task's cancellation, into the coroutine's wait
            step: Any = coroutine.throw
            value: Any = exc
        else:
            step = coroutine.send
            value = None
        try:
            waiting = step(value)
        except StopIteration:
            return


@types.coroutine
def _wait_on(waiting: Any) -> Generator[Any, None, None]:
    """Hand ``waiting`` (a future, or ``None`` for a bare yield) to the running task."""
    yield waiting
