"""Media types: parsing ``Accept`` and ``Content-Type`` and choosing what to answer.

A media range is a type (``application/dicom+json``, ``multipart/*``) with
parameters (``type``, ``transfer-syntax``, ``boundary``, ``q``). The routes
offer what they can produce as :class:`Offer` values; :func:`negotiate`
picks the first offer the client accepts with the highest quality, or
``None`` (the route answers 406).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["MediaRange", "Offer", "negotiate", "parse_accept", "parse_media_type"]


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One media type or range, its parameters (lower-case names) and quality."""

    type: str
    params: dict[str, str] = field(default_factory=dict)
    quality: float = 1.0

    def covers(self, media_type: str) -> bool:
        """Whether this range covers ``media_type`` (``*/*``, ``multipart/*``, exact)."""
        if self.type in ("*", "*/*"):
            return True
        major, _, minor = self.type.partition("/")
        want_major, _, _ = media_type.partition("/")
        if minor == "*":
            return major == want_major
        return self.type == media_type


@dataclass(frozen=True, slots=True)
class Offer:
    """Something a route can answer: a media type, and for multipart the part type."""

    media_type: str
    part_type: str | None = None
    #: Transfer syntaxes the route can give for the part ("*": as stored).
    transfer_syntaxes: tuple[str, ...] = ("*",)


def _split_params(text: str) -> list[str]:
    """Split at ``;`` outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_media_type(text: str) -> MediaRange:
    """One media type with parameters (``ValueError`` when it is not one)."""
    pieces = _split_params(text)
    media = pieces[0].strip().lower()
    if media != "*" and (media.count("/") != 1 or not all(media.split("/"))):
        raise ValueError(f"not a media type: {text!r}")
    params: dict[str, str] = {}
    quality = 1.0
    for piece in pieces[1:]:
        name, sep, value = piece.strip().partition("=")
        if not sep:
            if name:
                raise ValueError(f"bad media type parameter: {piece!r}")
            continue
        name = name.strip().lower()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name == "q":
            try:
                quality = float(value)
            except ValueError as exc:
                raise ValueError(f"bad quality: {value!r}") from exc
            if not 0.0 <= quality <= 1.0:
                raise ValueError(f"bad quality: {value!r}")
            continue
        params[name] = value
    return MediaRange(media, params, quality)


def _split_ranges(header: str) -> list[str]:
    """Split an Accept header at commas outside double quotes."""
    ranges: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            ranges.append("".join(current))
            current = []
            continue
        current.append(char)
    ranges.append("".join(current))
    return [r for r in (r.strip() for r in ranges) if r]


def parse_accept(headers: Iterable[str]) -> list[MediaRange]:
    """Every media range of the ``Accept`` header(s); ``*/*`` when there is none.

    Raises ``ValueError`` for a malformed range.
    """
    ranges = [parse_media_type(text) for header in headers for text in _split_ranges(header)]
    return ranges or [MediaRange("*/*")]


def _accepts(media: MediaRange, offer: Offer) -> bool:
    if not media.covers(offer.media_type) or media.quality <= 0:
        return False
    if offer.part_type is None:
        return True
    wanted = media.params.get("type")
    if wanted is not None and wanted.lower() != offer.part_type:
        return False
    syntax = media.params.get("transfer-syntax")
    return syntax is None or syntax == "*" or syntax in offer.transfer_syntaxes


def negotiate(accept: Sequence[MediaRange], offers: Sequence[Offer]) -> Offer | None:
    """The offer to answer with, or ``None`` when the client accepts none of them."""
    best: tuple[float, int] | None = None
    chosen: Offer | None = None
    for rank, offer in enumerate(offers):
        quality = max((m.quality for m in accept if _accepts(m, offer)), default=0.0)
        if quality <= 0:
            continue
        key = (quality, -rank)
        if best is None or key > best:
            best, chosen = key, offer
    return chosen
