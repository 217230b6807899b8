"""Pixel data to a picture a browser shows: PNG or JPEG, 8 bits per channel.

Pure functions over numpy arrays and Pillow images; nothing here knows HTTP.
The grayscale pipeline follows PS3.4 N.2 (and PS3.3 C.11.2.1.2): stored
values -> Modality LUT or Rescale Slope/Intercept -> VOI (a window from the
request, else the data set's VOI LUT Sequence, else its first Window
Center/Width with its VOI LUT Function, else the frame's own minimum and
maximum) -> 0..255, inverted for MONOCHROME1. Colour stays colour: RGB (YBR
decoded to RGB by pydicom), PALETTE COLOR through its lookup tables.

Frames are read from the file one at a time (:func:`read_frame`), so a large
multi-frame instance is never decoded whole; compressed transfer syntaxes go
through pydicom's decoders (pylibjpeg for the JPEG family, the ``codecs``
extra). A source region and a viewport are applied after the VOI, as
PS3.18 §8.3.5.1 orders them.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi
from pydicom.pixels.utils import pixel_array

__all__ = [
    "MEDIA_TYPES",
    "THUMBNAIL_SIZE",
    "Frame",
    "MediaType",
    "NoSuchFrame",
    "RenderError",
    "Viewport",
    "Window",
    "WindowFunction",
    "encode_image",
    "frame_count",
    "picture",
    "read_frame",
    "render_frame",
    "thumbnail",
    "to_display",
    "window_lut",
]

WindowFunction = Literal["linear", "linear-exact", "sigmoid"]
MediaType = Literal["image/png", "image/jpeg"]
#: The rendered media types this module writes.
MEDIA_TYPES: Final[tuple[MediaType, ...]] = ("image/png", "image/jpeg")
#: The longest side of a thumbnail when the request names no viewport.
THUMBNAIL_SIZE: Final = 128
#: The largest picture any request may ask for (each side).
MAX_VIEWPORT: Final = 4096

#: Group 0028 and other elements the pipeline reads beside the pixel module.
_RENDER_TAGS: Final = [
    0x00280008,  # Number of Frames
    0x00281050,  # Window Center
    0x00281051,  # Window Width
    0x00281052,  # Rescale Intercept
    0x00281053,  # Rescale Slope
    0x00281054,  # Rescale Type
    0x00281056,  # VOI LUT Function
    0x00283000,  # Modality LUT Sequence
    0x00283010,  # VOI LUT Sequence
    0x00281101,  # Red Palette Color LUT Descriptor
    0x00281102,
    0x00281103,
    0x00281199,  # Palette Color LUT UID
    0x00281201,  # Red Palette Color LUT Data
    0x00281202,
    0x00281203,
    0x00281221,  # Segmented Red Palette Color LUT Data
    0x00281222,
    0x00281223,
    0x00080060,  # Modality
]

_VOI_FUNCTIONS: Final[dict[str, WindowFunction]] = {
    "LINEAR": "linear",
    "LINEAR_EXACT": "linear-exact",
    "SIGMOID": "sigmoid",
}


class RenderError(ValueError):
    """The instance or frame cannot be rendered (no pixel data, undecodable, no such frame)."""


class NoSuchFrame(RenderError):
    """The instance has no frame of that number (a bad request rather than a bad instance)."""


@dataclass(frozen=True, slots=True)
class Window:
    """A VOI window: centre, width and the function that maps through it."""

    center: float
    width: float
    function: WindowFunction = "linear"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.center) and np.isfinite(self.width)):
            raise ValueError("window centre and width must be finite numbers")
        if self.function == "linear" and self.width < 1:
            raise ValueError("a linear window's width must be at least 1")
        if self.width <= 0:
            raise ValueError("a window's width must be greater than 0")


@dataclass(frozen=True, slots=True)
class Viewport:
    """The picture's size (a box it fits in) and optionally the source region drawn.

    ``region`` is (sx, sy, sw, sh) in image pixels; a negative ``sw``/``sh``
    flips the region horizontally/vertically (PS3.18 §8.3.5.1.3).
    """

    width: int
    height: int
    region: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if not (0 < self.width <= MAX_VIEWPORT and 0 < self.height <= MAX_VIEWPORT):
            raise ValueError(f"viewport sides must be between 1 and {MAX_VIEWPORT}")
        if self.region is not None:
            sx, sy, sw, sh = self.region
            if sx < 0 or sy < 0 or sw == 0 or sh == 0:
                raise ValueError("a source region needs sx, sy >= 0 and sw, sh non-zero")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame and the attributes that say how to show it."""

    pixels: npt.NDArray[np.generic]
    attributes: Dataset


