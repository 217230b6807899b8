"""``dicomnet print HOST PORT FILE...``: print DICOM images on one film (Print Management SCU).

Opens an association proposing the Basic Grayscale Print Management Meta SOP
Class (``--color``: Basic Color), creates a film session (``--copies``,
``--priority``, ``--medium``, ``--destination``, ``--label``) and one film box
(``--format`` Image Display Format such as ``STANDARD\\2,2``, ``--orientation``,
``--film-size``, ``--magnification``), puts one file's image in each image box
in order (``--polarity``), prints the film box (``--session-print``: the film
session) and deletes the session. Images not printable as they are
(compressed, signed, more than 12 bits, windowed) are decoded, windowed and
brought to 8 bits; a color print needs RGB images. ``--status`` first shows
the printer's status (Printer N-GET). Warnings from the printer are logged
and the print goes on.

Exit codes: 0 printed; 1 the printer answered a failure status (the
association is aborted); 2 usage error or a file that cannot be read or
printed; 3 association rejected; 4 aborted; 5 a timer expired; 6 no connection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomnet.ae import AE
from dicomnet.cli.options import (
    EXIT_USAGE,
    add_association_options,
    add_peer_arguments,
    add_timer_options,
    register_subcommand,
    report_association_error,
    requestor_policy,
)
from dicomnet.errors import DicomNetError, LocalError
from dicomnet.policy import ProposedContext
from dicomnet.services.print_scu import (
    BASIC_COLOR_PRINT_META,
    BASIC_GRAYSCALE_PRINT_META,
    PrinterEvents,
    PrintError,
    PrintSession,
)
from dicomnet.transport import run

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["print_films", "register", "run_print"]

EXIT_OK = 0
EXIT_STATUS = 1

_SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def register(subparsers: Any) -> None:
    """Add the ``print`` sub-command."""
    parser = register_subcommand(
        subparsers, "print", __doc__, run_print, help="print DICOM images on a film (Print SCU)"
    )
    add_peer_arguments(parser)
    parser.add_argument("files", nargs="+", type=Path, help="DICOM files, one per image box")
    add_association_options(parser, aetitle="PRINTSCU")
    add_timer_options(parser)
    parser.add_argument(
        "--format", default="STANDARD\\1,1", help="Image Display Format (STANDARD\\1,1)"
    )
    parser.add_argument("--color", action="store_true", help="print in color (RGB images)")
    parser.add_argument("--copies", type=int, default=1, help="Number of Copies (1)")
    parser.add_argument("--priority", choices=("HIGH", "MED", "LOW"), default=None)
    parser.add_argument("--medium", default=None, help="Medium Type, e.g. PAPER, BLUE FILM")
    parser.add_argument("--destination", default=None, help="Film Destination, e.g. MAGAZINE")
    parser.add_argument("--label", default=None, help="Film Session Label")
    parser.add_argument("--orientation", choices=("PORTRAIT", "LANDSCAPE"), default=None)
    parser.add_argument("--film-size", default=None, help="Film Size ID, e.g. 14INX17IN")
    parser.add_argument(
        "--magnification", choices=("REPLICATE", "BILINEAR", "CUBIC", "NONE"), default=None
    )
    parser.add_argument("--polarity", choices=("NORMAL", "REVERSE"), default=None)
    parser.add_argument(
        "--session-print", action="store_true", help="N-ACTION the film session, not the box"
    )
    parser.add_argument("--status", action="store_true", help="show the printer's status first")


def run_print(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    return run(print_films(args))


def _read(paths: list[Path]) -> list[Dataset]:
    from pydicom import dcmread  # noqa: PLC0415 (loaded on first use)
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415 (loaded on first use)

    images: list[Dataset] = []
    for path in paths:
        try:
            images.append(dcmread(path))
        except (OSError, InvalidDicomError) as exc:
            raise LocalError(f"{path}: {exc}") from exc
    return images


async def print_films(args: argparse.Namespace) -> int:
    """Print the files of ``args`` on one film; the exit code."""
    try:
        images = _read(args.files)
    except LocalError as exc:
        print(f"dicomnet print: {exc}", file=sys.stderr)
        return EXIT_USAGE
    meta = BASIC_COLOR_PRINT_META if args.color else BASIC_GRAYSCALE_PRINT_META
    policy = requestor_policy(args)
    ae = AE(policy.ae_title, policy, handlers=[PrinterEvents()])
    optional = {
        "PrintPriority": args.priority,
        "MediumType": args.medium,
        "FilmDestination": args.destination,
        "FilmSessionLabel": args.label,
    }
    session_attrs: dict[str, Any] = {"NumberOfCopies": args.copies}
    session_attrs.update((keyword, value) for keyword, value in optional.items() if value)
    film_attrs: dict[str, Any] = {}
    if args.magnification:
        film_attrs["MagnificationType"] = args.magnification
    image_attrs: dict[str, Any] = {}
    if args.polarity:
        image_attrs["Polarity"] = args.polarity
    context = ProposedContext(abstract_syntax=meta, transfer_syntaxes=_SYNTAXES)
    try:
        async with (
            ae.associate(
                args.peer, args.port, called_ae=args.called_ae, contexts=[context]
            ) as assoc,
            PrintSession(assoc, color=args.color, **session_attrs) as session,
        ):
            if args.status:
                status = await session.printer_status()
                print(f"printer {status.name or '?'}: {status.status} {status.info}".rstrip())
            film = await session.new_film_box(
                args.format, orientation=args.orientation, film_size=args.film_size, **film_attrs
            )
            if len(images) > len(film.image_boxes):
                raise LocalError(
                    f"{len(images)} image(s) for {len(film.image_boxes)} image box(es)"
                )
            for index, image in enumerate(images):
                await film.set_image(index, image, **image_attrs)
            if args.session_print:
                await session.print()
            else:
                await film.print()
    except PrintError as exc:
        print(f"dicomnet print: {exc}; association aborted", file=sys.stderr)
        return EXIT_STATUS
    except LocalError as exc:
        print(f"dicomnet print: cannot print: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, DicomNetError) as exc:
        return report_association_error(exc)
    kind = "color" if args.color else "grayscale"
    print(f"printed {len(images)} image(s) on one {kind} film ({args.format})")
    return EXIT_OK
