"""Waiting before the write rows until creating files costs what it usually does."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import scratch, settle


class _Clock:
    """A clock that moves only when the fake sleep is called."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _costs(*figures: float) -> tuple[list[tuple[Path, int]], Callable[[Path, int], float]]:
    calls: list[tuple[Path, int]] = []
    remaining = list(figures)

    def measure(folder: Path, attempt: int) -> float:
        calls.append((folder, attempt))
        return remaining.pop(0)

    return calls, measure


def _settle_faked(
    folder: Path,
    clock: _Clock,
    *figures: float,
    budget: float,
    pause: float = 10.0,
    clean_up: float | None = None,
    now: float = 0.0,
) -> tuple[settle.Settled, list[tuple[Path, int]]]:
    """:func:`settle.settle` with a baseline of 12 µs, ``figures`` as the tries' costs and
    ``clock``'s time; ``clean_up``: when the last one was noted (the wall clock at ``now``)."""
    calls, measure = _costs(*figures)
    found = settle.settle(
        folder,
        budget=budget,
        pause=pause,
        baseline=lambda: 12.0,
        measure=measure,
        sleep=clock.sleep,
        clock=clock,
        clean_up=lambda: clean_up,
        wall=lambda: now,
    )
    return found, calls


def test_creation_cost_leaves_the_files_it_made(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    cost = settle.creation_cost(folder, files=25)
    assert cost > 0
    assert sorted(int(path.name) for path in folder.iterdir()) == list(range(25))
    assert all(path.stat().st_size == 0 for path in folder.iterdir())


def test_a_slow_file_system_is_measured_again_until_it_is_quiet(tmp_path: Path) -> None:
    clock = _Clock()
    found, calls = _settle_faked(tmp_path, clock, 400.0, 170.0, 40.0, 45.0, budget=120.0)
    # 4 x 12 = 48: the third and fourth tries are quiet, the first two were not; a
    # quiet try is followed by the next at once, a slow one after a pause.
    assert found.quiet
    assert found.costs_us == [400.0, 170.0, 40.0, 45.0]
    assert [attempt for _, attempt in calls] == [0, 1, 2, 3]
    assert clock.pauses == [10.0, 10.0]
    assert found.waited_seconds == 20.0
    assert "400, 170, 40, 45 µs" in found.describe() and "(quiet" in found.describe()


def test_one_quiet_try_between_slow_ones_is_not_enough(tmp_path: Path) -> None:
    clock = _Clock()
    found, _ = _settle_faked(tmp_path, clock, 40.0, 300.0, 40.0, 30.0, budget=120.0)
    assert found.quiet
    assert found.costs_us == [40.0, 300.0, 40.0, 30.0]
    assert clock.pauses == [10.0]


def test_the_wait_ends_with_the_budget(tmp_path: Path) -> None:
    clock = _Clock()
    found, _ = _settle_faked(tmp_path, clock, *[500.0] * 10, budget=35.0)
    # Tries at 0, 10, 20 and 30 s; a fifth would begin after the budget.
    assert found.costs_us == [500.0] * 4
    assert not found.quiet
    assert found.waited_seconds == 30.0
    assert "still not quiet" in found.describe()


def test_without_a_memory_file_system_nothing_is_measured(tmp_path: Path) -> None:
    calls, measure = _costs()
    found = settle.settle(
        tmp_path,
        budget=60.0,
        baseline=lambda: None,
        measure=measure,
        sleep=lambda seconds: None,
        clean_up=lambda: None,
    )
    assert found.quiet and not found.costs_us and not calls
    assert "not measured" in found.describe()


def test_a_real_try_measures_new_folders_and_keeps_their_files(tmp_path: Path) -> None:
    # budget 0: one try whatever it finds (this test must not wait for the machine).
    found = settle.settle(tmp_path, budget=0.0, clean_up=lambda: None)
    if found.baseline_us is None:
        assert not any(tmp_path.iterdir())
        return
    assert len(found.costs_us) == 1 and found.costs_us[0] > 0
    folders = sorted(path.name for path in tmp_path.iterdir())
    assert folders == [f"settle.0-{number}" for number in range(settle.PROBE_FOLDERS)]
    for folder in tmp_path.iterdir():
        assert len(list((folder / ".incoming").iterdir())) == settle.PROBE_FILES


def test_a_recent_clean_up_is_waited_out_before_measuring(tmp_path: Path) -> None:
    clock = _Clock()
    found, calls = _settle_faked(
        tmp_path, clock, 40.0, 45.0, budget=600.0, clean_up=1000.0, now=1100.0
    )
    # Cleaned up 100 s before: the rest of what ext4 remembers is waited, then two tries.
    assert found.since_clean_up == 100.0
    assert clock.pauses == [settle.remembered_seconds() - 100.0]
    assert found.quiet and len(calls) == 2
    assert "clean-up 100 s before" in found.describe()


def test_an_old_clean_up_is_not_waited_for_and_the_budget_bounds_a_new_one(
    tmp_path: Path,
) -> None:
    clock = _Clock()
    found, _ = _settle_faked(tmp_path, clock, 40.0, 45.0, budget=600.0, clean_up=0.0, now=1e4)
    assert found.quiet and not clock.pauses
    clock = _Clock()
    found, _ = _settle_faked(
        tmp_path, clock, 40.0, budget=30.0, pause=15.0, clean_up=1000.0, now=1001.0
    )
    # Within the budget: 30 s waited, one try, and no time left for a second.
    assert clock.pauses == [30.0] and found.costs_us == [40.0] and not found.quiet


def test_remembered_seconds_covers_five_minutes_and_the_writeback_delay() -> None:
    assert settle.remembered_seconds() >= 300.0 + 5.0


def test_removing_a_scratch_folder_notes_when(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "f").write_bytes(b"x")
    assert scratch.last_clean_up(tmp_path) is None
    before = time.time()
    scratch.remove_scratch(folder, tmp_path)
    assert not folder.exists()
    noted = scratch.last_clean_up(tmp_path)
    assert noted is not None and before <= noted <= time.time() + 0.01
    (tmp_path / scratch.CLEAN_UP_NOTE).write_text("not a time", encoding="ascii")
    assert scratch.last_clean_up(tmp_path) is None
