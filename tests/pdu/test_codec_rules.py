"""Decoding rules of PS3.8 beyond the happy path: reasons for malformed input, AE titles,
UID tolerance, unrecognized items skipped at every level, mandatory items, reserved fields,
maximum length 0."""

from __future__ import annotations

import pytest

from dicomnet_pdu.codec import decode_pdu, encode_pdu
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.codes import PresentationContextResult as Result
from dicomnet_pdu.errors import LocalProtocolError, RemoteProtocolError
from dicomnet_pdu.items import (
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import PDV, AAbort, AAssociateAC, AAssociateRQ, AReleaseRQ, PDataTF

h = bytes.fromhex
APP = b"1.2.840.10008.3.1.1.1"


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return bytes([pdu_type, 0]) + len(body).to_bytes(4, "big") + body


def _item(item_type: int, value: bytes) -> bytes:
    return bytes([item_type, 0]) + len(value).to_bytes(2, "big") + value


def _pc_rq(context_id: int = 1, *subs: bytes) -> bytes:
    if not subs:
        subs = (_item(0x30, b"1.2.840.10008.1.1"), _item(0x40, b"1.2.840.10008.1.2"))
    return _item(0x20, bytes([context_id, 0, 0, 0]) + b"".join(subs))


#: The smallest user information PS3.8 allows: one Maximum Length sub-item (16384).
MAX_LENGTH = h("51 00 0004 00004000")
UI = _item(0x50, MAX_LENGTH)


def _rq_body(
    called: bytes = b"SCP".ljust(16),
    calling: bytes = b"SCU".ljust(16),
    items: bytes | None = None,
    user_info: bytes = MAX_LENGTH,
) -> bytes:
    if items is None:
        items = _item(0x10, APP) + _pc_rq() + _item(0x50, user_info)
    return h("0001 0000") + called + calling + bytes(32) + items


def _expect(data: bytes, reason: AbortReason) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(data)
    assert info.value.abort_source == AbortSource.SERVICE_PROVIDER
    assert info.value.abort_reason == reason, info.value
    return info.value


def test_unknown_pdu_type_is_unrecognized_pdu() -> None:
    _expect(h("08 00 00000004 00000000"), AbortReason.UNRECOGNIZED_PDU)
    _expect(h("00 00 00000000"), AbortReason.UNRECOGNIZED_PDU)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        h("05 00 0000"),  # truncated header
        h("05 00 00000004 000000"),  # body shorter than announced
        h("05 00 00000004 0000000000"),  # body longer than announced
        h("05 00 00000002 0000"),  # release with length 2
        h("07 00 00000006 000000000000"),  # abort with length 6
        h("03 00 00000005 0001010100"),  # reject with length 5
        h("01 00 00000010") + bytes(16),  # associate shorter than its fixed fields
        h("04 00 00000000"),  # P-DATA-TF without PDV
        h("04 00 00000006 00000001 0100"),  # PDV item length 1
        h("04 00 00000006 00000009 0100"),  # PDV past the PDU
        h("04 00 00000003 000000"),  # truncated PDV header
        h("04 00 00000007 00000003 000000"),  # presentation context ID 0
        h("03 00 00000004 00 03 01 01"),  # reject result 3
        h("03 00 00000004 00 01 04 01"),  # reject source 4
        h("07 00 00000004 0000 03 00"),  # abort source 3
        h("07 00 00000004 0000 02 09"),  # provider abort reason 9
    ],
)
def test_bad_lengths_and_values_are_invalid_parameter_value(wire: bytes) -> None:
    _expect(wire, AbortReason.INVALID_PDU_PARAMETER_VALUE)


