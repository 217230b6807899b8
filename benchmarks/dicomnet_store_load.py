"""Many storing associations at once: the one load client of the scale suite.

``python -m benchmarks.dicomnet_store_load HOST PORT --associations N --instances M``
opens N associations at the same time, each storing M small CT images of its
own (SOP Instance UIDs ``PREFIX.ASSOCIATION.INSTANCE``, patched into one
encoded template per image before the associations open, so the client spends
its CPU on the network and not on making its data) with up to ``--window``
requests outstanding, then releases.
It prints one JSON line: associations, failed associations (not established,
aborted, or any instance not answered Success), instances acknowledged,
wall seconds, the client's CPU seconds, and why associations failed (stage
and exception, counted; the first message of each in ``examples``). ``--acked FILE`` writes the SOP
Instance UIDs answered Success, one per line (the kill -9 check reads them).
Before the associations open it settles its garbage collector as ``dicomnet
serve`` does (:mod:`dicomnet.cli.collector`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
_ROOT = "1.2.826.0.1.3680043.8.498.77"


def _uid(prefix: str, association: int, instance: int) -> str:
    return f"{_ROOT}.{prefix}{association:07d}{instance:04d}"


def templates(count: int, prefix: str) -> list[tuple[bytes, bytes]]:
    """``count`` encoded CT images, each with a placeholder UID as long as the real ones."""
    from dicomnet.dimse.dataset import encode_dataset
    from dicomnet.storage.synthetic import make_image

    out = []
    for n in range(count):
        placeholder = _uid("9" * len(prefix), 9999999, n)
        ds = make_image(rows=16, columns=16, sop_class_uid=CT, sop_instance_uid=placeholder, seed=n)
        ds.PatientID = "SCALE"
        ds.StudyInstanceUID = f"{_ROOT}.1"
        ds.SeriesInstanceUID = f"{_ROOT}.1.{n % 4}"
        data = encode_dataset(ds, EXPLICIT_LE)
        token = placeholder.encode()
        assert data.count(token) == 1
        out.append((data, token))
    return out


async def load(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``args.associations`` storing associations at once."""
    from dicomnet.ae import AE
    from dicomnet.cli.collector import settle_collector
    from dicomnet.policy import Policy, ProposedContext
    from dicomnet.storage.scu import store_many
    from dicomnet.storage.source import InstanceSource

    images = templates(args.instances, args.prefix)
    policy = Policy(
        ae_title="BENCH-LOAD",
        proposed_contexts=(ProposedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE,)),),
        max_operations_invoked=args.window,
    )
    ae = AE("BENCH-LOAD", policy)
    acked: list[str] = []

    def sources(association: int) -> list[InstanceSource]:
        out = []
        for n, (data, token) in enumerate(images):
            uid = _uid(args.prefix, association, n)
            out.append(
                InstanceSource.from_bytes(
                    data.replace(token, uid.encode()),
                    sop_class_uid=CT,
                    sop_instance_uid=uid,
                    transfer_syntax_uid=EXPLICIT_LE,
                )
            )
        return out

    reasons: dict[str, int] = {}
    examples: dict[str, str] = {}

    def failed(reason: str, message: str = "") -> bool:
        reasons[reason] = reasons.get(reason, 0) + 1
        examples.setdefault(reason, message[:300])
        return False

    # Every association's instances made before the clock starts, as a sender's files
    # exist before it sends them: patching the UIDs in is not the client's network work.
    prepared: list[list[InstanceSource] | None] = [
        sources(association) for association in range(args.associations)
    ]

    async def one(association: int) -> bool:
        stage = "associate"
        items, prepared[association] = prepared[association] or [], None
        try:
            async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
                stage = "store"
                good, first_bad = 0, ""
                async for result in store_many(assoc, items, window=args.window):
                    if result.status == 0:
                        good += 1
                        acked.append(result.sop_instance_uid)
                    elif not first_bad:
                        first_bad = f"status {result.status}: {result.error_comment}"
                stage = "release"
            missing = len(images) - good
            return not missing or failed(
                f"status: {missing} not stored", f"association {association}: {first_bad}"
            )
        except Exception as exc:
            return failed(f"{stage}: {type(exc).__name__}", f"association {association}: {exc}")

    # Its garbage collector set as dicomnet serve sets a server's: many associations are
    # open at once, and the default walks their objects again and again (a fifth of the
    # client's CPU), CPU the servers under test would otherwise have had.
    settle_collector()
    wall, cpu = time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(*(one(a) for a in range(args.associations)))
    report = {
        "associations": args.associations,
        "failed": sum(1 for ok in outcomes if not ok),
        "instances": len(acked),
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "failures": reasons,
        "examples": examples,
    }
    if args.acked is not None:
        Path(args.acked).write_text("".join(f"{uid}\n" for uid in acked), encoding="ascii")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; exit status 0 only if every association stored everything."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicomnet_store_load")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--associations", type=int, default=50)
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--prefix", default="1", help="digits that keep this run's UIDs apart")
    parser.add_argument("--called-ae", default="BENCH-SCP")
    parser.add_argument("--acked", type=Path, default=None)
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    args = parser.parse_args(argv)

    from dicomnet.transport import run

    report = run(load(args), use_uvloop=not args.no_uvloop)
    print(json.dumps(report), flush=True)
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
