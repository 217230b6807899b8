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

The instances served are the DICOM files under ``--archive`` (indexed at
start-up, headers only). C-MOVE sub-operations go over a new association to
the Move Destination, one association for all instances, no retry; the
destinations are given with ``--destination AET=HOST:PORT`` (an unknown one is
answered A801). The sub-operation association proposes the profile's Table 1.24
contexts, and a warning from the destination counts as success (Table 1.27).
``dicomnet serve --system lifesys`` runs this AE over the Storage AE's index instead.

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

from common import example_parser, parse_address, profile_policy, run_main, serve_until_signal

from dicomnet.ae import AE
from dicomnet.conformance.profile import load_profile
from dicomnet.query import InstanceIndex
from dicomnet.services.qr import QueryRetrieveService, relational_extended_check
from dicomnet.services.suboperations import RetrieveRules

PROFILE = "lifesys-qr"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="QR_SCP")
    parser.add_argument("--archive", required=True, help="folder of the DICOM files served")
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


async def main(args: argparse.Namespace) -> int:
    """Index the archive, then serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    profile = load_profile(PROFILE)
    index = InstanceIndex.from_folder(args.archive)
    print(f"indexed {len(index)} instance(s)", file=sys.stderr, flush=True)
    service = QueryRetrieveService(
        index,
        destinations=dict(args.destinations),
        support=QueryRetrieveService.support_from_profile(profile.query_keys),
        rules=RetrieveRules.from_profile(profile),
    )
    ae = AE(policy.ae_title, policy, handlers=[service], extended_check=relational_extended_check)
    server = await ae.serve(args.host, args.port)
    await serve_until_signal(server)
    return 0


if __name__ == "__main__":
    run_main(build_parser(), main)
