"""Where the Storage SCP's time goes per 16 KB PDU, measured in-process, stage by stage.

``python -m benchmarks.receive_cost [--mb N] [--read-kb K]`` moves N MB of data set
(P-DATA-TF PDUs of PDU-length 16384, one PDV each, continuing one data set) through
the stages of the receive path separately and prints microseconds of CPU per PDU:

* kernel copy: ``recv_into`` of K KB reads from a loopback socket pair (the
  bytes were sent beforehand; only the receive is timed); K defaults to the
  transport's largest receive buffer (``RECEIVE_BUFFER_SIZE``, 512 KB), what a
  bulk connection reads at once when the sender is ahead;
* framing: :meth:`~dicomnet_pdu.connection.ULConnection.receive_buffer` on a
  K KB read, events taken (the PDU and PDV headers, one ``DataRun``);
* reassembly: :meth:`~dicomnet_pdu.pdv.Reassembler.feed_items` and
  :meth:`~dicomnet.services.base.DataStream.feed_views` to a consumer;
* sink: :meth:`~dicomnet.storage.folder.FileSink.write_views` (``writev`` into
  the page cache, no fsync) and the data set check
  (:class:`~dicomnet.services.dataset_check.DatasetCheck`) on the same views.

Not timed here: the event loop's own work per read (a few µs per 256 KB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main", "measure"]

_PDU = 16384
_CT = "1.2.840.10008.5.1.4.1.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _cpu() -> float:
    return time.process_time()


def _read_of_pdus(size: int) -> bytes:
    """A read of ``size`` bytes: whole P-DATA-TF PDUs, each one data PDV continuing a data set."""
    payload = bytes(range(256)) * ((_PDU - 6) // 256 + 1)
    pdu = struct.pack(">BBIIBB", 4, 0, _PDU, _PDU - 4, 1, 0) + payload[: _PDU - 6]
    return pdu * max(1, size // len(pdu))


def _time(rounds: int, step: Callable[[], None]) -> float:
    started = _cpu()
    for _ in range(rounds):
        step()
    return _cpu() - started


def measure(megabytes: int = 200, read_size: int = 0) -> dict[str, float]:
    """Microseconds of CPU per 16 KB PDU in each stage (reads of ``read_size`` bytes)."""
    from dicomnet.services.base import DataStream
    from dicomnet.services.dataset_check import DatasetCheck
    from dicomnet.storage.folder import FileSink, FolderStore
    from dicomnet.storage.sinks import InstanceInfo
    from dicomnet.transport import RECEIVE_BUFFER_SIZE
    from dicomnet_pdu.codec import encode_pdu
    from dicomnet_pdu.connection import Role, ULConnection
    from dicomnet_pdu.events import DataRun
    from dicomnet_pdu.items import MaximumLength, PresentationContextRQ, UserInformation
    from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ
    from dicomnet_pdu.pdv import DataParts, Reassembler

    read_size = read_size or RECEIVE_BUFFER_SIZE
    read = _read_of_pdus(read_size)
    per_read = read.count(struct.pack(">BBI", 4, 0, _PDU))
    rounds = max(1, megabytes * 1_000_000 // len(read))
    pdus = rounds * per_read
    results: dict[str, float] = {"pdus": float(pdus), "read_bytes": float(len(read))}

    # Kernel copy: recv_into of reads that are already queued on the socket.
    left, right = socket.socketpair()
    for sock in (left, right):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * len(read))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * len(read))
    buffer = memoryview(bytearray(len(read)))
    spent = 0.0
    for _ in range(rounds):
        left.sendall(read)
        started = _cpu()
        got = 0
        while got < len(read):
            got += right.recv_into(buffer[got:])
        spent += _cpu() - started
    left.close()
    right.close()
    results["kernel_copy_us"] = spent / pdus * 1e6

    # Framing: the connection in Sta6 parsing one read in place.
    conn = ULConnection(Role.ACCEPTOR, max_pdu_receive=_PDU)
    conn.connection_made(0.0)
    user = UserInformation(items=(MaximumLength(maximum_length=_PDU),))
    context = PresentationContextRQ(
        context_id=1, abstract_syntax=_CT, transfer_syntaxes=(_EXPLICIT_LE,)
    )
    rq = AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(context,),
        user_information=user,
    )
    conn.receive_data(encode_pdu(rq), 0.0)
    conn.next_event()
    conn.send(
        AAssociateAC(
            called_ae_title="SCP",
            calling_ae_title="SCU",
            presentation_contexts=(),
            user_information=user,
        ),
        0.0,
    )
    conn.data_to_send()
    view = memoryview(bytearray(read))
    runs: list[DataRun] = []

    def frame() -> None:
        conn.receive_buffer(view, 0.0)
        while (event := conn.next_event()) is not None:
            runs.append(event)

    results["framing_us"] = _time(rounds, frame) / pdus * 1e6
    run = runs[0]
    assert isinstance(run, DataRun) and len(run.pdvs) == per_read

    # Reassembly: the run checked and handed to a consumer.
    reassembler = Reassembler()
    list(reassembler.feed_items([(1, 3, memoryview(b"\0" * 8)), (1, 0, memoryview(b"x"))]))
    stream = DataStream()
    stream.consume_with(lambda views: None)

    def reassemble() -> None:
        for item in reassembler.feed_items(run.pdvs):
            if isinstance(item, DataParts):
                stream.feed_views(item.parts)

    results["reassembly_us"] = _time(rounds, reassemble) / pdus * 1e6

    # Sink: writev into the page cache, and the data set check over the same views.
    views = [data for _, _, data in run.pdvs]
    info = InstanceInfo(
        sop_class_uid=_CT, sop_instance_uid="1.2.3", transfer_syntax_uid=_EXPLICIT_LE
    )
    with tempfile.TemporaryDirectory() as folder:
        store = FolderStore(Path(folder), fsync=False)
        sink = asyncio.run(store.open_sink(info))
        assert isinstance(sink, FileSink)
        results["sink_write_us"] = _time(rounds, lambda: sink.write_views(views)) / pdus * 1e6
        asyncio.run(sink.discard())
    # The check walks the element headers: one Pixel Data element long enough for all.
    check = DatasetCheck(info)
    check.feed(struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OW", 0xFFFFFFF0))

    def walk() -> None:
        for data in views:
            check.feed(data)

    results["check_us"] = _time(rounds, walk) / pdus * 1e6
    results["total_us"] = sum(value for key, value in results.items() if key.endswith("_us"))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Print the stages' microseconds per PDU (and one JSON line)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.receive_cost")
    parser.add_argument("--mb", type=int, default=200, help="MB moved through each stage")
    parser.add_argument(
        "--read-kb", type=int, default=0, help="KB per read (default: the largest receive buffer)"
    )
    args = parser.parse_args(argv)
    results = measure(args.mb, args.read_kb * 1024)
    for key, value in results.items():
        if key.endswith("_us"):
            print(f"{key[:-3]:<14} {value:8.2f} us per 16 KB PDU")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
