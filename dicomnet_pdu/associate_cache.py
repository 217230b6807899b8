"""A-ASSOCIATE-RQ and -AC PDUs kept with their bytes, so equal ones are coded only once.

A peer that opens association after association (a modality sending one study
per association, a monitor echoing every few seconds) sends the same
A-ASSOCIATE-RQ each time, and its partner answers with the same
A-ASSOCIATE-AC. :class:`AssociateCache` remembers the last few such PDUs of one
Application Entity both ways: bytes received that equal bytes seen before give
the PDU decoded then, and a PDU equal to one encoded before gives the bytes
encoded then. PDUs are immutable values, so the result is exactly what decoding
or encoding afresh would give; input that does not decode is never kept.

The cache is bounded in entries and in the size of a PDU it keeps, and belongs
to its owner (an AE or a server), never to the module.
"""

from __future__ import annotations

from typing import TypeVar

from .codec import decode_pdu, encode_pdu
from .pdus import PDU, AAssociateAC, AAssociateRQ

__all__ = ["ASSOCIATE_CACHE_ENTRIES", "ASSOCIATE_CACHE_PDU_BYTES", "AssociateCache"]

#: PDUs remembered each way (the oldest is forgotten first).
ASSOCIATE_CACHE_ENTRIES = 16
#: Largest PDU (header included) remembered; bigger ones are coded every time.
ASSOCIATE_CACHE_PDU_BYTES = 16 * 1024

_K = TypeVar("_K")
_V = TypeVar("_V")


class AssociateCache:
    """Decoded A-ASSOCIATE-RQ/AC PDUs by their bytes, and their bytes by the PDU."""

    __slots__ = ("_decoded", "_encoded", "_entries", "_last_encoded", "_pdu_bytes")

    def __init__(
        self,
        entries: int = ASSOCIATE_CACHE_ENTRIES,
        pdu_bytes: int = ASSOCIATE_CACHE_PDU_BYTES,
    ) -> None:
        self._entries = entries
        self._pdu_bytes = pdu_bytes
        self._decoded: dict[bytes, PDU] = {}
        self._encoded: dict[PDU, bytes] = {}
        # The PDU object encoded last and its bytes: a requestor sends the one
        # A-ASSOCIATE-RQ its AE keeps again and again, and a PDU's hash walks all
        # of its items (a dozen dataclass __hash__ calls) where this takes one test.
        self._last_encoded: tuple[PDU, bytes] | None = None

    def __len__(self) -> int:
        return len(self._decoded) + len(self._encoded)

    def decode(self, data: bytes | bytearray | memoryview) -> PDU:
        """:func:`~dicomnet_pdu.codec.decode_pdu` of one whole A-ASSOCIATE-RQ/AC PDU."""
        if len(data) > self._pdu_bytes:
            return decode_pdu(data)
        key = bytes(data)
        pdu = self._decoded.get(key)
        if pdu is None:
            pdu = decode_pdu(key)  # raises for invalid input: nothing is kept
            self._remember(self._decoded, key, pdu)
        return pdu

    def encode(self, pdu: AAssociateRQ | AAssociateAC) -> bytes:
        """:func:`~dicomnet_pdu.codec.encode_pdu` of an A-ASSOCIATE-RQ/AC."""
        last = self._last_encoded
        if last is not None and last[0] is pdu:
            return last[1]
        try:
            data = self._encoded.get(pdu)
        except TypeError:  # a field that is not hashable: encode every time
            return encode_pdu(pdu)
        if data is None:
            data = encode_pdu(pdu)
            if len(data) <= self._pdu_bytes:
                self._remember(self._encoded, pdu, data)
        if len(data) <= self._pdu_bytes:
            self._last_encoded = (pdu, data)
        return data

    def _remember(self, table: dict[_K, _V], key: _K, value: _V) -> None:
        if len(table) >= self._entries:
            del table[next(iter(table))]
        table[key] = value
