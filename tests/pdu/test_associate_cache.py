"""AssociateCache: equal A-ASSOCIATE bytes decode to the PDU decoded before, and back."""

from __future__ import annotations

import pytest

from dicomnet_pdu.associate_cache import AssociateCache
from dicomnet_pdu.codec import decode_pdu, encode_pdu
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.errors import RemoteProtocolError
from dicomnet_pdu.framer import PDUFramer
from dicomnet_pdu.items import MaximumLength, PresentationContextRQ, UserInformation
from dicomnet_pdu.pdus import AAssociateRQ

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def _rq(calling: str = "SCU", *, contexts: int = 1) -> AAssociateRQ:
    return AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title=calling,
        presentation_contexts=tuple(
            PresentationContextRQ(
                context_id=2 * n + 1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)
            )
            for n in range(contexts)
        ),
        user_information=UserInformation(items=(MaximumLength(maximum_length=16384),)),
    )


def test_equal_bytes_give_the_pdu_decoded_before() -> None:
    cache = AssociateCache()
    data = encode_pdu(_rq())
    first = cache.decode(data)
    again = cache.decode(bytearray(data))  # another buffer with the same bytes
    assert first == decode_pdu(data)
    assert again is first


def test_different_bytes_decode_afresh() -> None:
    cache = AssociateCache()
    first = cache.decode(encode_pdu(_rq("ONE")))
    second = cache.decode(encode_pdu(_rq("TWO")))
    assert isinstance(second, AAssociateRQ)
    assert second.calling_ae_title == "TWO"
    assert first != second


def test_invalid_bytes_raise_every_time_and_are_not_kept() -> None:
    cache = AssociateCache()
    data = bytearray(encode_pdu(_rq()))
    data[6:8] = b"\x00\x00"  # protocol version kept, but break the called AE title below
    data[10:26] = b"\x00" * 16  # an all-NUL called AE title is invalid
    for _ in range(2):
        with pytest.raises(RemoteProtocolError):
            cache.decode(bytes(data))
    assert len(cache) == 0


def test_encode_gives_the_bytes_of_encode_pdu_and_keeps_them() -> None:
    cache = AssociateCache()
    rq = _rq()
    assert cache.encode(rq) == encode_pdu(rq)
    assert cache.encode(_rq()) is cache.encode(rq)  # an equal PDU: the same bytes object


def test_the_pdu_encoded_last_gives_its_bytes_without_being_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = AssociateCache()
    rq, other = _rq("ONE"), _rq("TWO")
    data = cache.encode(rq)
    hashed: list[AAssociateRQ] = []
    real_hash = AAssociateRQ.__hash__

    def counted(pdu: AAssociateRQ) -> int:
        hashed.append(pdu)
        return real_hash(pdu)

    monkeypatch.setattr(AAssociateRQ, "__hash__", counted)
    assert cache.encode(rq) is data
    assert hashed == []  # the very object encoded last: no walk of its items
    assert cache.encode(other) == encode_pdu(other)
    hashed.clear()
    assert cache.encode(_rq("ONE")) is data  # an equal PDU, another object: by its hash
    assert len(hashed) == 1
    assert cache.encode(rq) is data


def test_entries_are_bounded_oldest_forgotten_first() -> None:
    cache = AssociateCache(entries=2)
    datas = [encode_pdu(_rq(f"AE{n}")) for n in range(3)]
    kept = [cache.decode(d) for d in datas]
    assert len(cache) == 2
    assert cache.decode(datas[2]) is kept[2]
    assert cache.decode(datas[0]) is not kept[0]  # forgotten, decoded again
    assert cache.decode(datas[0]) == kept[0]


def test_a_pdu_over_the_size_limit_is_not_kept() -> None:
    big = _rq(contexts=20)
    data = encode_pdu(big)
    cache = AssociateCache(pdu_bytes=len(data) - 1)
    assert cache.decode(data) == big
    assert cache.encode(big) == data
    assert len(cache) == 0


def test_framer_and_connection_use_the_cache() -> None:
    cache = AssociateCache()
    data = encode_pdu(_rq())
    framer = PDUFramer(associate_cache=cache)
    framer.feed(data + data)
    first, second = framer.next_pdu(), framer.next_pdu()
    assert first is second and first == _rq()

    conn = ULConnection(Role.REQUESTOR, associate_cache=cache)
    conn.connect(_rq())
    conn.connection_made(0.0)
    assert b"".join(conn.data_to_send()) == data
    assert len(cache) == 2  # the decoded RQ and the encoded one
