"""dicomnet Verification SCU for the echo suite: COUNT C-ECHOs on one association.

``python -m benchmarks.dicomnet_echo HOST PORT --count N [--cycles] [--no-uvloop]``
prints one JSON line ``{"sent", "failed", "seconds", "cpu_seconds"}`` measured
from the association request to the end of the release. With ``--cycles`` each
C-ECHO has an association of its own: N associate + C-ECHO + release cycles, one
after the other, from this one process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

VERIFICATION = "1.2.840.10008.1.1"
SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def echo_many(args: argparse.Namespace) -> dict[str, Any]:
    """Associate, send ``args.count`` C-ECHOs one after the other, release."""
    from dicomnet.ae import AE
    from dicomnet.policy import Policy, ProposedContext

    policy = Policy(
        ae_title="BENCH-SCU",
        proposed_contexts=(
            ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=SYNTAXES),
        ),
    )
    ae = AE("BENCH-SCU", policy)
    sent = failed = 0
    cpu0, t0 = _cpu(), time.perf_counter()
    if args.cycles:
        for _ in range(args.count):
            async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
                status = await assoc.echo()
            if status.code == 0x0000:
                sent += 1
            else:
                failed += 1
    else:
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            for _ in range(args.count):
                status = await assoc.echo()
                if status.code == 0x0000:
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
    """Echo; exit status 0 only if every C-ECHO succeeded."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicomnet_echo")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--called-ae", default="BENCH-SCP")
    parser.add_argument("--cycles", action="store_true", help="one association per C-ECHO")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    args = parser.parse_args(argv)

    from dicomnet.transport import run

    report = run(echo_many(args), use_uvloop=not args.no_uvloop)
    print(json.dumps(report), flush=True)
    return 0 if report["failed"] == 0 and report["sent"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
