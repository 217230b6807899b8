"""Outcome: a one-time result awaited by many tasks, each with a future of its own."""

from __future__ import annotations

import asyncio

import pytest

from dicomnet.association.waiting import Outcome


async def test_every_waiter_resumes_when_set() -> None:
    outcome = Outcome()
    waiters = [asyncio.ensure_future(outcome.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    outcome.set()
    await asyncio.gather(*waiters)
    assert outcome.done()


async def test_waiter_resumes_in_the_next_step() -> None:
    outcome = Outcome()
    waiter = asyncio.ensure_future(outcome.wait())
    await asyncio.sleep(0)
    outcome.set()
    await asyncio.sleep(0)  # one step: asyncio.shield of a shared future needed two
    assert waiter.done()


async def test_error_is_raised_to_every_waiter_and_later_callers() -> None:
    outcome = Outcome()
    waiter = asyncio.ensure_future(outcome.wait())
    await asyncio.sleep(0)
    outcome.set(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await waiter
    with pytest.raises(ConnectionResetError):
        await outcome.wait()


async def test_only_the_first_set_counts() -> None:
    outcome = Outcome()
    outcome.set()
    outcome.set(ConnectionResetError("late"))
    await outcome.wait()


def test_waiting_for_a_set_outcome_does_not_suspend() -> None:
    outcome = Outcome()
    outcome.set()
    coroutine = outcome.wait()
    with pytest.raises(StopIteration):
        coroutine.send(None)  # finished without yielding to an event loop


async def test_cancelling_one_waiter_leaves_the_others_and_the_outcome() -> None:
    outcome = Outcome()
    first = asyncio.ensure_future(outcome.wait())
    second = asyncio.ensure_future(outcome.wait())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not outcome.done()
    outcome.set()
    await second
    assert outcome._waiters == []
