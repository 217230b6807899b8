"""A small multipart/related reader for the tests (independent of the server's)."""

from __future__ import annotations


def parse_parts(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """(headers, body) of each part."""
    boundary = next(
        p.split("=", 1)[1].strip('"')
        for p in (x.strip() for x in content_type.split(";"))
        if p.lower().startswith("boundary=")
    ).encode()
    parts = []
    chunks = body.split(b"--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.strip().split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, data))
    return parts
