"""Command set codec: group 0000 in Implicit VR Little Endian (PS3.7 §6.3.1, Annex E).

Every element is ``group:u16 element:u16 length:u32 value`` little-endian,
with the VR implied by the tag (PS3.5 §7.1.3). The set opens with Command
Group Length (0000,0000), a UL holding the byte count of every element that
follows it. Elements are written in ascending tag order.

Value encodings: UI padded to even length with NUL; AE, LO padded with a
space; US as uint16; AT as (group, element) uint16 pairs.

Decoding accepts elements in any order (some peers do not sort), skips
group-0000 elements it does not know (retired ones such as Length to End
(0000,0001)), and rejects duplicates,
elements of other groups, and a Command Group Length that disagrees with
the bytes given. Zero-length values count as absent. This runs once per
message on the hot path, so layouts are precomputed tables and values are
packed with precompiled :class:`struct.Struct` objects; the usual C-STORE and
C-ECHO messages take the byte templates of :mod:`dicomnet.dimse.templates` first.
"""

from __future__ import annotations

import struct
from dataclasses import fields, replace
from typing import Any, Final, TypeVar, get_args

from . import commands as c
from .commands import DimseMessage, DimseRequest, Message
from .errors import (
    CommandDecodeError,
    CommandEncodeError,
    MissingElementError,
    MistypedElementError,
    UnknownCommandError,
)
from .templates import decode_common, encode_common
from .uids import is_valid_uid

__all__ = [
    "decode_command",
    "decode_general",
    "encode_command",
    "encode_general",
    "message_class",
    "peek_command_field",
]

_HEADER: Final = struct.Struct("<HHI")  # group, element, value length
_US_ELEMENT: Final = struct.Struct("<HHIH")  # a whole US element
_GROUP_LENGTH: Final = struct.Struct("<HHII")  # (0000,0000) UL 4 value
_U16: Final = struct.Struct("<H")
_TAG_PAIR: Final = struct.Struct("<HH")

_E = TypeVar(
    "_E", CommandDecodeError, MissingElementError, MistypedElementError, UnknownCommandError
)

# Value kinds. Plain ints keep the per-element dispatch cheap.
_UI, _AE, _LO, _US, _AT, _FIELD, _DSTYPE = range(7)

_NO_DATASET: Final = 0x0101
_DATASET_PRESENT: Final = 0x0001


# Element numbers of group 0000 (PS3.7 Annex E).
_AFFECTED_SOP_CLASS = 0x0002
_REQUESTED_SOP_CLASS = 0x0003
_COMMAND_FIELD = 0x0100
_MESSAGE_ID = 0x0110
_RESPONDED_TO = 0x0120
_AFFECTED_SOP_INSTANCE = 0x1000
_REQUESTED_SOP_INSTANCE = 0x1001

# (element, attribute, kind, mandatory) in ascending element order.
_Layout = tuple[tuple[int, str, int, bool], ...]

_CF = (_COMMAND_FIELD, "command_field", _FIELD, True)
_DST = (0x0800, "has_dataset", _DSTYPE, True)
_MSG_ID = (_MESSAGE_ID, "message_id", _US, True)
_RSP_ID = (_RESPONDED_TO, "message_id_being_responded_to", _US, True)
_PRIORITY = (0x0700, "priority", _US, True)
_STATUS = (
    (0x0900, "status", _US, True),
    (0x0901, "offending_element", _AT, False),
    (0x0902, "error_comment", _LO, False),
    (0x0903, "error_id", _US, False),
)
_AFF_CLASS = (_AFFECTED_SOP_CLASS, "affected_sop_class_uid", _UI, True)
_AFF_CLASS_OPT = (_AFFECTED_SOP_CLASS, "affected_sop_class_uid", _UI, False)
_REQ_CLASS = (_REQUESTED_SOP_CLASS, "requested_sop_class_uid", _UI, True)
_AFF_INST = (_AFFECTED_SOP_INSTANCE, "affected_sop_instance_uid", _UI, True)
_AFF_INST_OPT = (_AFFECTED_SOP_INSTANCE, "affected_sop_instance_uid", _UI, False)
_REQ_INST = (_REQUESTED_SOP_INSTANCE, "requested_sop_instance_uid", _UI, True)
_ATTR_LIST = (0x1005, "attribute_identifier_list", _AT, False)
_SUBOPS = (
    (0x1020, "number_of_remaining_suboperations", _US, False),
    (0x1021, "number_of_completed_suboperations", _US, False),
    (0x1022, "number_of_failed_suboperations", _US, False),
    (0x1023, "number_of_warning_suboperations", _US, False),
)


