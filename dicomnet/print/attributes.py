"""Checking what a Print SCU sends: N-CREATE and N-SET attribute lists (PS3.4 H.4, PS3.3 C.13).

Each ``*_update`` function reads one request's data set into the print
object, or raises :class:`AttributeProblem` with the PS3.7 Annex C status:

* 0120H (missing attribute) for a mandatory attribute left out;
* 0106H (invalid attribute value) for a value the printer cannot honour
  (an unknown enumerated value, an unsupported display format or film size,
  an image box position that is not the box's, a session that does not exist);
* 0105H (no such attribute) for an image sequence of the other kind.

They return the warnings earned along the way: B600H (memory allocation not
supported), B605H (Min/Max Density outside the printer's range; its own limit is
used), 0107H (attribute list error: attributes the object does not have, ignored),
each with the tags concerned.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from dicomnet.dimse.status import Status

from .layout import LayoutError, film_size_mm, parse_display_format
from .model import (
    MAGNIFICATION_TYPES,
    AnnotationBox,
    FilmBox,
    FilmSession,
    ImageBox,
    PresentationLut,
    PrinterSettings,
)
from .pixels import ImageProblem, check_image_item

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "AttributeProblem",
    "Warnings",
    "annotation_update",
    "film_box_from",
    "film_box_update",
    "film_session_update",
    "image_box_update",
    "presentation_lut_from",
]

SPECIFIC_CHARACTER_SET: Final = 0x00080005

#: Attributes of each object an SCU may send (PS3.4 Tables H.4-1, H.4-6, H.4-10, H.4-11, ...).
FILM_SESSION_TAGS: Final = frozenset(
    {0x20000010, 0x20000020, 0x20000030, 0x20000040, 0x20000050, 0x20000060, 0x21000160, 0x20500500}
)
#: What a Basic Film Box N-SET may change (PS3.4 H.4.2.2.2); the N-CREATE-only
#: attributes (display format, orientation, film size, ...) are not among them.
FILM_BOX_SET_TAGS: Final = frozenset(
    {
        0x20100060,
        0x20100080,
        0x20100100,
        0x20100110,
        0x20100120,
        0x20100130,
        0x20100140,
        0x20100150,
        0x2010015E,
        0x20100160,
        0x20500500,
    }
)
#: What a Basic Film Box N-CREATE may give: what an N-SET may change and the
#: N-CREATE-only attributes.
FILM_BOX_TAGS: Final = FILM_BOX_SET_TAGS | frozenset(
    {0x20100010, 0x20100030, 0x20100040, 0x20100050, 0x20200050, 0x20100500, 0x00282000}
)
IMAGE_BOX_TAGS: Final = frozenset(
    {
        0x20200010,
        0x20200020,
        0x20100060,
        0x20100080,
        0x20100150,
        0x20200030,
        0x20200040,
        0x20200110,
        0x20200111,
        0x20100120,
        0x20100130,
        0x20500500,
        0x213000C0,
        0x20200130,
    }
)
ANNOTATION_TAGS: Final = frozenset({0x20300010, 0x20300020})

_DESTINATION = re.compile(r"^(MAGAZINE|PROCESSOR|BIN_\d{1,2})$")


@dataclass(frozen=True, slots=True)
class AttributeProblem(Exception):
    """A request the printer refuses: its failure status, the tags at fault, why."""

    status: int
    tags: tuple[int, ...]
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(slots=True)
class Warnings:
    """Warning statuses met while reading a request (the first one is answered)."""

    codes: list[int] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def add(self, code: int, comment: str, *tags: int) -> None:
        self.codes.append(code)
        self.comments.append(comment)
        self.tags.extend(tags)

    @property
    def status(self) -> int:
        return self.codes[0] if self.codes else Status.SUCCESS


def _unknown(dataset: Dataset, known: frozenset[int], warnings: Warnings) -> None:
    extra = [
        int(e.tag) for e in dataset if int(e.tag) not in known and e.tag != SPECIFIC_CHARACTER_SET
    ]
    if extra:
        warnings.add(Status.ATTRIBUTE_LIST_ERROR, "attributes ignored", *extra)


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    return str(value).strip().upper()


def _enum(dataset: Dataset, keyword: str, tag: int, allowed: tuple[str, ...]) -> str | None:
    value = _text(dataset, keyword)
    if value is not None and value not in allowed:
        raise AttributeProblem(Status.INVALID_ATTRIBUTE_VALUE, (tag,), f"{keyword} {value!r}")
    return value


def _int(dataset: Dataset, keyword: str, tag: int) -> int | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (tag,), f"{keyword} {value!r}"
        ) from None


def film_session_update(
    session: FilmSession, dataset: Dataset, settings: PrinterSettings
) -> Warnings:
    """Apply Basic Film Session attributes (N-CREATE or N-SET) to ``session``."""
    warnings = Warnings()
    _unknown(dataset, FILM_SESSION_TAGS, warnings)
    copies = _int(dataset, "NumberOfCopies", 0x20000010)
    if copies is not None:
        if not 1 <= copies <= settings.max_copies:
            raise AttributeProblem(
                Status.INVALID_ATTRIBUTE_VALUE,
                (0x20000010,),
                f"number of copies {copies} (1..{settings.max_copies})",
            )
        session.copies = copies
    priority = _enum(dataset, "PrintPriority", 0x20000020, ("HIGH", "MED", "LOW"))
    medium = _enum(dataset, "MediumType", 0x20000030, settings.medium_types)
    destination = _text(dataset, "FilmDestination")
    if destination is not None and not _DESTINATION.match(destination):
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20000040,), f"film destination {destination!r}"
        )
    session.priority = priority or session.priority
    session.medium = medium or session.medium
    session.destination = destination or session.destination
    if "FilmSessionLabel" in dataset:
        session.label = str(dataset.FilmSessionLabel or "")
    if dataset.get("MemoryAllocation") not in (None, ""):
        warnings.add(Status.MEMORY_ALLOCATION_NOT_SUPPORTED, "memory allocation not supported")
    _copy_known(session.attributes, dataset, FILM_SESSION_TAGS)
    return warnings


def _density(dataset: Dataset, keyword: str, tag: int) -> str | None:
    value = _text(dataset, keyword)
    if value is None or value in ("BLACK", "WHITE"):
        return value
    if not value.isdigit():
        raise AttributeProblem(Status.INVALID_ATTRIBUTE_VALUE, (tag,), f"{keyword} {value!r}")
    return value


def _min_max(
    dataset: Dataset, settings: PrinterSettings, warnings: Warnings
) -> tuple[int | None, int | None]:
    low = _int(dataset, "MinDensity", 0x20100120)
    high = _int(dataset, "MaxDensity", 0x20100130)
    if low is not None and low < settings.min_density:
        warnings.add(Status.DENSITY_OUTSIDE_RANGE, f"min density {low}", 0x20100120)
        low = settings.min_density
    if high is not None and high > settings.max_density:
        warnings.add(Status.DENSITY_OUTSIDE_RANGE, f"max density {high}", 0x20100130)
        high = settings.max_density
    _check_density_order(low, high)
    return low, high


def referenced_uid(dataset: Dataset, keyword: str) -> str | None:
    """The Referenced SOP Instance UID of the first item of sequence ``keyword``."""
    sequence = dataset.get(keyword)
    if not sequence:
        return None
    return str(sequence[0].get("ReferencedSOPInstanceUID", "")) or None


def _presentation_lut(dataset: Dataset, luts: dict[str, PresentationLut]) -> str | None:
    """The referenced Presentation LUT's UID; one the SCP does not hold is refused."""
    lut = referenced_uid(dataset, "ReferencedPresentationLUTSequence")
    if lut is not None and lut not in luts:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20500500,), "no such presentation LUT"
        )
    return lut


