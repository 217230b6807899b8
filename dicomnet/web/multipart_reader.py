"""Reading a multipart/related body as it arrives (sans-IO, RFC 2046 §5.1.1).

:class:`MultipartReader` is fed the body's bytes in pieces of any size and
returns events: :class:`PartStart` (a part's headers), ``bytes`` (a piece of
its body) and :class:`PartEnd` (its closing delimiter arrived, so the part is
whole). Between calls it keeps less than one delimiter of body bytes plus an
unfinished header block (at most :data:`MAX_HEADER_BYTES`). :meth:`finish`
raises :class:`MultipartError` when the body ended before its closing
delimiter: a truncated body never completes its last part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_HEADER_BYTES", "MultipartError", "MultipartReader", "PartEnd", "PartStart"]

#: The most bytes one part's header block may take.
MAX_HEADER_BYTES: Final = 16 * 1024


class MultipartError(ValueError):
    """The body is not a well-formed multipart body (or ended early)."""


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part begins: its headers (names in lower case)."""

    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The part that began last is complete."""


Event = PartStart | PartEnd | bytes

_PREAMBLE, _AFTER_BOUNDARY, _HEADERS, _BODY, _DONE = range(5)


class MultipartReader:
    """Events of one multipart body with ``boundary``."""

    def __init__(self, boundary: str) -> None:
        if not boundary or len(boundary) > 70:
            raise MultipartError("bad boundary")
        self._dash_boundary = b"--" + boundary.encode("latin-1")
        self._delimiter = b"\r\n" + self._dash_boundary
        self._buffer = bytearray()
        self._state = _PREAMBLE
        #: Parts started so far.
        self.parts = 0

    @property
    def done(self) -> bool:
        """The closing delimiter was read."""
        return self._state == _DONE

    def feed(self, data: bytes) -> list[Event]:
        """The events ``data`` completes."""
        if self._state == _DONE:
            return []  # the epilogue is ignored
        self._buffer += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def finish(self) -> None:
        """The body ended: raises :class:`MultipartError` unless it was complete."""
        if self._state != _DONE:
            raise MultipartError("body ended before the closing boundary (truncated)")

    def _step(self, events: list[Event]) -> bool:
        buffer = self._buffer
        if self._state == _PREAMBLE:
            # The first delimiter may open the body without the CRLF before it.
            if buffer.startswith(self._dash_boundary):
                del buffer[: len(self._dash_boundary)]
                self._state = _AFTER_BOUNDARY
                return True
            found = buffer.find(self._delimiter)
            if found < 0:
                keep = len(self._delimiter) - 1
                if len(buffer) > keep:
                    del buffer[: len(buffer) - keep]
                return False
            del buffer[: found + len(self._delimiter)]
            self._state = _AFTER_BOUNDARY
            return True
        if self._state == _AFTER_BOUNDARY:
            if len(buffer) < 2:
                return False
            if buffer[:2] == b"--":
                self._state = _DONE
                buffer.clear()
                return False
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > 256:
                    raise MultipartError("junk after a boundary")
                return False
            if buffer[:end].strip(b" \t"):
                raise MultipartError("junk after a boundary")
            del buffer[: end + 2]
            self._state = _HEADERS
            return True
        if self._state == _HEADERS:
            if buffer.startswith(b"\r\n"):  # a part without headers
                del buffer[:2]
                return self._start(events, {})
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise MultipartError("part headers too long")
                return False
            headers = _parse_headers(bytes(buffer[:end]))
            del buffer[: end + 4]
            return self._start(events, headers)
        if self._state == _BODY:
            found = buffer.find(self._delimiter)
            if found < 0:
                keep = len(self._delimiter) - 1
                if len(buffer) > keep:
                    events.append(bytes(buffer[: len(buffer) - keep]))
                    del buffer[: len(buffer) - keep]
                return False
            if found:
                events.append(bytes(buffer[:found]))
            del buffer[: found + len(self._delimiter)]
            events.append(PartEnd())
            self._state = _AFTER_BOUNDARY
            return True
        return False

    def _start(self, events: list[Event], headers: dict[str, str]) -> bool:
        self.parts += 1
        events.append(PartStart(headers))
        self._state = _BODY
        return True


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise MultipartError(f"bad part header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers
