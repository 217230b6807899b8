"""Coercing 8-bit Pixel Data sent as OW to OB while a C-STORE data set streams in.

Kodak's Disk-Server (004, §3.1.3.2.2.1) "will not coerce any attribute except
for the following: pixel data (0x7FE0, 0x0010) of type OW is converted to OB
when bits allocated (0x0028, 0x0100) equal 8". A profile asks for it with
``[coercion] pixel_data_ow_to_ob_8bit = true``; the Storage SCP then answers
the ``coercion`` situation (B000, or the profile's code) for each coerced
instance.

Only explicit VR syntaxes carry the VR: in Little Endian the two VR bytes of
the Pixel Data header are rewritten; in Big Endian the value's bytes are also
put back in pixel order (OW in Big Endian holds each pair of 8-bit pixels
byte-swapped; OB has no byte order). An implicit VR data set carries no VR,
and an encapsulated or deflated one is left as it is.

The position of the header comes from the data set walker of the storage
check (:class:`~dicomnet.services.dataset_check.DatasetCheck`), which sees
each fragment before it is written. Until the header has been seen, the last
12 bytes (a header's length) are held back, so a header split between two
fragments is still rewritten before anything of it is written.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BITS_ALLOCATED", "OwToOb"]

BITS_ALLOCATED: Final = 0x00280100
_HEADER: Final = 12  # explicit VR header of an OB/OW element


class OwToOb:
    """Rewrites the stream of one data set; :meth:`feed` each fragment, then :meth:`finish`."""

    def __init__(self, *, big_endian: bool) -> None:
        self.big_endian = big_endian
        #: Whether the Pixel Data was coerced.
        self.coerced = False
        self._decided = False
        self._held = b""
        self._start = 0  # offset in the data set of self._held[0]
        self._swap = (0, 0)  # value bytes [from, to) to put back in pixel order (BE)

    def feed(
        self,
        chunk: bytes | bytearray | memoryview,
        header: tuple[int, bytes, int] | None,
        captured: dict[int, bytes],
    ) -> bytes:
        """The bytes of ``chunk`` (and of what was held) that can be written now.

        ``header`` is the walker's Pixel Data header (offset, VR, length) once
        seen; ``captured`` its captured values (Bits Allocated among them).
        """
        data = bytearray(self._held)
        data += chunk
        start = self._start
        if not self._decided and header is not None:
            self._decide(data, start, header, captured)
        end = self._swapped(data, start) if self._swap[0] < self._swap[1] else len(data)
        if not self._decided:
            end = min(end, max(0, len(data) - _HEADER))
        self._held = bytes(data[end:])
        self._start = start + end
        return bytes(data[:end])

    def finish(self) -> bytes:
        """What is still held (the data set ended)."""
        held, self._held = self._held, b""
        return held

    def _decide(
        self,
        data: bytearray,
        start: int,
        header: tuple[int, bytes, int],
        captured: dict[int, bytes],
    ) -> None:
        at, vr, length = header
        self._decided = True
        bits = captured.get(BITS_ALLOCATED, b"")
        eight = len(bits) == 2 and int.from_bytes(bits, "big" if self.big_endian else "little") == 8
        if vr != b"OW" or not eight or length == 0xFFFFFFFF:
            return
        offset = at - start
        if not 0 <= offset <= len(data) - _HEADER:  # cannot happen: the header is held back
            return
        data[offset + 4 : offset + 6] = b"OB"
        self.coerced = True
        if self.big_endian:
            self._swap = (at + _HEADER, at + _HEADER + length)

    def _swapped(self, data: bytearray, start: int) -> int:
        """Swap the byte pairs of the value in ``data``; how much of ``data`` is final."""
        first, last = self._swap  # the next byte of the value to swap, its end
        end_data = start + len(data)
        if first >= end_data:
            return len(data)  # the value has not begun yet
        stop = min(last, end_data)
        if (stop - first) % 2:  # the second byte of a pair has not arrived
            stop -= 1
        lo, hi = first - start, stop - start
        if hi > lo:
            view = bytes(data[lo:hi])
            data[lo:hi:2] = view[1::2]
            data[lo + 1 : hi : 2] = view[0::2]
        self._swap = (stop, last)
        if stop < last and stop < end_data:
            return stop - start  # hold the odd byte back
        return len(data)
