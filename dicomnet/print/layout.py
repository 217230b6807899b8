"""Where image boxes lie on a film: display formats, film sizes, orientation.

Image Display Format (2010,0010, PS3.3 C.13.3) is one of

* ``STANDARD\\C,R``: C columns and R rows of equal boxes;
* ``ROW\\n1,n2,...``: one row per value, the row holding that many boxes;
* ``COL\\n1,n2,...``: one column per value, the column holding that many boxes.

Image Box Position (2020,0010, PS3.3 C.13.5.1) counts from 1: left to right,
then top to bottom for STANDARD and ROW; top to bottom, then left to right
for COL. SLIDE, SUPERSLIDE and CUSTOM formats are printer-specific and not
supported here (:class:`LayoutError`).

A film is ``Film Size ID`` (PS3.3 C.13.3 defined terms) in PORTRAIT (the
shorter side across) or LANDSCAPE, at ``dpi`` pixels per inch. The boxes are
laid out on an equal grid with a thin border (Border Density) between and
around them; a strip at the bottom holds the annotation boxes when there are any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "FILM_SIZES_MM",
    "MAX_BOXES",
    "BoxRect",
    "DisplayFormat",
    "FilmGeometry",
    "LayoutError",
    "film_geometry",
    "parse_display_format",
]

#: Film Size ID defined terms (PS3.3 C.13.3) → (shorter side, longer side) in mm.
FILM_SIZES_MM: Final[dict[str, tuple[float, float]]] = {
    "8INX10IN": (8 * 25.4, 10 * 25.4),
    "8_5INX11IN": (8.5 * 25.4, 11 * 25.4),
    "10INX12IN": (10 * 25.4, 12 * 25.4),
    "10INX14IN": (10 * 25.4, 14 * 25.4),
    "11INX14IN": (11 * 25.4, 14 * 25.4),
    "11INX17IN": (11 * 25.4, 17 * 25.4),
    "14INX14IN": (14 * 25.4, 14 * 25.4),
    "14INX17IN": (14 * 25.4, 17 * 25.4),
    "24CMX24CM": (240.0, 240.0),
    "24CMX30CM": (240.0, 300.0),
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
}

#: The most image boxes one film box may hold (a printer limit of ours).
MAX_BOXES: Final = 100
#: The most rows (or columns) a format may have, and boxes in one row (or column).
MAX_LINES: Final = 10


class LayoutError(ValueError):
    """An Image Display Format, Film Size ID or Film Orientation we cannot print."""


@dataclass(frozen=True, slots=True)
class DisplayFormat:
    """A parsed Image Display Format.

    ``lines`` holds, per row (STANDARD, ROW) or per column (COL), how many
    image boxes it has.
    """

    text: str
    by_column: bool
    lines: tuple[int, ...]

    @property
    def box_count(self) -> int:
        """How many image boxes a film box of this format has."""
        return sum(self.lines)


@dataclass(frozen=True, slots=True)
class BoxRect:
    """One box on the film, in film pixels: ``x``, ``y`` of its top left corner."""

    position: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class FilmGeometry:
    """A film's size in pixels and where its image and annotation boxes lie."""

    width: int
    height: int
    dpi: float
    boxes: tuple[BoxRect, ...]
    annotations: tuple[BoxRect, ...]

    def box(self, position: int) -> BoxRect:
        """The image box at Image Box Position ``position`` (1-based)."""
        return self.boxes[position - 1]


def parse_display_format(text: str) -> DisplayFormat:
    """Parse Image Display Format; raises :class:`LayoutError` when it is not printable."""
    kind, sep, values = text.strip().partition("\\")
    kind = kind.strip().upper()
    if not sep or kind not in ("STANDARD", "ROW", "COL"):
        raise LayoutError(f"unsupported image display format {text!r}")
    try:
        numbers = tuple(int(value) for value in values.split(","))
    except ValueError:
        raise LayoutError(f"malformed image display format {text!r}") from None
    if kind == "STANDARD":
        if len(numbers) != 2:
            raise LayoutError(f"STANDARD needs two values (columns,rows): {text!r}")
        columns, rows = numbers
        if not (1 <= columns <= MAX_LINES and 1 <= rows <= MAX_LINES):
            raise LayoutError(f"{text!r}: columns and rows must be 1..{MAX_LINES}")
        display = DisplayFormat(text, False, (columns,) * rows)
    else:
        if not 1 <= len(numbers) <= MAX_LINES or not all(1 <= n <= MAX_LINES for n in numbers):
            raise LayoutError(f"{text!r}: 1..{MAX_LINES} lines of 1..{MAX_LINES} boxes each")
        display = DisplayFormat(text, kind == "COL", numbers)
    if display.box_count > MAX_BOXES:
        raise LayoutError(f"{text!r}: more than {MAX_BOXES} image boxes")
    return display


def film_size_mm(film_size_id: str, orientation: str) -> tuple[float, float]:
    """(width, height) in mm of ``film_size_id`` laid ``orientation`` (PORTRAIT, LANDSCAPE)."""
    size = FILM_SIZES_MM.get(film_size_id.strip().upper())
    if size is None:
        raise LayoutError(f"unsupported film size {film_size_id!r}")
    orientation = orientation.strip().upper()
    if orientation == "PORTRAIT":
        return size
    if orientation == "LANDSCAPE":
        return size[1], size[0]
    raise LayoutError(f"unsupported film orientation {orientation!r}")


def _splits(start: int, length: int, count: int, gap: int) -> list[tuple[int, int]]:
    """``count`` spans (offset, size) filling ``length`` from ``start``, ``gap`` between them."""
    usable = max(count, length - gap * (count - 1))
    spans = []
    for index in range(count):
        begin = start + index * gap + usable * index // count
        end = start + index * gap + usable * (index + 1) // count
        spans.append((begin, max(1, end - begin)))
    return spans


def film_geometry(
    display: DisplayFormat,
    film_size_id: str,
    orientation: str,
    dpi: float,
    *,
    annotation_boxes: int = 0,
) -> FilmGeometry:
    """The pixel layout of a film box of ``display`` on ``film_size_id`` at ``dpi``."""
    width_mm, height_mm = film_size_mm(film_size_id, orientation)
    width = max(16, round(width_mm / 25.4 * dpi))
    height = max(16, round(height_mm / 25.4 * dpi))
    gap = max(2, round(min(width, height) * 0.01))
    strip = max(12, round(height * 0.04)) if annotation_boxes else 0
    left, top = gap, gap
    area_w = width - 2 * gap
    area_h = height - 2 * gap - (strip + gap if strip else 0)
    boxes: list[BoxRect] = []
    position = 1
    if display.by_column:
        for line, (x, w) in enumerate(_splits(left, area_w, len(display.lines), gap)):
            for y, h in _splits(top, area_h, display.lines[line], gap):
                boxes.append(BoxRect(position, x, y, w, h))
                position += 1
    else:
        for line, (y, h) in enumerate(_splits(top, area_h, len(display.lines), gap)):
            for x, w in _splits(left, area_w, display.lines[line], gap):
                boxes.append(BoxRect(position, x, y, w, h))
                position += 1
    annotations: list[BoxRect] = []
    if annotation_boxes:
        y = height - gap - strip
        for index, (x, w) in enumerate(_splits(left, area_w, annotation_boxes, gap)):
            annotations.append(BoxRect(index + 1, x, y, w, strip))
    return FilmGeometry(width, height, dpi, tuple(boxes), tuple(annotations))
