"""Building responses: the *-RSP for an *-RQ, and failure answers to bad requests.

PS3.7 §9.3 and §10.3 fix what a response repeats from its request: Message ID
Being Responded To is the request's Message ID, and the Affected SOP Class and
Instance UIDs are the request's Affected (DIMSE-C, N-EVENT-REPORT, N-CREATE)
or Requested (N-GET, N-SET, N-ACTION, N-DELETE) ones.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final, overload

from . import commands as c
from .commands import CommandField, DimseResponse
from .comments import error_comment
from .errors import CommandSetError, MissingElementError, MistypedElementError
from .status import Status
from .uids import is_valid_uid

__all__ = ["build_response", "failure_response", "failure_status", "response_class"]

_RESPONSE_FOR: Final[dict[type[c.DimseRequest], type[DimseResponse]]] = {
    c.CEchoRQ: c.CEchoRSP,
    c.CStoreRQ: c.CStoreRSP,
    c.CFindRQ: c.CFindRSP,
    c.CGetRQ: c.CGetRSP,
    c.CMoveRQ: c.CMoveRSP,
    c.NEventReportRQ: c.NEventReportRSP,
    c.NGetRQ: c.NGetRSP,
    c.NSetRQ: c.NSetRSP,
    c.NActionRQ: c.NActionRSP,
    c.NCreateRQ: c.NCreateRSP,
    c.NDeleteRQ: c.NDeleteRSP,
}
_BY_FIELD: Final[dict[int, type[DimseResponse]]] = {
    rq.command_field: rsp for rq, rsp in _RESPONSE_FOR.items()
}

# Request command fields whose status sets include the service-specific
# "Cxxx" failure (cannot understand / unable to process), PS3.4 B and C.
_CXXX_SERVICES: Final = frozenset(
    {CommandField.C_STORE_RQ, CommandField.C_FIND_RQ, CommandField.C_GET_RQ, CommandField.C_MOVE_RQ}
)


def response_class(command_field: int) -> type[DimseResponse] | None:
    """The response class answering a request Command Field, or ``None`` (C-CANCEL, responses)."""
    return _BY_FIELD.get(command_field)


@overload
def build_response(request: c.CEchoRQ, status: int, **fields: Any) -> c.CEchoRSP: ...
@overload
def build_response(request: c.CStoreRQ, status: int, **fields: Any) -> c.CStoreRSP: ...
@overload
def build_response(request: c.CFindRQ, status: int, **fields: Any) -> c.CFindRSP: ...
@overload
def build_response(request: c.CGetRQ, status: int, **fields: Any) -> c.CGetRSP: ...
@overload
def build_response(request: c.CMoveRQ, status: int, **fields: Any) -> c.CMoveRSP: ...
@overload
def build_response(request: c.NEventReportRQ, status: int, **fields: Any) -> c.NEventReportRSP: ...
@overload
def build_response(request: c.NGetRQ, status: int, **fields: Any) -> c.NGetRSP: ...
@overload
def build_response(request: c.NSetRQ, status: int, **fields: Any) -> c.NSetRSP: ...
@overload
def build_response(request: c.NActionRQ, status: int, **fields: Any) -> c.NActionRSP: ...
@overload
def build_response(request: c.NCreateRQ, status: int, **fields: Any) -> c.NCreateRSP: ...
@overload
def build_response(request: c.NDeleteRQ, status: int, **fields: Any) -> c.NDeleteRSP: ...
@overload
def build_response(request: c.DimseRequest, status: int, **fields: Any) -> DimseResponse: ...
def build_response(request: c.DimseRequest, status: int, **fields: Any) -> DimseResponse:
    """The response to ``request`` with ``status``; ``fields`` set or override response fields.

    Copies Message ID into Message ID Being Responded To, the SOP Class and
    Instance UIDs (Requested ones become Affected ones for DIMSE-N), and the
    Event/Action Type ID of N-EVENT-REPORT/N-ACTION. ``has_dataset`` defaults
    to ``False``. An unknown field name raises :class:`TypeError`. An
    ``error_comment`` is made a valid Error Comment (see
    :func:`~dicomnet.dimse.comments.error_comment`), so text quoting what a
    peer sent never makes the response unencodable.
    """
    kind = type(request)
    if kind is c.CStoreRQ and not fields.keys() - {"has_dataset"}:
        # The common case, one per stored instance: the general path below gives
        # the same, through the getattr/isinstance chain every message type needs.
        return _store_response(request, int(status), bool(fields.get("has_dataset", False)))  # type: ignore[arg-type]
    if kind is c.CEchoRQ and not fields:
        return c.CEchoRSP(
            message_id_being_responded_to=request.message_id,
            status=int(status),
            affected_sop_class_uid=_valid_or_none(request.affected_sop_class_uid),  # type: ignore[attr-defined]
        )
    return _general_response(request, status, fields)


def _general_response(
    request: c.DimseRequest, status: int, fields: dict[str, Any]
) -> DimseResponse:
    """:func:`build_response` for any request (the C-STORE shortcut aside)."""
    rsp_cls = _RESPONSE_FOR.get(type(request))
    if rsp_cls is None:
        raise TypeError(f"no response is defined for {type(request).__name__}")
    values: dict[str, Any] = {
        "message_id_being_responded_to": request.message_id,
        "status": int(status),
        "affected_sop_class_uid": getattr(
            request, "affected_sop_class_uid", getattr(request, "requested_sop_class_uid", None)
        ),
    }
    if isinstance(request, c.NEventReportRQ):
        values["event_type_id"] = request.event_type_id
    elif isinstance(request, c.NActionRQ):
        values["action_type_id"] = request.action_type_id
    if not isinstance(request, c.CEchoRQ | c.CFindRQ | c.CGetRQ | c.CMoveRQ):
        values["affected_sop_instance_uid"] = getattr(
            request,
            "affected_sop_instance_uid",
            getattr(request, "requested_sop_instance_uid", None),
        )
    # A malformed UID copied from the request would make the response unencodable;
    # the Affected UIDs are optional in responses (PS3.7 §9.3, §10.3), so it is left out.
    for attr in ("affected_sop_class_uid", "affected_sop_instance_uid"):
        uid = values.get(attr)
        if isinstance(uid, str) and not is_valid_uid(uid):
            values[attr] = None
    values.update(fields)
    comment = values.get("error_comment")
    if isinstance(comment, str):
        values["error_comment"] = error_comment(comment)
    return rsp_cls(**values)


def _store_response(request: c.CStoreRQ, status: int, has_dataset: bool) -> c.CStoreRSP:
    return c.CStoreRSP(
        message_id_being_responded_to=request.message_id,
        status=status,
        affected_sop_class_uid=_valid_or_none(request.affected_sop_class_uid),
        affected_sop_instance_uid=_valid_or_none(request.affected_sop_instance_uid),
        has_dataset=has_dataset,
    )


def _valid_or_none(uid: str | None) -> str | None:
    return None if isinstance(uid, str) and not is_valid_uid(uid) else uid


def failure_status(error: CommandSetError) -> int | None:
    """The status to answer a request that failed to decode with, or ``None`` to abort.

    ``None`` when no response can be addressed: the Command Field or Message
    ID could not be read, the message is not a request with a response
    (responses, C-CANCEL-RQ), or the framing itself is broken. Otherwise:

    * a mistyped element: Mistyped argument (0212H, PS3.7 Annex C);
    * a missing element in C-STORE/C-FIND/C-GET/C-MOVE: the service-specific
      failure C000H (Cannot understand / Unable to process, PS3.4 B.2.3, C.4);
    * a missing element in a DIMSE-N request: Missing Attribute (0120H);
    * a missing element in C-ECHO, whose status set has neither: 0212H.
    """
    if error.message_id is None or error.command_field not in _BY_FIELD:
        return None
    if isinstance(error, MistypedElementError):
        return Status.MISTYPED_ARGUMENT
    if not isinstance(error, MissingElementError):
        return None
    if error.command_field in _CXXX_SERVICES:
        return Status.CANNOT_UNDERSTAND
    if error.command_field == CommandField.C_ECHO_RQ:
        return Status.MISTYPED_ARGUMENT
    return Status.MISSING_ATTRIBUTE


def failure_response(error: CommandSetError) -> DimseResponse | None:
    """A ready-to-send failure response for a request that failed to decode, or ``None``.

    Uses :func:`failure_status`; names the element at fault in Offending
    Element and the problem (cut to 64 characters) in Error Comment. SOP UIDs
    read from the request are echoed only if they are well formed.
    """
    status = failure_status(error)
    if status is None or error.command_field is None:
        return None
    rsp_cls = _BY_FIELD[error.command_field]
    names = {f.name for f in fields(rsp_cls)}
    values: dict[str, Any] = {
        "message_id_being_responded_to": error.message_id,
        "status": status,
        "error_comment": error_comment(str(error)),
    }
    if error.tag is not None:
        values["offending_element"] = (error.tag,)
    uids = {
        "affected_sop_class_uid": error.sop_class_uid,
        "affected_sop_instance_uid": error.sop_instance_uid,
    }
    values.update(
        (attr, uid) for attr, uid in uids.items() if attr in names and uid and is_valid_uid(uid)
    )
    return rsp_cls(**values)
