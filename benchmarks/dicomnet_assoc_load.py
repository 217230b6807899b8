"""Many dicomnet associations at once, for the memory suite.

``python -m benchmarks.dicomnet_assoc_load HOST PORT --count N [--no-uvloop]``
opens N associations concurrently, sends one C-ECHO on each once all are
established, releases them all, and prints one JSON line
``{"established", "echoed", "failed", "seconds"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

VERIFICATION = "1.2.840.10008.1.1"
SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


async def load(args: argparse.Namespace) -> dict[str, Any]:
    """Associate ``args.count`` times at once, echo on each, release each."""
    from dicomnet.ae import AE
    from dicomnet.association import Association
    from dicomnet.policy import Policy, ProposedContext

    policy = Policy(
        ae_title="BENCH-LOAD",
        proposed_contexts=(
            ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=SYNTAXES),
        ),
    )
    ae = AE("BENCH-LOAD", policy)
    t0 = time.perf_counter()
    opened = await asyncio.gather(
        *(ae.associate(args.host, args.port, called_ae=args.called_ae) for _ in range(args.count)),
        return_exceptions=True,
    )
    live = [a for a in opened if isinstance(a, Association)]
    statuses = await asyncio.gather(*(a.echo() for a in live), return_exceptions=True)
    echoed = sum(1 for s in statuses if not isinstance(s, BaseException) and s.code == 0)
    await asyncio.gather(*(a.release() for a in live), return_exceptions=True)
    return {
        "established": len(live),
        "echoed": echoed,
        "failed": args.count - echoed,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; exit status 0 only if every association echoed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicomnet_assoc_load")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--called-ae", default="BENCH-SCP")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    args = parser.parse_args(argv)

    from dicomnet.transport import run

    report = run(load(args), use_uvloop=not args.no_uvloop)
    print(json.dumps(report), flush=True)
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
