"""dicomnet Storage SCP for the store suite.

``python -m benchmarks.dicomnet_scp PORT [--output DIR] [--fsync] [--no-check]
[--index] [--max-pdu N] [--window N] [--no-uvloop] [--dimse S] [--artim S]`` listens on
127.0.0.1:PORT for CT Image Storage (and Verification) with
:class:`dicomnet.ae.AE`. Without ``--output`` a
handler drains each data set as it arrives and answers Success (discarding);
with it, :class:`dicomnet.services.storage_scp.StorageService` writes each
instance into a :class:`dicomnet.storage.folder.FolderStore` (no fsync unless
``--fsync``, like the other peers), walking each data set as it arrives
unless ``--no-check``; ``--index`` also indexes each instance in a SQLite
index in the folder before answering (:mod:`dicomnet.archive`, synced when
``--fsync``). Runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"


def _drop(views: Any) -> None:
    return None


async def discard(request: Any) -> int:
    """C-STORE handler: take every fragment of the data set as it arrives, keep nothing, 0000."""
    if request.data is not None:
        request.data.consume_with(_drop)
        await request.data.finished()
    return 0x0000


async def serve(args: argparse.Namespace) -> None:
    """Listen until cancelled."""
    from dicomnet.ae import AE
    from dicomnet.dimse.commands import CommandField
    from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, Policy, Timers
    from dicomnet.services.base import Binding, Service
    from dicomnet.services.storage_scp import StorageService
    from dicomnet.storage.folder import FolderStore
    from dicomnet.storage.sinks import InstanceStore

    syntaxes = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
    policy = Policy(
        ae_title="BENCH-SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=syntaxes),
            AcceptedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=syntaxes),
        ),
        max_pdu_receive=args.max_pdu,
        max_pdu_send=args.max_pdu,
        max_operations_invoked=args.window,
        max_operations_performed=args.window,
        timers=Timers(artim=args.artim, dimse=args.dimse),
    )
    handler: Service | Binding
    if args.output is None:
        handler = Binding(command_field=CommandField.C_STORE_RQ, handler=discard, inline=True)
    else:
        store: InstanceStore = FolderStore(args.output, fsync=args.fsync)
        if args.index:
            from dicomnet.archive import SqliteIndex
            from dicomnet.archive.ingest import IndexedStore

            path = args.output / ".index" / "index.sqlite"
            store = IndexedStore(store, await SqliteIndex.open(path, fsync=args.fsync))
        handler = StorageService(store, check_dataset=not args.no_check)
    ae = AE("BENCH-SCP", policy, handlers=[handler])
    server = await ae.serve("127.0.0.1", args.port)
    async with server:
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicomnet_scp")
    parser.add_argument("port", type=int)
    parser.add_argument("--output", type=Path, help="write instances here (else discard)")
    parser.add_argument("--fsync", action="store_true", help="fsync each written instance")
    parser.add_argument(
        "--no-check", action="store_true", help="store without walking each data set"
    )
    parser.add_argument("--index", action="store_true", help="index each instance (SQLite)")
    parser.add_argument("--max-pdu", type=int, default=16384)
    parser.add_argument("--window", type=int, default=16, help="async window granted, at most")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    parser.add_argument("--dimse", type=float, default=60.0, help="DIMSE timeout (s)")
    parser.add_argument("--artim", type=float, default=5.0, help="ARTIM timeout (s)")
    parser.add_argument("--log-level", default="WARNING", help="dicomnet log level (stderr)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")

    from dicomnet.transport import run

    try:
        run(serve(args), use_uvloop=not args.no_uvloop)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
