"""The print objects an SCU creates and sets (PS3.4 H.4), and the printer's own settings.

The Print SCP keeps one :class:`FilmSession` per association (PS3.4 H.4.1:
a film session lives as long as its association), its film boxes, their
image and annotation boxes, and the Presentation LUTs the SCU created. A
film box that is printed is handed to the renderer as a :class:`PrintedFilm`,
a snapshot that later N-SETs and N-DELETEs do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .layout import FILM_SIZES_MM, DisplayFormat

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "AnnotationBox",
    "FilmBox",
    "FilmSession",
    "ImageBox",
    "PresentationLut",
    "PrintedFilm",
    "PrinterSettings",
]

#: Medium Type defined terms (PS3.3 C.13.1).
MEDIUM_TYPES: Final = ("PAPER", "CLEAR FILM", "BLUE FILM", "MAMMO CLEAR FILM", "MAMMO BLUE FILM")
#: Magnification Type defined terms (PS3.3 C.13.3).
MAGNIFICATION_TYPES: Final = ("REPLICATE", "BILINEAR", "CUBIC", "NONE")


def _empty_dataset() -> Dataset:
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    return Dataset()


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterSettings:
    """What the printer is: its name, resolution, density range and defaults.

    Densities are in hundredths of optical density (as Min/Max Density,
    PS3.3 C.13.3). ``dpi`` is the resolution films are rendered at (``high_dpi``
    for a film box that requests HIGH resolution), so also the number of
    printable pixels of an image box (an image with more rows or columns than
    its box is decimated, cropped or refused, PS3.4 H.4.3.1.2.1).
    """

    name: str = "DICOMNET"
    dpi: float = 150.0
    #: The resolution of Requested Resolution ID HIGH (None: twice ``dpi``, as
    #: PS3.3 C.13.3 describes HIGH); ``dpi`` is STANDARD's.
    high_dpi: float | None = None
    min_density: int = 20
    max_density: int = 320
    film_sizes: tuple[str, ...] = tuple(FILM_SIZES_MM)
    default_film_size: str = "14INX17IN"
    default_orientation: str = "PORTRAIT"
    default_magnification: str = "BILINEAR"
    default_border_density: str = "BLACK"
    default_empty_density: str = "BLACK"
    medium_types: tuple[str, ...] = MEDIUM_TYPES
    default_medium: str = "BLUE FILM"
    max_copies: int = 99
    #: Pixel data one association may hold in its image boxes; past it an image box N-SET
    #: is refused with C605 (insufficient memory in printer to store the image).
    max_image_bytes: int = 512 * 1024 * 1024
    #: Annotation boxes a film box gets when it names an Annotation Display Format ID
    #: that does not end in a number (``ANNOTATION``; ``LABEL3`` gives 3).
    default_annotation_boxes: int = 2
    manufacturer: str = "dicomnet"
    model_name: str = "dicomnet film printer"
    software_version: str = "dicomnet"
    #: Also write each film as a one-page PDF next to its PNG.
    pdf: bool = False
    #: Print jobs kept for N-GET from any association, and for how long (seconds).
    jobs_kept: int = 256
    job_seconds: float = 3600.0

    def dpi_for(self, resolution: str) -> float:
        """Pixels per inch of a film box's Requested Resolution ID (STANDARD or HIGH)."""
        if resolution == "HIGH":
            return self.high_dpi or 2 * self.dpi
        return self.dpi


@dataclass(slots=True, kw_only=True)
class PresentationLut:
    """A Presentation LUT SOP instance (PS3.4 H.4.9): a shape or a LUT table."""

    uid: str
    shape: str | None = None  # IDENTITY, INVERSE or LIN OD
    #: (first mapped value, output bits, table) of Presentation LUT Sequence.
    table: tuple[int, int, tuple[int, ...]] | None = None


@dataclass(slots=True, kw_only=True)
class ImageBox:
    """A Basic Grayscale or Color Image Box (PS3.4 H.4.3), made by its film box's N-CREATE."""

    uid: str
    sop_class: str
    position: int
    #: The item of Basic Grayscale/Color Image Sequence last set (None: empty box).
    image: Dataset | None = None
    polarity: str = "NORMAL"
    magnification: str | None = None
    smoothing: str | None = None
    requested_size_mm: float | None = None
    decimate_crop: str | None = None
    min_density: int | None = None
    max_density: int | None = None
    presentation_lut: str | None = None

    @property
    def color(self) -> bool:
        """Whether this is a Basic Color Image Box."""
        return self.sop_class.endswith(".4.1")


@dataclass(slots=True, kw_only=True)
class AnnotationBox:
    """A Basic Annotation Box (PS3.4 H.4.4): one line of text on the film."""

    uid: str
    position: int
    text: str = ""


@dataclass(slots=True, kw_only=True)
class FilmBox:
    """A Basic Film Box (PS3.4 H.4.2) and the boxes it holds."""

    uid: str
    display: DisplayFormat
    color: bool
    orientation: str
    film_size: str
    magnification: str
    smoothing: str | None
    border_density: str
    empty_density: str
    min_density: int | None
    max_density: int | None
    trim: bool
    annotation_format: str | None = None
    presentation_lut: str | None = None
    #: Requested Resolution ID (2020,0050): STANDARD or HIGH.
    resolution: str = "STANDARD"
    #: The attributes as created (answered in the N-CREATE response).
    attributes: Dataset = field(default_factory=_empty_dataset)
    image_boxes: list[ImageBox] = field(default_factory=list)
    annotation_boxes: list[AnnotationBox] = field(default_factory=list)
    printed: int = 0

    @property
    def is_empty(self) -> bool:
        """Whether no image box holds an image."""
        return all(box.image is None for box in self.image_boxes)


@dataclass(slots=True, kw_only=True)
class FilmSession:
    """A Basic Film Session (PS3.4 H.4.1)."""

    uid: str
    copies: int = 1
    priority: str = "MED"
    medium: str = ""
    destination: str = ""
    label: str = ""
    attributes: Dataset = field(default_factory=_empty_dataset)
    film_boxes: list[FilmBox] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrintedFilm:
    """One film to render: the film box as printed, with what it refers to."""

    job_uid: str
    session_uid: str
    session_label: str
    copies: int
    priority: str
    medium: str
    destination: str
    film: FilmBox
    luts: dict[str, PresentationLut]
    calling_ae: str = ""