def test_reserved_fields_are_not_tested() -> None:
    assert decode_pdu(h("05 ff 00000004 ffffffff")) == AReleaseRQ()
    assert decode_pdu(h("07 ff 00000004 ffff 00 00")) == AAbort()
    pdata = decode_pdu(h("04 00 00000007 00000003 01 fe 61"))
    assert isinstance(pdata, PDataTF)
    # reserved bits of the message control header are ignored
    assert pdata.pdvs == (PDV(context_id=1, is_command=False, is_last=True, data=b"a"),)
    body = bytearray(_rq_body())
    body[2:4] = b"\xff\xff"  # reserved after the protocol version
    body[36:68] = b"\xaa" * 32  # 32 reserved bytes
    rq = decode_pdu(_pdu(1, bytes(body)))
    assert isinstance(rq, AAssociateRQ)
    assert rq.called_ae_title == "SCP"


def test_user_reason_of_user_abort_is_not_significant() -> None:
    assert decode_pdu(h("07 00 00000004 0000 00 63")) == AAbort(
        source=AbortSource.SERVICE_USER, reason=AbortReason.NOT_SPECIFIED
    )


VENDOR_ITEMS = _item(0x60, b"zz") + _item(0xFF, b"") + _item(0x99, bytes(300))


def _ac_body(items: bytes) -> bytes:
    return h("0001 0000") + b"SCP".ljust(16) + b"SCU".ljust(16) + bytes(32) + items


@pytest.mark.parametrize(
    "items",
    [
        VENDOR_ITEMS + _item(0x10, APP) + _pc_rq() + UI,  # before every item
        _item(0x10, APP) + _pc_rq() + VENDOR_ITEMS + UI,  # between the items
        _item(0x10, APP) + _pc_rq() + UI + VENDOR_ITEMS,  # after the user information
        _item(0x10, APP)  # inside the presentation context
        + _pc_rq(
            1, _item(0x30, b"1.2.840.10008.1.1"), VENDOR_ITEMS, _item(0x40, b"1.2.840.10008.1.2")
        )
        + UI,
        _item(0x10, APP) + _pc_rq() + _item(0x50, VENDOR_ITEMS + MAX_LENGTH + _item(0x5A, b"x")),
    ],
    ids=["first", "between", "last", "in-presentation-context", "in-user-information"],
)
def test_unrecognized_items_in_associate_rq_are_ignored_and_skipped(items: bytes) -> None:
    """PS3.8 §9.3: "Items of unrecognized types shall be ignored and skipped", at every level."""
    plain = decode_pdu(_pdu(1, _rq_body()))
    assert decode_pdu(_pdu(1, _rq_body(items=items))) == plain


@pytest.mark.parametrize(
    "items",
    [
        VENDOR_ITEMS + _item(0x10, APP) + _item(0x21, h("01 00 00 00") + _item(0x40, b"1.2")) + UI,
        _item(0x10, APP)
        + _item(0x21, h("01 00 00 00") + VENDOR_ITEMS + _item(0x40, b"1.2") + VENDOR_ITEMS)
        + _item(0x50, MAX_LENGTH + VENDOR_ITEMS)
        + VENDOR_ITEMS,
    ],
    ids=["variable-items", "sub-items"],
)
def test_unrecognized_items_in_associate_ac_are_ignored_and_skipped(items: bytes) -> None:
    ac = decode_pdu(_pdu(2, _ac_body(items)))
    assert isinstance(ac, AAssociateAC)
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=1, result=Result.ACCEPTANCE, transfer_syntax="1.2"),
    )
    assert ac.user_information == UserInformation(items=(MaximumLength(maximum_length=16384),))


@pytest.mark.parametrize(
    "items",
    [
        _item(0x10, APP) + _item(0x10, APP) + _pc_rq() + UI,  # two app contexts
        _item(0x10, APP) + _pc_rq() + UI + UI,  # two user infos
        _item(0x10, APP) + _item(0x21, h("01000000")) + UI,  # AC context in RQ
        _item(0x10, APP) + _pc_rq() + _item(0x40, b"1.2") + UI,  # stray sub-item
        _item(0x10, APP) + _pc_rq() + _item(0x52, b"1.2") + UI,  # stray user info sub-item
        _item(0x10, APP) + _pc_rq() + _item(0x50, MAX_LENGTH + _item(0x40, b"1.2")),
        _item(0x10, APP) + _pc_rq(1, _item(0x30, b"1.2"), _item(0x40, b"1.2"), MAX_LENGTH) + UI,
        _item(0x10, APP) + _pc_rq() + _item(0x50, MAX_LENGTH + MAX_LENGTH),  # two max lengths
    ],
)
def test_misplaced_items_are_unexpected_parameter(items: bytes) -> None:
    _expect(_pdu(1, _rq_body(items=items)), AbortReason.UNEXPECTED_PDU_PARAMETER)


