"""The byte templates of C-STORE/C-ECHO command sets give what the general codec gives.

:func:`encode_command` and :func:`decode_command` try
:mod:`dicomnet.dimse.templates` first; for every message and every command set,
random or damaged, the answer (a value, or an error of the same kind and text)
must be the one of the element-table codec alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from dimse_strategies import messages, uids
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import commands as c
from dicomnet.dimse.codec import decode_command, decode_general, encode_command, encode_general
from dicomnet.dimse.errors import DimseError
from dicomnet.dimse.responses import build_response
from dicomnet.dimse.templates import decode_common, encode_common, store_rsp_command

COMMON = (c.CEchoRQ, c.CEchoRSP, c.CStoreRQ, c.CStoreRSP)

# Beside valid values: ones the general codec refuses, so both must refuse alike.
_odd_uids = st.sampled_from(["", "1.02.3", "1..2", "1.2.", "x", "1.2.3\u00e9", "1." + "2" * 70])
_odd_us = st.sampled_from([-1, 0x10000, 70000])


def _widened(cls: type[c.DimseMessage]) -> st.SearchStrategy[c.DimseMessage]:
    overrides: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        if field.name.endswith("_uid"):
            base = uids | _odd_uids
            overrides[field.name] = st.none() | base if field.default is None else base
        elif field.name in ("message_id", "message_id_being_responded_to", "status", "priority"):
            overrides[field.name] = st.integers(0, 0xFFFF) | _odd_us
        elif field.name == "error_comment":
            overrides[field.name] = st.none() | st.sampled_from(["", "  ", "disk full", "\u00e9"])
    return messages(cls, overrides)


def _outcome(function: Any, argument: Any) -> tuple[str, Any]:
    try:
        return "value", function(argument)
    except DimseError as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("cls", COMMON)
def test_encoding_equals_the_general_encoder(
    cls: type[c.DimseMessage], data: st.DataObject
) -> None:
    message = data.draw(_widened(cls))
    assert _outcome(encode_command, message) == _outcome(encode_general, message)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("cls", [*COMMON, c.CFindRQ, c.NGetRQ])
def test_a_message_id_given_apart_is_encoded_as_the_request_s_own(
    cls: type[c.DimseMessage], data: st.DataObject
) -> None:
    message = data.draw(_widened(cls) if cls in COMMON else messages(cls))
    message_id = data.draw(st.integers(0, 0xFFFF) | _odd_us)
    own = (
        dataclasses.replace(message, message_id=message_id)
        if isinstance(message, c.DimseRequest)
        else message  # a response has none: the argument changes nothing
    )
    given_apart = _outcome(lambda m: encode_command(m, message_id), message)
    assert given_apart == _outcome(encode_general, own) == _outcome(encode_command, own)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("cls", COMMON)
def test_decoding_equals_the_general_decoder(
    cls: type[c.DimseMessage], data: st.DataObject
) -> None:
    message = data.draw(messages(cls))
    encoded = encode_general(message)
    assert decode_command(encoded) == decode_general(encoded) == message


def _damaged(encoded: bytes, data: st.DataObject) -> bytes:
    buf = bytearray(encoded)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        at = data.draw(st.integers(0, max(0, len(buf) - 1)))
        if kind == "flip" and buf:
            buf[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del buf[at : at + data.draw(st.integers(1, 8))]
        elif kind == "insert":
            buf[at:at] = data.draw(st.binary(min_size=1, max_size=10))
        elif len(buf) >= 12:  # keep the group length right, so more gets past it
            buf[8:12] = (len(buf) - 12).to_bytes(4, "little")
    return bytes(buf)


@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_damaged_command_sets_decode_as_the_general_decoder_says(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(COMMON))
    damaged = _damaged(encode_general(data.draw(messages(cls))), data)
    assert _outcome(decode_command, damaged) == _outcome(decode_general, damaged)


@pytest.mark.parametrize(
    "message",
    [
        c.CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1"),
        c.CEchoRSP(
            message_id_being_responded_to=1, status=0, affected_sop_class_uid="1.2.840.10008.1.1"
        ),
        c.CStoreRQ(
            message_id=7,
            priority=c.Priority.LOW,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            affected_sop_instance_uid="1.2.3.4.5",
        ),
        c.CStoreRSP(
            message_id_being_responded_to=7,
            status=0xB000,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            affected_sop_instance_uid="1.2.3.4.5",
        ),
    ],
)
def test_the_usual_messages_take_the_templates(message: c.DimseMessage) -> None:
    encoded = encode_common(message)
    assert encoded == encode_general(message)
    assert decode_common(encoded) == message


@pytest.mark.parametrize(
    "message",
    [
        c.CStoreRSP(
            message_id_being_responded_to=7,
            status=0xA700,
            error_comment="out of space",
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            affected_sop_instance_uid="1.2.3.4.5",
        ),
        c.CStoreRQ(
            message_id=7,
            affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            affected_sop_instance_uid="1.2.3.4.5",
            move_originator_ae_title="MOVER",
            move_originator_message_id=3,
        ),
        c.CEchoRSP(message_id_being_responded_to=1, status=0),
    ],
)
def test_other_shapes_are_left_to_the_general_codec(message: c.DimseMessage) -> None:
    assert encode_common(message) is None
    assert decode_common(encode_general(message)) is None
    assert decode_command(encode_command(message)) == message


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_store_response_from_its_request_is_the_encoded_built_response(
    data: st.DataObject,
) -> None:
    request = data.draw(_widened(c.CStoreRQ))
    assert isinstance(request, c.CStoreRQ)
    status = data.draw(st.integers(0, 0xFFFF) | _odd_us)
    command = store_rsp_command(request, status)
    if command is None:
        # Only what the response leaves out or cannot hold: a UID that is not one, a
        # value out of range (the general way then answers or refuses).
        response = build_response(request, 0)
        assert (
            response.affected_sop_class_uid is None
            or response.affected_sop_instance_uid is None
            or not 0 <= status <= 0xFFFF
            or not 0 <= request.message_id <= 0xFFFF
        )
        return
    assert command == encode_general(build_response(request, status))


def test_the_usual_store_response_takes_the_template() -> None:
    request = c.CStoreRQ(
        message_id=7, affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        affected_sop_instance_uid="1.2.3.4.5",
    )  # fmt: skip
    assert store_rsp_command(request, 0xA700) == encode_command(build_response(request, 0xA700))
