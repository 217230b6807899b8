"""Flux DICOM Printer, Store SCU AE: Secondary Capture C-STORE with a chosen transfer syntax group.

Plays the Store SCU of the Flux conformance statement (seed
``002_cc0c37f2cbde39de.txt``, §3.2.2) by configuration: the
``flux-store-scu`` profile gives the AE title (``FLUX_STORE``), 16 KB PDUs,
one operation and one association at a time, its 1 s association and DIMSE
timeouts, and the one presentation context it proposes: Secondary Capture
Image Storage with the transfer syntaxes of one of the four groups of
Table 3.10, picked with ``--group`` as the statement's configuration file
does:

==================== =========================================================
``native``           Implicit VR LE, Explicit VR LE, Explicit VR BE (default)
``flux-rle``         the native ones and RLE Lossless
``flux-jpeg-lossy``  the native ones and JPEG Extended (Process 2 and 4)
``flux-jpeg-lossless`` the native ones and JPEG Lossless SV1
==================== =========================================================

The files given are sent in order over one association. Each goes out as
stored when the SCP accepted its transfer syntax, else transcoded to the
accepted one (RLE Lossless can always be encoded; a JPEG syntax only if a
pydicom encoder for it is installed, otherwise the file is not sent). A
warning status (B0xx) counts as success and is logged; a failure status
makes the SCU abort the association and stop, as the statement says.

Output: one line per file, ``SOP Instance UID: status 0xNNNN in <syntax>``
(or ``not sent: <why>``), then ``N of M stored``.

Run::

    python examples/flux_store_scu.py --host pacs --port 104 --called-ae PACS \\
        --group flux-rle page1.dcm page2.dcm
    python examples/flux_store_scu.py --help

Exit code 0 when every file was stored, 1 when one was not, 3 when the
association failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from common import add_called_ae_option, example_parser, run_main

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.dimse.status import StatusCategory
from dicomnet.errors import DicomNetError, LocalError
from dicomnet.policy import Policy
from dicomnet.storage.scu import store

PROFILE = "flux-store-scu"
#: The default group and the alternatives of the profile's one proposed context (Table 3.10).
GROUPS = ("native", "flux-rle", "flux-jpeg-lossy", "flux-jpeg-lossless")

log = logging.getLogger("flux.store_scu")


def store_policy(group: str, ae_title: str | None) -> Policy:
    """The profile's Policy with ``group`` as the proposed transfer syntaxes."""
    policy = load_profile(PROFILE).policy({"native": group})
    return policy if ae_title is None else replace(policy, ae_title=ae_title)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="FLUX_STORE")
    add_called_ae_option(parser, help="the SCP's AE title (%(default)s)")
    parser.add_argument(
        "--group", choices=GROUPS, default="native", help="transfer syntax group (%(default)s)"
    )
    parser.add_argument("files", nargs="+", help="Secondary Capture Part 10 files")
    return parser


async def main(args: argparse.Namespace) -> int:
    """Send the files over one association."""
    policy = store_policy(args.group, args.aet)
    ae = AE(policy.ae_title, policy)
    stored = 0
    try:
        async with ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc:
            for path in args.files:
                try:
                    result = await store(assoc, path)
                except LocalError as exc:  # unreadable, no usable context, cannot transcode
                    print(f"{path}: not sent: {exc}", flush=True)
                    continue
                print(
                    f"{result.sop_instance_uid}: status 0x{result.status:04X}"
                    f" in {result.transfer_syntax}",
                    flush=True,
                )
                if result.category is StatusCategory.WARNING:
                    log.warning("C-STORE warning 0x%04X for %s", result.status, path)
                if result.ok:
                    stored += 1
                    continue
                log.error("C-STORE failed 0x%04X for %s: aborting", result.status, path)
                await assoc.abort()  # the statement: a failure status aborts the association
                break
    except (OSError, DicomNetError) as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 3
    print(f"{stored} of {len(args.files)} stored")
    return 0 if stored == len(args.files) else 1


if __name__ == "__main__":
    run_main(build_parser(), main)
