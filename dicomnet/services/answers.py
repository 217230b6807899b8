"""The status an SCP answers in a situation: the profile's, else the PS3.4 default.

Handlers call :func:`failure` with the situation and the status PS3.4 gives
it; the Policy's :class:`~dicomnet.status_policy.StatusPolicy` (from the
profile's ``[[status]]`` rows) may replace the code, e.g. LifeSys answers a
failed database query with 0110 "Processing Failure" where the default is
C001.
"""

from __future__ import annotations

from typing import Final

from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.comments import error_comment
from dicomnet.status_policy import Situation

from .base import IncomingRequest, Reply

__all__ = ["SERVICE_NAMES", "failure", "service_name", "status_for"]

#: The service name a profile's ``[[status]]`` row uses, per request command field.
SERVICE_NAMES: Final[dict[int, str]] = {
    CommandField.C_STORE_RQ: "C-STORE",
    CommandField.C_FIND_RQ: "C-FIND",
    CommandField.C_MOVE_RQ: "C-MOVE",
    CommandField.C_GET_RQ: "C-GET",
    CommandField.C_ECHO_RQ: "C-ECHO",
    CommandField.N_ACTION_RQ: "N-ACTION",
    CommandField.N_CREATE_RQ: "N-CREATE",
    CommandField.N_SET_RQ: "N-SET",
    CommandField.N_GET_RQ: "N-GET",
    CommandField.N_DELETE_RQ: "N-DELETE",
    CommandField.N_EVENT_REPORT_RQ: "N-EVENT-REPORT",
}


def service_name(request: IncomingRequest) -> str:
    """``"C-FIND"`` etc. for the request's command."""
    return SERVICE_NAMES.get(request.message.command_field, "")


def status_for(request: IncomingRequest, situation: Situation, default: int) -> int:
    """The status this AE answers ``request`` with in ``situation``."""
    statuses = request.association.policy.statuses
    return statuses.status(service_name(request), situation, default)


def failure(
    request: IncomingRequest,
    situation: Situation,
    default: int,
    comment: str,
    offending: int | None = None,
) -> Reply:
    """A failure reply with the profile's status for ``situation``, an Error Comment and,
    when given, Offending Element."""
    fields: dict[str, object] = {"error_comment": error_comment(comment)}
    if offending is not None:
        fields["offending_element"] = (offending,)
    return Reply(status=status_for(request, situation, default), fields=fields)
