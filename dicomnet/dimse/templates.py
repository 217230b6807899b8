"""Precomputed command sets for the messages of every C-STORE and C-ECHO.

C-STORE-RQ/RSP and C-ECHO-RQ/RSP are most of the command sets a storage or
verification association exchanges, and their layout hardly varies: the same
elements in the same order, with fixed headers and fixed-width US values, and
only the Message ID, the status and one or two UIDs changing. Here they are
encoded from byte templates and decoded by reading that one layout at fixed
offsets, without the general codec's per-element tables
(:mod:`dicomnet.dimse.codec`).

Both directions give up (return ``None``) on anything outside the common case -
a status with detail fields, Move Originator elements, a value out of range, a UID
that is not one, elements in another order or any other element - and the
general codec then does the work, with its error messages. The results are the
general codec's exactly; ``tests/dimse/test_templates.py`` checks that for random
messages and command sets.
"""

from __future__ import annotations

import functools
import struct
from typing import Final

from .commands import (
    CEchoRQ,
    CEchoRSP,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    DimseMessage,
    Message,
    plain_store_rq,
    plain_store_rsp,
)
from .uids import MAX_UID_LENGTH, is_valid_new_uid, is_valid_uid

__all__ = ["decode_common", "encode_common", "store_rsp_command"]

_NO_DATASET: Final = 0x0101
_DATASET_PRESENT: Final = 0x0001

#: Command Group Length (0000,0000), UL, length 4: the 8 bytes before its value.
_GROUP_LENGTH_HEAD: Final = b"\x00\x00\x00\x00\x04\x00\x00\x00"
_GROUP_LENGTH: Final = struct.Struct("<HHII")
_UI_HEAD: Final = struct.Struct("<HHI")
#: The Command Group Length's value and the header of the element after it.
_LENGTH_AND_UI_HEAD: Final = struct.Struct("<IHHI")
#: A C-STORE-RQ's or -RSP's four US elements, then the header of the element after them
#: (the Affected SOP Instance UID's).
_STORE_TAIL: Final = struct.Struct("<HHIHHHIHHHIHHHIHHHI")
_US1: Final = struct.Struct("<HHIH")
# Consecutive US elements: (group, element, length 2, value) each.
_US2: Final = struct.Struct("<HHIHHHIH")
_US3: Final = struct.Struct("<HHIHHHIHHHIH")
_US4: Final = struct.Struct("<HHIHHHIHHHIHHHIH")
#: The shortest command set read here: C-ECHO-RQ with a 2-byte UID.
_SHORTEST: Final = 12 + 8 + 2 + 3 * 10

_AFFECTED_SOP_CLASS: Final = 0x0002
_COMMAND_FIELD: Final = 0x0100
_MESSAGE_ID: Final = 0x0110
_RESPONDED_TO: Final = 0x0120
_PRIORITY: Final = 0x0700
_DATASET_TYPE: Final = 0x0800
_STATUS: Final = 0x0900
_AFFECTED_SOP_INSTANCE: Final = 0x1000
# Command Field values as plain ints (on Python 3.11 ``CommandField.X`` goes through the
# enum metaclass's ``__getattr__`` hook on every use).
_C_STORE_RQ: Final = int(CommandField.C_STORE_RQ)
_C_STORE_RSP: Final = int(CommandField.C_STORE_RSP)
_C_ECHO_RQ: Final = int(CommandField.C_ECHO_RQ)
_C_ECHO_RSP: Final = int(CommandField.C_ECHO_RSP)


def _ui(element: int, value: str) -> bytes | None:
    """A whole UI element, or ``None`` when ``value`` is not a UID."""
    if not is_valid_uid(value):
        return None
    raw = value.encode("ascii")
    if len(raw) & 1:
        raw += b"\0"
    return _UI_HEAD.pack(0, element, len(raw)) + raw


# A memo, not state: the element depends on the text alone. Every message of an
# association names one of a few SOP classes, each encoded and checked once here (bounded
# in entries, and in length by the caller: no text longer than a UID is kept).
@functools.lru_cache(maxsize=256)
def _sop_class_element(value: str) -> bytes | None:
    return _ui(_AFFECTED_SOP_CLASS, value)


def _sop_class_of(value: str) -> bytes | None:
    """The Affected SOP Class UID element of ``value`` (memoized); ``None`` if not a UID."""
    if len(value) > MAX_UID_LENGTH:
        return None  # (kept out of the memo)
    return _sop_class_element(value)


def _with_group_length(body: bytes) -> bytes:
    return _GROUP_LENGTH.pack(0, 0, 4, len(body)) + body


def _dataset_type(msg: Message) -> int:
    return _DATASET_PRESENT if msg.has_dataset else _NO_DATASET


def _plain_status(msg: CEchoRSP | CStoreRSP) -> bool:
    """Whether a response has no status detail fields (Annex C) to encode."""
    return not msg.offending_element and not msg.error_comment and msg.error_id is None


