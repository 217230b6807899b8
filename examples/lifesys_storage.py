"""LifeSys PACS, Storage AE: Verification and Storage SCP keeping the first copy of each instance.

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
(Storage Commitment, also in the statement, is not played here.)

Run::

    python examples/lifesys_storage.py --port 2350 --output ./lifesys-archive
    python examples/lifesys_storage.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from common import example_parser, profile_policy, run_main, serve_policy

from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import Duplicate

PROFILE = "lifesys-storage"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=2350, aet="STORE_SCP", output="lifesys-archive")
    parser.add_argument(
        "--max-associations", type=int, default=None, help="associations at once (profile: 10)"
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    if args.max_associations is not None:
        policy = replace(policy, max_associations=args.max_associations)
    store = FolderStore(args.output, duplicates=Duplicate.KEEP_FIRST)
    return await serve_policy(args, policy, [StorageService(store)])


if __name__ == "__main__":
    run_main(build_parser(), main)
