"""P-DATA-TF PDUs laid out in a buffer that the data set is then read straight into.

A data set of known length (a file's, say) need not pass through intermediate
byte strings on its way to the socket. :class:`PDataRun` writes the 6-byte PDU
header and the 6-byte PDV header of each P-DATA-TF PDU into the sender's buffer
and asks the data set (a :class:`ReadableData`) to fill the payload slices between
them; the sender then writes the buffer with one call. The PDUs are byte for byte
those :func:`~dicomnet_pdu.pdv.fragment_message` cuts from the same bytes: one PDV
per PDU, every PDU but the last carrying ``max_payload`` bytes, the last fragment
flagged as such, and a data set of length 0 sent as one empty last fragment.

Nothing here performs I/O itself: the reading is the :class:`ReadableData`'s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import LocalProtocolError

__all__ = ["PDU_AND_PDV_HEADERS", "PDataRun", "ReadableData"]

PDU_AND_PDV_HEADERS = 12
"""A P-DATA-TF header (6 bytes) and the header of its one PDV (6 bytes)."""

_P_DATA_TF = 0x04
_LAST_BIT = 0x02
# PDU type, reserved, PDU length; PDV item length, presentation context ID, control header.
_HEADERS = struct.Struct(">BBIIBB")
_pack_headers_into = _HEADERS.pack_into


class ReadableData:
    """A data set of known length that a sender reads into buffers of its own.

    Subclasses give :attr:`length`, :meth:`readinto` and :meth:`chunks`. Iterating
    one yields :meth:`chunks`, so it is also an iterable of byte chunks: a sender
    that cannot lay PDUs out (packing a command and data into one PDU, say) frames
    it like any other.
    """

    __slots__ = ()

    @property
    def length(self) -> int:
        """The number of bytes of the data set."""
        raise NotImplementedError

    def readinto(self, views: list[memoryview]) -> None:
        """Fill each of ``views`` completely, in order, with the data set's next bytes.

        Raises when the bytes cannot be had (the sender then gives up the message).
        """
        raise NotImplementedError

    def chunks(self) -> Iterator[bytes]:
        """The whole data set in pieces (for framing that does not lay PDUs out)."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what reading holds (an open file); called when sending ends."""

    @property
    def can_sendfile(self) -> bool:
        """Whether :meth:`sendfile` can send bytes (the data set is in a file)."""
        return False

    def sendfile(self, socket_fd: int, count: int) -> int:
        """Send up to ``count`` of the next bytes to ``socket_fd`` directly, without
        waiting (``os.sendfile``); how many went (they count as read). 0 when none
        could: the sender then reads them with :meth:`readinto`."""
        return 0

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()


class PDataRun:
    """The data set of one message as P-DATA-TF PDUs, laid out batch by batch.

    ``max_payload`` is the peer's Maximum Length Received less the 6-byte PDV
    header. :meth:`fill` is called until :attr:`done`.
    """

    __slots__ = ("_context_id", "_data", "_max_payload", "_remaining", "_started")

    def __init__(self, context_id: int, data: ReadableData, max_payload: int) -> None:
        if max_payload < 1:
            raise LocalProtocolError(f"no room for data in a PDU: {max_payload}")
        self._context_id = context_id
        self._data = data
        self._max_payload = max_payload
        self._remaining = data.length
        self._started = False

    @property
    def done(self) -> bool:
        """Whether every PDU of the data set was laid out (and its payload read)."""
        return self._started and not self._remaining

    @property
    def largest_pdu(self) -> int:
        """The bytes of the largest PDU still to come: a buffer must hold at least this."""
        return PDU_AND_PDV_HEADERS + min(self._remaining, self._max_payload)

    @property
    def can_sendfile(self) -> bool:
        """Whether the data set's bytes may go to the socket by :meth:`sendfile`."""
        return self._data.can_sendfile

    def next_pdu(self) -> tuple[bytes, int]:
        """The headers of the next PDU and the length of its payload, which the caller
        sends next, by :meth:`sendfile` and :meth:`readinto`, in order."""
        count = min(self._remaining, self._max_payload)
        self._remaining -= count
        self._started = True
        control = 0 if self._remaining else _LAST_BIT
        return _HEADERS.pack(_P_DATA_TF, 0, count + 6, count + 2, self._context_id, control), count

    def sendfile(self, socket_fd: int, count: int) -> int:
        """:meth:`ReadableData.sendfile` of the data set (after :meth:`next_pdu`)."""
        return self._data.sendfile(socket_fd, count)

    def readinto(self, views: list[memoryview]) -> None:
        """:meth:`ReadableData.readinto` of the data set (after :meth:`next_pdu`)."""
        self._data.readinto(views)

    def fill(self, buffer: memoryview) -> int:
        """Lay out as many whole PDUs as fit at the start of ``buffer``, payloads read.

        Returns the number of bytes used. Raises :class:`LocalProtocolError` when
        not even the next PDU fits, and what :meth:`ReadableData.readinto` raises.
        """
        pack = _pack_headers_into
        context_id = self._context_id
        max_payload = self._max_payload
        remaining = self._remaining
        size = len(buffer)
        views: list[memoryview] = []
        position = 0
        while True:
            count = min(remaining, max_payload)
            end = position + PDU_AND_PDV_HEADERS + count
            if end > size:
                break
            remaining -= count
            control = 0 if remaining else _LAST_BIT
            pack(buffer, position, _P_DATA_TF, 0, count + 6, count + 2, context_id, control)
            if count:
                views.append(buffer[position + PDU_AND_PDV_HEADERS : end])
            position = end
            if not remaining:
                break
        if not position:
            raise LocalProtocolError(f"a buffer of {size} bytes cannot hold the next PDU")
        if views:
            self._data.readinto(views)
        self._remaining = remaining
        self._started = True
        return position
