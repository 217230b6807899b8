"""pynetdicom Verification SCU for the echo suite: COUNT C-ECHOs on one association.

``python -m benchmarks.pynetdicom_echo HOST PORT --count N [--cycles]`` prints
one JSON line ``{"sent", "failed", "seconds", "cpu_seconds"}`` measured from the
association request to the end of the release. TCP_NODELAY is set on the socket.
With ``--cycles``: N associate + C-ECHO + release cycles from this one process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

from pynetdicom import AE, evt

from .pynetdicom_scu import set_nodelay

VERIFICATION = "1.2.840.10008.1.1"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cycles(ae: Any, args: argparse.Namespace, cpu0: float, t0: float) -> int:
    """``args.count`` associate + C-ECHO + release cycles, one after the other."""
    sent = failed = 0
    for _ in range(args.count):
        assoc = ae.associate(
            args.host,
            args.port,
            ae_title=args.called_ae,
            evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)],
        )
        if not assoc.is_established:
            failed += 1
            continue
        status = assoc.send_c_echo()
        assoc.release()
        if status and status.Status == 0x0000:
            sent += 1
        else:
            failed += 1
    report = {
        "sent": sent,
        "failed": failed,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": _cpu() - cpu0,
    }
    print(json.dumps(report), flush=True)
    return 0 if failed == 0 and sent == args.count else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Echo; exit status 0 only if every C-ECHO succeeded."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pynetdicom_echo")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--called-ae", default="BENCH-SCP")
    parser.add_argument("--cycles", action="store_true", help="one association per C-ECHO")
    args = parser.parse_args(argv)

    ae = AE(ae_title="BENCH-SCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(VERIFICATION)
    cpu0, t0 = _cpu(), time.perf_counter()
    if args.cycles:
        return _cycles(ae, args, cpu0, t0)
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
    for _ in range(args.count):
        status = assoc.send_c_echo()
        if status and status.Status == 0x0000:
            sent += 1
        else:
            failed += 1
    assoc.release()
    report = {
        "sent": sent,
        "failed": failed,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": _cpu() - cpu0,
    }
    print(json.dumps(report), flush=True)
    return 0 if failed == 0 and sent == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
