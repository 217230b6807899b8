"""How an image goes into its image box: magnification, decimation, cropping.

An image box has as many printable pixels as its rectangle on the film (the
printer's resolution, :attr:`~dicomnet.print.model.PrinterSettings.dpi`).
An image whose pixel matrix is larger than that is, by Requested
Decimate/Crop Behavior (2020,0040, PS3.3 C.13.5):

* ``DECIMATE``: shrunk to fit, answered with warning B60A (image decimated);
* ``CROP``: printed at one film pixel per image pixel, its middle part that
  fits, answered with warning B609 (image cropped);
* ``FAIL``: refused with failure C603 (image larger than the image box);
* not given: shrunk to fit, answered with warning B604 (image demagnified).

A smaller image is magnified to fill its box (Magnification Type REPLICATE,
BILINEAR, CUBIC) or printed one to one (NONE); Requested Image Size (width in
mm) sets the printed width when it fits in the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dicomnet.dimse.status import Status

__all__ = ["Fit", "fit_image"]

_OVERSIZE_STATUS: Final = {
    "DECIMATE": Status.IMAGE_DECIMATED,
    "CROP": Status.IMAGE_CROPPED,
    "FAIL": Status.IMAGE_LARGER_THAN_BOX,
    None: Status.IMAGE_DEMAGNIFIED,
}


@dataclass(frozen=True, slots=True)
class Fit:
    """Where an image of ``columns`` x ``rows`` goes in its box.

    ``width``/``height`` is the printed size in film pixels; ``crop`` the part
    of the image printed (x, y, width, height in image pixels; the whole image
    when ``None``); ``status`` the warning (or C603 failure) it earns, if any.
    """

    width: int
    height: int
    crop: tuple[int, int, int, int] | None
    status: int | None

    @property
    def refused(self) -> bool:
        """Whether the image cannot be printed in this box (C603)."""
        return self.status == Status.IMAGE_LARGER_THAN_BOX


def fit_image(
    columns: int,
    rows: int,
    box_width: int,
    box_height: int,
    *,
    magnification: str,
    behaviour: str | None = None,
    requested_width: int | None = None,
    aspect: float = 1.0,
) -> Fit:
    """Fit a ``columns`` x ``rows`` image into a ``box_width`` x ``box_height`` box.

    ``aspect`` is the pixel aspect ratio (vertical / horizontal size of a pixel).
    ``requested_width`` is Requested Image Size in film pixels.
    """
    columns, rows = max(1, columns), max(1, rows)
    shown_rows = max(1, round(rows * aspect))
    fit_scale = min(box_width / columns, box_height / shown_rows)
    behaviour = behaviour if behaviour in ("DECIMATE", "CROP", "FAIL") else None
    if columns > box_width or shown_rows > box_height:
        status = _OVERSIZE_STATUS[behaviour]
        if behaviour == "CROP":
            width, height = min(columns, box_width), min(shown_rows, box_height)
            x, y = (columns - width) // 2, (shown_rows - height) // 2
            crop_rows = max(1, round(height / aspect))
            crop_y = max(0, round(y / aspect))
            return Fit(width, height, (x, crop_y, width, crop_rows), int(status))
        width = max(1, min(box_width, round(columns * fit_scale)))
        height = max(1, min(box_height, round(shown_rows * fit_scale)))
        return Fit(width, height, None, int(status))
    if requested_width is not None and requested_width > 0:
        scale = min(requested_width / columns, fit_scale)
    elif magnification == "NONE":
        scale = 1.0
    else:
        scale = fit_scale
    width = max(1, min(box_width, round(columns * scale)))
    height = max(1, min(box_height, round(shown_rows * scale)))
    return Fit(width, height, None, None)
