"""``dicomnet find PEER PORT -k KEY[=VALUE]...``: Query/Retrieve C-FIND SCU, like findscu.

The identifier holds the query level (``--level``, or ``-k
QueryRetrieveLevel=...``; STUDY by default, PATIENT for the patient models),
the level's usual return keys (not with ``--no-default-keys``) and the ``-k``
keys: ``-k PatientName=DOE*`` matches, ``-k PatientBirthDate`` asks for the
attribute to be returned. ``--model`` picks Study Root (default), Patient Root
or Patient/Study Only. Matches are printed as a table (one column per
requested attribute), ``--json`` (DICOM JSON Model, PS3.18 F) or ``--csv``;
the final status goes to stderr. ``--limit N`` sends C-CANCEL after N matches.

Examples::

    dicomnet find -aec PACS pacs 104 -k PatientName='DOE*' -k StudyDate=20240101-
    dicomnet find --model patient --level IMAGE pacs 104 -k PatientID=P1 \\
        -k StudyInstanceUID=1.2.3 -k SeriesInstanceUID=1.2.3.4 --json

Exit codes: 0 the query ended with Success (0000, or Cancel after --limit); 1
it ended with another status; 2 usage error; 3 association rejected; 4
aborted; 5 a timer expired; 6 no connection; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from dicomnet.ae import AE
from dicomnet.cli.options import (
    family_from,
    register_subcommand,
    report_association_error,
    requestor_policy,
    tls_context_from,
)
from dicomnet.cli.qr_common import (
    EXIT_FAILED,
    EXIT_OK,
    add_query_options,
    add_requestor_options,
    column_order,
    identifier_from,
    query_contexts,
    run_command,
    sop_class,
    usage_error,
)
from dicomnet.cli.qr_keys import BadKey
from dicomnet.cli.qr_output import MatchWriter, columns_of
from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import Status, StatusCategory, category, describe
from dicomnet.errors import ConfigurationError, DicomNetError
from dicomnet.query.models import Operation
from dicomnet.services.qr import MODALITY_WORKLIST_FIND, find

__all__ = ["add_output_options", "query", "register", "run_find"]


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json``/``--csv`` (default: a table) and ``--limit``."""
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        default="table",
        help="print the matches as a JSON array in the DICOM JSON Model (PS3.18 F)",
    )
    output.add_argument("--csv", dest="format", action="store_const", const="csv", help="print CSV")
    parser.add_argument(
        "--limit", type=int, default=0, metavar="N", help="send C-CANCEL after N matches"
    )


def register(subparsers: Any) -> None:
    """Add the ``find`` sub-command."""
    parser = register_subcommand(
        subparsers, "find", __doc__, run_find, help="query with C-FIND (Q/R SCU), like findscu"
    )
    add_requestor_options(parser, aetitle="FINDSCU")
    add_query_options(parser)
    add_output_options(parser)


def run_find(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run_command("find", query(args, "find"))


async def query(args: argparse.Namespace, command: str, *, out: TextIO | None = None) -> int:
    """Run one C-FIND as the options say (``command``: find or mwl); the exit code."""
    worklist = command == "mwl"
    try:
        identifier = identifier_from(args, worklist=worklist)
        ssl = tls_context_from(args, server=False)
    except (BadKey, ConfigurationError) as exc:
        return usage_error(command, exc)
    if args.limit < 0:
        return usage_error(command, "--limit must be 0 (no limit) or more")
    uid = MODALITY_WORKLIST_FIND if worklist else sop_class(args, Operation.FIND)
    stream = out if out is not None else sys.stdout
    writer = MatchWriter(
        stream, args.format, columns_of(identifier, column_order(args, identifier))
    )
    ae = AE(args.aet, requestor_policy(args))
    try:
        async with ae.associate(
            args.peer,
            args.port,
            called_ae=args.called_ae,
            contexts=query_contexts([uid]),
            ssl=ssl,
            family=family_from(args),
        ) as assoc:
            results = find(assoc, identifier, model=uid)
            cancelled = False
            async for match in results:
                writer.add(match)
                if args.limit and writer.count >= args.limit and not cancelled:
                    cancelled = True
                    await results.cancel()
            status = results.status
    except (OSError, DicomNetError) as exc:
        writer.close()
        return report_association_error(exc)
    writer.close()
    return _final(status, writer.count, cancelled, results.final)


def _final(status: int | None, count: int, cancelled: bool, final: Any) -> int:
    if status is None:
        print("no final C-FIND response", file=sys.stderr)
        return EXIT_FAILED
    comment = getattr(getattr(final, "message", None), "error_comment", None)
    text = f"0x{status:04X} ({describe(status, CommandField.C_FIND_RQ)})" + (
        f": {comment}" if comment else ""
    )
    print(f"{count} match(es); final status {text}", file=sys.stderr)
    if category(status) is StatusCategory.SUCCESS:
        return EXIT_OK
    if status == Status.CANCEL and cancelled:
        return EXIT_OK
    return EXIT_FAILED
