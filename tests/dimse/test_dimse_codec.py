"""Command set codec: golden bytes from PS3.7 layouts, round trips, malformed input."""

from __future__ import annotations

import struct

import pytest
from dimse_strategies import ALL_CLASSES, messages
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CommandDecodeError,
    CommandEncodeError,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    DimseMessage,
    MissingElementError,
    MistypedElementError,
    NGetRQ,
    Priority,
    UnknownCommandError,
    decode_command,
    encode_command,
    message_class,
    peek_command_field,
)
from dicomnet.errors import DimseError


def element(number: int, value: bytes) -> bytes:
    """An Implicit VR LE group-0000 element, written independently of the codec."""
    return struct.pack("<HHI", 0x0000, number, len(value)) + value


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def with_group_length(body: bytes) -> bytes:
    return element(0x0000, struct.pack("<I", len(body))) + body


# ---------------------------------------------------------------- golden bytes
# Written out by hand from PS3.7 §9.3.5 and §9.3.1: tag (group, element LE),
# 4-byte length, value; UIDs NUL-padded and AE titles space-padded to even size.

C_ECHO_RQ_BYTES = bytes.fromhex(
    "00000000 04000000 38000000"  # (0000,0000) UL 4: 56 bytes follow
    "00000200 12000000 312e322e3834302e31303030382e312e3100"  # (0000,0002) UI "1.2.840.10008.1.1\0"
    "00000001 02000000 3000"  # (0000,0100) Command Field 0030H
    "00001001 02000000 0100"  # (0000,0110) Message ID 1
    "00000008 02000000 0101"  # (0000,0800) Command Data Set Type 0101H: none
)
C_ECHO_RQ = CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1")

C_ECHO_RSP_BYTES = bytes.fromhex(
    "00000000 04000000 42000000"  # (0000,0000) 66 bytes follow
    "00000200 12000000 312e322e3834302e31303030382e312e3100"  # (0000,0002)
    "00000001 02000000 3080"  # (0000,0100) 8030H
    "00002001 02000000 0100"  # (0000,0120) Message ID Being Responded To 1
    "00000008 02000000 0101"  # (0000,0800) no data set
    "00000009 02000000 0000"  # (0000,0900) Status 0000H success
)
C_ECHO_RSP = CEchoRSP(
    message_id_being_responded_to=1, status=0, affected_sop_class_uid="1.2.840.10008.1.1"
)

C_STORE_RQ_BYTES = bytes.fromhex(
    "00000000 04000000 76000000"  # (0000,0000) 118 bytes follow
    "00000200 1a000000 312e322e3834302e31303030382e352e312e342e312e312e3700"  # SOP class + NUL
    "00000001 02000000 0100"  # (0000,0100) 0001H C-STORE-RQ
    "00001001 02000000 0500"  # (0000,0110) Message ID 5
    "00000007 02000000 0200"  # (0000,0700) Priority LOW
    "00000008 02000000 0100"  # (0000,0800) 0001H: data set follows
    "00000010 0a000000 312e322e332e342e3500"  # (0000,1000) "1.2.3.4.5\0"
    "00003010 08000000 4d4f564553435520"  # (0000,1030) "MOVESCU "
    "00003110 02000000 0300"  # (0000,1031) Move Originator Message ID 3
)
C_STORE_RQ = CStoreRQ(
    message_id=5,
    affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
    affected_sop_instance_uid="1.2.3.4.5",
    priority=Priority.LOW,
    move_originator_ae_title="MOVESCU",
    move_originator_message_id=3,
)

GOLDEN: list[tuple[DimseMessage, bytes]] = [
    (C_ECHO_RQ, C_ECHO_RQ_BYTES),
    (C_ECHO_RSP, C_ECHO_RSP_BYTES),
    (C_STORE_RQ, C_STORE_RQ_BYTES),
]


@pytest.mark.parametrize(("message", "data"), GOLDEN)
def test_golden_encode(message: DimseMessage, data: bytes) -> None:
    assert encode_command(message) == data


@pytest.mark.parametrize(("message", "data"), GOLDEN)
def test_golden_decode(message: DimseMessage, data: bytes) -> None:
    assert decode_command(data) == message
    assert decode_command(memoryview(data)) == message
    assert decode_command(bytearray(data)) == message


def test_golden_group_length_counts_everything_after_it() -> None:
    for _, data in GOLDEN:
        assert struct.unpack_from("<I", data, 8)[0] == len(data) - 12


def test_has_dataset_maps_to_command_data_set_type() -> None:
    assert decode_command(C_STORE_RQ_BYTES).has_dataset is True
    assert decode_command(C_ECHO_RQ_BYTES).has_dataset is False
    # Any value other than 0101H means a data set follows (PS3.7 Annex E).
    other = C_ECHO_RQ_BYTES.replace(
        bytes.fromhex("00000008020000000101"), bytes.fromhex("00000008020000003412")
    )
    assert decode_command(other).has_dataset is True


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip_every_message(cls: type[DimseMessage], data: st.DataObject) -> None:
    message = data.draw(messages(cls))
    encoded = encode_command(message)
    assert len(encoded) % 2 == 0
    assert peek_command_field(encoded) == cls.command_field
    assert decode_command(encoded) == message