def _rsp(*extra: tuple[int, str, int, bool]) -> _Layout:
    """A response layout: the common response elements plus ``extra``, sorted."""
    return tuple(sorted((_CF, _RSP_ID, _DST, *_STATUS, *extra)))


def _rq(*extra: tuple[int, str, int, bool]) -> _Layout:
    return tuple(sorted((_CF, _MSG_ID, _DST, *extra)))


_LAYOUTS: Final[dict[type[Message], _Layout]] = {
    c.CEchoRQ: _rq(_AFF_CLASS),
    c.CEchoRSP: _rsp(_AFF_CLASS_OPT),
    c.CStoreRQ: _rq(
        _AFF_CLASS,
        _PRIORITY,
        _AFF_INST,
        (0x1030, "move_originator_ae_title", _AE, False),
        (0x1031, "move_originator_message_id", _US, False),
    ),
    c.CStoreRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT),
    c.CFindRQ: _rq(_AFF_CLASS, _PRIORITY),
    c.CFindRSP: _rsp(_AFF_CLASS_OPT),
    c.CGetRQ: _rq(_AFF_CLASS, _PRIORITY),
    c.CGetRSP: _rsp(_AFF_CLASS_OPT, *_SUBOPS),
    c.CMoveRQ: _rq(_AFF_CLASS, _PRIORITY, (0x0600, "move_destination", _AE, True)),
    c.CMoveRSP: _rsp(_AFF_CLASS_OPT, *_SUBOPS),
    c.CCancelRQ: tuple(sorted((_CF, _RSP_ID, _DST))),
    c.NEventReportRQ: _rq(_AFF_CLASS, _AFF_INST, (0x1002, "event_type_id", _US, True)),
    c.NEventReportRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT, (0x1002, "event_type_id", _US, False)),
    c.NGetRQ: _rq(_REQ_CLASS, _REQ_INST, _ATTR_LIST),
    c.NGetRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT, _ATTR_LIST),
    c.NSetRQ: _rq(_REQ_CLASS, _REQ_INST),
    c.NSetRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT, _ATTR_LIST),
    c.NActionRQ: _rq(_REQ_CLASS, _REQ_INST, (0x1008, "action_type_id", _US, True)),
    c.NActionRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT, (0x1008, "action_type_id", _US, False)),
    c.NCreateRQ: _rq(_AFF_CLASS, _AFF_INST_OPT),
    c.NCreateRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT, _ATTR_LIST),
    c.NDeleteRQ: _rq(_REQ_CLASS, _REQ_INST),
    c.NDeleteRSP: _rsp(_AFF_CLASS_OPT, _AFF_INST_OPT),
}

_CLASSES: Final[dict[int, type[DimseMessage]]] = {
    cls.command_field: cls for cls in get_args(DimseMessage)
}


def _check_layouts() -> None:
    # Import-time guard: every dataclass field has exactly one element, so a
    # field added to a message without a wire position fails loudly.
    if set(_LAYOUTS) != set(_CLASSES.values()):  # pragma: no cover - programming error
        raise RuntimeError("message classes and layouts disagree")
    for cls, layout in _LAYOUTS.items():
        wire = {attr for _, attr, kind, _ in layout if kind != _FIELD}
        declared = {f.name for f in fields(cls)}
        if wire != declared:  # pragma: no cover - programming error
            raise RuntimeError(f"{cls.__name__}: layout {wire ^ declared} mismatch")


_check_layouts()


def message_class(command_field: int) -> type[DimseMessage] | None:
    """The message class for a Command Field value, or ``None`` if PS3.7 defines none."""
    return _CLASSES.get(command_field)


# ------------------------------------------------------------------ encode


def _text_bytes(value: str, attr: str, limit: int, pad: bytes) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise CommandEncodeError(f"{attr} must be ASCII: {value!r}") from None
    if len(raw) > limit or b"\\" in raw:
        raise CommandEncodeError(f"{attr} longer than {limit} characters or has '\\': {value!r}")
    return raw + pad if len(raw) & 1 else raw


def _uid_bytes(value: str, attr: str) -> bytes:
    if not is_valid_uid(value):
        raise CommandEncodeError(f"{attr} is not a valid UID: {value!r}")
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) & 1 else raw


