"""The [queue] table of a system file: destinations, routing rules, schedule; pacing."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from pathlib import Path
from typing import cast

import pytest

from dicomnet.ae import AE
from dicomnet.errors import ConfigurationError
from dicomnet.queue import DestinationSpec, ForwardMode, Job, JobState, QueueStore
from dicomnet.queue.pacing import Pacer, TokenBucket, backoff_delay
from dicomnet.queue.sender import DestinationSender, SendSettings
from dicomnet.storage.sinks import InstanceInfo
from dicomnet.systems import load_system

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"

SYSTEM = """
[system]
name = "routes"
[resources]
store = "inbox"
[destinations]
PACS = "10.0.0.1:104"
[queue]
mode = "sync"
[[queue.destination]]
name = "pacs"
ae_title = "PACS"
[[queue.destination]]
name = "cloud"
ae_title = "CLOUD"
address = "cloud.example:11112"
schedule = "22:00-06:00"
max_rate = 1000000
[[queue.route]]
to = ["pacs"]
[[queue.route]]
to = ["cloud"]
calling_ae = ["CT1"]
modality = ["CT"]
[[queue.route]]
to = ["cloud"]
called_ae = ["ARCHIVE"]
sop_class = ["{mr}"]
{extra}
[[ae]]
name = "in"
profile = "dicomark-inbound"
port = 0
services = ["storage"]
"""


def _load(tmp_path: Path, extra: str = "") -> object:
    path = tmp_path / "s.toml"
    path.write_text(SYSTEM.format(mr=MR, extra=extra))
    return load_system(path)


def _info(calling: str, called: str, sop_class: str) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=sop_class,
        sop_instance_uid="1.2.3",
        transfer_syntax_uid="1.2.840.10008.1.2",
        source_ae_title=calling,
        called_ae_title=called,
    )


def test_routes_by_calling_and_called_ae_modality_and_sop_class(tmp_path: Path) -> None:
    spec = _load(tmp_path)
    queue = spec.queue  # type: ignore[attr-defined]
    assert queue.mode is ForwardMode.SYNC
    assert queue.route(_info("CT1", "DICOMARK", CT), "CT") == ("pacs", "cloud")
    assert queue.route(_info("CT2", "DICOMARK", CT), "CT") == ("pacs",)
    assert queue.route(_info("CT1", "DICOMARK", CT), "MR") == ("pacs",)
    assert queue.route(_info("MR1", "ARCHIVE", MR), "MR") == ("pacs", "cloud")
    assert queue.route(_info("MR1", "ARCHIVE", CT), "CT") == ("pacs",)
    cloud = queue.destination("cloud")
    assert cloud.address == ("cloud.example", 11112) and cloud.max_rate == 1_000_000
    assert queue.destination("pacs").address is None  # from [destinations] when started


def test_schedule_over_midnight(tmp_path: Path) -> None:
    cloud = _load(tmp_path).queue.destination("cloud")  # type: ignore[attr-defined]
    assert cloud.in_schedule(23 * 60) and cloud.in_schedule(5 * 60 + 59)
    assert not cloud.in_schedule(6 * 60) and not cloud.in_schedule(12 * 60)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[[queue.route]]\nto = ["nowhere"]', "to[0]"),
        ('[[queue.route]]\nto = ["pacs"]\ncolour = "red"', "colour"),
    ],
)
def test_bad_queue_tables_name_the_key(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ConfigurationError, match=key.replace("[", r"\[").replace("]", r"\]")):
        _load(tmp_path, extra)


def test_backoff_doubles_up_to_the_cap_with_jitter_around_it() -> None:
    rng = random.Random(1)
    assert [backoff_delay(n, 2.0, 30.0, 0.0, rng) for n in (1, 2, 3, 4, 5, 6)] == [
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    spread = [backoff_delay(3, 2.0, 30.0, 0.25, rng) for _ in range(200)]
    assert min(spread) >= 6.0 and max(spread) <= 10.0
    assert max(spread) - min(spread) > 2.0  # not all the same


def test_token_bucket_charges_the_bytes_written() -> None:
    bucket = TokenBucket(1000.0)  # 1000 B/s, burst 1000
    assert bucket.wait_time(0.0) == 0.0
    bucket.spend(3000, 0.0)  # one large instance: 2000 B of debt
    assert bucket.wait_time(0.0) == pytest.approx(2.0, abs=0.01)
    assert bucket.wait_time(1.0) == pytest.approx(1.0, abs=0.01)
    assert bucket.wait_time(2.1) == 0.0


async def test_pacer_keeps_the_minimum_interval() -> None:
    pacer = Pacer(min_interval=0.05)
    loop = asyncio.get_running_loop()
    starts = []
    for _ in range(3):
        await pacer.before_send(10)
        starts.append(loop.time())
    assert all(b - a >= 0.049 for a, b in itertools.pairwise(starts))


def _job(attempts: int) -> Job:
    return Job(
        id=1, sop_instance_uid="1.2", sop_class_uid="1.2", destination="d", path="/x", size=1,
        state=JobState.SENDING, attempts=attempts, next_attempt=0.0, last_status=None,
        error="", created=0.0, updated=0.0,
    )  # fmt: skip


def test_failed_attempts_back_off_then_error_at_max_attempts() -> None:
    spec = DestinationSpec(
        name="d", ae_title="D", address=None, max_attempts=4, backoff=2.0, backoff_max=5.0,
        jitter=0.0,
    )  # fmt: skip
    sender = DestinationSender(spec, cast(QueueStore, None), AE("ME"), SendSettings(()))
    waits = []
    for attempts in (0, 1, 2):
        before = time.time()
        outcome = sender._failed(_job(attempts), "refused", status=0xA700)
        assert outcome.state is JobState.FAILED and outcome.attempts == attempts + 1
        waits.append(outcome.next_attempt - before)
    assert waits == pytest.approx([2.0, 4.0, 5.0], abs=0.5)  # doubling, capped at 5
    last = sender._failed(_job(3), "refused", status=0xA700)
    assert last.state is JobState.ERROR and last.attempts == 4 and last.status == 0xA700
