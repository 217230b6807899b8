"""Printed films → pictures: PNG (and PDF) with Pillow, pixel work with numpy.

A film is drawn the way a film printer would lay it down, in brightness as
seen on a light box: optical density D (hundredths) maps linearly onto 255
(the printer's Min Density) … 0 (its Max Density). The border around and
between the boxes has Border Density, an image box without an image Empty
Image Density (BLACK = Max Density, WHITE = Min Density, or a number).

A grayscale image's values become P-values (MONOCHROME1 inverted), pass the
Presentation LUT (INVERSE inverts; IDENTITY and LIN OD keep them) and
Polarity (REVERSE inverts), and span Min Density (brightest) … Max Density
(darkest) of the image box, else of the film box, else of the printer.
Color images keep their RGB values (REVERSE inverts them); a color film's
border and empty boxes are black or white (numbers: their gray).

Magnification Type picks the resampling (REPLICATE nearest neighbour,
BILINEAR, CUBIC bicubic; NONE one film pixel per image pixel); with CUBIC,
Smoothing Type SOFT (or SMOOTH) blurs lightly and SHARP sharpens. Trim YES
draws a thin frame around each image.
Annotation boxes are written as text in a strip at the bottom of the film.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fit import fit_image
from .layout import BoxRect, film_geometry
from .model import FilmBox, ImageBox, PresentationLut, PrintedFilm, PrinterSettings
from .pixels import color_values, grayscale_values, pixel_aspect

if TYPE_CHECKING:
    import numpy.typing as npt
    from PIL import Image

__all__ = ["FilmRenderer", "density_to_level", "render_film"]

_log = logging.getLogger("dicomnet.print.render")

_RESAMPLE = {"REPLICATE": "NEAREST", "NONE": "NEAREST", "BILINEAR": "BILINEAR", "CUBIC": "BICUBIC"}


def density_to_level(density: int, settings: PrinterSettings) -> int:
    """The 8-bit brightness of optical density ``density`` (hundredths) on this printer."""
    low, high = settings.min_density, settings.max_density
    level = 255.0 * (high - density) / max(1, high - low)
    return max(0, min(255, round(level)))


def named_density(value: str, settings: PrinterSettings) -> int:
    """BLACK, WHITE or a number (hundredths of OD) as a density."""
    text = value.strip().upper()
    if text == "BLACK":
        return settings.max_density
    if text == "WHITE":
        return settings.min_density
    return int(text)


def render_film(film: PrintedFilm, settings: PrinterSettings) -> Image.Image:
    """Draw ``film`` as a Pillow image (mode ``L``, or ``RGB`` for a color film)."""
    from PIL import Image, ImageDraw  # noqa: PLC0415 (Pillow is the print extra)

    box = film.film
    settings = replace(settings, dpi=settings.dpi_for(box.resolution))
    geometry = film_geometry(
        box.display,
        box.film_size,
        box.orientation,
        settings.dpi,
        annotation_boxes=len(box.annotation_boxes),
    )
    mode = "RGB" if box.color else "L"
    border = density_to_level(named_density(box.border_density, settings), settings)
    empty = density_to_level(named_density(box.empty_density, settings), settings)
    canvas = Image.new(mode, (geometry.width, geometry.height), _fill(border, mode))
    draw = ImageDraw.Draw(canvas)
    for image_box in box.image_boxes:
        rect = geometry.box(image_box.position)
        draw.rectangle(_corners(rect), fill=_fill(empty, mode))
        if image_box.image is None:
            continue
        picture = _image_picture(image_box, box, film.luts, settings, rect)
        x = rect.x + (rect.width - picture.width) // 2
        y = rect.y + (rect.height - picture.height) // 2
        canvas.paste(picture.convert(mode), (x, y))
        if box.trim:
            width = max(1, round(settings.dpi / 100))
            frame = (
                x - width,
                y - width,
                x + picture.width + width - 1,
                y + picture.height + width - 1,
            )
            draw.rectangle(frame, outline=_fill(128, mode), width=width)
    _annotate(canvas, box, geometry.annotations, border)
    return canvas


def _fill(level: int, mode: str) -> int | tuple[int, int, int]:
    return (level, level, level) if mode == "RGB" else level


def _corners(rect: BoxRect) -> tuple[int, int, int, int]:
    return rect.x, rect.y, rect.x + rect.width - 1, rect.y + rect.height - 1


def _image_picture(
    image_box: ImageBox,
    film: FilmBox,
    luts: dict[str, PresentationLut],
    settings: PrinterSettings,
    rect: BoxRect,
) -> Image.Image:
    """The image of ``image_box`` as it is printed: levels applied, resized, maybe cropped."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    item = image_box.image
    assert item is not None
    magnification = image_box.magnification or film.magnification
    requested = None
    if image_box.requested_size_mm:
        requested = round(image_box.requested_size_mm / 25.4 * settings.dpi)
    fit = fit_image(
        int(item.Columns),
        int(item.Rows),
        rect.width,
        rect.height,
        magnification=magnification,
        behaviour=image_box.decimate_crop,
        requested_width=requested,
        aspect=pixel_aspect(item),
    )
    levels: npt.NDArray[Any]
    if image_box.color:
        levels = color_values(item)
        if image_box.polarity == "REVERSE":
            levels = 255 - levels
        picture = Image.fromarray(np.ascontiguousarray(levels, dtype=np.uint8), mode="RGB")
    else:
        values = _presentation(grayscale_values(item), image_box, film, luts)
        if image_box.polarity == "REVERSE":
            values = 1.0 - values
        low = _first(image_box.min_density, film.min_density, settings.min_density)
        high = _first(image_box.max_density, film.max_density, settings.max_density)
        density = high - values * (high - low)
        span = max(1, settings.max_density - settings.min_density)
        levels = np.clip(np.rint(255.0 * (settings.max_density - density) / span), 0, 255)
        picture = Image.fromarray(levels.astype(np.uint8), mode="L")
    if fit.crop is not None:
        x, y, width, height = fit.crop
        picture = picture.crop((x, y, x + width, y + height))
    if picture.size != (fit.width, fit.height):
        resample = getattr(Image.Resampling, _RESAMPLE.get(magnification, "BILINEAR"))
        picture = picture.resize((fit.width, fit.height), resample=resample)
    if magnification == "CUBIC":
        scale = fit.width / max(1, int(item.Columns))
        picture = _smooth(picture, image_box.smoothing or film.smoothing, scale)
    return picture