def encode_common(msg: Message, message_id: int | None = None) -> bytes | None:
    """The command set of a common C-STORE/C-ECHO message, or ``None`` (use the codec).

    ``message_id`` replaces a request's own Message ID (see ``encode_command``).
    """
    try:
        kind = type(msg)
        if kind is CStoreRSP:
            return _store_rsp(msg)  # type: ignore[arg-type]
        if kind is CStoreRQ:
            return _store_rq(msg, message_id)  # type: ignore[arg-type]
        if kind is CEchoRSP:
            return _echo_rsp(msg)  # type: ignore[arg-type]
        if kind is CEchoRQ:
            return _echo_rq(msg, message_id)  # type: ignore[arg-type]
    except (struct.error, TypeError, AttributeError, UnicodeEncodeError):
        return None  # a value the codec will name in its error
    return None


def _command_set(sop_class_uid: str, fixed: bytes, sop_instance_uid: str | None) -> bytes | None:
    """Affected SOP Class UID, the US elements ``fixed`` and, for C-STORE, Affected SOP
    Instance UID, behind their Command Group Length; ``None`` when a UID is not one."""
    sop_class = _sop_class_of(sop_class_uid)
    if sop_class is None:
        return None
    if sop_instance_uid is None:
        return _with_group_length(sop_class + fixed)
    sop_instance = _ui(_AFFECTED_SOP_INSTANCE, sop_instance_uid)
    if sop_instance is None:
        return None
    return _with_group_length(sop_class + fixed + sop_instance)


def _response_fields(msg: CEchoRSP | CStoreRSP, field: int) -> bytes:
    return _US4.pack(
        0, _COMMAND_FIELD, 2, field,
        0, _RESPONDED_TO, 2, msg.message_id_being_responded_to,
        0, _DATASET_TYPE, 2, _dataset_type(msg),
        0, _STATUS, 2, msg.status,
    )  # fmt: skip


def _store_rsp(msg: CStoreRSP) -> bytes | None:
    if not _plain_status(msg) or msg.affected_sop_class_uid is None:
        return None
    if msg.affected_sop_instance_uid is None:
        return None
    fixed = _response_fields(msg, _C_STORE_RSP)
    return _command_set(msg.affected_sop_class_uid, fixed, msg.affected_sop_instance_uid)


def store_rsp_command(request: CStoreRQ, status: int) -> bytes | None:
    """``encode_command(build_response(request, status))`` without the response object:
    the C-STORE-RSP with ``status``, no data set and no status detail; ``None`` when a
    UID of ``request`` is not one (the response then leaves it out) or ``status`` does
    not fit (use the general way)."""
    try:
        fixed = _US4.pack(
            0, _COMMAND_FIELD, 2, _C_STORE_RSP,
            0, _RESPONDED_TO, 2, request.message_id,
            0, _DATASET_TYPE, 2, _NO_DATASET,
            0, _STATUS, 2, status,
        )  # fmt: skip
    except struct.error:
        return None
    return _command_set(request.affected_sop_class_uid, fixed, request.affected_sop_instance_uid)


def _echo_rsp(msg: CEchoRSP) -> bytes | None:
    if not _plain_status(msg) or msg.affected_sop_class_uid is None:
        return None
    fixed = _response_fields(msg, _C_ECHO_RSP)
    return _command_set(msg.affected_sop_class_uid, fixed, None)


def _store_rq(msg: CStoreRQ, message_id: int | None) -> bytes | None:
    # One per instance sent: _command_set's work in place, the four US elements and the
    # instance UID's header packed together and the pieces joined once.
    if msg.move_originator_message_id is not None:
        return None
    if msg.move_originator_ae_title is not None and msg.move_originator_ae_title.strip(" "):
        return None
    sop_class = _sop_class_of(msg.affected_sop_class_uid)
    sop_instance_uid = msg.affected_sop_instance_uid
    if sop_class is None or not is_valid_new_uid(sop_instance_uid):
        return None
    raw = sop_instance_uid.encode("ascii")
    if len(raw) & 1:
        raw += b"\0"
    tail = _STORE_TAIL.pack(
        0, _COMMAND_FIELD, 2, _C_STORE_RQ,
        0, _MESSAGE_ID, 2, msg.message_id if message_id is None else message_id,
        0, _PRIORITY, 2, msg.priority,
        0, _DATASET_TYPE, 2, _DATASET_PRESENT if msg.has_dataset else _NO_DATASET,
        0, _AFFECTED_SOP_INSTANCE, len(raw),
    )  # fmt: skip
    size = len(sop_class) + len(tail) + len(raw)
    return b"".join((_GROUP_LENGTH.pack(0, 0, 4, size), sop_class, tail, raw))


def _echo_rq(msg: CEchoRQ, message_id: int | None) -> bytes | None:
    fixed = _US3.pack(
        0, _COMMAND_FIELD, 2, _C_ECHO_RQ,
        0, _MESSAGE_ID, 2, msg.message_id if message_id is None else message_id,
        0, _DATASET_TYPE, 2, _dataset_type(msg),
    )  # fmt: skip
    return _command_set(msg.affected_sop_class_uid, fixed, None)


