"""Statuses from the profile, against pynetdicom peers (the SCU or the SCP in a child process).

The expected codes are the seed documents' (table named beside each), not read
from the profile under test:

* LifeSys Storage Table 1.13 and MedDream Table 8: 0110 "Processing Failure"
  when a file system operation fails (the PS3.4 default is A700); Kodak §3.1.3.2.2
  keeps A700 "out of disk space".
* LifeSys Table 1.13: B007 "Data Set does not match SOP class", stored; DicomArk
  §5.2.1.2: "will abort the association if ... the instance does not conform to
  the IOD".
* LifeSys Q/R Table 1.34: 0110 when the database query fails (default C001).
* Flux Store SCU: a failure status aborts the association; MedDream Storage
  Client Table 20: B007 is "assumed stored"; LifeSys Table 1.27: a warning from
  the C-MOVE destination counts as success.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import generate_uid
from storage.test_scp_support import make_dataset

from dicomnet.ae import AE, Server
from dicomnet.conformance import load_profile
from dicomnet.errors import DicomNetError
from dicomnet.policy import AETitlePolicy, Policy
from dicomnet.query.index import InstanceRecord
from dicomnet.query.query import Query
from dicomnet.query.source import Match
from dicomnet.services.base import Service
from dicomnet.services.qr import QueryRetrieveService
from dicomnet.services.storage_scp import StorageService
from dicomnet.status_policy import Outcome
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.scu import store_all
from dicomnet.storage.sinks import InstanceInfo, StorageSink

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
SC = "1.2.840.10008.5.1.4.1.1.7"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"

STORE_CHILD = r"""
import json, sys
from pydicom import dcmread
from pynetdicom import AE, evt
cfg = json.loads(sys.argv[1])
ae = AE(ae_title="PYNETDICOM")
ae.acse_timeout = ae.network_timeout = ae.dimse_timeout = 20
ae.add_requested_context(cfg["sop_class"], ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
aborted = []
assoc = ae.associate(cfg["host"], cfg["port"], ae_title=cfg["called"],
                     evt_handlers=[(evt.EVT_ABORTED, lambda event: aborted.append(1))])
report = {"established": assoc.is_established, "statuses": [], "aborted": False}
if assoc.is_established:
    for path in cfg["files"]:
        status = assoc.send_c_store(dcmread(path))
        report["statuses"].append(int(status.Status) if "Status" in status else None)
        if not assoc.is_established or "Status" not in status:
            break
    if assoc.is_established:
        assoc.release()
report["aborted"] = bool(aborted) or assoc.is_aborted
print(json.dumps(report))
"""

FIND_CHILD = r"""
import json, sys
from pydicom.dataset import Dataset
from pynetdicom import AE
cfg = json.loads(sys.argv[1])
ae = AE(ae_title="PYNETDICOM")
ae.acse_timeout = ae.network_timeout = ae.dimse_timeout = 20
ae.add_requested_context(cfg["sop_class"])
assoc = ae.associate(cfg["host"], cfg["port"], ae_title=cfg["called"])
statuses = []
if assoc.is_established:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    for status, _ in assoc.send_c_find(query, cfg["sop_class"]):
        statuses.append(int(status.Status) if "Status" in status else None)
    assoc.release()
print(json.dumps({"statuses": statuses}))
"""

# A Storage SCP answering the n-th C-STORE with cfg["statuses"][n] (the last one for
# every C-STORE past the list); prints its port, then on
# stdin EOF a JSON report: C-STOREs received, whether an association was aborted.
SCP_CHILD = r"""
import json, sys, time
from pynetdicom import AE, evt, AllStoragePresentationContexts
cfg = json.loads(sys.argv[1])
seen = {"stores": 0, "aborted": 0}
def on_store(event):
    seen["stores"] += 1
    return cfg["statuses"][min(seen["stores"], len(cfg["statuses"])) - 1]
def on_abort(event):
    seen["aborted"] += 1
ae = AE(ae_title="STORESCP")
ae.supported_contexts = AllStoragePresentationContexts
server = ae.start_server(("127.0.0.1", 0), block=False,
                         evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_ABORTED, on_abort)])
print(server.server_address[1], flush=True)
sys.stdin.read()
while server.active_associations:  # the association the test ended: let it finish
    time.sleep(0.01)