@pytest.mark.parametrize(
    "items",
    [
        _pc_rq() + UI,  # no application context
        _item(0x10, APP) + UI,  # no presentation context
        _item(0x10, APP) + _pc_rq(2) + UI,  # even context ID
        _item(0x10, APP) + _pc_rq(1, _item(0x30, b"1.2")) + UI,  # no transfer syntax
        _item(0x10, APP) + _pc_rq(1, _item(0x40, b"1.2")) + UI,  # no abstract syntax
        _item(0x10, b"") + _pc_rq() + UI,  # empty application context name
        _item(0x10, b"1.2.\xff") + _pc_rq() + UI,  # non-ASCII UID
        _item(0x10, b"1" * 65) + _pc_rq() + UI,  # UID too long
        _item(0x10, APP) + _pc_rq() + _item(0x50, _item(0x51, b"\x00\x00")),  # short max length
        _item(0x10, APP) + _pc_rq() + _item(0x50, MAX_LENGTH + _item(0x55, b"")),  # empty name
        _item(0x10, APP) + _pc_rq() + _item(0x50, MAX_LENGTH + _item(0x58, h("09000000 0000"))),
        _item(0x10, APP) + _pc_rq(),  # no user information item
        _item(0x10, APP) + _pc_rq() + _item(0x50, b""),  # no maximum length sub-item
        _item(0x10, APP) + _pc_rq() + _item(0x50, _item(0x52, b"1.2.3")),  # no maximum length
        _item(0x10, APP) + _pc_rq(1) + _pc_rq(3) + _pc_rq(1) + UI,  # context ID 1 twice
        _item(0x10, APP) + _pc_rq() + b"\x50\x00",  # truncated item header
        _item(0x10, APP) + _pc_rq() + h("50 00 0010"),  # item past the PDU
    ],
)
def test_invalid_rq_contents_are_invalid_parameter_value(items: bytes) -> None:
    _expect(_pdu(1, _rq_body(items=items)), AbortReason.INVALID_PDU_PARAMETER_VALUE)


def test_unknown_user_information_sub_item_is_skipped() -> None:
    user_info = _item(0x51, h("00004000")) + _item(0x5F, b"vendor data") + _item(0x6A, b"")
    rq = decode_pdu(_pdu(1, _rq_body(user_info=user_info)))
    assert isinstance(rq, AAssociateRQ)
    assert rq.user_information == UserInformation(items=(MaximumLength(maximum_length=16384),))


def test_uid_trailing_nul_or_space_is_tolerated() -> None:
    pc = _pc_rq(1, _item(0x30, b"1.2.840.10008.1.1\x00"), _item(0x40, b"1.2.840.10008.1.2 "))
    items = _item(0x10, APP + b"\x00") + pc + _item(0x50, MAX_LENGTH + _item(0x52, b"1.2.3\x00"))
    rq = decode_pdu(_pdu(1, _rq_body(items=items)))
    assert isinstance(rq, AAssociateRQ)
    assert rq.application_context_name == APP.decode()
    assert rq.presentation_contexts == (
        PresentationContextRQ(
            context_id=1,
            abstract_syntax="1.2.840.10008.1.1",
            transfer_syntaxes=("1.2.840.10008.1.2",),
        ),
    )
    assert rq.user_information.implementation_class_uid == "1.2.3"
    # and the encoder sends them unpadded
    assert b"1.2.840.10008.1.1\x00" not in encode_pdu(rq)
    assert _item(0x40, b"1.2.840.10008.1.2") in encode_pdu(rq)