def test_every_command_field_has_one_class() -> None:
    assert {cls.command_field for cls in ALL_CLASSES} == set(CommandField)
    for cls in ALL_CLASSES:
        assert message_class(cls.command_field) is cls
    assert message_class(0x1234) is None


def test_decode_accepts_any_element_order() -> None:
    elements = [
        element(0x0800, us(0x0101)),
        element(0x0110, us(9)),
        element(0x0002, b"1.2.840.10008.1.1\0"),
        element(0x0100, us(0x0030)),
    ]
    decoded = decode_command(with_group_length(b"".join(elements)))
    assert decoded == CEchoRQ(message_id=9, affected_sop_class_uid="1.2.840.10008.1.1")


def test_decode_skips_unknown_and_retired_group_0000_elements() -> None:
    body = (
        element(0x0001, struct.pack("<I", 1234))  # retired Length to End
        + element(0x0002, b"1.2.840.10008.1.1\0")
        + element(0x0100, us(0x0030))
        + element(0x0110, us(2))
        + element(0x0800, us(0x0101))
        + element(0x4000, b"RETIRED ")  # retired (0000,4000)
        + element(0x5555, b"")
    )
    assert decode_command(with_group_length(body)) == CEchoRQ(
        message_id=2, affected_sop_class_uid="1.2.840.10008.1.1"
    )


def test_decode_without_group_length_and_with_space_padded_uid() -> None:
    body = (
        element(0x0002, b"1.2.840.10008.1.1 ")
        + element(0x0100, us(0x0030))
        + element(0x0110, us(2))
        + element(0x0800, us(0x0101))
    )
    decoded = decode_command(body)
    assert isinstance(decoded, CEchoRQ)
    assert decoded.affected_sop_class_uid == "1.2.840.10008.1.1"


def test_optional_fields_are_left_out() -> None:
    encoded = encode_command(CStoreRSP(message_id_being_responded_to=1, status=0))
    numbers = []
    offset = 0
    while offset < len(encoded):
        _, number, length = struct.unpack_from("<HHI", encoded, offset)
        numbers.append(number)
        offset += 8 + length
    assert numbers == [0x0000, 0x0100, 0x0120, 0x0800, 0x0900]


def test_tag_lists_are_group_then_element() -> None:
    message = NGetRQ(
        message_id=1,
        requested_sop_class_uid="1.2.3",
        requested_sop_instance_uid="1.2.3.4",
        attribute_identifier_list=(0x00100010, 0x7FE00010),
    )
    encoded = encode_command(message)
    assert element(0x1005, bytes.fromhex("10001000 e07f1000")) in encoded
    assert decode_command(encoded) == message


# ---------------------------------------------------------------- malformed input


def test_truncated_command_set() -> None:
    for cut in (1, 7, 12, 20, len(C_STORE_RQ_BYTES) - 1):
        with pytest.raises(CommandDecodeError):
            decode_command(C_STORE_RQ_BYTES[:cut])


def test_element_length_past_the_end() -> None:
    bad = C_ECHO_RQ_BYTES[:-10] + element(0x0800, us(0x0101))[:4] + struct.pack("<I", 50) + us(1)
    with pytest.raises(CommandDecodeError, match="runs past the end") as info:
        decode_command(bad)
    assert info.value.tag == 0x0800
    assert info.value.message_id == 1


def test_group_length_disagreeing_with_data() -> None:
    bad = C_ECHO_RQ_BYTES[:8] + struct.pack("<I", 54) + C_ECHO_RQ_BYTES[12:]
    with pytest.raises(CommandDecodeError, match="Group Length"):
        decode_command(bad)


def test_element_outside_group_0000() -> None:
    bad = C_ECHO_RQ_BYTES + struct.pack("<HHI", 0x0008, 0x0016, 2) + b"12"
    with pytest.raises(CommandDecodeError, match=r"\(0008,0016\) outside group 0000"):
        decode_command(bad[12:])


def test_duplicate_element() -> None:
    bad = C_ECHO_RQ_BYTES[12:] + element(0x0110, us(2))
    with pytest.raises(CommandDecodeError, match="duplicate"):
        decode_command(bad)


def test_missing_message_id() -> None:
    body = (
        element(0x0002, b"1.2.840.10008.1.1\0")
        + element(0x0100, us(0x0030))
        + element(0x0800, us(0x0101))
    )
    with pytest.raises(MissingElementError) as info:
        decode_command(with_group_length(body))
    error = info.value
    assert error.tag == 0x0110
    assert error.command_field == CommandField.C_ECHO_RQ
    assert error.message_id is None
    assert error.sop_class_uid == "1.2.840.10008.1.1"
    assert not isinstance(error, CommandDecodeError)
    assert isinstance(error, DimseError)