def encode_command(msg: Message, message_id: int | None = None) -> bytes:
    """Encode ``msg`` as a complete command set, Command Group Length first.

    ``message_id``, for a request, is encoded in place of its own Message ID
    (an association numbers requests as it sends them; no copy of the message).
    Raises :class:`~dicomnet.dimse.errors.CommandEncodeError` if a value does
    not fit its element (US out of 0..65535, UID malformed or over 64
    characters, AE title over 16, Error Comment over 64, non-ASCII text).
    """
    common = encode_common(msg, message_id)
    if common is not None:
        return common
    if message_id is not None and isinstance(msg, DimseRequest):
        msg = replace(msg, message_id=message_id)
    return encode_general(msg)


def encode_general(msg: Message) -> bytes:
    """:func:`encode_command` by the element tables alone (no byte templates)."""
    layout = _LAYOUTS.get(type(msg))
    if layout is None:
        raise CommandEncodeError(f"not a DIMSE message: {type(msg).__name__}")
    parts: list[bytes] = [b""]
    append = parts.append
    for element, attr, kind, _ in layout:
        if kind == _FIELD:
            append(_US_ELEMENT.pack(0, element, 2, msg.command_field))
            continue
        if kind == _DSTYPE:
            flag = _DATASET_PRESENT if msg.has_dataset else _NO_DATASET
            append(_US_ELEMENT.pack(0, element, 2, flag))
            continue
        value = getattr(msg, attr)
        if value is None:
            continue
        if kind == _US:
            try:
                append(_US_ELEMENT.pack(0, element, 2, value))
            except struct.error:
                raise CommandEncodeError(f"{attr} not a 16-bit value: {value!r}") from None
            continue
        if kind == _UI:
            raw = _uid_bytes(value, attr)
        elif kind == _AT:
            if not value:
                continue
            raw = _tags_bytes(value, attr)
        else:
            text = value.strip(" ") if kind == _AE else value
            if not text:
                continue
            raw = _text_bytes(text, attr, 16 if kind == _AE else 64, b" ")
        append(_HEADER.pack(0, element, len(raw)))
        append(raw)
    parts[0] = _GROUP_LENGTH.pack(0, 0, 4, sum(map(len, parts)))
    return b"".join(parts)


def _tags_bytes(tags: tuple[int, ...], attr: str) -> bytes:
    try:
        return b"".join([_U16.pack(t >> 16) + _U16.pack(t & 0xFFFF) for t in tags])
    except (struct.error, TypeError):
        raise CommandEncodeError(f"{attr} holds a value that is not a tag: {tags!r}") from None


# ------------------------------------------------------------------ decode


def _split(buf: bytes) -> dict[int, bytes]:
    """Element number -> raw value for every element; raises on broken framing."""
    size = len(buf)
    values: dict[int, bytes] = {}
    offset = 0
    unpack = _HEADER.unpack_from
    while offset < size:
        if size - offset < 8:
            raise _decode_error(
                f"truncated element header at offset {offset}", values, CommandDecodeError
            )
        group, element, length = unpack(buf, offset)
        if group != 0:
            raise _decode_error(
                f"element ({group:04X},{element:04X}) outside group 0000 in command set",
                values,
                CommandDecodeError,
            )
        offset += 8
        end = offset + length
        if end > size:
            raise _decode_error(
                f"element (0000,{element:04X}) length {length} runs past the end"
                f" of the {size}-byte command set",
                values,
                CommandDecodeError,
                element,
            )
        if element in values:
            raise _decode_error(
                f"duplicate element (0000,{element:04X})", values, CommandDecodeError, element
            )
        values[element] = buf[offset:end]
        offset = end
    return values


def _us(raw: bytes) -> int:
    return raw[0] | raw[1] << 8


def _decode_error(
    message: str,
    values: dict[int, bytes],
    kind: type[_E],
    element: int | None = None,
) -> _E:
    """Build ``kind`` with whatever identifying elements can be read from ``values``."""

    def us(number: int) -> int | None:
        raw = values.get(number)
        return _us(raw) if raw is not None and len(raw) == 2 else None

    def uid(*numbers: int) -> str | None:
        for number in numbers:
            raw = values.get(number)
            if raw:
                try:
                    return raw.rstrip(b"\0 ").decode("ascii")
                except UnicodeDecodeError:
                    return None
        return None

    message_id = us(_MESSAGE_ID)
    return kind(
        message,
        command_field=us(_COMMAND_FIELD),
        message_id=message_id if message_id is not None else us(_RESPONDED_TO),
        sop_class_uid=uid(_AFFECTED_SOP_CLASS, _REQUESTED_SOP_CLASS),
        sop_instance_uid=uid(_AFFECTED_SOP_INSTANCE, _REQUESTED_SOP_INSTANCE),
        tag=element,
    )