def _check_density_order(low: int | None, high: int | None) -> None:
    if low is not None and high is not None and low >= high:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20100120, 0x20100130), "min density >= max density"
        )


def _copy_known(target: Dataset, dataset: Dataset, tags: frozenset[int]) -> None:
    """Copy the elements of ``dataset`` whose tags are in ``tags`` into ``target``."""
    for element in dataset:
        if int(element.tag) in tags:
            target.add(element)


def _record_settable(film: FilmBox) -> None:
    """Write the film box's N-SET-able values into its attributes (what an N-GET shows)."""
    film.attributes.MagnificationType = film.magnification
    film.attributes.BorderDensity = film.border_density
    film.attributes.EmptyImageDensity = film.empty_density
    film.attributes.Trim = "YES" if film.trim else "NO"


def film_box_from(
    uid: str,
    dataset: Dataset,
    settings: PrinterSettings,
    *,
    color: bool,
    luts: dict[str, PresentationLut],
) -> tuple[FilmBox, Warnings]:
    """A new film box from its N-CREATE attributes (image and annotation boxes not made yet)."""
    warnings = Warnings()
    _unknown(dataset, FILM_BOX_TAGS, warnings)
    text = dataset.get("ImageDisplayFormat")
    if not text:
        raise AttributeProblem(Status.MISSING_ATTRIBUTE, (0x20100010,), "no image display format")
    try:
        display = parse_display_format(str(text))
    except LayoutError as exc:
        raise AttributeProblem(Status.INVALID_ATTRIBUTE_VALUE, (0x20100010,), str(exc)) from None
    orientation = _enum(dataset, "FilmOrientation", 0x20100040, ("PORTRAIT", "LANDSCAPE"))
    film_size = _text(dataset, "FilmSizeID")
    if film_size is not None and film_size not in settings.film_sizes:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20100050,), f"film size {film_size!r}"
        )
    magnification = _enum(dataset, "MagnificationType", 0x20100060, MAGNIFICATION_TYPES)
    border = _density(dataset, "BorderDensity", 0x20100100)
    empty = _density(dataset, "EmptyImageDensity", 0x20100110)
    trim = _enum(dataset, "Trim", 0x20100140, ("YES", "NO"))
    low, high = _min_max(dataset, settings, warnings)
    lut = _presentation_lut(dataset, luts)
    resolution = _enum(dataset, "RequestedResolutionID", 0x20200050, ("STANDARD", "HIGH"))
    film = FilmBox(
        uid=uid,
        display=display,
        color=color,
        orientation=orientation or settings.default_orientation,
        film_size=film_size or settings.default_film_size,
        magnification=magnification or settings.default_magnification,
        smoothing=_text(dataset, "SmoothingType"),
        border_density=border or settings.default_border_density,
        empty_density=empty or settings.default_empty_density,
        min_density=low,
        max_density=high,
        trim=trim == "YES",
        annotation_format=_text(dataset, "AnnotationDisplayFormatID"),
        presentation_lut=lut,
        resolution=resolution or "STANDARD",
    )
    film_size_mm(film.film_size, film.orientation)  # both known: cannot fail
    _copy_known(film.attributes, dataset, FILM_BOX_TAGS)
    film.attributes.ImageDisplayFormat = display.text
    film.attributes.FilmOrientation = film.orientation
    film.attributes.FilmSizeID = film.film_size
    _record_settable(film)
    film.attributes.RequestedResolutionID = film.resolution
    return film, warnings


