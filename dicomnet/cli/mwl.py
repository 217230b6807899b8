"""``dicomnet mwl PEER PORT -k KEY[=VALUE]...``: Modality Worklist C-FIND SCU, like findscu -W.

The identifier holds the worklist's usual return keys (patient, accession,
requested procedure, and in the Scheduled Procedure Step Sequence's one item
the modality, station AE title, start date and time, performing physician,
description and step ID; not with ``--no-default-keys``) and the ``-k`` keys.
A Scheduled Procedure Step attribute given without a sequence path goes into
that item: ``-k Modality=CT`` is ``-k ScheduledProcedureStepSequence[0].Modality=CT``.
Output, ``--limit`` and exit codes as for ``dicomnet find``.

Example::

    dicomnet mwl -aec RIS ris 104 -k Modality=CT -k ScheduledStationAETitle=CT1 \\
        -k ScheduledProcedureStepStartDate=20240110
"""

from __future__ import annotations

import argparse
from typing import Any

from dicomnet.cli.find import add_output_options, query
from dicomnet.cli.options import register_subcommand
from dicomnet.cli.qr_common import add_query_options, add_requestor_options, run_command

__all__ = ["register", "run_mwl"]


def register(subparsers: Any) -> None:
    """Add the ``mwl`` sub-command."""
    parser = register_subcommand(
        subparsers,
        "mwl",
        __doc__,
        run_mwl,
        help="query a Modality Worklist with C-FIND, like findscu -W",
    )
    add_requestor_options(parser, aetitle="FINDSCU")
    add_query_options(parser, worklist=True)
    add_output_options(parser)


def run_mwl(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run_command("mwl", query(args, "mwl"))