def _smooth(picture: Image.Image, smoothing: str | None, scale: float) -> Image.Image:
    """Smoothing Type, which applies to CUBIC magnification only (PS3.3 C.13.3).

    The values are the printer's own: SOFT (or SMOOTH) blurs lightly, SHARP
    sharpens the edges, both over about half an image pixel (``scale`` film pixels
    per image pixel); MEDIUM, NONE and any other value leave the bicubic result.
    """
    from PIL import ImageFilter  # noqa: PLC0415

    if smoothing in ("SOFT", "SMOOTH"):
        return picture.filter(ImageFilter.GaussianBlur(radius=max(1.0, scale / 2)))
    if smoothing == "SHARP":
        radius = max(2.0, scale / 2)
        return picture.filter(ImageFilter.UnsharpMask(radius=radius, percent=150, threshold=2))
    return picture


def _first(*values: int | None) -> int:
    for value in values:
        if value is not None:
            return value
    return 0


def _presentation(
    values: npt.NDArray[Any],
    image_box: ImageBox,
    film: FilmBox,
    luts: dict[str, PresentationLut],
) -> npt.NDArray[Any]:
    """Apply the Presentation LUT of the image box (else of the film box) to 0..1 values."""
    import numpy as np  # noqa: PLC0415

    uid = image_box.presentation_lut or film.presentation_lut
    lut = luts.get(uid) if uid else None
    if lut is None:
        return values
    if lut.shape == "INVERSE":
        return 1.0 - values
    if lut.table is not None:
        _, bits, table = lut.table
        entries = np.asarray(table, dtype=np.float32) / float((1 << bits) - 1)
        index = np.clip(np.rint(values * (len(entries) - 1)), 0, len(entries) - 1)
        result: npt.NDArray[Any] = entries[index.astype(np.intp)]
        return result
    return values