def film_box_update(
    film: FilmBox,
    dataset: Dataset,
    settings: PrinterSettings,
    luts: dict[str, PresentationLut],
) -> Warnings:
    """Apply a Basic Film Box N-SET to ``film``, checked as its N-CREATE is.

    Everything is checked before anything changes, so a refused N-SET leaves
    the film box as it was. Attributes only N-CREATE may give (Image Display
    Format, Film Orientation, Film Size ID, ...) are ignored with 0107H.
    """
    warnings = Warnings()
    _unknown(dataset, FILM_BOX_SET_TAGS, warnings)
    magnification = _enum(dataset, "MagnificationType", 0x20100060, MAGNIFICATION_TYPES)
    border = _density(dataset, "BorderDensity", 0x20100100)
    empty = _density(dataset, "EmptyImageDensity", 0x20100110)
    trim = _enum(dataset, "Trim", 0x20100140, ("YES", "NO"))
    low, high = _min_max(dataset, settings, warnings)
    low = film.min_density if low is None else low
    high = film.max_density if high is None else high
    _check_density_order(low, high)
    _int(dataset, "Illumination", 0x2010015E)
    _int(dataset, "ReflectedAmbientLight", 0x20100160)
    lut = _presentation_lut(dataset, luts)
    film.magnification = magnification or film.magnification
    if "SmoothingType" in dataset:
        film.smoothing = _text(dataset, "SmoothingType")
    film.border_density = border or film.border_density
    film.empty_density = empty or film.empty_density
    film.trim = film.trim if trim is None else trim == "YES"
    film.min_density, film.max_density = low, high
    film.presentation_lut = lut or film.presentation_lut
    _copy_known(film.attributes, dataset, FILM_BOX_SET_TAGS)
    _record_settable(film)
    for keyword, value in (("MinDensity", low), ("MaxDensity", high)):
        if value is not None:
            setattr(film.attributes, keyword, value)
    return warnings


