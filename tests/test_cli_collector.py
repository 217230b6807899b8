"""A serving process settles its garbage collector once ready (and only the command does)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from dicomnet.cli.collector import OLDER_EVERY, YOUNG_OBJECTS, settle_collector


def test_settle_collector_freezes_what_is_alive_and_collects_young_objects_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        kept = [[n] for n in range(100)]
        settle_collector()
        assert gc.get_threshold() == (YOUNG_OBJECTS, OLDER_EVERY, OLDER_EVERY)
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


# Run in a fresh interpreter: the command's wiring changes the process's collector.
_WIRING = textwrap.dedent(
    """
    import asyncio, gc, json, sys
    from multiprocessing import Pipe
    from dicomnet.cli import serve as cli_serve
    from dicomnet.cli.workers import ready_signal

    seen = {"before": list(gc.get_threshold())}

    async def fake_serve(args, *, ready=None, stop=None, publish=None):
        seen["serve_before_ready"] = list(gc.get_threshold())
        ready(None)
        seen["serve_after_ready"] = [list(gc.get_threshold()), gc.get_freeze_count() > 0]
        return 0

    cli_serve.serve = fake_serve
    args = cli_serve.build_parser().parse_args(["--output", sys.argv[1], "--port", "0"])
    seen["exit"] = cli_serve.run_serve(args)

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)

    async def fake_system(args, *, ready=None):
        seen["system_before_ready"] = list(gc.get_threshold())
        ready(None)
        seen["system_after_ready"] = [list(gc.get_threshold()), gc.get_freeze_count() > 0]
        return 0

    cli_serve.serve_system = fake_system
    args = cli_serve.build_parser().parse_args(["--system", "dicomark", "--root", sys.argv[1]])
    seen["system_exit"] = cli_serve.run_serve(args)

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    receive, send = Pipe(duplex=False)
    ready_signal(send)(None)
    seen["worker"] = [list(gc.get_threshold()), gc.get_freeze_count() > 0, receive.recv()[0]]
    print(json.dumps(seen))
    """
)


def test_serve_each_worker_and_a_system_settle_the_collector_when_ready(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WIRING, str(tmp_path / "store")],
        capture_output=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(out.stdout.decode().splitlines()[-1])
    settled = [YOUNG_OBJECTS, OLDER_EVERY, OLDER_EVERY]
    assert seen["exit"] == 0
    assert seen["serve_before_ready"] == seen["before"] != settled
    assert seen["serve_after_ready"] == [settled, True]
    assert seen["worker"] == [settled, True, "ready"]
    assert seen["system_exit"] == 0
    assert seen["system_before_ready"] == seen["before"]
    assert seen["system_after_ready"] == [settled, True]