def decode_command(data: bytes | bytearray | memoryview) -> DimseMessage:
    """Decode one complete command set into its message class.

    Raises :class:`~dicomnet.dimse.errors.CommandDecodeError` (or its
    subclasses :class:`~dicomnet.dimse.errors.MistypedElementError` and
    :class:`~dicomnet.dimse.errors.UnknownCommandError`) for bytes that are not
    a usable command set, and :class:`~dicomnet.dimse.errors.MissingElementError`
    when a mandatory element of the message is absent or empty.
    """
    buf = bytes(data)  # no copy for bytes; command sets are small otherwise
    common = decode_common(buf)
    return common if common is not None else decode_general(buf)


def decode_general(data: bytes | bytearray | memoryview) -> DimseMessage:
    """:func:`decode_command` by the element tables alone (no byte templates)."""
    buf = bytes(data)
    values = _split(buf)
    group_length = values.get(0x0000)
    # Every element, the group length itself included, is group 0000 here, so
    # the group length must cover everything but its own 12 bytes.
    if group_length is not None and (
        len(group_length) != 4 or int.from_bytes(group_length, "little") != len(buf) - 12
    ):
        raise _decode_error(
            f"Command Group Length {group_length.hex()} disagrees with"
            f" the {len(buf)}-byte command set",
            values,
            CommandDecodeError,
            0x0000,
        )
    raw = values.get(_COMMAND_FIELD)
    if not raw:
        raise _decode_error(
            "Command Field (0000,0100) is missing", values, MissingElementError, _COMMAND_FIELD
        )
    if len(raw) != 2:
        raise _decode_error(
            f"Command Field (0000,0100) has length {len(raw)}, not 2",
            values,
            MistypedElementError,
            _COMMAND_FIELD,
        )
    cls = _CLASSES.get(_us(raw))
    if cls is None:
        raise _decode_error(
            f"unknown Command Field 0x{_us(raw):04X}", values, UnknownCommandError, _COMMAND_FIELD
        )
    kwargs: dict[str, Any] = {}
    for element, attr, kind, mandatory in _LAYOUTS[cls]:
        if kind == _FIELD:
            continue
        raw = values.get(element)
        if raw:
            value = _decode_value(raw, kind)
            if value is None:
                raise _decode_error(
                    f"{cls.__name__}: (0000,{element:04X}) {attr} is malformed: {raw!r}",
                    values,
                    MistypedElementError,
                    element,
                )
            if value != "":
                kwargs[attr] = value
                continue
        if mandatory:
            raise _decode_error(
                f"{cls.__name__}: mandatory (0000,{element:04X}) {attr} is missing",
                values,
                MissingElementError,
                element,
            )
    return cls(**kwargs)


def _decode_value(raw: bytes, kind: int) -> int | bool | str | tuple[int, ...] | None:
    """The value of one element, "" for a blank string, ``None`` if malformed."""
    if kind == _US:
        return _us(raw) if len(raw) == 2 else None
    if kind == _DSTYPE:
        return _us(raw) != _NO_DATASET if len(raw) == 2 else None
    if kind == _AT:
        if len(raw) & 3:
            return None
        return tuple(group << 16 | elem for group, elem in _TAG_PAIR.iter_unpack(raw))
    try:
        if kind == _UI:
            return raw.rstrip(b"\0 ").decode("ascii")
        if kind == _AE:
            return raw.strip(b" \0").decode("ascii")
    except UnicodeDecodeError:
        return None
    # Error Comment is informational: keep what can be shown rather than fail.
    return raw.strip(b" \0").decode("ascii", "replace")


def peek_command_field(data: bytes | bytearray | memoryview) -> int | None:
    """The Command Field of an encoded command set, without decoding the rest.

    Returns ``None`` if the element is absent or the framing is broken before it.
    """
    size = len(data)
    offset = 0
    while size - offset >= 8:
        group, element, length = _HEADER.unpack_from(data, offset)
        offset += 8
        if group != 0 or offset + length > size:
            return None
        if element == _COMMAND_FIELD:
            return int(_U16.unpack_from(data, offset)[0]) if length == 2 else None
        offset += length
    return None