server.shutdown()
print(json.dumps(seen), flush=True)
"""


async def _child(script: str, cfg: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        json.dumps(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    lines = out.decode().strip().splitlines()
    assert process.returncode == 0 and lines, err.decode(errors="replace")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _any_title(policy: Policy) -> Policy:
    """``policy`` answering to any called AE title (the tests call it "ANY-SCP")."""
    return replace(policy, ae_titles=AETitlePolicy(called_ae_titles=("*",)))


async def _serve(profile: str, handlers: Iterable[Service]) -> Server:
    policy = _any_title(load_profile(profile).policy())
    return await AE(policy.ae_title, policy, handlers=handlers).serve("127.0.0.1", 0)


def _file(tmp_path: Path, name: str, **changes: Any) -> str:
    ds = make_dataset(sop_class=changes.pop("sop_class", CT))
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    path = tmp_path / name
    from storage.test_scp_support import write_part10

    write_part10(ds, ELE, str(path))
    return str(path)


async def _store(server: Server, files: list[str], sop_class: str = CT) -> dict[str, Any]:
    cfg = {
        "host": "127.0.0.1",
        "port": server.port,
        "called": "ANY-SCP",
        "sop_class": sop_class,
        "files": files,
    }
    return await _child(STORE_CHILD, cfg)


class FullDisk:
    """A store whose file system is full."""

    async def open_sink(self, info: InstanceInfo) -> StorageSink:
        raise OSError(28, "No space left on device")


# ---------------------------------------------------------------- returned statuses


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("lifesys-storage", 0x0110),  # LifeSys Table 1.13
        ("meddream-storage-server", 0x0110),  # MedDream Table 8
        ("kodak-disk-server", 0xA700),  # Kodak §3.1.3.2.2: out of disk space
        ("dicomnet-serve", 0xA700),  # no statement: PS3.4 B.2.3
    ],
)
async def test_full_disk_status_is_the_profiles(
    tmp_path: Path, profile: str, expected: int
) -> None:
    server = await _serve(profile, [StorageService(FullDisk())])
    try:
        report = await _store(server, [_file(tmp_path, "a.dcm")])
    finally:
        server.close()
        await server.wait_closed()
    assert report["established"]
    assert report["statuses"] == [expected]


async def test_lifesys_stores_an_instance_not_of_its_iod_with_b007(tmp_path: Path) -> None:
    """LifeSys Table 1.13: B007, "image transmission is considered successful"."""
    store = MemoryStore()
    server = await _serve("lifesys-storage", [StorageService(store)])
    good = _file(tmp_path, "good.dcm", Modality="CT")
    wrong_modality = _file(tmp_path, "mr.dcm", Modality="MR")  # a CT Image with Modality MR
    no_series = _file(tmp_path, "noseries.dcm", Modality="CT", SeriesInstanceUID=None)
    try:
        report = await _store(server, [good, wrong_modality, no_series])
    finally:
        server.close()
        await server.wait_closed()
    assert report["statuses"] == [0x0000, 0xB007, 0xB007]
    assert len(store) == 3  # stored all the same
    assert not report["aborted"]


async def test_default_policy_does_not_check_the_iod(tmp_path: Path) -> None:
    store = MemoryStore()
    server = await _serve("dicomnet-serve", [StorageService(store)])
    try:
        report = await _store(server, [_file(tmp_path, "mr.dcm", Modality="MR")])
    finally:
        server.close()
        await server.wait_closed()
    assert report["statuses"] == [0x0000]


async def test_dicomark_aborts_on_an_instance_not_of_its_iod(tmp_path: Path) -> None:
    """DicomArk §5.2.1.2: the association is aborted; the instance is not kept."""
    store = MemoryStore()
    server = await _serve("dicomark-inbound", [StorageService(store)])
    good = _file(tmp_path, "good.dcm", Modality="CT")
    bad = _file(tmp_path, "bad.dcm", Modality="CT", Rows=None)  # Image Pixel module incomplete
    after = _file(tmp_path, "after.dcm", Modality="CT")
    try:
        report = await _store(server, [good, bad, after])
    finally:
        server.close()
        await server.wait_closed()
    assert report["aborted"]
    assert report["statuses"][0] == 0x0000
    assert report["statuses"][1:] == [None]  # no response: the association was aborted
    assert len(store) == 1


class BrokenDatabase:
    """A query source whose database fails while matching."""

    async def matches(
        self, query: Query, *, retrieve_ae_title: str | None = None
    ) -> AsyncGenerator[Match, None]:
        raise OSError(5, "database I/O error")
        yield  # pragma: no cover

    async def instances(self, query: Query) -> list[InstanceRecord]:
        raise OSError(5, "database I/O error")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("lifesys-qr", 0x0110),  # LifeSys Table 1.34
        ("kodak-disk-server", 0xC000),  # Kodak §3.1.3.3: C000 general failure
        ("dicomnet-serve", 0xC001),  # no statement: PS3.4 C.4.1.1.4
    ],
)
async def test_failed_database_query_status_is_the_profiles(profile: str, expected: int) -> None:
    server = await _serve(profile, [QueryRetrieveService(BrokenDatabase())])
    cfg = {"host": "127.0.0.1", "port": server.port, "called": "ANY-SCP", "sop_class": STUDY_FIND}
    try:
        report = await _child(FIND_CHILD, cfg)
    finally:
        server.close()
        await server.wait_closed()
    assert report["statuses"] == [expected]


# ---------------------------------------------------------------- received statuses


class StorageSCP:
    """pynetdicom's Storage SCP in a child process: the n-th C-STORE is answered with the
    n-th of ``statuses``, every later one with the last."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.port = 0
        self.report: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> StorageSCP:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SCP_CHILD,
            json.dumps({"statuses": self.statuses}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 30)
        self.port = int(line)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None
        out, _ = await asyncio.wait_for(self._process.communicate(b""), 30)
        self.report = json.loads(out.decode().strip().splitlines()[-1])


