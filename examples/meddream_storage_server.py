"""MedDream DICOM Web Viewer, Storage Server AE: Verification and Storage SCP into a folder.

Plays the Storage Server of the MedDream conformance statement (seed
``001_14563b4270a8d9a9.txt``) by configuration alone: the ``meddream-storage-server``
profile gives the AE title (``DCMRCV``, and only that called AE title is
answered), the accepted storage SOP classes and transfer syntaxes, 16 KB PDUs,
the 5 s ARTIM and association timers, and "one association at a time" (a
second one waits until the first ends). Instances are written as Part 10 files
named after their SOP Instance UID. (The statement's Storage Commitment SCP
role is not played here.)

Run::

    python examples/meddream_storage_server.py --port 11112 --output ./meddream-store
    python examples/meddream_storage_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from common import add_common_arguments, configure_logging, profile_policy, serve_until_signal

from dicomnet.ae import AE
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.transport import run

PROFILE = "meddream-storage-server"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser, port=11112, aet="DCMRCV")
    parser.add_argument("--output", default="meddream-store", help="folder (%(default)s)")
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    ae = AE(policy.ae_title, policy, handlers=[StorageService(FolderStore(args.output))])
    server = await ae.serve(args.host, args.port)
    await serve_until_signal(server)
    return 0


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    configure_logging(arguments.verbose)
    sys.exit(run(main(arguments)))
