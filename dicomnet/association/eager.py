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
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["start_eager"]


def start_eager(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coroutine`` until it first waits: ``None`` when it is already done, else
    the task that runs the rest. What its first step raises reaches the caller."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):  # pragma: no cover - the test machine runs 3.11
        task = asyncio.Task(coroutine, loop=loop, eager_start=True)
        return None if task.done() else task
    context = contextvars.copy_context()
    try:
        waiting = context.run(coroutine.send, None)
    except StopIteration:
        return None
    return loop.create_task(_go_on(coroutine, waiting), context=context)


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
