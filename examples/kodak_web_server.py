"""Kodak DirectView Web Software, Web Software-Server AE: Study Root C-FIND SCU.

Plays the Web Software-Server of the Kodak DirectView conformance statement
(seed ``004_10981dd9c438091f.txt``, §3.3) by configuration: the
``kodak-web-server`` profile gives the AE title (``WEB_SERVER``), the one
context it proposes (Study Root Query/Retrieve - FIND with the native
transfer syntaxes), 16 KB PDUs and one operation at a time.

The statement's Web Software-Server queries the devices a user selects, at
most one association per configured SCP. Here each ``--scp AET=HOST:PORT``
is one such device; they are all queried at once, each on its own
association, at one level (``--level``: STUDY, SERIES or IMAGE). The
identifier holds the level's return keys, the unique keys of the levels
above given with ``-k`` (``StudyInstanceUID=...`` for SERIES,
``SeriesInstanceUID=...`` too for IMAGE), and any other ``-k
KEYWORD=VALUE`` matching keys.

Output: one line per match, ``AET LEVEL Keyword=value ...``, then per SCP
``AET: N match(es), status 0xNNNN`` (or ``AET: association failed: ...``).

Run::

    python examples/kodak_web_server.py --scp DISK_SERVER=pacs:104 \\
        --scp ARCHIVE=10.0.0.9:11112 --level SERIES -k StudyInstanceUID=1.2.3
    python examples/kodak_web_server.py --help

``--host``/``--port``/``--called-ae`` name a single SCP when no ``--scp`` is
given. Exit code 0 when every SCP answered Success, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio

from common import add_called_ae_option, example_parser, parse_address, profile_policy, run_main
from pydicom.dataset import Dataset

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError
from dicomnet.services.qr import find

PROFILE = "kodak-web-server"

#: Return keys at each Study Root level (PS3.4 C.6.2.1), unique keys included.
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "STUDY": (
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
    ),
    "SERIES": ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber"),
    "IMAGE": (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    ),
}


def parse_key(text: str) -> tuple[str, str]:
    """``KEYWORD=VALUE`` (or ``KEYWORD``, a return key) from the command line."""
    keyword, _, value = text.partition("=")
    if not keyword.isidentifier():
        raise argparse.ArgumentTypeError(f"not a DICOM keyword: {keyword!r}")
    return keyword, value


def build_identifier(level: str, keys: list[tuple[str, str]]) -> Dataset:
    """The level's return keys, then the keys given."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword in LEVEL_KEYS[level]:
        setattr(identifier, keyword, "")
    for keyword, value in keys:
        setattr(identifier, keyword, value)
    return identifier


def describe(ds: Dataset) -> str:
    """``Keyword=value`` pairs, Query/Retrieve Level left out."""
    return " ".join(
        f"{element.keyword}={element.value}"
        for element in ds
        if element.keyword != "QueryRetrieveLevel"
    )


async def query_scp(ae: AE, scp: tuple[str, tuple[str, int]], query: Dataset, level: str) -> bool:
    """Query one SCP on an association of its own; True when it answered Success."""
    title, (host, port) = scp
    matches = 0
    try:
        async with ae.associate(host, port, called_ae=title) as assoc:
            results = find(assoc, query, model="study")
            async for match in results:
                matches += 1
                print(f"{title} {level} {describe(match)}", flush=True)
    except (OSError, DicomNetError) as exc:
        print(f"{title}: association failed: {exc}", flush=True)
        return False
    status = results.status if results.status is not None else -1
    print(f"{title}: {matches} match(es), status 0x{status:04X}", flush=True)
    return status == 0x0000


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="WEB_SERVER")
    add_called_ae_option(parser, help="the SCP's AE title, without --scp (%(default)s)")
    parser.add_argument(
        "--scp",
        dest="scps",
        action="append",
        type=parse_address,
        default=[],
        metavar="AET=HOST:PORT",
        help="an SCP to query (repeat for several; queried in parallel)",
    )
    parser.add_argument("--level", choices=tuple(LEVEL_KEYS), default="STUDY", help="(STUDY)")
    parser.add_argument(
        "-k",
        "--key",
        dest="keys",
        action="append",
        type=parse_key,
        default=[],
        metavar="KEYWORD[=VALUE]",
        help="matching (or extra return) key, e.g. PatientID=123",
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    """Query every SCP at once."""
    policy = profile_policy(PROFILE, args.aet)
    ae = AE(policy.ae_title, policy)
    scps = args.scps or [(args.called_ae, (args.host, args.port))]
    query = build_identifier(args.level, args.keys)
    answers = await asyncio.gather(*(query_scp(ae, scp, query, args.level) for scp in scps))
    return 0 if all(answers) else 1


if __name__ == "__main__":
    run_main(build_parser(), main)
