"""Errors of the DIMSE layer, all below :class:`dicomnet.errors.DimseError`.

Decoding a command set fails in one of three ways that call for different
answers from the association layer (see :func:`dicomnet.dimse.responses.failure_status`):

* :class:`CommandDecodeError` - the bytes are not a well-formed group-0000
  command set (truncated, bad length, duplicate or foreign element). Nothing in
  it can be trusted: abort the association.
* :class:`MistypedElementError` - well framed, but an element's value has the
  wrong size or characters: answer "mistyped argument" (0212H) when possible.
* :class:`MissingElementError` - well formed, but a mandatory element is
  absent: answer with a failure status when the request can be identified.

Each carries what could be read of the command set, so a response can still
name the request it answers.
"""

from __future__ import annotations

from dicomnet.errors import DimseError

__all__ = [
    "CommandDecodeError",
    "CommandEncodeError",
    "CommandSetError",
    "DatasetError",
    "MissingElementError",
    "MistypedElementError",
    "UnknownCommandError",
]


class CommandEncodeError(DimseError):
    """A message cannot be encoded: a value is out of range, too long or badly formed."""


class CommandSetError(DimseError):
    """Base of the errors raised while decoding a received command set.

    Attributes hold what was read before the problem was found: ``command_field``,
    ``message_id`` (Message ID, or Message ID Being Responded To for a
    response), ``sop_class_uid`` and ``sop_instance_uid`` (Affected or
    Requested), and ``tag``, the element at fault as ``0x0000eeee``.
    """

    def __init__(
        self,
        message: str,
        *,
        command_field: int | None = None,
        message_id: int | None = None,
        sop_class_uid: str | None = None,
        sop_instance_uid: str | None = None,
        tag: int | None = None,
    ) -> None:
        super().__init__(message)
        self.command_field = command_field
        self.message_id = message_id
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid
        self.tag = tag


class CommandDecodeError(CommandSetError):
    """The bytes are not a well-formed command set (PS3.7 §6.3.1, PS3.5 §7.1.3)."""


class MistypedElementError(CommandDecodeError):
    """A command element is framed correctly but its value has the wrong form."""


class UnknownCommandError(CommandDecodeError):
    """The Command Field (0000,0100) holds a value PS3.7 does not define."""


class MissingElementError(CommandSetError):
    """A command element that PS3.7 makes mandatory for this message is absent or empty."""


class DatasetError(DimseError):
    """A data set cannot be encoded or decoded in the named transfer syntax."""

    def __init__(self, message: str, *, transfer_syntax_uid: str) -> None:
        super().__init__(f"{message} (transfer syntax {transfer_syntax_uid})")
        self.transfer_syntax_uid = transfer_syntax_uid