def test_missing_affected_sop_class_uid() -> None:
    body = (
        element(0x0100, us(0x0001))
        + element(0x0110, us(77))
        + element(0x0700, us(0))
        + element(0x0800, us(0x0001))
        + element(0x1000, b"1.2.3.4\0")
    )
    with pytest.raises(MissingElementError, match="affected_sop_class_uid") as info:
        decode_command(with_group_length(body))
    assert info.value.tag == 0x0002
    assert info.value.command_field == CommandField.C_STORE_RQ
    assert info.value.message_id == 77
    assert info.value.sop_instance_uid == "1.2.3.4"


def test_empty_mandatory_value_counts_as_missing() -> None:
    body = (
        element(0x0002, b"")
        + element(0x0100, us(0x0030))
        + element(0x0110, us(3))
        + element(0x0800, us(0x0101))
    )
    with pytest.raises(MissingElementError):
        decode_command(body)


def test_missing_command_field() -> None:
    with pytest.raises(MissingElementError, match="Command Field") as info:
        decode_command(element(0x0110, us(3)))
    assert info.value.command_field is None
    assert info.value.message_id == 3


def test_unknown_command_field() -> None:
    with pytest.raises(UnknownCommandError) as info:
        decode_command(element(0x0100, us(0x0031)) + element(0x0110, us(3)))
    assert info.value.message_id == 3
    assert isinstance(info.value, CommandDecodeError)


def test_mistyped_us_element() -> None:
    bad = C_ECHO_RQ_BYTES[12:].replace(element(0x0110, us(1)), element(0x0110, b"\x01\x00\x00\x00"))
    with pytest.raises(MistypedElementError) as info:
        decode_command(bad)
    assert info.value.tag == 0x0110
    assert info.value.command_field == CommandField.C_ECHO_RQ


def test_mistyped_uid_and_tag_list() -> None:
    non_ascii = C_ECHO_RQ_BYTES[12:].replace(b"1.2.840.10008.1.1\0", b"1.2.840.10008.1.\xff\0")
    with pytest.raises(MistypedElementError):
        decode_command(non_ascii)
    body = (
        element(0x0003, b"1.2\0")
        + element(0x0100, us(0x0110))
        + element(0x0110, us(1))
        + element(0x0800, us(0x0101))
        + element(0x1001, b"1.3\0")
        + element(0x1005, b"\x10\x00\x10")
    )
    with pytest.raises(MistypedElementError):
        decode_command(body)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_dimse_error(data: bytes) -> None:
    try:
        message = decode_command(data)
    except DimseError:
        return
    assert type(message) in ALL_CLASSES


@given(st.data())
def test_corrupted_messages_decode_or_raise_dimse_error(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(ALL_CLASSES))
    encoded = bytearray(encode_command(data.draw(messages(cls))))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = data.draw(st.integers(0, 255))
    try:
        message = decode_command(encoded)
    except DimseError:
        return
    assert type(message) in ALL_CLASSES


def test_peek_command_field() -> None:
    assert peek_command_field(C_STORE_RQ_BYTES) == 0x0001
    assert peek_command_field(memoryview(C_ECHO_RSP_BYTES)) == 0x8030
    assert peek_command_field(C_STORE_RQ_BYTES[:30]) is None
    assert peek_command_field(b"") is None
    assert peek_command_field(element(0x0100, b"\x01")) is None


# ---------------------------------------------------------------- encode checks


@pytest.mark.parametrize(
    "message",
    [
        CEchoRQ(message_id=70000, affected_sop_class_uid="1.2"),
        CEchoRQ(message_id=-1, affected_sop_class_uid="1.2"),
        CEchoRQ(message_id=1, affected_sop_class_uid="1.02"),
        CEchoRQ(message_id=1, affected_sop_class_uid="1." + "2" * 63),
        CEchoRQ(message_id=1, affected_sop_class_uid=""),
        CEchoRSP(message_id_being_responded_to=1, status=0, error_comment="x" * 65),
        CEchoRSP(message_id_being_responded_to=1, status=0, error_comment="caf\u00e9"),
        CEchoRSP(message_id_being_responded_to=1, status=0, error_comment="a\\b"),
        CEchoRSP(message_id_being_responded_to=1, status=0, offending_element=(1 << 32,)),
        CStoreRQ(
            message_id=1,
            affected_sop_class_uid="1.2",
            affected_sop_instance_uid="1.3",
            move_originator_ae_title="A" * 17,
        ),
        CCancelRQ(message_id_being_responded_to=0x10000),
    ],
)
def test_encode_rejects_bad_values(message: DimseMessage) -> None:
    with pytest.raises(CommandEncodeError):
        encode_command(message)


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(CommandEncodeError):
        encode_command("C-ECHO")  # type: ignore[arg-type]