def test_maximum_length_zero_means_unlimited_and_round_trips() -> None:
    rq = decode_pdu(_pdu(1, _rq_body(user_info=_item(0x51, bytes(4)))))
    assert isinstance(rq, AAssociateRQ)
    assert rq.user_information.maximum_length == 0
    assert decode_pdu(encode_pdu(rq)) == rq


def test_ae_titles_are_space_padded_and_stripped() -> None:
    rq = decode_pdu(_pdu(1, _rq_body(called=b"  SCP  ".ljust(16), calling=b"A B".ljust(16))))
    assert isinstance(rq, AAssociateRQ)
    assert (rq.called_ae_title, rq.calling_ae_title) == ("SCP", "A B")
    wire = encode_pdu(rq)
    assert wire[10:26] == b"SCP             "
    assert wire[26:42] == b"A B             "
    # a full 16-character title takes the whole field
    rq16 = AAssociateRQ(
        called_ae_title="ABCDEFGHIJKLMNOP",
        calling_ae_title=" X ",
        presentation_contexts=rq.presentation_contexts,
    )
    assert rq16.calling_ae_title == "X"
    assert encode_pdu(rq16)[10:26] == b"ABCDEFGHIJKLMNOP"


@pytest.mark.parametrize(
    ("called", "calling"),
    [
        (b" " * 16, b"SCU".ljust(16)),
        (b"SCP".ljust(16), b" " * 16),
        (b"SC\\P".ljust(16), b"SCU".ljust(16)),
        (b"SC\x01P".ljust(16), b"SCU".ljust(16)),
        (b"SC\xe9P".ljust(16), b"SCU".ljust(16)),
    ],
)
def test_bad_ae_titles_in_rq_are_refused(called: bytes, calling: bytes) -> None:
    _expect(_pdu(1, _rq_body(called, calling)), AbortReason.INVALID_PDU_PARAMETER_VALUE)


@pytest.mark.parametrize("title", ["", "    ", "A" * 17, "caf\u00e9", "a\\b"])
def test_bad_ae_titles_are_refused_on_build(title: str) -> None:
    with pytest.raises(LocalProtocolError):
        AAssociateRQ(called_ae_title=title, calling_ae_title="SCU", presentation_contexts=())


def test_ac_ae_title_fields_are_echoed_and_not_tested() -> None:
    rq_body = _rq_body()
    ac_body = h("0001 0000") + b" " * 16 + b"\xff" * 16 + bytes(32) + _item(0x10, APP)
    ac = decode_pdu(_pdu(2, ac_body + UI))
    assert isinstance(ac, AAssociateAC)
    assert (ac.called_ae_title, ac.calling_ae_title) == ("", "")
    echoed = AAssociateAC(called_ae_title="SCP", calling_ae_title="SCU", presentation_contexts=())
    assert encode_pdu(echoed)[10:42] == rq_body[4:36]


def test_ac_rejected_context_transfer_syntax_not_tested() -> None:
    pc = _item(0x21, h("01 00 03 00") + _item(0x40, b"\xff\xfe"))
    ac_body = h("0001 0000") + b"SCP".ljust(16) + b"SCU".ljust(16) + bytes(32)
    ac = decode_pdu(_pdu(2, ac_body + _item(0x10, APP) + pc + UI))
    assert isinstance(ac, AAssociateAC)
    assert ac.presentation_contexts[0].transfer_syntax == ""
    accepted = _item(0x21, h("01 00 00 00") + _item(0x40, b"\xff\xfe"))
    _expect(
        _pdu(2, ac_body + _item(0x10, APP) + accepted + UI),
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
    )


def test_protocol_version_is_kept_for_the_acceptor_to_judge() -> None:
    body = bytearray(_rq_body())
    body[0:2] = b"\x00\x02"
    rq = decode_pdu(_pdu(1, bytes(body)))
    assert isinstance(rq, AAssociateRQ)
    assert rq.protocol_version == 2


