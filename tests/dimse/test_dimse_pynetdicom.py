"""Cross-check of the command set codec against pynetdicom, both ways, for every message.

pynetdicom builds its command sets as pydicom Datasets (``dimse_messages``)
from service primitives (``dimse_primitives``) and encodes them with pydicom,
so it is an independent encoder and decoder of the same PS3.7 layouts.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from conftest import require_module
from dimse_strategies import ALL_CLASSES, messages
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import DimseMessage, Priority, decode_command, encode_command


@pytest.fixture(autouse=True)
def _pynetdicom() -> None:
    require_module("pynetdicom")


# dicomnet field -> PS3.7 keyword used by pydicom and pynetdicom.
KEYWORDS = {
    "affected_sop_class_uid": "AffectedSOPClassUID",
    "requested_sop_class_uid": "RequestedSOPClassUID",
    "message_id": "MessageID",
    "message_id_being_responded_to": "MessageIDBeingRespondedTo",
    "move_destination": "MoveDestination",
    "priority": "Priority",
    "status": "Status",
    "offending_element": "OffendingElement",
    "error_comment": "ErrorComment",
    "error_id": "ErrorID",
    "affected_sop_instance_uid": "AffectedSOPInstanceUID",
    "requested_sop_instance_uid": "RequestedSOPInstanceUID",
    "event_type_id": "EventTypeID",
    "attribute_identifier_list": "AttributeIdentifierList",
    "action_type_id": "ActionTypeID",
    "number_of_remaining_suboperations": "NumberOfRemainingSuboperations",
    "number_of_completed_suboperations": "NumberOfCompletedSuboperations",
    "number_of_failed_suboperations": "NumberOfFailedSuboperations",
    "number_of_warning_suboperations": "NumberOfWarningSuboperations",
    "move_originator_ae_title": "MoveOriginatorApplicationEntityTitle",
    "move_originator_message_id": "MoveOriginatorMessageID",
}
TAG_LISTS = ("offending_element", "attribute_identifier_list")


def message_name(cls: type[DimseMessage]) -> str:
    """pynetdicom's class name: CStoreRQ -> C_STORE_RQ, NEventReportRSP -> N_EVENT_REPORT_RSP."""
    from pynetdicom import dimse_messages

    for name, (_, message_cls) in dimse_messages._MESSAGE_TYPES.items():
        if name == cls.command_field:
            return str(message_cls.__name__)
    raise AssertionError(cls)


def pynetdicom_fields(cls: type[DimseMessage]) -> set[str]:
    """Our fields that pynetdicom also carries in this message's command set."""
    from pynetdicom import dimse_messages

    keywords = set(dimse_messages._COMMAND_SET_KEYWORDS[message_name(cls).replace("_", "-")])
    ours = {f.name for f in dataclasses.fields(cls)} - {"has_dataset"}
    return {name for name in ours if KEYWORDS[name] in keywords}


def restricted(cls: type[DimseMessage]) -> st.SearchStrategy[DimseMessage]:
    """Messages using only what pynetdicom supports; other optional fields left unset."""
    from pynetdicom import dimse_messages

    supported = pynetdicom_fields(cls)
    overrides: dict[str, st.SearchStrategy[Any]] = {"priority": st.sampled_from(list(Priority))}
    for field in dataclasses.fields(cls):
        if field.name not in supported and field.name != "has_dataset":
            overrides[field.name] = st.just(field.default)
    if message_name(cls) not in dimse_messages._DATASET_KEYWORDS:
        overrides["has_dataset"] = st.just(False)  # pynetdicom never sends one here
    return messages(cls, overrides)


def to_pynetdicom_bytes(message: DimseMessage) -> bytes:
    """Encode ``message`` through a pynetdicom primitive and its DIMSEMessage."""
    from pynetdicom import dimse_messages, dimse_primitives
    from pynetdicom.dsutils import encode

    name = message_name(type(message))
    primitive = getattr(dimse_primitives, name.rsplit("_", 1)[0])()
    for field in pynetdicom_fields(type(message)):
        value = getattr(message, field)
        if field in TAG_LISTS:
            value = list(value) or None
        if value is not None:
            setattr(primitive, KEYWORDS[field], value)
    dataset_keyword = dimse_messages._DATASET_KEYWORDS.get(name)
    if dataset_keyword is not None and message.has_dataset:
        setattr(primitive, dataset_keyword, io.BytesIO(b"\x08\x00\x16\x00\x00\x00\x00\x00"))
    pyn_message = getattr(dimse_messages, name)()
    pyn_message.primitive_to_message(primitive)
    return bytes(encode(pyn_message.command_set, True, True))


def from_bytes_with_pydicom(data: bytes) -> Any:
    from pynetdicom.dsutils import decode

    return decode(io.BytesIO(data), True, True)


def normalise(value: Any, field: str) -> Any:
    if field in TAG_LISTS:
        if value is None or value == "":
            return ()
        return (int(value),) if isinstance(value, int) else tuple(int(tag) for tag in value)
    if value == "":
        return None
    return value


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_pynetdicom_encodes_what_we_decode(cls: type[DimseMessage], data: st.DataObject) -> None:
    message = data.draw(restricted(cls))
    theirs = to_pynetdicom_bytes(message)
    assert decode_command(theirs) == message
    # Same padding, order and group length: the bytes are identical too.
    assert encode_command(message) == theirs


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_pydicom_decodes_what_we_encode(cls: type[DimseMessage], data: st.DataObject) -> None:
    from pynetdicom import dimse_messages

    message = data.draw(messages(cls, {"priority": st.sampled_from(list(Priority))}))
    ds = from_bytes_with_pydicom(encode_command(message))
    assert ds.CommandGroupLength == len(encode_command(message)) - 12
    assert ds.CommandField == cls.command_field
    assert (ds.CommandDataSetType != 0x0101) is message.has_dataset
    for field in dataclasses.fields(cls):
        if field.name == "has_dataset":
            continue
        assert normalise(ds.get(KEYWORDS[field.name]), field.name) == getattr(message, field.name)

    # ...and pynetdicom turns it into the matching primitive.
    pyn_message = getattr(dimse_messages, message_name(cls))()
    pyn_message.command_set = ds
    primitive = pyn_message.message_to_primitive()
    for field in pynetdicom_fields(cls):
        ours = getattr(message, field)
        assert normalise(getattr(primitive, KEYWORDS[field]), field) == ours