def _datasets(count: int) -> list[Any]:
    return [make_dataset(sop_class=SC, sop_instance=generate_uid()) for _ in range(count)]


async def _send(
    profile: str | Path, status: int, count: int = 3, *then: int
) -> tuple[list[Any], dict[str, Any]]:
    policy = load_profile(profile).policy()
    async with StorageSCP(status, *then) as scp:
        ae = AE(policy.ae_title, policy)
        assoc = await ae.associate("127.0.0.1", scp.port, called_ae="STORESCP")
        try:
            results = await store_all(assoc, _datasets(count))
        except DicomNetError:
            results = []
        if assoc.is_established:
            await assoc.release()
    return results, scp.report


async def test_flux_store_scu_aborts_on_a_failure_status() -> None:
    """Flux: "The association is aborted; the status is logged and reported to the user"."""
    results, report = await _send("flux-store-scu", 0xA700)
    assert [r.status for r in results] == [0xA700]
    assert results[0].outcome is Outcome.ABORT and not results[0].ok
    assert report == {"stores": 1, "aborted": 1}  # nothing more was sent


async def test_flux_store_scu_counts_a_warning_as_stored() -> None:
    results, report = await _send("flux-store-scu", 0xB007)
    assert [r.ok for r in results] == [True, True, True]
    assert report == {"stores": 3, "aborted": 0}


async def test_meddream_storage_client_goes_on_after_a_failure() -> None:
    """MedDream Table 20: an error means not stored; proceed to the next instance."""
    results, report = await _send("meddream-storage-client", 0xC000)
    assert [r.outcome for r in results] == [Outcome.FAILURE] * 3
    assert report == {"stores": 3, "aborted": 0}


async def test_lifesys_qr_counts_a_destination_warning_as_success() -> None:
    """LifeSys Table 1.27: a B007 from the C-MOVE destination is "considered successful"."""
    results, _ = await _send("lifesys-qr", 0xB007, count=1)
    assert results[0].outcome is Outcome.SUCCESS
    results, _ = await _send("meddream-storage-client", 0xB007, count=1)
    assert results[0].outcome is Outcome.WARNING and results[0].ok


# ---------------------------------------------------------------- retry outcomes


def _flux_retrying(tmp_path: Path) -> Path:
    """The Flux Store SCU with its other configured strategy (002 §3.2.2.3.1.1: "may attempt
    to retry operation after being suspended for some time"): failures are retried."""
    source = load_profile("flux-store-scu").path.read_text(encoding="utf-8")
    assert source.count('outcome = "abort"') == 1
    text = source.replace('outcome = "abort"', 'outcome = "retry"')
    path = tmp_path / "flux-store-scu.toml"
    path.write_text(text + "\n[retry]\nattempts = 3\ndelay = 0.05\n", encoding="utf-8")
    return path


async def test_a_retry_outcome_sends_the_instance_again_until_it_is_stored(
    tmp_path: Path,
) -> None:
    results, report = await _send(_flux_retrying(tmp_path), 0xA700, 1, 0xA700, 0x0000)
    assert [(r.status, r.attempts, r.outcome) for r in results] == [(0x0000, 3, Outcome.SUCCESS)]
    assert report == {"stores": 3, "aborted": 0}


async def test_retries_stop_after_the_profiles_attempts(tmp_path: Path) -> None:
    results, report = await _send(_flux_retrying(tmp_path), 0xA700, 2)
    # Each instance is tried 3 times, then its failure stands and the next one goes.
    assert [(r.status, r.attempts, r.outcome) for r in results] == [
        (0xA700, 3, Outcome.FAILURE),
        (0xA700, 3, Outcome.FAILURE),
    ]
    assert report == {"stores": 6, "aborted": 0}


async def test_without_a_retry_outcome_nothing_is_sent_twice() -> None:
    results, report = await _send("meddream-storage-client", 0xA700, 2, 0x0000)
    assert [(r.status, r.attempts) for r in results] == [(0xA700, 1), (0x0000, 1)]
    assert report == {"stores": 2, "aborted": 0}
