"""multipart/related bodies (RFC 2387) as PS3.18 uses them: writing parts as a stream.

:class:`MultipartWriter` makes the boundary and the bytes between parts;
the routes stream each part's body themselves (from a file, in chunks), so a
response never holds more than one chunk. Reading a posted body is in
:mod:`.multipart_reader`.
"""

from __future__ import annotations

import uuid

__all__ = ["MultipartWriter", "related_content_type"]


def related_content_type(part_type: str, boundary: str) -> str:
    """``multipart/related; type="..."; boundary=...``."""
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


class MultipartWriter:
    """The delimiters of one multipart/related body."""

    def __init__(self, part_type: str) -> None:
        self.part_type = part_type
        self.boundary = f"dicomnet-{uuid.uuid4().hex}"
        self._parts = 0

    @property
    def content_type(self) -> str:
        """The response's ``Content-Type``."""
        return related_content_type(self.part_type, self.boundary)

    def part_header(self, content_type: str, extra: dict[str, str] | None = None) -> bytes:
        """The delimiter and headers that open the next part."""
        lead = b"" if self._parts == 0 else b"\r\n"
        self._parts += 1
        lines = [f"--{self.boundary}", f"Content-Type: {content_type}"]
        lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
        return lead + ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def close(self) -> bytes:
        """The closing delimiter."""
        lead = b"" if self._parts == 0 else b"\r\n"
        return lead + f"--{self.boundary}--\r\n".encode("latin-1")
