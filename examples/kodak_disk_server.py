"""Kodak DirectView Web Software, Disk-Server AE: Storage to disk + Study Root FIND/MOVE SCP.

Plays the Disk-Server of the Kodak DirectView conformance statement (seed
``004_10981dd9c438091f.txt``, §3.1) by configuration: the
``kodak-disk-server`` profile gives the AE title (``DISK_SERVER``, the only
called AE title answered), Verification, the image Storage SOP classes,
Study Root FIND and MOVE, 16 KB PDUs, one operation at a time, and the
statement's transfer syntax preference: Explicit VR Big Endian, then
Explicit VR Little Endian, then Implicit VR Little Endian, whatever order
the requestor proposes them in.

This program runs the ``disk`` AE of the ``kodak`` system file
(``conformance/systems/kodak.toml``; ``dicomnet serve --system kodak`` runs it
beside the Memory-Server) with the folder, quota and destinations given here.
Received instances are written to ``--output`` as Part 10 files, as they
arrive (a second copy of an instance is dropped, the first kept). Every
stored instance is added to the folder's SQLite index (``.index/``) before
its C-STORE response, and Study Root C-FIND and C-MOVE answer from it.
C-FIND takes the Study Root Required and Unique keys plus the statement's
optional keys; other keys are left out of the responses. A C-FIND-CANCEL
stops the matching (final status FE00). C-MOVE sends all the images over one
association to the Move Destination, looked up among the
``--destination AET=HOST:PORT`` options (unknown: A801), proposing the
profile's Table 3 contexts; a C-STORE that fails aborts that association and
the C-MOVE ends with A702, as §3.1.2.1.2.1 says.

Disk space: ``--max-bytes`` is a quota on the stored files; an instance
that would go over it is refused with A700 (out of resources), which is
what the statement answers when the disk is full (a real full disk gives
the same status). ``--auto-delete-over BYTES`` turns on the statement's
least-recently-used auto-delete: when the stored files would go over BYTES
(or over the quota), the images stored or retrieved longest ago are deleted
to make room for the new one.

Not done: the coercion of OW Pixel Data to OB when Bits Allocated is 8
(instances are kept as received).

Run::

    python examples/kodak_disk_server.py --output /data/kodak --port 11112 \\
        --destination WORKSTATION=10.0.0.7:104 --auto-delete-over 50000000000
    python examples/kodak_disk_server.py --help

Prints ``listening on PORT`` when ready (and ``indexed N instance(s)`` on
stderr); stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from common import (
    example_parser,
    parse_address,
    run_main,
    serve_until_signal,
    with_overrides,
)

from dicomnet.systems import load_system, start_system

SYSTEM = "kodak"  # conformance/systems/kodak.toml: its "disk" AE (kodak-disk-server profile)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(
        __doc__, port=11112, aet="DISK_SERVER", output="kodak-disk", server=True
    )
    parser.add_argument(
        "--destination",
        dest="destinations",
        action="append",
        type=parse_address,
        default=[],
        metavar="AET=HOST:PORT",
        help="a C-MOVE destination (repeat for several)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="disk quota for the stored files; beyond it C-STORE is refused with A700",
    )
    parser.add_argument(
        "--auto-delete-over",
        type=int,
        default=None,
        metavar="BYTES",
        help="delete least recently used images when the files would take more than BYTES",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve the Kodak system's Disk-Server AE until a signal."""
    system = load_system(SYSTEM)
    disk = with_overrides(system.ae("disk"), args)
    if args.aet is not None:
        disk = replace(
            disk, profile=replace(disk.profile, ae_title=args.aet, called_ae_titles=(args.aet,))
        )
    system = replace(
        system,
        aes=(disk,),
        store=Path(args.output),
        max_bytes=args.max_bytes,
        auto_delete_over=args.auto_delete_over,
        destinations=tuple(args.destinations),
    )
    running = await start_system(system, host=args.host, ae_ports={"disk": args.port})
    try:
        assert running.resources.index is not None
        held = await running.resources.index.count()
        print(f"indexed {held} instance(s)", file=sys.stderr, flush=True)
        await serve_until_signal(running.servers["disk"])
    finally:
        await running.close()
    return 0


if __name__ == "__main__":
    run_main(build_parser(), main)
