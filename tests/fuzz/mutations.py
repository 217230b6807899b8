"""Hypothesis strategies that damage valid command sets and data sets (no tests here).

A command set is cut into its Implicit VR Little Endian elements, one
mutation is applied to the element list or to the encoded bytes, and the
result is encoded again: truncated elements, wrong value lengths, a bogus or
missing Command Group Length, unknown or foreign elements, duplicates, huge
lengths, flipped bytes.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

_ELEMENT = struct.Struct("<HHI")
_HUGE_LENGTHS = (0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x10000, 0xFFFF, 65537)

Element = tuple[int, int, bytes]  # (group, element, value)


def split_elements(data: bytes) -> list[Element]:
    """The elements of a well-formed Implicit VR Little Endian byte string."""
    out: list[Element] = []
    offset = 0
    while offset < len(data):
        group, element, length = _ELEMENT.unpack_from(data, offset)
        offset += 8
        out.append((group, element, data[offset : offset + length]))
        offset += length
    return out


def join_elements(elements: list[Element], lengths: dict[int, int] | None = None) -> bytes:
    """Encode elements; ``lengths`` overrides the length field of element number i."""
    lengths = lengths or {}
    return b"".join(
        _ELEMENT.pack(group, element, lengths.get(i, len(value))) + value
        for i, (group, element, value) in enumerate(elements)
    )


def _with_group_length(elements: list[Element]) -> bytes:
    body = join_elements([e for e in elements if e[:2] != (0, 0)])
    return _ELEMENT.pack(0, 0, 4) + struct.pack("<I", len(body)) + body


@st.composite
def mutated_command(draw: st.DrawFn, valid: bytes) -> bytes:
    """One mutation of the valid command set ``valid``."""
    elements = split_elements(valid)
    kind = draw(
        st.sampled_from(
            [
                "truncate",
                "drop",
                "duplicate",
                "length",
                "huge-length",
                "value",
                "group-length",
                "no-group-length",
                "unknown-element",
                "foreign-element",
                "shuffle",
                "command-field",
                "flip",
                "append-garbage",
                "none",
            ]
        )
    )
    index = draw(st.integers(0, len(elements) - 1))
    if kind == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "drop":
        del elements[index]
        return _with_group_length(elements)
    if kind == "duplicate":
        elements.insert(index, elements[index])
        return _with_group_length(elements)
    if kind in {"length", "huge-length"}:
        length = (
            draw(st.sampled_from(_HUGE_LENGTHS))
            if kind == "huge-length"
            else draw(st.integers(0, 80))
        )
        return join_elements(elements, {index: length})
    if kind == "value":
        group, element, _ = elements[index]
        elements[index] = (group, element, draw(st.binary(max_size=80)))
        return _with_group_length(elements)
    if kind == "group-length":
        body = join_elements(elements[1:])
        bogus = draw(st.integers(0, 0xFFFFFFFF))
        return _ELEMENT.pack(0, 0, 4) + struct.pack("<I", bogus) + body
    if kind == "no-group-length":
        return join_elements(elements[1:])
    if kind in {"unknown-element", "foreign-element"}:
        group = 0 if kind == "unknown-element" else draw(st.integers(1, 0xFFFF))
        extra = (group, draw(st.integers(1, 0xFFFF)), draw(st.binary(max_size=16)))
        elements.insert(draw(st.integers(1, len(elements))), extra)
        return _with_group_length(elements)
    if kind == "shuffle":
        return _with_group_length(draw(st.permutations(elements)))
    if kind == "command-field":
        field = draw(
            st.one_of(
                st.sampled_from([0x0001, 0x0020, 0x0021, 0x0030, 0x0FFF, 0x8001, 0x8030, 0x0100]),
                st.integers(0, 0xFFFF),
            )
        )
        elements = [
            (g, e, struct.pack("<H", field) if (g, e) == (0, 0x0100) else v) for g, e, v in elements
        ]
        return _with_group_length(elements)
    if kind == "flip":
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "append-garbage":
        return valid + draw(st.binary(min_size=1, max_size=40))
    return valid


# ------------------------------------------------------------------ data sets

_KNOWN_TAGS = (
    0x00080005,
    0x00080016,
    0x00080018,
    0x00080020,
    0x00080050,
    0x00080052,
    0x00080060,
    0x00100010,
    0x00100020,
    0x0020000D,
    0x0020000E,
    0x00400100,
    0x7FE00010,
    0xFFFEE000,
    0xFFFEE00D,
    0xFFFEE0DD,
)
_VRS = (b"AE", b"CS", b"DA", b"LO", b"PN", b"SH", b"SQ", b"UI", b"US", b"OB", b"UN", b"TM", b"ZZ")
_VALUES = st.one_of(
    st.binary(max_size=24),
    st.sampled_from(
        [b"STUDY ", b"PATIENT ", b"IMAGE ", b"SERIES", b"*", b"?", b"DOE^J*", b"20240101-", b"-"]
    ),
    st.text(max_size=12).map(lambda s: s.encode("utf-8")),
)


@st.composite
def dataset_bytes(draw: st.DrawFn, explicit: bool) -> bytes:
    """Element-shaped bytes in Little Endian: known or random tags, random VRs and lengths."""
    out = bytearray()
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(st.one_of(st.sampled_from(_KNOWN_TAGS), st.integers(0, 0xFFFFFFFF)))
        value = draw(_VALUES)
        length = draw(
            st.one_of(
                st.just(len(value)),
                st.just(0xFFFFFFFF),
                st.integers(0, 0xFFFF),
            )
        )
        out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        if explicit:
            vr = draw(st.sampled_from(_VRS))
            out += vr
            if vr in {b"SQ", b"OB", b"UN"}:
                out += b"\0\0" + struct.pack("<I", length)
            else:
                out += struct.pack("<H", length & 0xFFFF)
        else:
            out += struct.pack("<I", length)
        out += value
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(out)))
        out = out[:cut]
    return bytes(out)