def frame_count(attributes: Dataset) -> int:
    """Number of Frames (1 when absent or unreadable)."""
    try:
        value = int(attributes.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1
    return max(value, 1)


def read_frame(path: str | os.PathLike[str], index: int) -> Frame:
    """Decode frame ``index`` (from 0) of the Part 10 file ``path``, and no other frame.

    Raises :class:`RenderError` when the file has no pixel data, the frame
    does not exist or the pixel data cannot be decoded here.
    """
    if index < 0:
        raise NoSuchFrame(f"no frame {index + 1}")
    attributes = Dataset()
    try:
        with open(path, "rb") as fh:
            pixels = pixel_array(fh, ds_out=attributes, specific_tags=_RENDER_TAGS, index=index)
    except (AttributeError, KeyError) as exc:
        raise RenderError(f"no pixel data to render ({exc})") from exc
    except IndexError as exc:
        raise NoSuchFrame(f"no frame {index + 1}") from exc
    except (ValueError, NotImplementedError, RuntimeError, TypeError, EOFError) as exc:
        if index >= frame_count(attributes) and "PixelData" not in attributes:
            raise NoSuchFrame(f"no frame {index + 1}") from exc
        raise RenderError(f"pixel data cannot be decoded: {exc}") from exc
    except Exception as exc:  # decoders also raise struct.error, zlib.error...: all mean "cannot"
        raise RenderError(f"pixel data cannot be decoded: {exc!r}") from exc
    if index >= frame_count(attributes):
        raise NoSuchFrame(f"no frame {index + 1}")
    return Frame(pixels=pixels, attributes=attributes)


def window_lut(values: npt.NDArray[np.generic], window: Window) -> npt.NDArray[np.uint8]:
    """Map ``values`` through ``window`` to 0..255 (PS3.3 C.11.2.1.2.1 / C.11.2.1.3.2)."""
    x = values.astype(np.float64, copy=False)
    c, w = window.center, window.width
    if window.function == "sigmoid":
        y = 255.0 / (1.0 + np.exp(np.clip(-4.0 * (x - c) / w, -60.0, 60.0)))
    elif window.function == "linear-exact":
        y = np.clip(((x - c) / w + 0.5) * 255.0, 0.0, 255.0)
    elif w <= 1:
        y = np.where(x <= c - 0.5, 0.0, 255.0)
    else:
        y = np.clip(((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0, 0.0, 255.0)
    return np.rint(y).astype(np.uint8)


def _first_number(value: object) -> float | None:
    if isinstance(value, (MultiValue, list, tuple)):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def data_set_window(attributes: Dataset) -> Window | None:
    """The data set's first Window Center/Width with its VOI LUT Function, if usable."""
    center = _first_number(attributes.get("WindowCenter"))
    width = _first_number(attributes.get("WindowWidth"))
    if center is None or width is None:
        return None
    function = _VOI_FUNCTIONS.get(str(attributes.get("VOILUTFunction", "LINEAR")).upper())
    try:
        return Window(center, width, function or "linear")
    except ValueError:
        return None


def _to_eight_bits(values: npt.NDArray[np.generic], bits: int) -> npt.NDArray[np.uint8]:
    if bits <= 8:
        clipped: npt.NDArray[np.uint8] = np.clip(values, 0, 255).astype(np.uint8)
        return clipped
    top = float((1 << bits) - 1)
    scaled: npt.NDArray[np.float64] = np.clip(values.astype(np.float64), 0, top) * (255.0 / top)
    return np.rint(scaled).astype(np.uint8)


def _voi_lut_bits(attributes: Dataset) -> int:
    item = attributes.VOILUTSequence[0]
    descriptor = list(item.LUTDescriptor)
    bits = int(descriptor[2]) if len(descriptor) > 2 else 8
    if bits <= 8 and item.get("LUTData") is not None:
        data = np.asarray(item.LUTData)
        if data.size and int(data.max()) > 255:
            bits = max(int(data.max()).bit_length(), 9)
    return bits


def _auto_window(values: npt.NDArray[np.generic]) -> Window:
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo:
        return Window(lo + 0.5, 1.0, "linear-exact")
    return Window((lo + hi) / 2.0, hi - lo, "linear-exact")


def _shown(
    values: npt.NDArray[np.generic],
    attributes: Dataset,
    window: Window | None,
    used: npt.NDArray[np.generic],
) -> npt.NDArray[np.uint8]:
    """Modality values to 0..255 through the VOI; ``used``: the values the frame really has."""
    if window is not None:
        shown = window_lut(values, window)
    elif "VOILUTSequence" in attributes and len(attributes.VOILUTSequence) > 0:
        try:
            shown = _to_eight_bits(apply_voi(values, attributes), _voi_lut_bits(attributes))
        except (AttributeError, ValueError, IndexError, TypeError):
            shown = window_lut(values, data_set_window(attributes) or _auto_window(used))
    else:
        shown = window_lut(values, data_set_window(attributes) or _auto_window(used))
    if str(attributes.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        shown = np.subtract(255, shown, dtype=np.uint8)
    return shown


def _grayscale(frame: Frame, window: Window | None) -> npt.NDArray[np.uint8]:
    """The grayscale pipeline; for 8- and 16-bit integers through a table of every stored value.

    A table of 256 or 65,536 entries costs nothing beside a large frame, and
    indexing it makes no floating-point copy of the frame.
    """
    attributes = frame.attributes
    pixels = frame.pixels
    if pixels.ndim == 3:  # a grayscale frame decoded with a samples axis of 1
        pixels = pixels[..., 0]
    if pixels.dtype.kind in "ui" and pixels.dtype.itemsize <= 2:
        index_type = np.uint8 if pixels.dtype.itemsize == 1 else np.uint16
        indices = pixels.view(index_type)
        domain = np.arange(1 << (8 * pixels.dtype.itemsize), dtype=np.int64)
        stored = domain.astype(index_type).view(pixels.dtype)  # the value of each index
        values = apply_modality_lut(stored, attributes)
        low, high = pixels.min(), pixels.max()
        used = values[(stored >= low) & (stored <= high)]
        table = _shown(values, attributes, window, used)
        shown: npt.NDArray[np.uint8] = table[indices]
        return shown
    values = apply_modality_lut(pixels, attributes)
    return _shown(values, attributes, window, values)


def to_display(frame: Frame, window: Window | None = None) -> npt.NDArray[np.uint8]:
    """8-bit pixels to show: (rows, columns) grayscale or (rows, columns, 3) RGB.

    ``window`` (from a request) overrides the data set's VOI for grayscale
    images; colour images ignore it.
    """
    attributes = frame.attributes
    photometric = str(attributes.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(attributes.get("SamplesPerPixel", 1) or 1)
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(frame.pixels, attributes)
        except (AttributeError, ValueError, KeyError, IndexError) as exc:
            raise RenderError(f"palette colour lookup tables unusable: {exc}") from exc
        bits = 16 if rgb.dtype.itemsize > 1 else 8
        return _to_eight_bits(rgb, bits)
    if samples == 3 or (frame.pixels.ndim == 3 and frame.pixels.shape[-1] == 3):
        bits = int(attributes.get("BitsStored", 8) or 8)
        return _to_eight_bits(frame.pixels, bits)
    if samples != 1:
        raise RenderError(f"{samples} samples per pixel cannot be rendered")
    return _grayscale(frame, window)


def _apply_region(image: Image.Image, region: tuple[int, int, int, int]) -> Image.Image:
    sx, sy, sw, sh = region
    box = (sx, sy, min(sx + abs(sw), image.width), min(sy + abs(sh), image.height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise RenderError("the source region lies outside the image")
    image = image.crop(box)
    if sw < 0:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if sh < 0:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to the largest size inside width x height that keeps the aspect ratio."""
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR)


def encode_image(image: Image.Image, media_type: MediaType, quality: int = 90) -> bytes:
    """PNG, or baseline JPEG (8-bit Huffman, PS3.18 §8.7.4) at ``quality`` 1..100."""
    out = io.BytesIO()
    if media_type == "image/jpeg":
        image.save(out, format="JPEG", quality=max(1, min(quality, 100)), progressive=False)
    else:
        image.save(out, format="PNG", compress_level=4)
    return out.getvalue()


def picture(
    frame: Frame, *, window: Window | None = None, viewport: Viewport | None = None
) -> Image.Image:
    """The frame as a Pillow image, windowed, cut to the region and fitted to the viewport."""
    try:
        shown = to_display(frame, window)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        if isinstance(exc, RenderError):
            raise
        # attribute values the pipeline cannot use (a text Rescale Slope, a short LUT...)
        raise RenderError(f"the image attributes cannot be applied: {exc}") from exc
    image = Image.fromarray(np.ascontiguousarray(shown), mode="RGB" if shown.ndim == 3 else "L")
    if viewport is not None:
        if viewport.region is not None:
            image = _apply_region(image, viewport.region)
        image = _fit(image, viewport.width, viewport.height)
    return image


def render_frame(
    path: str | os.PathLike[str],
    index: int,
    *,
    media_type: MediaType = "image/png",
    window: Window | None = None,
    viewport: Viewport | None = None,
    quality: int = 90,
) -> bytes:
    """Frame ``index`` (from 0) of the file ``path`` encoded as ``media_type``."""
    frame = read_frame(path, index)
    return encode_image(picture(frame, window=window, viewport=viewport), media_type, quality)


def thumbnail(
    path: str | os.PathLike[str],
    *,
    frame: int | None = None,
    media_type: MediaType = "image/jpeg",
    size: int = THUMBNAIL_SIZE,
    width: int | None = None,
    height: int | None = None,
) -> bytes:
    """A small picture of frame ``frame`` (from 0; default the middle one), within the bounds.

    The middle frame shows more of a cine loop than its first. Nothing but
    pixels is drawn (a thumbnail carries no patient information).
    """
    if frame is None:
        try:
            head = dcmread(path, stop_before_pixels=True, specific_tags=[0x00280008])
        except Exception as exc:  # a file pydicom cannot read is simply not renderable
            raise RenderError(f"unreadable instance: {exc}") from exc
        frame = frame_count(head) // 2
    image = picture(read_frame(path, frame))
    image.thumbnail((width or size, height or size), Image.Resampling.LANCZOS)
    return encode_image(image, media_type, 85)