@pytest.mark.parametrize(
    "items",
    [
        _item(0x10, APP),  # no user information
        _item(0x10, APP) + _item(0x50, b""),  # no maximum length
        _item(0x10, APP) + _item(0x50, MAX_LENGTH + MAX_LENGTH),  # two maximum lengths
        _item(0x10, APP)  # context ID 1 answered twice
        + _item(0x21, h("01 00 03 00"))
        + _item(0x21, h("01 00 03 00"))
        + UI,
    ],
    ids=["no-user-information", "no-maximum-length", "two-maximum-lengths", "repeated-id"],
)
def test_malformed_ac_is_an_invalid_pdu(items: bytes) -> None:
    """PS3.8 §9.3.3 and Annex D.1 bind the acceptor too: the requestor aborts (Evt19)."""
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(_pdu(2, _ac_body(items)))
    assert info.value.abort_reason in (
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
        AbortReason.UNEXPECTED_PDU_PARAMETER,
    )


@pytest.mark.parametrize(
    "pc",
    [
        _item(0x20, b"\x01\x00"),  # shorter than its 4 fixed bytes
        _pc_rq(1, _item(0x30, b"1.2"), _item(0x30, b"1.3"), _item(0x40, b"1.2")),
    ],
    ids=["short", "two-abstract"],
)
def test_bad_rq_presentation_context(pc: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(_pdu(1, _rq_body(items=_item(0x10, APP) + pc + UI)))
    assert info.value.abort_reason in (
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
        AbortReason.UNEXPECTED_PDU_PARAMETER,
    )


@pytest.mark.parametrize(
    ("pc", "reason"),
    [
        (_item(0x21, b"\x01\x00"), AbortReason.INVALID_PDU_PARAMETER_VALUE),
        (
            _item(0x21, h("01 00 07 00") + _item(0x40, b"1.2")),
            AbortReason.INVALID_PDU_PARAMETER_VALUE,
        ),
        (
            _item(0x21, h("01 00 00 00") + _item(0x40, b"1.2") + _item(0x40, b"1.3")),
            AbortReason.UNEXPECTED_PDU_PARAMETER,
        ),
        (_item(0x21, h("01 00 00 00") + _item(0x99, b"")), AbortReason.INVALID_PDU_PARAMETER_VALUE),
        (_item(0x21, h("01 00 00 00") + _item(0x30, b"1.2")), AbortReason.UNEXPECTED_PDU_PARAMETER),
    ],
    ids=["short", "result-7", "two-transfer-syntaxes", "only-unknown-sub-item", "abstract-in-ac"],
)
def test_bad_ac_presentation_context(pc: bytes, reason: AbortReason) -> None:
    _expect(_pdu(2, _ac_body(_item(0x10, APP) + pc + UI)), reason)


def test_encoder_refuses_items_that_do_not_fit_16_bit_lengths() -> None:
    from dicomnet_pdu.items import SOPClassExtendedNegotiation

    big = SOPClassExtendedNegotiation(
        sop_class_uid="1.2", service_class_application_information=bytes(70_000)
    )
    rq = AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextRQ(context_id=1, abstract_syntax="1.2", transfer_syntaxes=("1.2",)),
        ),
        user_information=UserInformation(items=(big,)),
    )
    with pytest.raises(LocalProtocolError):
        encode_pdu(rq)


def test_encoder_refuses_non_pdus() -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu("not a PDU")  # type: ignore[arg-type]


def test_non_byte_memoryviews_are_handled_as_bytes() -> None:
    from array import array

    words = array("H", [0x0102, 0x0304])
    pdata = PDataTF(
        pdvs=(PDV(context_id=1, is_command=False, is_last=True, data=memoryview(words)),)
    )
    wire = encode_pdu(pdata)
    assert wire[12:] == words.tobytes()
    assert decode_pdu(memoryview(array("B", wire))) == pdata
    assert decode_pdu(memoryview(wire).cast("B", (2, len(wire) // 2))) == pdata
