"""pynetdicom Storage SCU for the store suite: one association, every file in a folder.

``python -m benchmarks.pynetdicom_scu HOST PORT FOLDER [--max-pdu N]`` sends
each ``*.dcm`` of FOLDER (sorted) with C-STORE and prints one JSON line:
``{"sent", "failed", "seconds", "cpu_seconds"}`` measured from the association
request to the end of the release (interpreter start-up and imports excluded).
TCP_NODELAY is set on the socket as soon as it is connected.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def set_nodelay(event: Any) -> None:
    """EVT_CONN_OPEN handler: disable Nagle on the association's socket."""
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Send the folder; exit status 0 only if every C-STORE succeeded."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pynetdicom_scu")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-pdu", type=int, default=16384)
    parser.add_argument("--called-ae", default="BENCH-SCP")
    args = parser.parse_args(argv)
    paths = sorted(args.folder.glob("*.dcm"))

    ae = AE(ae_title="BENCH-SCU")
    ae.maximum_pdu_size = args.max_pdu
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])

    cpu0, t0 = _cpu(), time.perf_counter()
    assoc = ae.associate(
        args.host,
        args.port,
        ae_title=args.called_ae,
        evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)],
    )
    if not assoc.is_established:
        print(json.dumps({"error": "association not established"}), flush=True)
        return 2
    sent = failed = 0
    for path in paths:
        status = assoc.send_c_store(path)
        if status and status.Status == 0x0000:
            sent += 1
        else:
            failed += 1
    assoc.release()
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    report = {"sent": sent, "failed": failed, "seconds": seconds, "cpu_seconds": cpu}
    print(json.dumps(report), flush=True)
    return 0 if failed == 0 and sent == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
