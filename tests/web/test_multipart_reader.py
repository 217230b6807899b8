"""The streaming multipart reader: the same parts however the body is cut into pieces."""

from __future__ import annotations

import pytest

from dicomnet.web.multipart_reader import MultipartError, MultipartReader, PartEnd, PartStart

BODY = (
    b"preamble\r\n--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst --XyZ inline"
    b"\r\n--XyZ\r\n\r\nsecond body with \r\n-- inside\r\n--XyZ--\r\nepilogue"
)


def events_of(pieces: list[bytes]) -> list[object]:
    reader = MultipartReader("XyZ")
    events: list[object] = []
    for piece in pieces:
        events.extend(reader.feed(piece))
    reader.finish()
    merged: list[object] = []
    for event in events:
        if isinstance(event, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += event
        else:
            merged.append(event)
    return merged


EXPECTED = [
    PartStart({"content-type": "application/dicom"}),
    b"first --XyZ inline",
    PartEnd(),
    PartStart({}),
    b"second body with \r\n-- inside",
    PartEnd(),
]


def test_whole_body() -> None:
    assert events_of([BODY]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_every_split_point(cut: int) -> None:
    assert events_of([BODY[:cut], BODY[cut:]]) == EXPECTED


def test_byte_by_byte() -> None:
    assert events_of([BODY[n : n + 1] for n in range(len(BODY))]) == EXPECTED


def test_truncated_body_never_ends_its_last_part() -> None:
    reader = MultipartReader("XyZ")
    cut = BODY.index(b"\r\n--XyZ--")
    events = reader.feed(BODY[:cut])
    assert events.count(PartEnd()) == 1  # the second part is not complete
    with pytest.raises(MultipartError, match="truncated"):
        reader.finish()


def test_junk_after_boundary_and_huge_headers() -> None:
    with pytest.raises(MultipartError):
        MultipartReader("XyZ").feed(b"--XyZjunk\r\n\r\n")
    with pytest.raises(MultipartError):
        MultipartReader("XyZ").feed(b"--XyZ\r\n" + b"X-A: b\r\n" * 5000)
