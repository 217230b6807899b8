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

from common import example_parser, profile_policy, run_main, serve_policy

from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore

PROFILE = "meddream-storage-server"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    return example_parser(__doc__, port=11112, aet="DCMRCV", output="meddream-store")


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal."""
    policy = profile_policy(PROFILE, args.aet)
    return await serve_policy(args, policy, [StorageService(FolderStore(args.output))])


if __name__ == "__main__":
    run_main(build_parser(), main)
