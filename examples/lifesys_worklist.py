"""LifeSys PACS, Modality Worklist AE: Modality Worklist FIND SCP over a folder of items.

Plays the Modality Worklist Application Entity of the LifeSys PACS
conformance statement (seed ``003_f5322d9008bf32ef.txt``, §4.2.3) by
configuration: the ``lifesys-mwl`` profile gives the AE title (``MWL_SCP``;
a request to another called AE title gets Verification only), the accepted
contexts (Verification; Modality Worklist Information Model - FIND with
Explicit and Implicit VR Little Endian), 16352-byte PDUs, one operation at a
time, ten associations at most (then rejected), and the matching table of
the statement (Table 1.45): Scheduled Station AE Title, Scheduled Procedure
Step Start Date and Time (single value or range), Scheduled Performing
Physician's Name and Patient's Name (single value or wild card), Modality,
Accession Number and Patient ID (single value) are matched; every other
key is returned without being matched (pending status FF01 when the query
holds such a key with a value).

The worklist items are the files in ``--worklist`` (DICOM files, DCMTK
``.wl`` files included, or DICOM JSON ``.json`` files), each a data set
with a Scheduled Procedure Step Sequence. The folder is read again for each
query, so items dropped into it or removed are seen at once. One pending
response per matching item, then Success; FE00 after a C-CANCEL.

It runs the ``mwl`` AE of ``conformance/systems/lifesys.toml`` alone, with
``--worklist`` as the system's worklist folder. With ``--archive DIR`` (a
store folder, e.g. the Storage AE's), the items kept in its index
(``dicomnet worklist add -o DIR``) are answered too; ``dicomnet serve
--system lifesys`` runs this AE with the Storage and Q/R AEs that way.

Run::

    python examples/lifesys_worklist.py --worklist /data/worklist --port 11112
    python examples/lifesys_worklist.py --help

Prints ``listening on PORT`` when ready (and ``N worklist item(s)`` on
stderr); stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import example_parser, run_main, serve_system_ae

from dicomnet.systems.resources import FolderWorklist

SYSTEM = "lifesys"  # conformance/systems/lifesys.toml: its "mwl" AE (lifesys-mwl profile)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11112, aet="MWL_SCP", server=True)
    parser.add_argument(
        "--worklist", required=True, help="folder of worklist items (DICOM, .wl or .json files)"
    )
    parser.add_argument(
        "--archive",
        default=None,
        help="store folder whose index also keeps worklist items (none: the folder's only)",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Serve the folder's worklist until a signal."""
    folder = Path(args.worklist)
    if not folder.is_dir():
        print(f"not a folder: {args.worklist}", file=sys.stderr)
        return 2
    print(f"{len(FolderWorklist(folder))} worklist item(s)", file=sys.stderr, flush=True)
    archive = None if args.archive is None else Path(args.archive)
    return await serve_system_ae(
        args, SYSTEM, "mwl", store=archive, index=archive is not None, worklist=folder
    )


if __name__ == "__main__":
    run_main(build_parser(), main)