# ------------------------------------------------------------------ decode


def decode_common(buf: bytes) -> DimseMessage | None:
    """The message of a common C-STORE/C-ECHO command set, or ``None`` (use the codec).

    The set must start with a Command Group Length that matches its size, then
    Affected SOP Class UID, then exactly the US elements of the message in
    ascending order (and, for C-STORE, Affected SOP Instance UID), nothing else.
    """
    size = len(buf)
    if size < _SHORTEST or buf[:8] != _GROUP_LENGTH_HEAD:
        return None
    # The group length's value and the Affected SOP Class UID's header.
    group_length, group, number, length = _LENGTH_AND_UI_HEAD.unpack_from(buf, 8)
    offset = 20 + length
    if group_length != size - 12 or group or number != _AFFECTED_SOP_CLASS or offset > size:
        return None
    sop_class = _uid_text(buf[20:offset])
    if sop_class is None:
        return None
    if size - offset >= 48:
        # A C-STORE-RQ or -RSP (one per instance stored): its four US elements and the
        # header of the Affected SOP Instance UID that ends it, read with one unpack.
        g1, e1, n1, field, g2, e2, n2, second, g3, e3, n3, third, g4, e4, n4, fourth, g5, e5, n5 = (
            _STORE_TAIL.unpack_from(buf, offset)
        )
        start = offset + 48
        if (
            not (g1 or g2 or g3 or g4 or g5)
            and n1 == 2
            and n2 == 2
            and n3 == 2
            and n4 == 2
            and e1 == _COMMAND_FIELD
            and e5 == _AFFECTED_SOP_INSTANCE
            and start + n5 == size
        ):
            if (
                field == _C_STORE_RSP
                and e2 == _RESPONDED_TO
                and e3 == _DATASET_TYPE
                and e4 == _STATUS
            ):
                return _read_store_rsp(buf[start:], sop_class, second, third, fourth)
            if (
                field == _C_STORE_RQ
                and e2 == _MESSAGE_ID
                and e3 == _PRIORITY
                and e4 == _DATASET_TYPE
            ):
                return _read_store_rq(buf[start:], sop_class, second, third, fourth)
        return None  # (a C-STORE set is read above or not at all)
    if size - offset < 30:
        return None
    g1, e1, n1, field, g2, e2, n2, second = _US2.unpack_from(buf, offset)
    if g1 or g2 or e1 != _COMMAND_FIELD or n1 != 2 or n2 != 2:
        return None
    if field == _C_ECHO_RQ and e2 == _MESSAGE_ID:
        return _decode_echo_rq(buf, offset + 20, sop_class, second)
    if field == _C_ECHO_RSP and e2 == _RESPONDED_TO:
        return _decode_echo_rsp(buf, offset + 20, sop_class, second)
    return None


def _uid_text(raw: bytes) -> str | None:
    """A UI element's value as text (its padding stripped); ``None`` if empty or not ASCII."""
    try:
        text = raw.rstrip(b"\0 ").decode("ascii")
    except UnicodeDecodeError:
        return None
    return text or None


def _read_store_rq(
    uid: bytes, sop_class: str, message_id: int, priority: int, dataset: int
) -> CStoreRQ | None:
    """The C-STORE-RQ read by decode_common's one unpack (``uid``: the instance UID's bytes)."""
    sop_instance = _uid_text(uid)
    if sop_instance is None:
        return None
    return plain_store_rq(
        message_id=message_id,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        priority=priority,
        has_dataset=dataset != _NO_DATASET,
    )


def _read_store_rsp(
    uid: bytes, sop_class: str, responded_to: int, dataset: int, status: int
) -> CStoreRSP | None:
    """The C-STORE-RSP read by decode_common's one unpack (``uid``: the instance UID's bytes)."""
    sop_instance = _uid_text(uid)
    if sop_instance is None:
        return None
    return plain_store_rsp(
        responded_to=responded_to,
        status=status,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        has_dataset=dataset != _NO_DATASET,
    )


def _decode_echo_rq(buf: bytes, offset: int, sop_class: str, message_id: int) -> CEchoRQ | None:
    if len(buf) - offset != 10:
        return None
    group, element, length, dataset = _US1.unpack_from(buf, offset)
    if group or element != _DATASET_TYPE or length != 2:
        return None
    return CEchoRQ(
        affected_sop_class_uid=sop_class, message_id=message_id, has_dataset=dataset != _NO_DATASET
    )


def _decode_echo_rsp(buf: bytes, offset: int, sop_class: str, responded_to: int) -> CEchoRSP | None:
    if len(buf) - offset != 20:
        return None
    g1, e1, n1, dataset, g2, e2, n2, status = _US2.unpack_from(buf, offset)
    if g1 or g2 or e1 != _DATASET_TYPE or e2 != _STATUS or n1 != 2 or n2 != 2:
        return None
    return CEchoRSP(
        affected_sop_class_uid=sop_class,
        message_id_being_responded_to=responded_to,
        has_dataset=dataset != _NO_DATASET,
        status=status,
    )