def annotation_count(film: FilmBox, settings: PrinterSettings) -> int:
    """How many annotation boxes Annotation Display Format ID gives (0 without one)."""
    if not film.annotation_format:
        return 0
    digits = re.search(r"(\d+)$", film.annotation_format)
    if digits:
        return max(1, min(8, int(digits.group(1))))
    return settings.default_annotation_boxes


def image_box_update(
    box: ImageBox,
    dataset: Dataset,
    settings: PrinterSettings,
    luts: dict[str, PresentationLut],
) -> Warnings:
    """Apply a Basic Grayscale/Color Image Box N-SET to ``box`` (fit checked by the caller)."""
    warnings = Warnings()
    _unknown(dataset, IMAGE_BOX_TAGS, warnings)
    position = _int(dataset, "ImageBoxPosition", 0x20200010)
    if position is None:
        raise AttributeProblem(Status.MISSING_ATTRIBUTE, (0x20200010,), "no image box position")
    if position != box.position:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE,
            (0x20200010,),
            f"image box position {position}: this box is position {box.position}",
        )
    keyword, other = (
        ("BasicColorImageSequence", "BasicGrayscaleImageSequence")
        if box.color
        else ("BasicGrayscaleImageSequence", "BasicColorImageSequence")
    )
    if other in dataset:
        tag = int(dataset.data_element(other).tag)  # type: ignore[union-attr]
        raise AttributeProblem(Status.NO_SUCH_ATTRIBUTE, (tag,), f"{other} in this image box")
    if keyword not in dataset:
        tag = 0x20200111 if box.color else 0x20200110
        raise AttributeProblem(Status.MISSING_ATTRIBUTE, (tag,), f"no {keyword}")
    polarity = _enum(dataset, "Polarity", 0x20200020, ("NORMAL", "REVERSE"))
    magnification = _enum(dataset, "MagnificationType", 0x20100060, MAGNIFICATION_TYPES)
    behaviour = _enum(
        dataset, "RequestedDecimateCropBehavior", 0x20200040, ("DECIMATE", "CROP", "FAIL")
    )
    size = _requested_size(dataset)
    low, high = _min_max(dataset, settings, warnings) if not box.color else (None, None)
    lut = _presentation_lut(dataset, luts)
    sequence = dataset.get(keyword)
    image = None
    if sequence:
        image = sequence[0]
        try:
            check_image_item(image, color=box.color)
        except ImageProblem as exc:
            status = Status.MISSING_ATTRIBUTE if exc.missing else Status.INVALID_ATTRIBUTE_VALUE
            raise AttributeProblem(status, (exc.tag,), str(exc)) from None
    box.image = image
    box.polarity = polarity or box.polarity
    box.magnification = magnification or box.magnification
    box.smoothing = _text(dataset, "SmoothingType") or box.smoothing
    box.decimate_crop = behaviour or box.decimate_crop
    box.requested_size_mm = size if size is not None else box.requested_size_mm
    box.min_density = low if low is not None else box.min_density
    box.max_density = high if high is not None else box.max_density
    box.presentation_lut = lut or box.presentation_lut
    return warnings


