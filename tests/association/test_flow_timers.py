"""FlowControl and Deadlines on their own, with a fake transport and the real loop clock."""

from __future__ import annotations

import asyncio

import pytest

from dicomnet.flow import FlowControl
from dicomnet.log import AssociationLogger, association_label
from dicomnet.timers import Deadlines


class FakeTransport:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


def make_flow(high: int = 100, low: int = 10) -> tuple[FlowControl, FakeTransport]:
    transport = FakeTransport()
    flow = FlowControl(transport, high_water=high, low_water=low)  # type: ignore[arg-type]
    return flow, transport


async def test_backlog_pauses_above_high_water_and_resumes_at_low_water() -> None:
    flow, transport = make_flow()
    flow.add_backlog(100)
    assert transport.calls == []
    flow.add_backlog(1)
    assert transport.calls == ["pause"] and flow.read_paused
    flow.add_backlog(50)  # already paused: no second call
    flow.consume_backlog(100)
    assert transport.calls == ["pause"]
    flow.consume_backlog(41)
    assert transport.calls == ["pause", "resume"] and not flow.read_paused


async def test_reading_resumes_only_when_every_reason_is_gone() -> None:
    flow, transport = make_flow()
    flow.pause_reading("held")
    flow.add_backlog(500)
    flow.consume_backlog(500)
    assert transport.calls == ["pause"] and flow.read_paused
    flow.resume_reading("held")
    assert transport.calls == ["pause", "resume"]
    flow.resume_reading("held")  # idempotent
    assert transport.calls == ["pause", "resume"]


async def test_drain_waits_for_resume_writing_and_raises_after_loss() -> None:
    flow, _ = make_flow()
    assert not flow.write_paused
    await flow.drain()  # writable: returns at once
    flow.pause_writing()
    assert flow.write_paused
    waiter = asyncio.ensure_future(flow.drain())
    await asyncio.sleep(0)
    assert not waiter.done()
    flow.resume_writing()
    assert not flow.write_paused
    await waiter
    flow.pause_writing()
    waiter = asyncio.ensure_future(flow.drain())
    await asyncio.sleep(0)
    flow.connection_lost()
    assert not flow.write_paused  # writers go on, to find the connection lost
    with pytest.raises(ConnectionResetError):
        await waiter


async def test_read_paused_follows_every_reason() -> None:
    flow, _ = make_flow()
    assert not flow.read_paused
    flow.pause_reading("held")
    flow.pause_reading("backlog")
    flow.resume_reading("held")
    assert flow.read_paused
    flow.resume_reading("unknown")  # not a reason held: nothing changes
    assert flow.read_paused
    flow.resume_reading("backlog")
    assert not flow.read_paused


async def test_deadlines_fire_in_order_with_one_handle() -> None:
    loop = asyncio.get_running_loop()
    fired: list[tuple[str, float]] = []
    done = asyncio.Event()

    def expired(name: str, seconds: float) -> None:
        fired.append((name, seconds))
        if len(fired) == 2:
            done.set()

    deadlines = Deadlines(loop, expired)
    deadlines.start("dimse", 0.05)
    deadlines.start("release", 0.01)
    deadlines.start("never", 100.0)
    deadlines.start("cleared", 0.001)
    deadlines.stop("cleared")
    assert deadlines.is_running("dimse") and not deadlines.is_running("cleared")
    await done.wait()
    assert fired == [("release", 0.01), ("dimse", 0.05)]
    assert deadlines.is_running("never")
    deadlines.close()
    assert not deadlines.is_running("never")
    deadlines.start("after-close", 0.0)
    assert not deadlines.is_running("after-close")


async def test_deadline_callback_may_restart_itself() -> None:
    loop = asyncio.get_running_loop()
    count = 0
    done = asyncio.Event()
    deadlines: Deadlines

    def expired(name: str, seconds: float) -> None:
        nonlocal count
        count += 1
        if count < 3:
            deadlines.start(name, seconds)
        else:
            done.set()

    deadlines = Deadlines(loop, expired)
    deadlines.start("tick", 0.001)
    await done.wait()
    assert count == 3 and not deadlines.is_running("tick")


def test_logger_prefixes_the_association(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    label = association_label(3, "LOCAL", "PEER", requestor=False)
    assert label == "assoc#3 LOCAL<-PEER"
    log = AssociationLogger(logging.getLogger("dicomnet.test"), label)
    with caplog.at_level(logging.INFO, logger="dicomnet.test"):
        log.info("hello %d", 1)
        log.relabel(association_label(3, "LOCAL", "OTHER", requestor=True))
        log.info("again")
    assert [r.getMessage() for r in caplog.records] == [
        "assoc#3 LOCAL<-PEER: hello 1",
        "assoc#3 LOCAL->OTHER: again",
    ]
    assert caplog.records[0].association == "assoc#3 LOCAL<-PEER"  # type: ignore[attr-defined]
