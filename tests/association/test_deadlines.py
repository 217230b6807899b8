"""Deadlines: one handle for the earliest deadline, kept lazily, never late."""

from __future__ import annotations

from collections.abc import Callable

from dicomnet.timers import Deadlines


class _Handle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what Deadlines uses of a loop: time() and call_at()."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[_Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle(when, callback)
        self.handles.append(handle)
        return handle

    def advance(self, to: float) -> None:
        while True:
            due = [h for h in self.handles if not h.cancelled and h.when <= to]
            if not due:
                break
            handle = min(due, key=lambda h: h.when)
            self.handles.remove(handle)
            self.now = handle.when
            handle.callback()
        self.now = to

    def armed(self) -> list[float]:
        return sorted(h.when for h in self.handles if not h.cancelled)


def make() -> tuple[FakeLoop, Deadlines, list[tuple[float, str]]]:
    loop = FakeLoop()
    fired: list[tuple[float, str]] = []
    deadlines = Deadlines(loop, lambda name, _: fired.append((loop.now, name)))  # type: ignore[arg-type]
    return loop, deadlines, fired


def test_each_deadline_fires_at_its_time_whatever_the_order_set() -> None:
    loop, deadlines, fired = make()
    deadlines.start("late", 10)
    deadlines.start("early", 5)
    deadlines.start("middle", 7)
    loop.advance(20)
    assert fired == [(5, "early"), (7, "middle"), (10, "late")]


def test_a_deadline_restarted_later_fires_only_at_its_last_time() -> None:
    loop, deadlines, fired = make()
    for start in range(10):
        loop.advance(start)
        deadlines.start("dimse", 5)
    assert len(loop.armed()) == 1  # restarting later armed no new handle
    loop.advance(13.9)
    assert fired == []
    loop.advance(20)
    assert fired == [(14, "dimse")]


def test_stopping_the_earliest_leaves_the_later_ones_on_time() -> None:
    loop, deadlines, fired = make()
    deadlines.start("a", 5)
    deadlines.start("b", 8)
    deadlines.stop("a")
    loop.advance(7.5)
    assert fired == []
    loop.advance(9)
    assert fired == [(8, "b")]


def test_an_earlier_deadline_rearms_the_handle_sooner() -> None:
    loop, deadlines, fired = make()
    deadlines.start("a", 10)
    deadlines.start("b", 2)
    assert loop.armed()[0] == 2
    loop.advance(3)
    assert fired == [(2, "b")]
    deadlines.start("b", 1)  # set again from the callback's side: 3 + 1
    loop.advance(12)
    assert fired == [(2, "b"), (4, "b"), (10, "a")]


def test_closed_deadlines_never_fire() -> None:
    loop, deadlines, fired = make()
    deadlines.start("a", 1)
    deadlines.close()
    deadlines.start("b", 2)
    loop.advance(5)
    assert fired == []
