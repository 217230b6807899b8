"""Flux DICOM Printer, Find SCU AE: Patient Root (or Modality Worklist) C-FIND, matches printed.

Plays the Find SCU of the Flux conformance statement (seed
``002_cc0c37f2cbde39de.txt``, §3.2.1) by configuration alone: the
``flux-find-scu`` profile gives the AE title (``FLUX_FIND``), the two
presentation contexts it proposes (Patient Root Query/Retrieve - FIND and
Modality Worklist - FIND, each with Implicit VR LE, Explicit VR LE and
Explicit VR BE), 16 KB PDUs, and its 1 s association and DIMSE timeouts.

The query runs at one level (``--level``: PATIENT, STUDY - the statement's
default -, SERIES or IMAGE). The identifier is a pydicom Dataset holding the
level's usual return keys plus ``-k KEYWORD=VALUE`` matching keys; it is
encoded in the transfer syntax the peer accepted, and each pending response's
identifier is decoded and printed on one line (``Keyword=value`` pairs). As
the statement says, a failure status makes the SCU abort the association.

Run::

    python examples/flux_find_scu.py --host pacs --port 104 --called-ae PACS \\
        --level STUDY -k PatientName='DOE^*'
    python examples/flux_find_scu.py --worklist -k Modality=CT ...
    python examples/flux_find_scu.py --help

Exit code 0 when the query completed (0x0000), 1 on a failure or cancel
status, 3 when the association failed.
"""

from __future__ import annotations

import argparse
import logging
import sys

from common import add_called_ae_option, example_parser, profile_policy, run_main
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.errors import DicomNetError
from dicomnet.services.qr import find

PROFILE = "flux-find-scu"

log = logging.getLogger("flux.find_scu")

#: Return keys asked for at each Patient Root level (PS3.4 C.6.1.1.2-5), unique keys included.
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "PatientID",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
    ),
    "SERIES": ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber"),
    "IMAGE": (
        "PatientID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    ),
}
#: Worklist keys outside the Scheduled Procedure Step Sequence, and inside it.
WORKLIST_KEYS = ("PatientName", "PatientID", "AccessionNumber", "RequestedProcedureID")
STEP_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepID",
)


def parse_key(text: str) -> tuple[str, str]:
    """``KEYWORD=VALUE`` (or ``KEYWORD``, a return key) from the command line."""
    keyword, _, value = text.partition("=")
    if not keyword.isidentifier():
        raise argparse.ArgumentTypeError(f"not a DICOM keyword: {keyword!r}")
    return keyword, value


def build_identifier(level: str, worklist: bool, keys: list[tuple[str, str]]) -> Dataset:
    """The C-FIND identifier: the usual return keys, then the matching keys given."""
    identifier = Dataset()
    if worklist:
        step = Dataset()
        for keyword in STEP_KEYS:
            setattr(step, keyword, "")
        for keyword in WORKLIST_KEYS:
            setattr(identifier, keyword, "")
        identifier.ScheduledProcedureStepSequence = [step]
        for keyword, value in keys:
            # Step attributes go inside the sequence, the others at the top.
            setattr(step if keyword in STEP_KEYS else identifier, keyword, value)
        return identifier
    identifier.QueryRetrieveLevel = level
    for keyword in LEVEL_KEYS[level]:
        setattr(identifier, keyword, "")
    for keyword, value in keys:
        setattr(identifier, keyword, value)
    return identifier


def describe(ds: Dataset) -> str:
    """One line: ``Keyword=value`` for each element (sequences as ``[...]``)."""
    parts = []
    for element in ds:
        if element.VR == "SQ":
            inner = "; ".join(describe(item) for item in element.value)
            parts.append(f"{element.keyword}=[{inner}]")
        else:
            parts.append(f"{element.keyword}={element.value}")
    return " ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="FLUX_FIND")
    add_called_ae_option(parser, help="the SCP's AE title (%(default)s)")
    parser.add_argument("--level", choices=sorted(LEVEL_KEYS), default="STUDY", help="(STUDY)")
    parser.add_argument(
        "--worklist", action="store_true", help="Modality Worklist FIND instead of Patient Root"
    )
    parser.add_argument(
        "-k",
        "--key",
        dest="keys",
        action="append",
        type=parse_key,
        default=[],
        metavar="KEYWORD[=VALUE]",
        help="matching (or extra return) key, e.g. PatientName=DOE^*",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Query once and print the matches."""
    policy = profile_policy(PROFILE, args.aet)
    model = "worklist" if args.worklist else "patient"
    identifier = build_identifier(args.level, args.worklist, args.keys)
    ae = AE(policy.ae_title, policy)
    matches = 0
    try:
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            results = find(assoc, identifier, model=model)
            async for match in results:
                matches += 1
                print(describe(match), flush=True)
            status = results.status
            assert status is not None  # the responses end with the final one
            if category(status) is StatusCategory.WARNING:
                log.warning("C-FIND warning 0x%04X", status)  # the statement: logged
            if category(status) is StatusCategory.FAILURE:
                await assoc.abort()  # the statement: a failure status aborts the association
    except (OSError, DicomNetError) as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 3
    print(f"{matches} match(es), status 0x{status:04X}")
    return 0 if category(status) is StatusCategory.SUCCESS else 1


if __name__ == "__main__":
    run_main(build_parser(), main)
