"""dicomnet Storage SCU for the store suite: one association, every file in a folder.

``python -m benchmarks.dicomnet_scu HOST PORT FOLDER [--max-pdu N] [--window N]
[--no-uvloop]`` sends each ``*.dcm`` of FOLDER (sorted) with
:func:`dicomnet.storage.scu.store_many`, keeping up to ``--window`` C-STOREs in
flight (the asynchronous operations window it proposes), and prints one JSON
line ``{"sent", "failed", "seconds", "cpu_seconds"}`` measured from the
association request to the end of the release (start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def send_folder(args: argparse.Namespace, paths: list[Path]) -> dict[str, Any]:
    """Associate, store every path, release; the report line as a dict."""
    from dicomnet.ae import AE
    from dicomnet.policy import Policy, ProposedContext
    from dicomnet.storage.scu import store_many

    policy = Policy(
        ae_title="BENCH-SCU",
        proposed_contexts=(
            ProposedContext(
                abstract_syntax=CT_IMAGE_STORAGE,
                transfer_syntaxes=(EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN),
            ),
        ),
    )
    policy = replace(
        policy,
        max_pdu_receive=args.max_pdu,
        max_pdu_send=args.max_pdu,
        max_operations_invoked=args.window,
        max_operations_performed=1,
    )
    ae = AE("BENCH-SCU", policy)
    sent = failed = 0
    cpu0, t0 = _cpu(), time.perf_counter()
    async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
        async for result in store_many(assoc, paths, window=args.window):
            if result.ok:
                sent += 1
            else:
                failed += 1
    return {
        "sent": sent,
        "failed": failed,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": _cpu() - cpu0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Send the folder; exit status 0 only if every C-STORE succeeded."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicomnet_scu")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-pdu", type=int, default=16384)
    parser.add_argument("--window", type=int, default=1, help="C-STOREs in flight")
    parser.add_argument("--called-ae", default="BENCH-SCP")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    parser.add_argument("--log-level", default="WARNING", help="dicomnet log level (stderr)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    paths = sorted(args.folder.glob("*.dcm"))

    from dicomnet.transport import run

    report = run(send_folder(args, paths), use_uvloop=not args.no_uvloop)
    print(json.dumps(report), flush=True)
    return 0 if report["failed"] == 0 and report["sent"] == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
