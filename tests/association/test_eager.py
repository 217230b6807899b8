"""start_eager: a coroutine's first step runs at once; a task takes over only when it waits.

Whatever the coroutine sees must be what it would see as a task: the results of
what it awaits, cancellation at the wait it is in, its exceptions, its context
variables from one step to the next.
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from dicomnet.association.eager import EagerRun, start_eager

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def test_a_coroutine_that_does_not_wait_is_done_at_once_without_a_task() -> None:
    steps: list[str] = []

    async def answer() -> None:
        steps.append("ran")

    assert start_eager(answer()) is None
    assert steps == ["ran"]  # before this coroutine yielded to the loop


async def test_a_waiting_coroutine_goes_on_in_a_task_with_what_it_awaited() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[object] = []

    async def wait_twice() -> None:
        seen.append("first step")
        seen.append(await future)
        await asyncio.sleep(0)  # a bare yield is passed on too
        seen.append("done")

    task = start_eager(wait_twice())
    assert task is not None and seen == ["first step"]
    future.set_result(42)
    await task
    assert seen == ["first step", 42, "done"]


async def test_cancelling_the_task_cancels_the_wait_the_coroutine_is_in() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    second: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def cancellable() -> None:
        try:
            await future
        except asyncio.CancelledError:
            seen.append("cancelled")
            seen.append(await second)  # it may still wait for something else
            raise

    task = start_eager(cancellable())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert future.cancelled() and seen == ["cancelled"]
    second.set_result("cleaned up")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled", "cleaned up"]


async def test_an_error_after_the_first_wait_is_the_tasks() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def failing() -> None:
        await future
        raise ValueError("late")

    task = start_eager(failing())
    assert task is not None
    future.set_result(None)
    with pytest.raises(ValueError, match="late"):
        await task


async def test_an_error_in_the_first_step_reaches_the_caller() -> None:
    async def failing() -> None:
        raise ValueError("early")

    with pytest.raises(ValueError, match="early"):
        start_eager(failing())


async def test_context_variables_set_in_the_first_step_stay_with_the_coroutine() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def setter() -> None:
        VAR.set("mine")
        await future
        seen.append(VAR.get())

    task = start_eager(setter())
    assert VAR.get() == "unset"  # the caller's context is not touched
    assert task is not None
    future.set_result(None)
    await task
    assert seen == ["mine"]


async def test_a_run_stepped_by_its_caller_sees_results_and_cancellation_at_its_wait() -> None:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[int] = loop.create_future()
    second: asyncio.Future[None] = loop.create_future()
    seen: list[object] = []

    async def waiting() -> None:
        seen.append(await first)
        try:
            await second
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    run = EagerRun(waiting())
    assert not run.step() and run.waiting is first
    first.set_result(7)
    assert not run.step() and run.waiting is second  # the caller took the next step
    assert seen == [7]
    with pytest.raises(asyncio.CancelledError):
        run.throw(asyncio.CancelledError())
    assert seen == [7, "cancelled"]
