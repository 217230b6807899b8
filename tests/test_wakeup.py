"""WakingFuture and SharedFuture: their producer steps the waiters parked on them at once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dicomnet.wakeup import SharedFuture, WakingFuture, wake_all, wake_shared


async def test_wake_all_calls_each_done_futures_waker_once() -> None:
    loop = asyncio.get_running_loop()
    calls: list[str] = []
    done, pending, unset = (WakingFuture(loop=loop) for _ in range(3))
    plain = loop.create_future()
    done.waker = lambda: calls.append("done")
    pending.waker = lambda: calls.append("pending")
    for future in (done, unset, plain):
        future.set_result(None)
    wake_all([done, pending, unset, plain])
    assert calls == ["done"]  # at once, not a loop turn later; a pending one waits
    wake_all([done])
    assert calls == ["done"]  # once
    pending.set_exception(OSError("no"))
    wake_all([pending])
    assert calls == ["done", "pending"]
    assert isinstance(pending.exception(), OSError)


async def test_a_waker_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    calls: list[int] = []
    first, second = WakingFuture(loop=loop), WakingFuture(loop=loop)

    def bad() -> None:
        raise RuntimeError("waker failed")

    first.waker = bad
    second.waker = lambda: calls.append(2)
    first.set_result(1)
    second.set_result(2)
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        wake_all([first, second])
    assert calls == [2]
    assert "waking the waiter" in caplog.text


async def test_a_task_awaits_a_waking_future_as_any_future() -> None:
    future = WakingFuture(loop=asyncio.get_running_loop())
    task = asyncio.create_task(asyncio.wait_for(future, 5))
    await asyncio.sleep(0)
    future.set_result(7)
    wake_all([future])  # no waker: the task's done callback wakes it
    assert await task == 7


async def test_wake_shared_calls_each_waker_once_and_logs_one_that_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = SharedFuture()
    calls: list[str] = []

    def bad() -> None:
        calls.append("bad")
        raise RuntimeError("waker failed")

    shared.wakers += [lambda: calls.append("first"), bad, lambda: calls.append("last")]
    shared.set_result(None)
    wake_shared(shared)
    wake_shared(shared)  # each waker once
    assert calls == ["first", "bad", "last"]
    assert "waking a waiter of a shared future failed" in caplog.text
    assert shared.cancel() is False and not shared.cancelled()
