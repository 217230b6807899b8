"""Builders shared by the negotiation tests."""

from __future__ import annotations

from typing import Any

from dicomnet.policy import AcceptedContext, Policy
from dicomnet_pdu.items import (
    ImplementationClassUID,
    MaximumLength,
    PresentationContextRQ,
    SubItem,
    UserInformation,
)
from dicomnet_pdu.pdus import AAssociateRQ

VERIFICATION = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
PEER_CLASS_UID = "1.2.3.4.5"


def acceptor_policy(**changes: Any) -> Policy:
    """An SCP policy accepting Verification and CT with both little endian syntaxes."""
    values: dict[str, Any] = {
        "ae_title": "SCP",
        "accepted_contexts": (
            AcceptedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
            AcceptedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE)),
        ),
    }
    values.update(changes)
    return Policy(**values)


def request(
    *contexts: tuple[str, tuple[str, ...]],
    extra: tuple[SubItem, ...] = (),
    max_length: int | None = 16384,
    **fields: Any,
) -> AAssociateRQ:
    """An A-ASSOCIATE-RQ from SCU to SCP proposing ``contexts`` (IDs 1, 3, 5...)."""
    items: list[SubItem] = []
    if max_length is not None:
        items.append(MaximumLength(maximum_length=max_length))
    items.append(ImplementationClassUID(uid=PEER_CLASS_UID))
    items.extend(extra)
    values: dict[str, Any] = {
        "called_ae_title": "SCP",
        "calling_ae_title": "SCU",
        "presentation_contexts": tuple(
            PresentationContextRQ(
                context_id=2 * index + 1, abstract_syntax=uid, transfer_syntaxes=syntaxes
            )
            for index, (uid, syntaxes) in enumerate(contexts or ((VERIFICATION, (IMPLICIT_LE,)),))
        ),
        "user_information": UserInformation(items=tuple(items)),
    }
    values.update(fields)
    return AAssociateRQ(**values)
