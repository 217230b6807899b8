"""Suite ``stalled``: SCUs that stop half way through a data set, against a dicomnet SCP.

Each stalled SCU associates, sends a C-STORE-RQ and the first 16 KB of its
data set, and then neither sends nor closes. The SCP (``benchmarks.dicomnet_scp``
writing into a folder, with a short DIMSE timer and ARTIM) must abort each one
when its DIMSE timer expires, remove its partial file, and close the connection
within ARTIM. While they hang, one normal association (C-ECHO) is timed.

Figures per row: the SCP's descriptors, resident memory (VmRSS now, VmHWM the
peak) and partial files in ``.incoming`` before, at most while the SCUs hang
(sampled every 20 ms) and after they were dealt with; how many got an A-ABORT
and were closed by the SCP; and seconds from the last stalled SCU's last byte
to the last close.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import processes
from .harness import REPO_ROOT, Column, Options, Row, SuiteResult, Table

__all__ = ["run"]

_COUNTS = (100, 1000)
_QUICK_COUNTS = (100,)
_DIMSE = 2.0
_ARTIM = 1.0
_CONNECT_AT_ONCE = 64
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"

_COLUMNS = [
    Column("aborted", "A-ABORT", ",.0f"),
    Column("closed_by_scp", "closed", ",.0f"),
    Column("seconds_to_last_close", "s to close", ".2f"),
    Column("echo_ms_while_stalled", "echo ms", ".0f"),
    Column("fds_before", "fds 0", ",.0f"),
    Column("fds_stalled", "fds max", ",.0f"),
    Column("fds_after", "fds end", ",.0f"),
    Column("partial_stalled", "part max", ",.0f"),
    Column("partial_after", "part end", ",.0f"),
    Column("rss_before_mb", "RSS 0 MB", ".1f"),
    Column("rss_stalled_mb", "RSS max MB", ".1f"),
    Column("rss_after_mb", "RSS end MB", ".1f"),
    Column("peak_rss_mb", "VmHWM MB", ".1f"),
]


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _partial(store: Path) -> int:
    incoming = store / ".incoming"
    return len(os.listdir(incoming)) if incoming.is_dir() else 0


def _stream(uid: str) -> tuple[bytes, bytes]:
    """The A-ASSOCIATE-RQ, and a C-STORE-RQ with the first PDU of its data set."""
    from pydicom.dataset import Dataset

    from dicomnet.dimse.codec import encode_command
    from dicomnet.dimse.commands import CStoreRQ
    from dicomnet.dimse.dataset import encode_dataset
    from dicomnet.negotiation import build_request
    from dicomnet.policy import Policy, ProposedContext
    from dicomnet_pdu.codec import encode_pdu
    from dicomnet_pdu.pdv import fragment_message

    context = ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,))
    rq = build_request(Policy(ae_title="STALLER"), called_ae_title="BENCH-SCP", contexts=(context,))
    command = encode_command(
        CStoreRQ(
            message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
        )
    )
    # A small image whose Pixel Data runs past the first PDU: the rest never comes.
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = uid
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 256
    ds.BitsAllocated = 8
    ds.PixelData = bytes(256 * 256)
    data = encode_dataset(ds, EXPLICIT_LE)
    pdus = list(fragment_message(1, command, data, max_pdu_length=16384))
    partial = b"".join(bytes(segment) for pdu in pdus[:2] for segment in pdu)
    return encode_pdu(rq), partial


class _Stall:
    def __init__(self) -> None:
        self.sent_at = 0.0
        self.aborted = False
        self.closed_at: float | None = None


async def _stall(port: int, uid: str, gate: asyncio.Semaphore, out: _Stall) -> None:
    rq, partial = _stream(uid)
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(rq)
        header = await reader.readexactly(6)
        await reader.readexactly(int.from_bytes(header[2:6], "big"))
        if header[0] != 0x02:
            raise RuntimeError(f"association not accepted (PDU type {header[0]:#x})")
        writer.write(partial)
        out.sent_at = time.monotonic()
    try:
        header = await reader.readexactly(6)
        out.aborted = header[0] == 0x07
        await reader.readexactly(int.from_bytes(header[2:6], "big"))
        while await reader.read(65536):
            pass
        out.closed_at = time.monotonic()
    except (ConnectionError, asyncio.IncompleteReadError):
        out.closed_at = time.monotonic()
    finally:
        writer.close()


async def _echo_ms(port: int) -> float:
    from dicomnet.ae import AE

    start = time.perf_counter()
    async with AE("BENCH-SCU").associate("127.0.0.1", port, called_ae="BENCH-SCP") as assoc:
        status = await assoc.echo()
    if not status.is_success:
        raise RuntimeError(f"C-ECHO status {status.code:#06x}")
    return (time.perf_counter() - start) * 1000


async def _measure_async(count: int, port: int, pid: int, store: Path) -> dict[str, float]:
    await _echo_ms(port)  # warm up the SCP (imports, first association)
    values: dict[str, float] = {
        "fds_before": _fds(pid),
        "rss_before_mb": _status_kb(pid, "VmRSS"),
    }
    gate = asyncio.Semaphore(_CONNECT_AT_ONCE)
    stalls = [_Stall() for _ in range(count)]
    tasks = [
        asyncio.create_task(_stall(port, f"1.2.826.0.1.3680043.99.9.{n}", gate, s))
        for n, s in enumerate(stalls)
    ]
    everything = asyncio.gather(*tasks)
    peaks = {"fds_stalled": 0.0, "partial_stalled": 0.0, "rss_stalled_mb": 0.0}

    async def sample() -> None:
        while not everything.done():
            for key, value in (
                ("fds_stalled", _fds(pid)),
                ("partial_stalled", _partial(store)),
                ("rss_stalled_mb", _status_kb(pid, "VmRSS")),
            ):
                peaks[key] = max(peaks[key], value)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    while not all(s.sent_at or t.done() for s, t in zip(stalls, tasks, strict=True)):
        await asyncio.sleep(0.01)
    values["echo_ms_while_stalled"] = await _echo_ms(port)
    await everything
    await sampler
    values.update(peaks)
    last_sent = max(s.sent_at for s in stalls)
    values["seconds_to_last_close"] = max(s.closed_at or 0.0 for s in stalls) - last_sent
    values["aborted"] = sum(s.aborted for s in stalls)
    values["closed_by_scp"] = sum(s.closed_at is not None for s in stalls)
    for _ in range(200):  # the SCP's side of the last closes
        if _fds(pid) <= values["fds_before"]:
            break
        await asyncio.sleep(0.02)
    values["fds_after"] = _fds(pid)
    values["partial_after"] = _partial(store)
    values["rss_after_mb"] = _status_kb(pid, "VmRSS")
    values["peak_rss_mb"] = _status_kb(pid, "VmHWM")
    return values


def _measure(count: int, work: Path) -> Row:
    label = f"{count} stalled, DIMSE {_DIMSE:g} s, ARTIM {_ARTIM:g} s"
    store = work / f"store-{count}"
    port = processes.free_port()
    argv = [sys.executable, "-m", "benchmarks.dicomnet_scp", str(port), "--output", str(store)]
    argv += ["--dimse", str(_DIMSE), "--artim", str(_ARTIM)]
    proc = processes.start(argv, log=work / f"scp-{count}.log", cwd=REPO_ROOT)
    try:
        processes.wait_listening(proc, port)
        values = asyncio.run(_measure_async(count, port, proc.pid, store))
    except Exception as exc:  # a failed case is a row saying why, not a dead suite
        return Row(label, unavailable=f"{type(exc).__name__}: {exc}")
    finally:
        processes.stop(proc)
    return Row(label, values)


def run(options: Options) -> SuiteResult:
    """Measure each count of stalled SCUs against a fresh SCP process."""
    result = SuiteResult("stalled")
    table = Table("Stalled mid-data-set SCUs against the dicomnet SCP", list(_COLUMNS))
    work = Path(tempfile.mkdtemp(prefix="dicomnet-stalled-"))
    try:
        for count in _QUICK_COUNTS if options.quick else _COUNTS:
            label = f"{count} stalled"
            if not options.selected(label):
                continue
            table.rows.append(_measure(count, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.tables.append(table)
    result.settings.update({"dimse_seconds": _DIMSE, "artim_seconds": _ARTIM})
    result.notes.append(
        "Each stalled SCU sends a C-STORE-RQ and 16 KB of its data set, then nothing; "
        "the SCP aborts it after DIMSE, removes the partial file and closes within ARTIM."
    )
    return result
