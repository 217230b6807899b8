"""Building the A-ASSOCIATE-RQ of an association requestor from a Policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dicomnet.errors import ConfigurationError
from dicomnet.policy import VERIFICATION_SOP_CLASS, Policy, ProposedContext
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import AAssociateRQ

from .rules import DEFAULT_WINDOW, in_wire_order

__all__ = ["MAX_CONTEXTS", "build_request"]

#: At most 128 presentation contexts fit the odd IDs 1-255 (PS3.8 §9.3.2.2).
MAX_CONTEXTS = 128

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"

_VERIFICATION = ProposedContext(
    abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_VR_LITTLE_ENDIAN,)
)


def _role_items(contexts: Sequence[ProposedContext]) -> list[RoleSelection]:
    """One role selection item per abstract syntax whose roles are not the default.

    When one abstract syntax is proposed in several contexts, the item carries
    the union of their roles (the item is per SOP class, not per context).
    """
    roles: dict[str, tuple[bool, bool]] = {}
    for context in contexts:
        scu, scp = roles.get(context.abstract_syntax, (False, False))
        roles[context.abstract_syntax] = (scu or context.scu_role, scp or context.scp_role)
    return [
        RoleSelection(sop_class_uid=uid, scu_role=scu, scp_role=scp)
        for uid, (scu, scp) in roles.items()
        if (scu, scp) != (True, False)
    ]


def build_request(
    policy: Policy,
    *,
    called_ae_title: str,
    contexts: tuple[ProposedContext, ...] | None = None,
    user_identity: UserIdentityRQ | None = None,
    extended: Mapping[str, bytes] | None = None,
    common_extended: Sequence[SOPClassCommonExtendedNegotiation] = (),
) -> AAssociateRQ:
    """The A-ASSOCIATE-RQ that ``policy`` sends to ``called_ae_title``.

    ``contexts`` defaults to the policy's proposed contexts, or to Verification
    with Implicit VR Little Endian when it has none. Context IDs are 1, 3, 5...
    in order. The user information carries the maximum length we receive, our
    implementation class UID and version name, and only when needed: the
    asynchronous operations window (when it is not 1/1), role selection (per
    abstract syntax whose roles are not "SCU only"), SOP class extended and
    common extended negotiation, and user identity.

    Raises :class:`~dicomnet.errors.ConfigurationError` for more than 128 or no
    contexts, or for a value that cannot be encoded.
    """
    if contexts is None:
        contexts = policy.proposed_contexts or (_VERIFICATION,)
    if not contexts:
        raise ConfigurationError("no presentation context to propose")
    if len(contexts) > MAX_CONTEXTS:
        raise ConfigurationError(
            f"{len(contexts)} presentation contexts proposed; at most {MAX_CONTEXTS} fit"
        )
    try:
        items: list[SubItem] = [
            MaximumLength(maximum_length=policy.max_pdu_receive),
            ImplementationClassUID(uid=policy.implementation_class_uid),
        ]
        if policy.implementation_version_name:
            items.append(ImplementationVersionName(name=policy.implementation_version_name))
        window = (policy.max_operations_invoked, policy.max_operations_performed)
        if window != DEFAULT_WINDOW:
            items.append(
                AsynchronousOperationsWindow(
                    max_operations_invoked=window[0], max_operations_performed=window[1]
                )
            )
        items.extend(_role_items(contexts))
        for uid, info in (extended or {}).items():
            items.append(
                SOPClassExtendedNegotiation(
                    sop_class_uid=uid, service_class_application_information=info
                )
            )
        items.extend(common_extended)
        if user_identity is not None:
            items.append(user_identity)
        return AAssociateRQ(
            called_ae_title=called_ae_title,
            calling_ae_title=policy.ae_title,
            presentation_contexts=tuple(
                PresentationContextRQ(
                    context_id=2 * index + 1,
                    abstract_syntax=context.abstract_syntax,
                    transfer_syntaxes=context.transfer_syntaxes,
                )
                for index, context in enumerate(contexts)
            ),
            user_information=UserInformation(items=in_wire_order(items)),
        )
    except LocalProtocolError as exc:
        raise ConfigurationError(f"cannot build A-ASSOCIATE-RQ: {exc}") from exc
