"""DimseTimer on its own: real Deadlines on the running loop, a fake transport for flow control."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from dicomnet.association.dimse_timer import DIMSE, DimseTimer
from dicomnet.flow import FlowControl
from dicomnet.timers import Deadlines


class FakeTransport:
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def make_timer(
    owed: list[str | None], clock: Callable[[], float] | None = None
) -> tuple[DimseTimer, Deadlines, FlowControl]:
    """A 30 s timer whose ``owed()`` answers ``owed[0]`` (on ``clock``, or the loop's)."""
    deadlines = Deadlines(asyncio.get_running_loop(), lambda name, seconds: None)
    if clock is not None:
        deadlines.clock = clock
        deadlines.now = clock  # type: ignore[method-assign]
    flow = FlowControl(FakeTransport(), high_water=100, low_water=10)  # type: ignore[arg-type]
    timer = DimseTimer(30.0, lambda: owed[0])
    timer.attach(deadlines, flow)
    return timer, deadlines, flow


async def later() -> None:
    """Let the loop clock move on."""
    await asyncio.sleep(0.01)


async def test_update_starts_once_and_restart_moves_the_deadline() -> None:
    owed: list[str | None] = ["a response"]
    timer, deadlines, _ = make_timer(owed)
    timer.update()
    first = deadlines.deadline(DIMSE)
    assert first is not None
    await later()
    timer.update()  # already running: unchanged
    assert deadlines.deadline(DIMSE) == first
    timer.restart()
    second = deadlines.deadline(DIMSE)
    assert second is not None and second > first
    owed[0] = None
    timer.restart()  # nothing owed: progress stops it rather than restarting it
    assert deadlines.deadline(DIMSE) is None
    owed[0] = "a response"
    timer.update()
    timer.stop()
    assert deadlines.deadline(DIMSE) is None


async def test_each_pdu_taken_for_writing_restarts_the_timer() -> None:
    timer, deadlines, _ = make_timer(["the peer to read our message"])
    seen: list[float | None] = []
    for pdu in timer.progress(["pdu1", "pdu2", "pdu3"]):
        assert pdu.startswith("pdu")
        seen.append(deadlines.deadline(DIMSE))
        await later()
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(seen))


async def test_pdus_taken_in_one_burst_restart_the_timer_once() -> None:
    # The timers' clock held still during the burst and moved for the wait: on a busy
    # machine the real clock can pass PROGRESS_GRAIN inside one burst (the process
    # descheduled), which restarts the timer again, as it should then.
    clock = [asyncio.get_running_loop().time()]
    timer, deadlines, _ = make_timer(["the peer to read our message"], lambda: clock[0])
    restarts: list[float | None] = []
    restart = timer.restart

    def counting_restart() -> None:
        restart()
        restarts.append(deadlines.deadline(DIMSE))

    timer.restart = counting_restart  # type: ignore[method-assign]
    pdus = timer.progress(range(64))
    burst = list(itertools.islice(pdus, 32))  # one batch, taken without waiting
    assert burst == list(range(32)) and len(restarts) == 1
    clock[0] += 0.01  # a wait for the peer to read: the next PDU restarts the timer
    assert next(pdus) == 32 and len(restarts) == 2
    assert restarts[0] is not None and restarts[1] is not None and restarts[1] > restarts[0]
    assert list(pdus) == list(range(33, 64)) and len(restarts) == 2


async def test_consumption_restarts_the_timer_only_when_reading_resumes() -> None:
    timer, deadlines, flow = make_timer(["the rest of a message"])
    flow.add_backlog(150)  # past the high-water mark: reading pauses
    assert flow.read_paused and timer.read_paused
    timer.consumed(100)  # 50 left, above the low-water mark: still paused, no timer
    assert flow.read_paused and deadlines.deadline(DIMSE) is None
    timer.consumed(45)  # reading resumes: the peer can send again, so it is timed again
    assert not flow.read_paused and deadlines.deadline(DIMSE) is not None


async def test_while_deferring_nothing_moves_the_timer_until_the_caller_restarts_it() -> None:
    owed: list[str | None] = ["a response"]
    timer, deadlines, _ = make_timer(owed)
    timer.update()
    first = deadlines.deadline(DIMSE)
    assert first is not None
    await later()
    timer.deferring(True)
    timer.restart()
    for _ in timer.progress(["pdu"]):
        pass
    owed[0] = None
    timer.update()
    assert deadlines.deadline(DIMSE) == first  # neither moved nor stopped meanwhile
    timer.stop()  # stopping is never deferred (the association ended)
    assert deadlines.deadline(DIMSE) is None
    owed[0] = "a response"
    timer.update()
    assert deadlines.deadline(DIMSE) is None
    timer.deferring(False)
    timer.restart()
    second = deadlines.deadline(DIMSE)
    assert second is not None and second > first


async def test_catching_up_after_a_deferral_does_what_was_asked_meanwhile() -> None:
    owed: list[str | None] = ["a request or the release"]
    timer, deadlines, _ = make_timer(owed)
    timer.update()
    first = deadlines.deadline(DIMSE)
    assert first is not None
    await later()
    timer.deferring(True)  # nothing asked meanwhile: nothing to catch up
    timer.deferring(False)
    timer.catch_up()
    assert deadlines.deadline(DIMSE) == first
    timer.deferring(True)
    timer.update()  # an update only: a running timer stays as it is
    timer.deferring(False)
    timer.catch_up()
    assert deadlines.deadline(DIMSE) == first
    timer.deferring(True)
    timer.update()
    timer.restart()  # a message sent: restarted once, afterwards
    timer.update()
    assert deadlines.deadline(DIMSE) == first
    timer.deferring(False)
    timer.catch_up()
    second = deadlines.deadline(DIMSE)
    assert second is not None and second > first
    owed[0] = None
    timer.deferring(True)
    timer.update()
    timer.deferring(False)
    timer.catch_up()  # nothing owed now: the update stops it
    assert deadlines.deadline(DIMSE) is None
