"""Flux DICOM Printer, Print SCU AE: print DICOM files' images on a DICOM printer.

Plays the Print SCU of the Flux conformance statement (seed
``002_cc0c37f2cbde39de.txt``, §3.2.3) by configuration alone: the
``flux-print-scu`` profile gives the AE title (``FLUX_PRINT``), one
presentation context for each of the Basic Grayscale and Basic Color Print
Management Meta SOP Classes, 16 KB PDUs and a single outstanding operation.

One film is printed (PS3.4 Annex H): Film Session N-CREATE (``--copies``,
``--medium``, ``--destination``), Film Box N-CREATE (``--format``,
``--orientation``, ``--film-size``), one Image Box N-SET per file in image box
order, then N-ACTION print of the film box (or of the film session with
``--print-session``), and N-DELETE of the film session. Images that are not
printable as they are (compressed, signed, more than 12 bits, windowed) are
decoded, windowed and scaled to 8 bits. ``--status`` first reads the
printer's status (N-GET of the Printer SOP instance).

As the statement says, a warning status (B0xx) is logged and the job goes
on; a failure status is reported and the association aborted.

Run::

    python examples/flux_print_scu.py --host printer --port 104 --called-ae PRINTER \\
        image.dcm
    python examples/flux_print_scu.py --format 'STANDARD\\2,1' --film-size 14INX17IN a.dcm b.dcm
    python examples/flux_print_scu.py --help

Exit code 0 when the film was printed, 1 on a failure status (the association
is aborted), 2 when a file cannot be read or printed, 3 when the association
failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import add_called_ae_option, example_parser, profile_policy, run_main
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomnet.ae import AE
from dicomnet.errors import DicomNetError, LocalError
from dicomnet.services.print_scu import PrinterEvents, PrintError, PrintSession

PROFILE = "flux-print-scu"

log = logging.getLogger("flux.print_scu")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=104, aet="FLUX_PRINT")
    parser.add_argument("files", nargs="+", type=Path, help="DICOM files, one per image box")
    add_called_ae_option(parser, help="the printer's AE title (%(default)s)")
    parser.add_argument(
        "--format", default="STANDARD\\1,1", help="Image Display Format (%(default)s)"
    )
    parser.add_argument("--orientation", choices=("PORTRAIT", "LANDSCAPE"), default=None)
    parser.add_argument("--film-size", default=None, help="Film Size ID, e.g. 14INX17IN")
    parser.add_argument("--medium", default=None, help="Medium Type, e.g. PAPER, BLUE FILM")
    parser.add_argument("--destination", default=None, help="Film Destination, e.g. MAGAZINE")
    parser.add_argument("--copies", type=int, default=1, help="Number of Copies (%(default)s)")
    parser.add_argument("--color", action="store_true", help="Basic Color Print Management")
    parser.add_argument(
        "--print-session", action="store_true", help="N-ACTION the film session, not the box"
    )
    parser.add_argument("--status", action="store_true", help="show the printer's status first")
    parser.add_argument(
        "--timeout", type=float, default=None, help="DIMSE timeout in s (the profile's 1 s)"
    )
    return parser


def read_images(paths: list[Path]) -> list[Dataset]:
    """The data sets of ``paths`` (raises LocalError for a file that is not DICOM)."""
    images: list[Dataset] = []
    for path in paths:
        try:
            images.append(dcmread(path))
        except (OSError, InvalidDicomError) as exc:
            raise LocalError(f"{path}: {exc}") from exc
    return images


async def main(args: argparse.Namespace) -> int:
    """Print one film with the images of ``args.files``."""
    try:
        images = read_images(args.files)
    except LocalError as exc:
        print(exc, file=sys.stderr)
        return 2
    policy = profile_policy(PROFILE, args.aet)
    if args.timeout is not None:
        policy = replace(policy, timers=replace(policy.timers, dimse=args.timeout))
    session_attrs: dict[str, Any] = {"NumberOfCopies": args.copies}
    if args.medium:
        session_attrs["MediumType"] = args.medium
    if args.destination:
        session_attrs["FilmDestination"] = args.destination
    ae = AE(policy.ae_title, policy, handlers=[PrinterEvents()])
    try:
        async with (
            ae.associate(args.host, args.port, called_ae=args.called_ae) as assoc,
            PrintSession(assoc, color=args.color, **session_attrs) as session,
        ):
            if args.status:
                status = await session.printer_status()
                print(f"printer {status.name or '?'}: {status.status} {status.info}".rstrip())
            film = await session.new_film_box(
                args.format, orientation=args.orientation, film_size=args.film_size
            )
            if len(images) > len(film.image_boxes):
                raise LocalError(
                    f"{len(images)} image(s) for {len(film.image_boxes)} image box(es)"
                )
            for index, image in enumerate(images):
                await film.set_image(index, image)
            if args.print_session:
                await session.print()
            else:
                await film.print()
    except PrintError as exc:
        # The exception left the association's block: it was aborted (A-ABORT).
        print(f"{exc}; association aborted", file=sys.stderr)
        return 1
    except LocalError as exc:
        print(f"cannot print: {exc}", file=sys.stderr)
        return 2
    except (OSError, DicomNetError) as exc:
        print(f"association with {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 3
    print(f"printed {len(images)} image(s) on one film")
    return 0


if __name__ == "__main__":
    run_main(build_parser(), main)
