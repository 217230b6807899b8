"""The scale suite's pure parts: which rows its targets compare."""

from __future__ import annotations

from benchmarks import scale_suite


def test_the_targets_rows_are_dicomnet_on_sqlite_with_one_and_two_workers() -> None:
    targets = [server for server in scale_suite.SERVERS if scale_suite._is_target(server)]
    assert [(server.workers, server.index) for server in targets] == [(1, "sqlite"), (2, "sqlite")]
    assert scale_suite.TARGET_REPEAT > scale_suite._FULL_REPEAT
