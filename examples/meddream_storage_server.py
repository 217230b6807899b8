"""MedDream DICOM Web Viewer, Storage Server AE: Verification, Storage and Storage Commitment SCP.

Plays the Storage Server of the MedDream conformance statement (seed
``001_14563b4270a8d9a9.txt``) by configuration alone: the ``meddream-storage-server``
profile gives the AE title (``DCMRCV``, and only that called AE title is
answered), the accepted storage SOP classes and transfer syntaxes, 16 KB PDUs,
the 5 s ARTIM and association timers, and "one association at a time" (a
second one waits until the first ends). Instances are written as Part 10 files
named after their SOP Instance UID.

Storage Commitment Push Model SCP (PS3.4 Annex J): an instance is committed
when its file is in the folder (else failure reason 0112H, or 0119H when the
SOP class differs). The N-EVENT-REPORT goes on the association that carried
the N-ACTION while it is still open; once it has ended, the report is sent on
a new association (the "accompanying association" of the statement) to the
requestor's AE title at the address given by ``--commitment-destination
AET=HOST:PORT`` (a requestor not listed gets no report, which is logged).

It runs the ``storage`` AE of ``conformance/systems/meddream.toml`` (what
``dicomnet serve --system meddream`` runs) with the folder and report addresses
given here; each stored instance is also added to the folder's index (``.index/``).

Run::

    python examples/meddream_storage_server.py --port 11112 --output ./meddream-store \\
        --commitment-destination DCMSND=10.0.0.7:11113
    python examples/meddream_storage_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import add_commitment_arguments, example_parser, run_main, serve_system_ae

SYSTEM = "meddream"  # conformance/systems/meddream.toml: its "storage" AE


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="DCMRCV", output="meddream-store", server=True)
    add_commitment_arguments(parser)
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    return await serve_system_ae(
        args,
        SYSTEM,
        "storage",
        store=Path(args.output),
        destinations=tuple(args.commitment_destinations),
    )


if __name__ == "__main__":
    run_main(build_parser(), main)