def _annotate(canvas: Image.Image, film: FilmBox, rects: tuple[BoxRect, ...], border: int) -> None:
    if not rects:
        return
    from PIL import ImageDraw, ImageFont  # noqa: PLC0415

    draw = ImageDraw.Draw(canvas)
    ink = 0 if border > 127 else 255
    fill = (ink, ink, ink) if canvas.mode == "RGB" else ink
    by_position = {box.position: box for box in film.annotation_boxes if box.text}
    for rect in rects:
        annotation = by_position.get(rect.position)
        if annotation is None:
            continue
        size = max(6, round(rect.height * 0.7))
        font = ImageFont.load_default(size=size)
        # Shrink the text until it fits its box (a long line ends up small, never cut).
        while size > 6 and draw.textlength(annotation.text, font=font) > rect.width - 4:
            size = max(6, size - max(1, size // 8))
            font = ImageFont.load_default(size=size)
        draw.text(
            (rect.x + 2, rect.y + rect.height // 2),
            annotation.text,
            fill=fill,
            font=font,
            anchor="lm",
        )


@dataclass(frozen=True, slots=True)
class RenderedFilm:
    """The files written for one film."""

    png: Path
    pdf: Path | None
    info: Path


class FilmRenderer:
    """Writes each printed film into ``output``: ``film-<time>-<n>.png`` (+ ``.pdf``, ``.json``).

    The JSON file records the film's session and film box attributes
    (copies, medium, display format, orientation, film size) and the image
    boxes printed. Rendering runs in a worker thread (Pillow and numpy release
    the event loop for the long parts).
    """

    def __init__(self, output: Path, settings: PrinterSettings | None = None) -> None:
        self.output = Path(output)
        self.settings = settings or PrinterSettings()
        self._count = 0
        #: Every film written so far, oldest first.
        self.films: list[RenderedFilm] = []

    def _next_stem(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        while True:
            self._count += 1
            stem = self.output / f"film-{stamp}-{self._count:04d}"
            if not stem.with_suffix(".png").exists():
                return stem

    def write(self, film: PrintedFilm) -> RenderedFilm:
        """Render ``film`` and write its files (blocking)."""
        self.output.mkdir(parents=True, exist_ok=True)
        picture = render_film(film, self.settings)
        stem = self._next_stem()
        png = stem.with_suffix(".png")
        dpi = self.settings.dpi_for(film.film.resolution)
        picture.save(png, format="PNG", dpi=(dpi, dpi))
        pdf = None
        if self.settings.pdf:
            pdf = stem.with_suffix(".pdf")
            picture.save(pdf, format="PDF", resolution=dpi)
        info = stem.with_suffix(".json")
        info.write_text(json.dumps(film_summary(film, png), indent=2) + "\n", encoding="utf-8")
        rendered = RenderedFilm(png, pdf, info)
        self.films.append(rendered)
        _log.info("film %s written: %s", film.film.uid, png)
        return rendered


def film_summary(film: PrintedFilm, png: Path) -> dict[str, Any]:
    """What a film's JSON file says about it."""
    box = film.film
    return {
        "png": png.name,
        "print_job": film.job_uid,
        "film_session": film.session_uid,
        "film_box": box.uid,
        "calling_ae": film.calling_ae,
        "copies": film.copies,
        "priority": film.priority,
        "medium": film.medium,
        "destination": film.destination,
        "label": film.session_label,
        "color": box.color,
        "image_display_format": box.display.text,
        "orientation": box.orientation,
        "film_size": box.film_size,
        "magnification": box.magnification,
        "border_density": box.border_density,
        "empty_image_density": box.empty_density,
        "min_density": box.min_density,
        "max_density": box.max_density,
        "trim": box.trim,
        "resolution": box.resolution,
        "image_boxes": [
            {
                "position": b.position,
                "rows": int(b.image.Rows),
                "columns": int(b.image.Columns),
                "polarity": b.polarity,
            }
            for b in box.image_boxes
            if b.image is not None
        ],
        "annotations": {str(a.position): a.text for a in box.annotation_boxes if a.text},
    }
