"""LifeSys PACS, Storage AE: Verification, Storage and Storage Commitment SCP, first copy kept.

Plays the Storage AE of the LifeSys conformance statement (seed
``003_f5322d9008bf32ef.txt``) by configuration alone. From the
``lifesys-storage`` profile:

* AE title ``STORE_SCP``; an association calling any other AE title is
  accepted for Verification only (every other presentation context is
  refused), as §4.2.1 of the statement says;
* at most 10 associations at once; past that, A-ASSOCIATE-RJ
  (transient, local-limit-exceeded);
* the storage SOP classes and transfer syntaxes of Table 1.9, maximum PDU
  received 16352, synchronous operation.

Instances are kept as Part 10 files; a duplicate of an instance already held
does not overwrite it (the first copy wins, the sender still gets Success).

Storage Commitment Push Model SCP (PS3.4 Annex J): instances held in the
index are committed, others fail (0112H no such instance, 0119H when the SOP
class differs; requests for instances not yet received are not remembered).
The N-EVENT-REPORT always goes on a NEW association, requested to the AE
title that sent the N-ACTION at the address given by
``--commitment-destination AET=HOST:PORT``, proposing the SCP role for the
class (Table 1.7). A report not delivered (a requestor not listed, or not
reachable) is logged, kept in the index, retried, and sent after a restart.

It runs the ``storage`` AE of ``conformance/systems/lifesys.toml`` alone;
``dicomnet serve --system lifesys`` runs it with the Q/R and worklist AEs over the
same index (``.index/`` in the folder), so what is stored is found at once.

Run::

    python examples/lifesys_storage.py --port 2350 --output ./lifesys-archive \\
        --commitment-destination MODALITY=10.0.0.7:104
    python examples/lifesys_storage.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import add_commitment_arguments, example_parser, run_main, serve_system_ae

SYSTEM = "lifesys"  # conformance/systems/lifesys.toml: its "storage" AE


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(
        __doc__, port=2350, aet="STORE_SCP", output="lifesys-archive", server=True
    )
    add_commitment_arguments(parser)
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    # --max-associations (profile: 10) and the other integrator options: serve_system_ae.
    return await serve_system_ae(
        args,
        SYSTEM,
        "storage",
        store=Path(args.output),
        worklist=None,
        destinations=tuple(args.commitment_destinations),
    )


if __name__ == "__main__":
    run_main(build_parser(), main)
