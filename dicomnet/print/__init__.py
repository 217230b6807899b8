"""Film model and rendering for the Print Management SCP (PS3.4 Annex H).

* :mod:`.layout`: Image Display Format, Film Size ID and Film Orientation →
  where each image box lies on a film of a given resolution;
* :mod:`.model`: film sessions, film boxes, image boxes, annotation boxes and
  the printer's own settings (:class:`PrinterSettings`);
* :mod:`.attributes`: checking the attributes an SCU sends in N-CREATE/N-SET;
* :mod:`.pixels`: image pixels of a Basic Grayscale/Color Image Sequence item
  as arrays (numpy, only when a film is rendered);
* :mod:`.render`: a printed film → PNG (and PDF) with Pillow (the ``print`` extra).
"""

from __future__ import annotations

from .layout import BoxRect, DisplayFormat, FilmGeometry, film_geometry, parse_display_format
from .model import (
    AnnotationBox,
    FilmBox,
    FilmSession,
    ImageBox,
    PresentationLut,
    PrintedFilm,
    PrinterSettings,
)

__all__ = [
    "AnnotationBox",
    "BoxRect",
    "DisplayFormat",
    "FilmBox",
    "FilmGeometry",
    "FilmSession",
    "ImageBox",
    "PresentationLut",
    "PrintedFilm",
    "PrinterSettings",
    "film_geometry",
    "parse_display_format",
]
