"""MedDream DICOM Web Viewer, Query/Retrieve Client AE: study search, metadata, whole-study C-MOVE.

Plays the Query/Retrieve Client of the MedDream conformance statement (seed
``001_14563b4270a8d9a9.txt``, §3.2.2) by configuration: the
``meddream-qr-client`` profile gives the AE title (``DCMQR``), the contexts
it proposes (Study Root and Patient Root FIND and MOVE, Explicit and
Implicit VR Little Endian), 16 KB PDUs, one operation at a time, and its
timers (A-ASSOCIATE-AC 5 s, C-FIND-RSP 60 s, A-RELEASE-RP 5 s).

As the statement describes, everything runs on one association: a study
search (C-FIND at STUDY level, ``-k KEYWORD=VALUE`` matching keys, e.g.
``PatientName=DOE*`` or ``StudyInstanceUID=...``), then with ``--details``
the series and image level metadata of each study found (C-FIND at SERIES,
then IMAGE level), then with ``--move`` a C-MOVE of each whole study to
MedDream's own Storage Server (``--destination``, default ``DCMRCV``, the
title of ``examples/meddream_storage_server.py``), then release.
``--model patient`` uses the Patient Root model instead of Study Root.

Output, one line each: ``STUDY``, ``SERIES`` and ``IMAGE`` followed by
``Keyword=value`` pairs; ``MOVE <Study Instance UID>: status 0xNNNN,
completed N, failed N, warning N``; last ``N study(ies)``.

Run::

    python examples/meddream_qr_client.py --host pacs --port 104 --called-ae PACS \\
        -k PatientName='DOE*' --details --move --destination DCMRCV
    python examples/meddream_qr_client.py --help

Exit code 0 when every query and move ended with Success, 1 when one ended
otherwise, 3 when the association failed.
"""

from __future__ import annotations

import argparse
import sys

from common import add_called_ae_option, ae_title, example_parser, profile_policy, run_main
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.errors import DicomNetError
from dicomnet.services.qr import find, move

PROFILE = "meddream-qr-client"

#: Return keys at each level (PS3.4 C.6.2.1), unique keys included.
STUDY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
)
SERIES_KEYS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription")
IMAGE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber", "Rows", "Columns")

#: Value representations held as numbers rather than text (PS3.5 §6.2).
INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
FLOAT_VRS = frozenset({"FL", "FD"})


def key_value(keyword: str, text: str) -> object:
    """The value ``text`` gives ``keyword`` in an identifier, in the type of its VR.

    Empty text is an empty value (None), which is what a universal-match or
    return key is for every VR: a binary VR such as US (Rows) cannot hold "".
    """
    if not text:
        return None
    vr = dictionary_VR(keyword)
    if vr in INTEGER_VRS:
        return int(text)
    if vr in FLOAT_VRS:
        return float(text)
    return text


def parse_key(text: str) -> tuple[str, object]:
    """``KEYWORD=VALUE`` (or ``KEYWORD``, a return key) from the command line."""
    keyword, _, value = text.partition("=")
    if tag_for_keyword(keyword) is None:
        raise argparse.ArgumentTypeError(f"not a DICOM keyword: {keyword!r}")
    try:
        return keyword, key_value(keyword, value)
    except ValueError:
        vr = dictionary_VR(keyword)
        raise argparse.ArgumentTypeError(f"not a value for {keyword} ({vr}): {value!r}") from None


def identifier(level: str, keys: tuple[str, ...], **values: object) -> Dataset:
    """A C-FIND/C-MOVE identifier: ``keys`` empty (universal), then ``values``."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword in keys:
        setattr(ds, keyword, None)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def describe(level: str, ds: Dataset) -> str:
    """One output line: the level, then ``Keyword=value`` pairs (nothing after ``=`` if empty)."""
    pairs = " ".join(
        f"{element.keyword}={'' if element.value is None else element.value}"
        for element in ds
        if element.keyword != "QueryRetrieveLevel"
    )
    return f"{level} {pairs}"


class Client:
    """The client's work on one association; ``ok`` turns False on any non-Success final status."""

    def __init__(self, assoc: Association, model: str) -> None:
        self.assoc = assoc
        self.model = model
        self.ok = True

    async def query(self, level: str, query: Dataset, indent: str = "") -> list[Dataset]:
        """C-FIND ``query``; print and return the matches."""
        results = find(self.assoc, query, model=self.model)
        matches = []
        async for match in results:
            matches.append(match)
            print(indent + describe(level, match), flush=True)
        if results.status != 0x0000:
            print(f"{indent}{level} query ended with status 0x{results.status or 0:04X}")
            self.ok = False
        return matches

    def above(self, study: Dataset) -> dict[str, str]:
        """The unique keys of the levels above SERIES (Patient ID too for Patient Root)."""
        keys = {"StudyInstanceUID": str(study.StudyInstanceUID)}
        if self.model == "patient":
            keys["PatientID"] = str(study.get("PatientID") or "")
        return keys

    async def details(self, study: Dataset) -> None:
        """Series, then image level metadata of one study."""
        series_query = identifier("SERIES", SERIES_KEYS, **self.above(study))
        for series in await self.query("SERIES", series_query, "  "):
            image_query = identifier(
                "IMAGE",
                IMAGE_KEYS,
                **self.above(study),
                SeriesInstanceUID=str(series.SeriesInstanceUID),
            )
            await self.query("IMAGE", image_query, "    ")

    async def move_study(self, study: Dataset, destination: str) -> None:
        """C-MOVE the whole study to ``destination``; print the final counts."""
        uid = str(study.StudyInstanceUID)
        results = move(
            self.assoc, identifier("STUDY", (), **self.above(study)), destination, model=self.model
        )
        async for _ in results:
            pass
        final = results.final
        assert final is not None  # the responses end with the final one
        print(
            f"MOVE {uid}: status 0x{final.status:04X}, completed {final.completed},"
            f" failed {final.failed}, warning {final.warning}",
            flush=True,
        )
        self.ok = self.ok and final.status == 0x0000


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="DCMQR")
    add_called_ae_option(parser, help="the SCP's AE title (%(default)s)")
    parser.add_argument(
        "--model", choices=("study", "patient"), default="study", help="(study) root model"
    )
    parser.add_argument(
        "-k",
        "--key",
        dest="keys",
        action="append",
        type=parse_key,
        default=[],
        metavar="KEYWORD[=VALUE]",
        help="study search key, e.g. PatientName=DOE*",
    )
    parser.add_argument(
        "--details", action="store_true", help="series and image metadata of each study"
    )
    parser.add_argument("--move", action="store_true", help="C-MOVE each study found")
    parser.add_argument(
        "--destination",
        type=ae_title,
        default="DCMRCV",
        help="C-MOVE destination AE title (%(default)s)",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Search, look into, and move studies on one association."""
    policy = profile_policy(PROFILE, args.aet)
    ae = AE(policy.ae_title, policy)
    study_query = identifier("STUDY", STUDY_KEYS, **dict(args.keys))
    try:
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            client = Client(assoc, args.model)
            studies = await client.query("STUDY", study_query)
            for study in studies:
                if args.details:
                    await client.details(study)
                if args.move:
                    await client.move_study(study, args.destination)
    except (OSError, DicomNetError) as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 3
    print(f"{len(studies)} study(ies)")
    return 0 if client.ok else 1


if __name__ == "__main__":
    run_main(build_parser(), main)