def _requested_size(dataset: Dataset) -> float | None:
    value: Any = dataset.get("RequestedImageSize")
    if value is None or value == "":
        return None
    try:
        size = float(value)
    except (TypeError, ValueError):
        size = -1.0
    if size <= 0:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20200030,), f"requested image size {value!r}"
        )
    return size


def _lut_values(data: Any) -> tuple[int, ...]:
    if isinstance(data, bytes | bytearray):
        count = len(data) // 2
        return struct.unpack(f"<{count}H", bytes(data[: count * 2]))
    if isinstance(data, list | tuple):
        return tuple(int(v) for v in data)
    return (int(data),)


def annotation_update(box: AnnotationBox, dataset: Dataset, count: int) -> Warnings:
    """Apply a Basic Annotation Box N-SET to ``box``, one of the film box's ``count`` boxes.

    Annotation Position (1..``count``) says where on the film the text goes: the
    SCU picks it in the N-SET (PS3.4 H.4.4), whichever of the boxes it addresses.
    """
    warnings = Warnings()
    _unknown(dataset, ANNOTATION_TAGS, warnings)
    position = _int(dataset, "AnnotationPosition", 0x20300010)
    if position is None:
        raise AttributeProblem(Status.MISSING_ATTRIBUTE, (0x20300010,), "no annotation position")
    if not 1 <= position <= count:
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE,
            (0x20300010,),
            f"annotation position {position}: the film box has {count}",
        )
    box.position = position
    box.text = str(dataset.get("TextString", "") or "")
    return warnings


def presentation_lut_from(uid: str, dataset: Dataset) -> tuple[PresentationLut, Warnings]:
    """A Presentation LUT from its N-CREATE: Presentation LUT Shape or Presentation LUT Sequence."""
    warnings = Warnings()
    _unknown(dataset, frozenset({0x20500010, 0x20500020}), warnings)
    shape = _enum(dataset, "PresentationLUTShape", 0x20500020, ("IDENTITY", "LIN OD", "INVERSE"))
    sequence = dataset.get("PresentationLUTSequence")
    if (shape is None) == (not sequence):
        raise AttributeProblem(
            Status.MISSING_ATTRIBUTE if shape is None else Status.INVALID_ATTRIBUTE_VALUE,
            (0x20500020, 0x20500010),
            "exactly one of Presentation LUT Shape and Presentation LUT Sequence",
        )
    if shape is not None:
        return PresentationLut(uid=uid, shape=shape), warnings
    item = sequence[0]
    try:
        entries, first, bits = (int(v) for v in item.LUTDescriptor)
        table = _lut_values(item.LUTData)
    except (AttributeError, TypeError, ValueError):
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20500010,), "unreadable Presentation LUT Sequence"
        ) from None
    if not 8 <= bits <= 16 or not table or len(table) != (entries or 65536):
        raise AttributeProblem(
            Status.INVALID_ATTRIBUTE_VALUE, (0x20500010,), "inconsistent LUT descriptor"
        )
    return PresentationLut(uid=uid, table=(first, bits, table)), warnings
