"""Kodak DirectView Web Software, Memory-Manager AE: Study Root C-MOVE SCU.

Plays the Memory-Manager of the Kodak DirectView conformance statement (seed
``004_10981dd9c438091f.txt``, §2.2.4 and §3.4): it asks an archive to move
whole studies to the Memory-Server (``--destination``, ``MEMORY_SERVER`` by
default; see ``kodak_memory_server.py``). The ``kodak-memory-manager``
profile gives the AE title (``MEMORY_MANAGER``) and the one context it
proposes, Study Root Query/Retrieve - MOVE with the native transfer syntaxes.
As the statement says, each transfer request gets its own association and the
requests run in parallel: one association per ``--study`` UID.

Run::

    python examples/kodak_memory_manager.py --host archive --port 104 \\
        --called-ae ARCHIVE --study 1.2.3.4 --study 1.2.3.5
    python examples/kodak_memory_manager.py --help

Prints the sub-operation counts of each pending response, then one line per
study: ``STUDY_UID: status 0xNNNN, completed C, failed F, warning W``. Exit
code 0 when every move succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio

from common import add_called_ae_option, ae_title, example_parser, profile_policy, run_main
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError
from dicomnet.services.qr import RetrieveProgress, move

PROFILE = "kodak-memory-manager"


def counts(progress: RetrieveProgress) -> str:
    """The sub-operation counts a C-MOVE-RSP carries."""
    return (
        f"remaining {progress.remaining or 0},"
        f" completed {progress.completed},"
        f" failed {progress.failed},"
        f" warning {progress.warning}"
    )


async def move_study(ae: AE, args: argparse.Namespace, study_uid: str) -> bool:
    """Move one study on an association of its own; True when the final status is Success."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    try:
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            results = move(assoc, identifier, args.destination, model="study")
            async for progress in results:
                if progress.pending:
                    print(f"{study_uid}: pending, {counts(progress)}", flush=True)
    except (OSError, DicomNetError) as exc:
        print(f"{study_uid}: association failed: {exc}", flush=True)
        return False
    final = results.final
    assert final is not None  # the responses end with the final one
    print(f"{study_uid}: status 0x{final.status:04X}, {counts(final)}", flush=True)
    return final.status == 0x0000


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="MEMORY_MANAGER")
    add_called_ae_option(parser, help="the archive's AE title (%(default)s)")
    parser.add_argument(
        "--destination",
        type=ae_title,
        default="MEMORY_SERVER",
        help="move destination AE (%(default)s)",
    )
    parser.add_argument(
        "--study",
        dest="studies",
        action="append",
        required=True,
        metavar="UID",
        help="Study Instance UID to move (repeat for several, moved in parallel)",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Move every study at once, one association each."""
    policy = profile_policy(PROFILE, args.aet)
    ae = AE(policy.ae_title, policy)
    results = await asyncio.gather(*(move_study(ae, args, uid) for uid in args.studies))
    return 0 if all(results) else 1


if __name__ == "__main__":
    run_main(build_parser(), main)
