"""LifeSys PACS, Query/Retrieve AE: Patient Root, Study Root, Patient/Study Only FIND/MOVE SCP.

Plays the Query/Retrieve Application Entity of the LifeSys PACS conformance
statement (seed ``003_f5322d9008bf32ef.txt``, §4.2.2) by configuration: the
``lifesys-qr`` profile gives the AE title (``QR_SCP``, the called AE title
answered; other called titles get Verification only), the accepted FIND and
MOVE contexts, 16352-byte PDUs, a window of one operation, ten associations
at most, and the supported query keys with their matching types (Tables
1.32 and 1.33): keys outside them come back empty, a matching type not listed
is not used and the match is reported with FF01. Relational queries and
retrieves are granted to requestors that ask for them in extended
negotiation; otherwise queries are hierarchical (A900 without the unique keys
of the levels above).

It runs the ``qr`` AE of ``conformance/systems/lifesys.toml`` alone, over the
SQLite index (``.index/``) of the store folder ``--archive``;
``dicomnet serve --system lifesys`` runs it with the Storage and worklist AEs over
the same index, so what is stored is found at once. A folder without an index
yet (DICOM files put there by other means) is indexed at start-up, headers
only, any layout; files copied into a folder that already has its index are
seen after ``--rebuild`` (or ``dicomnet index rebuild DIR``). C-MOVE
sub-operations go over a new association to the Move Destination, one
association for all instances, no retry; the destinations are given with
``--destination AET=HOST:PORT`` (an unknown one is answered A801). The
sub-operation association proposes the profile's Table 1.24 contexts, and a
warning from the destination counts as success (Table 1.27).

Run::

    python examples/lifesys_qr.py --archive /data/dicom --port 11112 \\
        --destination WORKSTATION=10.0.0.7:104
    python examples/lifesys_qr.py --help

Prints ``listening on PORT`` when ready (and ``indexed N instance(s)`` on
stderr); stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import example_parser, parse_address, run_main, serve_system_ae

from dicomnet.archive import SqliteIndex, rebuild_index
from dicomnet.systems import load_system
from dicomnet.systems.resources import index_path

SYSTEM = "lifesys"  # conformance/systems/lifesys.toml: its "qr" AE (lifesys-qr profile)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="QR_SCP", server=True)
    parser.add_argument(
        "--archive",
        default="lifesys-archive",
        help="store folder of the DICOM files served, with its index (%(default)s)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="index the folder again at start-up (done anyway when it has no index yet)",
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
    return parser


async def index_archive(folder: Path, *, rebuild: bool) -> int:
    """Index ``folder`` when it has no index yet (or ``rebuild``); how many instances it holds."""
    if not folder.is_dir():
        return 0  # made empty when the system starts
    path = index_path(folder)
    fresh = rebuild or not path.exists()
    index = await SqliteIndex.open(path)
    try:
        if fresh:
            await rebuild_index(folder, index, duplicates=load_system(SYSTEM).duplicates)
        return await index.count()
    finally:
        await index.close()


async def main(args: argparse.Namespace) -> int:
    """Index the archive if needed, then serve until a signal."""
    folder = Path(args.archive)
    held = await index_archive(folder, rebuild=args.rebuild)
    print(f"indexed {held} instance(s)", file=sys.stderr, flush=True)
    return await serve_system_ae(
        args,
        SYSTEM,
        "qr",
        store=folder,
        worklist=None,
        destinations=tuple(args.destinations),
    )


if __name__ == "__main__":
    run_main(build_parser(), main)
