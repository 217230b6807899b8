"""Binary encoding and decoding of the seven Upper Layer PDUs (PS3.8 §9.3, Annex D;
PS3.7 Annex D.3.3).

:func:`encode_pdu` turns a PDU value into its wire bytes; :func:`encode_pdata_segments`
gives a P-DATA-TF as header bytes plus the PDVs' own buffers, for ``writelines``.
:func:`decode_pdu` parses one complete PDU (header included). Every malformed input
raises :class:`~dicomnet_pdu.errors.RemoteProtocolError` carrying the A-ABORT reason
to answer with; nothing else escapes.

Encoding rules followed here: UIDs are sent without padding, AE titles are padded
with spaces to 16 bytes, reserved fields are sent as zero (or, for the AE-title
fields of the A-ASSOCIATE-AC, as the values given) and are not tested on receipt.
On receipt a trailing NUL or space after a UID is tolerated and dropped.

Decoding rules for the A-ASSOCIATE-RQ/AC items (PS3.8 §9.3, §9.3.2, §9.3.3,
Annex D.1): an item of a type PS3.8 does not define is ignored and skipped, at
every level (variable items, presentation context sub-items, user information
sub-items); an item of a defined type in a place where it does not belong is an
unexpected parameter (reason 5). The items the standard makes mandatory are
required: one application context, at least one presentation context (RQ), one
user information item holding exactly one Maximum Length sub-item, and unique
presentation context IDs. Breaking one is an invalid PDU (Evt19), never
something negotiation gets to answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from struct import Struct
from typing import TypeAlias

from .codes import (
    AbortReason,
    AbortSource,
    ItemType,
    PDUType,
    PresentationContextResult,
    RejectResult,
    RejectSource,
    SubItemType,
    UserIdentityType,
)
from .errors import LocalProtocolError, RemoteProtocolError
from .items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from .pdus import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

__all__ = [
    "ASSOCIATE_FIXED_LENGTH",
    "PDU_HEADER",
    "PDU_HEADER_LENGTH",
    "decode_pdu",
    "encode_pdata_segments",
    "encode_pdu",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview

#: PDU header: PDU-type, reserved, PDU-length (big endian, as every UL field).
PDU_HEADER = Struct(">BxL")
#: Length of the PDU header (type, reserved, 4-byte length).
PDU_HEADER_LENGTH = PDU_HEADER.size
#: Length of the fixed part of an A-ASSOCIATE-RQ/AC after the header (Table 9-11).
ASSOCIATE_FIXED_LENGTH = 68

_MAX_U32 = 0xFFFFFFFF
_MAX_U16 = 0xFFFF

_ITEM_HEADER = Struct(">BxH")  # item-type, reserved, item-length
_ITEM_HEADER_VERSION = Struct(">BBH")  # item-type, sub-item-version, item-length (0x57)
_ASSOC_FIXED = Struct(">Hxx16s16s32x")  # protocol version, reserved, AE titles, reserved
_FOUR_BYTES = Struct(">xxBB")  # reserved, reserved, two significant bytes (RJ/abort tail)
_RJ_BODY = Struct(">xBBB")  # reserved, result, source, reason
_PDV_HEADER = Struct(">LBB")  # item-length, context ID, message control header
_PC_HEADER = Struct(">BxBx")  # context ID, reserved, result (AC) / reserved, reserved
_U16 = Struct(">H")
_U32 = Struct(">L")
_TWO_U16 = Struct(">HH")
_TWO_U8 = Struct(">BB")
_ZERO4 = b"\x00\x00\x00\x00"

_RELEASE_RQ_BYTES = PDU_HEADER.pack(PDUType.RELEASE_RQ, 4) + _ZERO4
_RELEASE_RP_BYTES = PDU_HEADER.pack(PDUType.RELEASE_RP, 4) + _ZERO4

_INVALID = AbortReason.INVALID_PDU_PARAMETER_VALUE
_UNEXPECTED = AbortReason.UNEXPECTED_PDU_PARAMETER


# ======================================================================================
# Encoding
# ======================================================================================


def _u16_length(length: int, what: str) -> int:
    if length > _MAX_U16:
        raise LocalProtocolError(f"{what} is {length} bytes; an item holds at most 65535")
    return length


def _item(item_type: int, value: bytes) -> bytes:
    return _ITEM_HEADER.pack(item_type, _u16_length(len(value), f"item 0x{item_type:02X}")) + value


def _uid(uid: str) -> bytes:
    return uid.encode("ascii")


def _len_prefixed(value: bytes, what: str) -> bytes:
    return _U16.pack(_u16_length(len(value), what)) + value


def _encode_sub_item(item: SubItem) -> bytes:
    if isinstance(item, MaximumLength):
        return _item(SubItemType.MAXIMUM_LENGTH, _U32.pack(item.maximum_length))
    if isinstance(item, ImplementationClassUID):
        return _item(SubItemType.IMPLEMENTATION_CLASS_UID, _uid(item.uid))
    if isinstance(item, ImplementationVersionName):
        return _item(SubItemType.IMPLEMENTATION_VERSION_NAME, item.name.encode("ascii"))
    if isinstance(item, AsynchronousOperationsWindow):
        value = _TWO_U16.pack(item.max_operations_invoked, item.max_operations_performed)
        return _item(SubItemType.ASYNCHRONOUS_OPERATIONS_WINDOW, value)
    if isinstance(item, RoleSelection):
        value = _len_prefixed(_uid(item.sop_class_uid), "SOP class UID") + _TWO_U8.pack(
            int(item.scu_role), int(item.scp_role)
        )
        return _item(SubItemType.ROLE_SELECTION, value)
    if isinstance(item, SOPClassExtendedNegotiation):
        value = (
            _len_prefixed(_uid(item.sop_class_uid), "SOP class UID")
            + item.service_class_application_information
        )
        return _item(SubItemType.SOP_CLASS_EXTENDED_NEGOTIATION, value)
    if isinstance(item, SOPClassCommonExtendedNegotiation):
        related = b"".join(
            _len_prefixed(_uid(uid), "related general SOP class UID")
            for uid in item.related_general_sop_classes
        )
        value = (
            _len_prefixed(_uid(item.sop_class_uid), "SOP class UID")
            + _len_prefixed(_uid(item.service_class_uid), "service class UID")
            + _len_prefixed(related, "related general SOP class identification")
        )
        length = _u16_length(len(value), "common extended negotiation")
        return (
            _ITEM_HEADER_VERSION.pack(SubItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION, 0, length)
            + value
        )
    if isinstance(item, UserIdentityRQ):
        value = (
            _TWO_U8.pack(int(item.identity_type), int(item.positive_response_requested))
            + _len_prefixed(bytes(item.primary_field), "primary field")
            + _len_prefixed(bytes(item.secondary_field), "secondary field")
        )
        return _item(SubItemType.USER_IDENTITY_RQ, value)
    if isinstance(item, UserIdentityAC):
        value = _len_prefixed(bytes(item.server_response), "server response")
        return _item(SubItemType.USER_IDENTITY_AC, value)
    raise LocalProtocolError(f"not a user information sub-item: {item!r}")


def _encode_user_information(info: UserInformation) -> bytes:
    return _item(ItemType.USER_INFORMATION, b"".join(map(_encode_sub_item, info.items)))


def _encode_context_rq(pc: PresentationContextRQ) -> bytes:
    parts = [
        _PC_HEADER.pack(pc.context_id, 0),
        _item(ItemType.ABSTRACT_SYNTAX, _uid(pc.abstract_syntax)),
    ]
    parts.extend(_item(ItemType.TRANSFER_SYNTAX, _uid(ts)) for ts in pc.transfer_syntaxes)
    return _item(ItemType.PRESENTATION_CONTEXT_RQ, b"".join(parts))


def _encode_context_ac(pc: PresentationContextAC) -> bytes:
    value = _PC_HEADER.pack(pc.context_id, pc.result) + _item(
        ItemType.TRANSFER_SYNTAX, _uid(pc.transfer_syntax)
    )
    return _item(ItemType.PRESENTATION_CONTEXT_AC, value)


def _ae_field(title: str) -> bytes:
    return title.encode("ascii").ljust(16, b" ")


def _with_header(pdu_type: int, body: bytes) -> bytes:
    if len(body) > _MAX_U32:
        raise LocalProtocolError(f"PDU body of {len(body)} bytes does not fit a 32-bit length")
    return PDU_HEADER.pack(pdu_type, len(body)) + body


def _encode_associate(pdu: AAssociateRQ | AAssociateAC) -> bytes:
    pdu_type = PDUType.ASSOCIATE_RQ if isinstance(pdu, AAssociateRQ) else PDUType.ASSOCIATE_AC
    parts = [
        _ASSOC_FIXED.pack(
            pdu.protocol_version, _ae_field(pdu.called_ae_title), _ae_field(pdu.calling_ae_title)
        ),
        _item(ItemType.APPLICATION_CONTEXT, _uid(pdu.application_context_name)),
    ]
    if isinstance(pdu, AAssociateRQ):
        parts.extend(map(_encode_context_rq, pdu.presentation_contexts))
    else:
        parts.extend(map(_encode_context_ac, pdu.presentation_contexts))
    parts.append(_encode_user_information(pdu.user_information))
    return _with_header(pdu_type, b"".join(parts))


def _data_view(data: BytesLike) -> bytes | memoryview:
    """``data`` as bytes or a flat byte memoryview, without copying it."""
    if isinstance(data, bytes):
        return data
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def encode_pdata_segments(pdata: PDataTF) -> list[bytes | memoryview]:
    """The wire form of a P-DATA-TF as a list of buffers, for ``transport.writelines``.

    PDV headers (and the PDU header) are small ``bytes``; each PDV's data is
    passed through as is (bytes) or as a memoryview, never copied.
    """
    out: list[bytes | memoryview] = []
    header_parts: list[bytes] = []
    total = 0
    pack = _PDV_HEADER.pack
    for pdv in pdata.pdvs:
        data = _data_view(pdv.data)
        size = len(data)
        if size + 2 > _MAX_U32:
            raise LocalProtocolError("PDV data does not fit a 32-bit item length")
        header_parts.append(pack(size + 2, pdv.context_id, pdv.control_header))
        out.append(data)
        total += size + 6
    if total > _MAX_U32:
        raise LocalProtocolError(f"P-DATA-TF of {total} bytes does not fit a 32-bit length")
    segments: list[bytes | memoryview] = []
    first = PDU_HEADER.pack(PDUType.P_DATA_TF, total)
    for index, (hdr, data) in enumerate(zip(header_parts, out, strict=True)):
        segments.append(first + hdr if index == 0 else hdr)
        if len(data):
            segments.append(data)
    return segments


def encode_pdu(pdu: PDU) -> bytes:
    """Encode any PDU to its complete wire bytes (header included)."""
    if isinstance(pdu, PDataTF):
        return b"".join(encode_pdata_segments(pdu))
    if isinstance(pdu, AAssociateRQ | AAssociateAC):
        return _encode_associate(pdu)
    if isinstance(pdu, AAssociateRJ):
        return PDU_HEADER.pack(PDUType.ASSOCIATE_RJ, 4) + _RJ_BODY.pack(
            pdu.result, pdu.source, pdu.reason
        )
    if isinstance(pdu, AReleaseRQ):
        return _RELEASE_RQ_BYTES
    if isinstance(pdu, AReleaseRP):
        return _RELEASE_RP_BYTES
    if isinstance(pdu, AAbort):
        return PDU_HEADER.pack(PDUType.ABORT, 4) + _FOUR_BYTES.pack(pdu.source, pdu.reason)
    raise LocalProtocolError(f"not a PDU: {pdu!r}")


# ======================================================================================
# Decoding
# ======================================================================================


def _error(message: str, reason: AbortReason = _INVALID) -> RemoteProtocolError:
    return RemoteProtocolError(message, abort_reason=reason)


def _iter_items(view: memoryview, where: str) -> list[tuple[int, int, memoryview]]:
    """Split ``view`` into (item-type, reserved/version byte, value) triples."""
    items: list[tuple[int, int, memoryview]] = []
    offset = 0
    end = len(view)
    unpack = _ITEM_HEADER_VERSION.unpack_from
    while offset < end:
        if end - offset < 4:
            raise _error(f"{where}: truncated item header at offset {offset}")
        item_type, second, length = unpack(view, offset)
        start = offset + 4
        offset = start + length
        if offset > end:
            raise _error(f"{where}: item 0x{item_type:02X} runs past its container")
        items.append((item_type, second, view[start:offset]))
    return items


def _decode_uid(value: memoryview, what: str, *, allow_empty: bool = False) -> str:
    raw = bytes(value)
    if raw[-1:] in (b"\x00", b" "):
        raw = raw[:-1]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise _error(f"{what}: UID is not ASCII: {raw[:64]!r}") from None
    if not text:
        if allow_empty:
            return text
        raise _error(f"{what}: empty UID")
    if len(text) > 64 or not text.isprintable():
        raise _error(f"{what}: invalid UID {text[:64]!r}")
    return text


def _split_len_prefixed(value: memoryview, offset: int, what: str) -> tuple[memoryview, int]:
    if len(value) - offset < 2:
        raise _error(f"{what}: truncated length field")
    (length,) = _U16.unpack_from(value, offset)
    start = offset + 2
    end = start + length
    if end > len(value):
        raise _error(f"{what}: field runs past its sub-item")
    return value[start:end], end


def _decode_ae_title(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise _error(f"{what}: AE title is not ASCII: {raw[:16]!r}") from None
    text = text.rstrip("\x00").strip(" ")
    if not text:
        raise _error(f"{what}: AE title is empty or all spaces")
    if not text.isprintable() or "\\" in text:
        raise _error(f"{what}: AE title has a forbidden character: {text[:16]!r}")
    return text


def _decode_reserved_ae_title(raw: bytes) -> str:
    """AE-title fields of the A-ASSOCIATE-AC: reserved, kept when readable, never tested."""
    try:
        text = raw.decode("ascii").rstrip("\x00").strip(" ")
    except UnicodeDecodeError:
        return ""
    return text


def _decode_sub_item(item_type: int, value: memoryview) -> SubItem | None:
    """Decode one user-information sub-item; None for a type this codec does not know."""
    if item_type == SubItemType.MAXIMUM_LENGTH:
        if len(value) != 4:
            raise _error("maximum length sub-item must hold 4 bytes")
        return MaximumLength(maximum_length=_U32.unpack(value)[0])
    if item_type == SubItemType.IMPLEMENTATION_CLASS_UID:
        return ImplementationClassUID(uid=_decode_uid(value, "implementation class UID"))
    if item_type == SubItemType.IMPLEMENTATION_VERSION_NAME:
        try:
            name = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise _error("implementation version name is not ASCII") from None
        return ImplementationVersionName(name=name)
    if item_type == SubItemType.ASYNCHRONOUS_OPERATIONS_WINDOW:
        if len(value) != 4:
            raise _error("asynchronous operations window sub-item must hold 4 bytes")
        invoked, performed = _TWO_U16.unpack(value)
        return AsynchronousOperationsWindow(
            max_operations_invoked=invoked, max_operations_performed=performed
        )
    if item_type == SubItemType.ROLE_SELECTION:
        uid, offset = _split_len_prefixed(value, 0, "role selection")
        if len(value) - offset != 2:
            raise _error("role selection sub-item must end with the two role bytes")
        scu, scp = _TWO_U8.unpack_from(value, offset)
        return RoleSelection(
            sop_class_uid=_decode_uid(uid, "role selection SOP class UID"),
            scu_role=bool(scu),
            scp_role=bool(scp),
        )
    if item_type == SubItemType.SOP_CLASS_EXTENDED_NEGOTIATION:
        uid, offset = _split_len_prefixed(value, 0, "SOP class extended negotiation")
        return SOPClassExtendedNegotiation(
            sop_class_uid=_decode_uid(uid, "extended negotiation SOP class UID"),
            service_class_application_information=bytes(value[offset:]),
        )
    if item_type == SubItemType.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION:
        what = "SOP class common extended negotiation"
        sop, offset = _split_len_prefixed(value, 0, what)
        service, offset = _split_len_prefixed(value, offset, what)
        related_field, offset = _split_len_prefixed(value, offset, what)
        if offset != len(value):
            raise _error(f"{what}: trailing bytes after the related SOP classes")
        related: list[str] = []
        pos = 0
        while pos < len(related_field):
            uid, pos = _split_len_prefixed(related_field, pos, what)
            related.append(_decode_uid(uid, "related general SOP class UID"))
        return SOPClassCommonExtendedNegotiation(
            sop_class_uid=_decode_uid(sop, "common extended negotiation SOP class UID"),
            service_class_uid=_decode_uid(service, "service class UID"),
            related_general_sop_classes=tuple(related),
        )
    if item_type == SubItemType.USER_IDENTITY_RQ:
        if len(value) < 2:
            raise _error("user identity sub-item is truncated")
        identity_type, positive = _TWO_U8.unpack_from(value, 0)
        primary, offset = _split_len_prefixed(value, 2, "user identity primary field")
        secondary, offset = _split_len_prefixed(value, offset, "user identity secondary field")
        if offset != len(value):
            raise _error("user identity sub-item has trailing bytes")
        try:
            kind = UserIdentityType(identity_type)
        except ValueError:
            raise _error(f"unknown user identity type {identity_type}") from None
        return UserIdentityRQ(
            identity_type=kind,
            positive_response_requested=bool(positive),
            primary_field=bytes(primary),
            secondary_field=bytes(secondary),
        )
    if item_type == SubItemType.USER_IDENTITY_AC:
        response, offset = _split_len_prefixed(value, 0, "user identity server response")
        if offset != len(value):
            raise _error("user identity AC sub-item has trailing bytes")
        return UserIdentityAC(server_response=bytes(response))
    return None


def _decode_user_information(value: memoryview) -> UserInformation:
    items: list[SubItem] = []
    for item_type, _second, sub_value in _iter_items(value, "user information"):
        item = _decode_sub_item(item_type, sub_value)
        if item is not None:
            items.append(item)
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _error(f"item 0x{item_type:02X} inside the user information item", _UNEXPECTED)
        # Otherwise an unrecognized type: ignored and skipped (PS3.8 §9.3).
    return UserInformation(items=tuple(items))


def _check_maximum_length(name: str, info: UserInformation) -> None:
    """Exactly one Maximum Length sub-item (PS3.8 Annex D.1: mandatory, single-valued)."""
    count = sum(isinstance(item, MaximumLength) for item in info.items)
    if count == 0:
        raise _error(f"{name}: user information has no maximum length sub-item")
    if count > 1:
        raise _error(f"{name}: user information has {count} maximum length sub-items", _UNEXPECTED)


def _check_unique_ids(name: str, context_ids: Iterable[int]) -> None:
    """Presentation context IDs are unique within one A-ASSOCIATE-RQ/AC (PS3.8 §7.1.1.13)."""
    seen: set[int] = set()
    for context_id in context_ids:
        if context_id in seen:
            raise _error(f"{name}: presentation context ID {context_id} appears twice")
        seen.add(context_id)


def _decode_context_rq(value: memoryview) -> PresentationContextRQ:
    if len(value) < 4:
        raise _error("presentation context item is shorter than 4 bytes")
    context_id = value[0]
    abstract: str | None = None
    transfer: list[str] = []
    for item_type, _r, sub in _iter_items(value[4:], "presentation context"):
        if item_type == ItemType.ABSTRACT_SYNTAX:
            if abstract is not None:
                raise _error("two abstract syntaxes in one presentation context", _UNEXPECTED)
            abstract = _decode_uid(sub, "abstract syntax")
        elif item_type == ItemType.TRANSFER_SYNTAX:
            transfer.append(_decode_uid(sub, "transfer syntax"))
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _error(f"item 0x{item_type:02X} inside a presentation context", _UNEXPECTED)
        # PS3.8 §9.3: an item of an unrecognized type is ignored and skipped.
    if abstract is None:
        raise _error(f"presentation context {context_id} has no abstract syntax")
    return PresentationContextRQ(
        context_id=context_id, abstract_syntax=abstract, transfer_syntaxes=tuple(transfer)
    )


def _decode_context_ac(value: memoryview) -> PresentationContextAC:
    if len(value) < 4:
        raise _error("presentation context item is shorter than 4 bytes")
    context_id = value[0]
    result_code = value[2]
    try:
        result = PresentationContextResult(result_code)
    except ValueError:
        raise _error(f"unknown presentation context result {result_code}") from None
    accepted = result == PresentationContextResult.ACCEPTANCE
    transfer: str | None = None
    for item_type, _r, sub in _iter_items(value[4:], "presentation context"):
        if item_type == ItemType.TRANSFER_SYNTAX:
            if transfer is not None:
                raise _error("two transfer syntaxes in an accepted context", _UNEXPECTED)
            if accepted:
                transfer = _decode_uid(sub, "transfer syntax")
            else:
                # Not significant when the context is refused: keep it only if readable.
                try:
                    transfer = _decode_uid(sub, "transfer syntax", allow_empty=True)
                except RemoteProtocolError:
                    transfer = ""
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _error(f"item 0x{item_type:02X} inside a presentation context", _UNEXPECTED)
        # PS3.8 §9.3: an item of an unrecognized type is ignored and skipped.
    if transfer is None:
        if accepted:
            raise _error(f"accepted presentation context {context_id} has no transfer syntax")
        transfer = ""
    return PresentationContextAC(context_id=context_id, result=result, transfer_syntax=transfer)


_KNOWN_ITEM_TYPES = frozenset(int(t) for t in ItemType) | frozenset(int(t) for t in SubItemType)


def _decode_associate(pdu_type: int, body: memoryview) -> AAssociateRQ | AAssociateAC:
    is_rq = pdu_type == PDUType.ASSOCIATE_RQ
    name = "A-ASSOCIATE-RQ" if is_rq else "A-ASSOCIATE-AC"
    if len(body) < ASSOCIATE_FIXED_LENGTH:
        raise _error(f"{name} is shorter than its fixed fields")
    version, called_raw, calling_raw = _ASSOC_FIXED.unpack_from(body, 0)
    if is_rq:
        called = _decode_ae_title(called_raw, "called AE title")
        calling = _decode_ae_title(calling_raw, "calling AE title")
    else:
        called = _decode_reserved_ae_title(called_raw)
        calling = _decode_reserved_ae_title(calling_raw)
    app_context: str | None = None
    user_info: UserInformation | None = None
    contexts_rq: list[PresentationContextRQ] = []
    contexts_ac: list[PresentationContextAC] = []
    pc_type = ItemType.PRESENTATION_CONTEXT_RQ if is_rq else ItemType.PRESENTATION_CONTEXT_AC
    for item_type, _r, value in _iter_items(body[ASSOCIATE_FIXED_LENGTH:], name):
        if item_type == ItemType.APPLICATION_CONTEXT:
            if app_context is not None:
                raise _error(f"{name} has two application context items", _UNEXPECTED)
            app_context = _decode_uid(value, "application context name")
        elif item_type == pc_type:
            if is_rq:
                contexts_rq.append(_decode_context_rq(value))
            else:
                contexts_ac.append(_decode_context_ac(value))
        elif item_type == ItemType.USER_INFORMATION:
            if user_info is not None:
                raise _error(f"{name} has two user information items", _UNEXPECTED)
            user_info = _decode_user_information(value)
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _error(f"{name} holds item 0x{item_type:02X} out of place", _UNEXPECTED)
        # PS3.8 §9.3: an item of an unrecognized type is ignored and skipped.
    if app_context is None:
        raise _error(f"{name} has no application context item")
    if user_info is None:
        raise _error(f"{name} has no user information item")
    _check_maximum_length(name, user_info)
    if is_rq:
        if not contexts_rq:
            raise _error("A-ASSOCIATE-RQ proposes no presentation context")
        _check_unique_ids(name, (pc.context_id for pc in contexts_rq))
        return AAssociateRQ(
            called_ae_title=called,
            calling_ae_title=calling,
            presentation_contexts=tuple(contexts_rq),
            user_information=user_info,
            application_context_name=app_context,
            protocol_version=version,
        )
    _check_unique_ids(name, (pc.context_id for pc in contexts_ac))
    return AAssociateAC(
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=tuple(contexts_ac),
        user_information=user_info,
        application_context_name=app_context,
        protocol_version=version,
    )


# Decoded P-DATA values are built without running the dataclass __init__ and
# __post_init__: the decoder has already checked what they check (context ID 1-255, at
# least one PDV), and on the receive path this halves the cost of a P-DATA-TF. Setting a
# slot through its descriptor is what the frozen dataclass itself does underneath.
_new_object = object.__new__
_set_context_id: Callable[[PDV, int], None] = PDV.__dict__["context_id"].__set__
_set_is_command: Callable[[PDV, bool], None] = PDV.__dict__["is_command"].__set__
_set_is_last: Callable[[PDV, bool], None] = PDV.__dict__["is_last"].__set__
_set_data: Callable[[PDV, memoryview], None] = PDV.__dict__["data"].__set__
_set_pdvs: Callable[[PDataTF, tuple[PDV, ...]], None] = PDataTF.__dict__["pdvs"].__set__


def _checked_pdv(context_id: int, control: int, data: memoryview) -> PDV:
    pdv: PDV = _new_object(PDV)
    _set_context_id(pdv, context_id)
    _set_is_command(pdv, bool(control & 0x01))
    _set_is_last(pdv, bool(control & 0x02))
    _set_data(pdv, data)
    return pdv


def _decode_pdata(body: memoryview) -> PDataTF:
    end = len(body)
    unpack = _PDV_HEADER.unpack_from
    if end >= 6:
        # The usual case: one PDV filling the PDU.
        length, context_id, control = unpack(body, 0)
        if length + 4 == end and length >= 2 and context_id:
            pdata: PDataTF = _new_object(PDataTF)
            _set_pdvs(pdata, (_checked_pdv(context_id, control, body[6:]),))
            return pdata
    pdvs: list[PDV] = []
    offset = 0
    while offset < end:
        if end - offset < 6:
            raise _error("P-DATA-TF: truncated PDV item header")
        length, context_id, control = unpack(body, offset)
        if length < 2:
            raise _error(f"P-DATA-TF: PDV item length {length} is below 2")
        stop = offset + 4 + length
        if stop > end:
            raise _error("P-DATA-TF: PDV item runs past the PDU")
        if context_id == 0:
            raise _error("P-DATA-TF: presentation context ID 0")
        pdvs.append(_checked_pdv(context_id, control, body[offset + 6 : stop]))
        offset = stop
    if not pdvs:
        raise _error("P-DATA-TF carries no PDV")
    result: PDataTF = _new_object(PDataTF)
    _set_pdvs(result, tuple(pdvs))
    return result


def _decode_rj(body: memoryview) -> AAssociateRJ:
    result, source, reason = _RJ_BODY.unpack(body)
    try:
        return AAssociateRJ(result=RejectResult(result), source=RejectSource(source), reason=reason)
    except ValueError:
        raise _error(f"A-ASSOCIATE-RJ with invalid result {result} or source {source}") from None


def _decode_abort(body: memoryview) -> AAbort:
    source, reason = _FOUR_BYTES.unpack(body)
    try:
        abort_source = AbortSource(source)
    except ValueError:
        raise _error(f"A-ABORT with invalid source {source}") from None
    try:
        abort_reason = AbortReason(reason)
    except ValueError:
        if abort_source != AbortSource.SERVICE_PROVIDER:
            # The reason is not significant unless the provider aborted.
            abort_reason = AbortReason.NOT_SPECIFIED
        else:
            raise _error(f"A-ABORT with invalid reason {reason}") from None
    return AAbort(source=abort_source, reason=abort_reason)


def decode_pdu(data: BytesLike) -> PDU:
    """Decode one complete PDU (6-byte header plus exactly PDU-length bytes).

    P-DATA-TF PDVs refer to ``data`` through memoryview slices: the payload is
    not copied, so ``data`` must not be changed while they are in use.

    Raises:
        RemoteProtocolError: for any malformed input, with abort source 2 and
            the PS3.8 reason (1 unknown PDU type, 4/5 unrecognized/unexpected
            items, 6 invalid values and lengths).
    """
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        try:
            view = view.cast("B")
        except (TypeError, ValueError):
            raise _error("PDU buffer is not a flat byte buffer") from None
    if len(view) < PDU_HEADER_LENGTH:
        raise _error(f"PDU shorter than its {PDU_HEADER_LENGTH}-byte header")
    pdu_type, length = PDU_HEADER.unpack_from(view, 0)
    if pdu_type not in _PDU_TYPES:
        raise _error(f"unknown PDU type 0x{pdu_type:02X}", AbortReason.UNRECOGNIZED_PDU)
    if length != len(view) - PDU_HEADER_LENGTH:
        raise _error(f"PDU length field {length} does not match {len(view) - 6} bytes of body")
    body = view[PDU_HEADER_LENGTH:]
    try:
        if pdu_type == PDUType.P_DATA_TF:
            return _decode_pdata(body)
        if pdu_type in (PDUType.ASSOCIATE_RQ, PDUType.ASSOCIATE_AC):
            return _decode_associate(pdu_type, body)
        if length != 4:
            raise _error(f"PDU type 0x{pdu_type:02X} must have length 4, not {length}")
        if pdu_type == PDUType.ASSOCIATE_RJ:
            return _decode_rj(body)
        if pdu_type == PDUType.ABORT:
            return _decode_abort(body)
        return AReleaseRQ() if pdu_type == PDUType.RELEASE_RQ else AReleaseRP()
    except LocalProtocolError as exc:
        # A value object refused a decoded field (bad ID, bad name, ...).
        raise _error(f"invalid PDU parameter value: {exc}") from None


_PDU_TYPES = frozenset(int(t) for t in PDUType)
