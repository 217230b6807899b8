"""Query parameters of the rendered and thumbnail resources (PS3.18 §8.3.5.1, §8.3.3.1).

Supported: ``accept`` (a rendered media type, read before the ``Accept``
header), ``quality`` (1..100, JPEG only), ``window`` (``center,width`` and
optionally the function ``linear``, ``linear-exact`` or ``sigmoid``) and
``viewport`` (``vw,vh`` and optionally the source region ``sx,sy,sw,sh``).
``annotation``, ``charset`` and ``iccprofile`` are accepted and ignored (the
standard lets an origin server leave parameters unsupported; nothing is
burned in), as is any unknown parameter. A parameter given more than once or
with a value that does not parse is a :class:`ParamError` (400 Bad Request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, cast

from .render import MAX_VIEWPORT, MEDIA_TYPES, MediaType, Viewport, Window, WindowFunction

__all__ = [
    "MAX_FRAMES_LISTED",
    "ParamError",
    "RenderParams",
    "parse_frame_list",
    "parse_render_params",
    "pick_media_type",
]

#: The most frame numbers one frames resource may list.
MAX_FRAMES_LISTED: Final = 1000
_FUNCTIONS: Final = ("linear", "linear-exact", "sigmoid")


class ParamError(ValueError):
    """A query parameter does not parse; the answer is 400 (Bad Request)."""


@dataclass(frozen=True, slots=True)
class RenderParams:
    """What a rendered request asks for beyond the resource itself."""

    window: Window | None = None
    viewport: Viewport | None = None
    quality: int = 90


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ParamError(f"{name} given {len(values)} times")
    return values[0]


def _numbers(text: str, name: str) -> list[float]:
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError as exc:
        raise ParamError(f"{name}: {text!r} is not a list of numbers") from exc
    if not all(abs(n) < 1e12 for n in numbers):
        raise ParamError(f"{name}: {text!r} is out of range")
    return numbers


def _integers(text: str, name: str) -> list[int]:
    parts = text.split(",")
    if not all(part.strip().lstrip("-").isdigit() for part in parts):
        raise ParamError(f"{name}: {text!r} is not a list of integers")
    return [int(part) for part in parts]


def parse_window(text: str) -> Window:
    """``center,width[,function]`` (PS3.18 §8.3.5.1.4)."""
    parts = text.split(",")
    if len(parts) not in (2, 3):
        raise ParamError(f"window: {text!r} is not center,width[,function]")
    function = parts[2].strip().lower() if len(parts) == 3 else "linear"
    if function not in _FUNCTIONS:
        raise ParamError(f"window: unknown function {parts[2]!r} (linear, linear-exact, sigmoid)")
    center, width = _numbers(",".join(parts[:2]), "window")
    try:
        return Window(center, width, cast(WindowFunction, function))
    except ValueError as exc:
        raise ParamError(f"window: {exc}") from exc


def parse_viewport(text: str, *, region: bool = True) -> Viewport:
    """``vw,vh[,sx,sy,sw,sh]`` (PS3.18 §8.3.5.1.3); a thumbnail takes ``vw,vh`` only."""
    numbers = _integers(text, "viewport")
    if len(numbers) not in ((2, 6) if region else (2,)):
        wanted = "vw,vh[,sx,sy,sw,sh]" if region else "vw,vh"
        raise ParamError(f"viewport: {text!r} is not {wanted}")
    try:
        if len(numbers) == 6:
            sx, sy, sw, sh = numbers[2:]
            return Viewport(numbers[0], numbers[1], (sx, sy, sw, sh))
        return Viewport(numbers[0], numbers[1])
    except ValueError as exc:
        raise ParamError(f"viewport: {exc} (at most {MAX_VIEWPORT} pixels a side)") from exc


def parse_render_params(
    params: Mapping[str, Sequence[str]], *, thumbnail: bool = False
) -> RenderParams:
    """The rendering parameters of a request (:class:`ParamError` when one does not parse)."""
    window_text = None if thumbnail else _single(params, "window")
    viewport_text = _single(params, "viewport")
    quality_text = None if thumbnail else _single(params, "quality")
    quality = 90
    if quality_text is not None:
        if not quality_text.isdigit() or not 1 <= int(quality_text) <= 100:
            raise ParamError(f"quality: {quality_text!r} is not an integer from 1 to 100")
        quality = int(quality_text)
    return RenderParams(
        window=parse_window(window_text) if window_text is not None else None,
        viewport=(
            parse_viewport(viewport_text, region=not thumbnail)
            if viewport_text is not None
            else None
        ),
        quality=quality,
    )


def parse_frame_list(text: str) -> list[int]:
    """``1,3,5``: frame numbers from 1, each positive (:class:`ParamError` otherwise)."""
    parts = text.split(",")
    if len(parts) > MAX_FRAMES_LISTED:
        raise ParamError(f"more than {MAX_FRAMES_LISTED} frame numbers")
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ParamError(f"frames: {text!r} is not a list of positive integers")
    return [int(part) for part in parts]


def _ranges(header: str) -> list[tuple[str, float]]:
    """(media type, q) of each media range in an Accept value, in order."""
    found: list[tuple[str, float]] = []
    for piece in header.split(","):
        fields = [f.strip() for f in piece.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for field in fields[1:]:
            name, _, value = field.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found.append((media, quality))
    return found


def pick_media_type(
    accept_param: Sequence[str], accept_headers: Sequence[str], *, default: MediaType
) -> MediaType | None:
    """The rendered media type to answer, or ``None`` (406 Not Acceptable).

    The ``accept`` query parameter, when present, replaces the header
    (PS3.18 §8.3.3.1). ``image/*`` and ``*/*`` get ``default``.
    """
    texts = list(accept_param) or list(accept_headers)
    ranges = [r for text in texts for r in _ranges(text)]
    if not ranges:
        return default
    best: tuple[float, int] | None = None
    chosen: MediaType | None = None
    for rank, (media, quality) in enumerate(ranges):
        if quality <= 0:
            continue
        if media in MEDIA_TYPES:
            candidate = media
        elif media in ("image/*", "*/*", "*"):
            candidate = default
        else:
            continue
        key = (quality, -rank)
        if best is None or key > best:
            best, chosen = key, candidate
    return chosen
