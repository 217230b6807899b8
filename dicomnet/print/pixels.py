"""The pixels of a Basic Grayscale or Color Image Sequence item (PS3.4 H.4.3).

:func:`check_image_item` checks an item when it arrives (N-SET) without
decoding it; :func:`grayscale_values` and :func:`color_values` decode it when
the film is rendered (numpy, from the ``print`` extra).

Grayscale items hold MONOCHROME1 or MONOCHROME2 pixels, 8 bits stored in 8 or
12 bits stored in 16 (PS3.4 H.4.3.1.2.1.1); color items RGB, 8 bits, pixel-
or plane-interleaved (H.4.3.2.2.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from pydicom.dataset import Dataset

__all__ = ["ImageProblem", "check_image_item", "color_values", "grayscale_values", "pixel_aspect"]

_GRAYSCALE_BITS = ((8, 8, 7), (16, 12, 11), (16, 8, 7), (16, 16, 15))


@dataclass(frozen=True, slots=True)
class ImageProblem(Exception):
    """An image item that cannot be printed: the attribute at fault and why."""

    tag: int
    reason: str
    missing: bool = False

    def __str__(self) -> str:
        return self.reason


_REQUIRED = (
    ("SamplesPerPixel", 0x00280002),
    ("PhotometricInterpretation", 0x00280004),
    ("Rows", 0x00280010),
    ("Columns", 0x00280011),
    ("BitsAllocated", 0x00280100),
    ("BitsStored", 0x00280101),
    ("HighBit", 0x00280102),
    ("PixelRepresentation", 0x00280103),
    ("PixelData", 0x7FE00010),
)


def check_image_item(item: Dataset, *, color: bool) -> None:
    """Raise :class:`ImageProblem` unless ``item`` is a printable image of its kind."""
    for keyword, tag in _REQUIRED:
        if keyword not in item:
            raise ImageProblem(tag, f"image has no {keyword}", missing=True)
    try:
        samples = int(item.SamplesPerPixel)
        rows, columns = int(item.Rows), int(item.Columns)
        bits = (int(item.BitsAllocated), int(item.BitsStored), int(item.HighBit))
        representation = int(item.PixelRepresentation)
        photometric = str(item.PhotometricInterpretation).strip()
    except (TypeError, ValueError) as exc:
        raise ImageProblem(0x00280002, f"unreadable image attributes: {exc}") from None
    if rows < 1 or columns < 1:
        raise ImageProblem(0x00280010, f"image of {rows} x {columns} pixels")
    if representation != 0:
        raise ImageProblem(0x00280103, "pixel representation must be 0 (unsigned)")
    if color:
        if samples != 3 or photometric != "RGB":
            raise ImageProblem(0x00280004, f"color image must be RGB, 3 samples: {photometric}")
        if bits != (8, 8, 7):
            raise ImageProblem(0x00280100, f"color image must have 8 bits, not {bits}")
        planar = int(item.get("PlanarConfiguration", 0) or 0)
        if planar not in (0, 1):
            raise ImageProblem(0x00280006, f"planar configuration {planar}")
    else:
        if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise ImageProblem(0x00280004, f"grayscale image must be MONOCHROME1/2: {photometric}")
        if bits not in _GRAYSCALE_BITS:
            raise ImageProblem(0x00280101, f"grayscale image with bits {bits} is not printable")
    expected = rows * columns * samples * (bits[0] // 8)
    data = item.PixelData
    if data is None or len(data) < expected:
        raise ImageProblem(0x7FE00010, f"pixel data has {len(data or b'')} of {expected} bytes")
    pixel_aspect(item)


def pixel_aspect(item: Dataset) -> float:
    """Pixel Aspect Ratio (0028,0034) as vertical / horizontal size (1.0 when absent)."""
    value = item.get("PixelAspectRatio")
    if not value:
        return 1.0
    try:
        vertical, horizontal = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ImageProblem(0x00280034, f"pixel aspect ratio {value!r}") from None
    if vertical <= 0 or horizontal <= 0 or not 0.1 <= vertical / horizontal <= 10:
        raise ImageProblem(0x00280034, f"pixel aspect ratio {value!r}")
    return vertical / horizontal


def grayscale_values(item: Dataset) -> npt.NDArray[Any]:
    """The image as float32 in 0..1, 1 the brightest (MONOCHROME1 is inverted here)."""
    import numpy as np  # noqa: PLC0415 (numpy comes with the print extra)

    rows, columns = int(item.Rows), int(item.Columns)
    stored = int(item.BitsStored)
    dtype = np.uint8 if int(item.BitsAllocated) == 8 else np.dtype("<u2")
    raw = np.frombuffer(bytes(item.PixelData), dtype=dtype, count=rows * columns)
    masked = np.bitwise_and(raw.astype(np.uint32), np.uint32((1 << stored) - 1))
    values: npt.NDArray[np.float32] = masked.astype(np.float32) / np.float32((1 << stored) - 1)
    values = values.reshape(rows, columns)
    if str(item.PhotometricInterpretation).strip() == "MONOCHROME1":
        values = 1.0 - values
    return values


def color_values(item: Dataset) -> npt.NDArray[Any]:
    """The image as rows x columns x 3 uint8 RGB."""
    import numpy as np  # noqa: PLC0415 (numpy comes with the print extra)

    rows, columns = int(item.Rows), int(item.Columns)
    raw = np.frombuffer(bytes(item.PixelData), dtype=np.uint8, count=rows * columns * 3)
    if int(item.get("PlanarConfiguration", 0) or 0) == 1:
        return np.ascontiguousarray(raw.reshape(3, rows, columns).transpose(1, 2, 0))
    return raw.reshape(rows, columns, 3)
