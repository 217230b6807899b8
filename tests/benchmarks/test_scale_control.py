"""The share-nothing reference server of the scale suite: its answers and its ratio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from benchmarks import scale_control
from benchmarks.processes import free_port


def test_an_answer_depends_on_every_field_and_round() -> None:
    table = {key: str(key) for key in range(1000)}
    fields = list(range(1000, 1030))
    base = scale_control.answer(fields, table, 3)
    assert base > 0
    assert scale_control.answer(fields, table, 3) == base  # (deterministic)
    assert scale_control.answer(fields, table, 4) > base  # more rounds, more look-ups
    assert scale_control.answer(fields, table, 0) == 0


def test_a_request_is_length_prefixed() -> None:
    message = scale_control.request_bytes(7)
    length = int.from_bytes(message[:4], "little")
    assert length == len(message) - 4
    assert message[4:8] == (7).to_bytes(4, "little")


def test_paired_median_takes_the_ratios_of_the_same_rounds() -> None:
    # Rounds (2/1, 9/3, 4/4): ratios 2, 3, 1 -> median 2 (not median 4 / median 3).
    assert scale_control.paired_median([2, 9, 4], [1, 3, 4]) == 2
    with pytest.raises(ValueError):
        scale_control.paired_median([1, 2], [1])
    with pytest.raises(ValueError):
        scale_control.paired_median([], [])


def test_the_load_counts_the_answers_of_a_two_worker_server() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    module = [sys.executable, "-m", "benchmarks.scale_control"]
    server = subprocess.Popen(
        [*module, "serve", str(port), "2", "--server-work", "2", "--table", "1000"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        assert line[0] == "ready" and len(line) == 3  # two worker processes
        load = subprocess.run(
            [*module, "load", str(port), "6", "5", "--window", "2", "--client-work", "3"],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
            env=env,
        )
        assert load.returncode == 0, load.stderr
        report = json.loads(load.stdout)
        assert report["answered"] == 30
        assert report["seconds"] > 0
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        if server.stdout is not None:
            server.stdout.close()
