"""The association acceptor's side: answering an A-ASSOCIATE-RQ from a Policy.

Rejections follow PS3.8 Table 9-21 and §9.3.4; presentation context results
PS3.8 Table 9-18; user-information sub-items PS3.7 Annex D.3.3.

Choices where the standard leaves room (all documented here):

* When no presentation context is accepted the association is still accepted:
  PS3.8 allows an A-ASSOCIATE-AC whose every context is rejected, and the
  requestor learns why per context rather than by an opaque rejection.
* A context whose abstract syntax ends up with neither role for the requestor
  (a role selection answered 0/0, or no role item while we cannot be SCP) is
  answered with result 1, user-rejection.
* A Maximum Length Received below ``policy.min_peer_max_pdu`` (but not 0, which
  means unlimited) rejects the association permanently, service-user,
  no-reason-given: no response could ever be sent on it, so nothing must be
  accepted (let alone stored) over it.
* Repeated context IDs never arrive from the network (the codec refuses such a
  PDU, PS3.8 §7.1.1.13); in a request built in code the repeat is answered with
  result 2, no-reason (provider rejection) and the first one evaluated normally.
* AE titles are compared exactly (case matters) after removing padding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    Policy,
    TransferSyntaxPreference,
    WrongCalledAE,
)
from dicomnet_pdu.codes import (
    DEFAULT_APPLICATION_CONTEXT,
    PresentationContextResult,
    RejectReasonACSE,
    RejectReasonPresentation,
    RejectReasonUser,
    RejectResult,
    RejectSource,
)
from dicomnet_pdu.items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRJ, AAssociateRQ

from .outcome import Negotiated, NegotiatedContext
from .rules import DEFAULT_WINDOW, in_wire_order, limit, peer_max_length_problem, role_answer

__all__ = ["ExtendedCheck", "IdentityCheck", "evaluate_request", "rejection_for_limit"]

#: Decides on a user identity: False rejects, True/None accepts, bytes accepts with
#: that server response (sent only when the requestor asked for one).
IdentityCheck = Callable[[UserIdentityRQ], bytes | bool | None]
#: Decides on SOP class extended negotiation: the agreed bytes, or None to not answer.
ExtendedCheck = Callable[[str, bytes], bytes | None]

_Result = PresentationContextResult


def rejection_for_limit() -> AAssociateRJ:
    """A-ASSOCIATE-RJ for a connection beyond the association limit.

    Result 2 (rejected-transient), source 3 (service-provider, presentation
    related function), reason 2 (local-limit-exceeded).
    """
    return AAssociateRJ(
        result=RejectResult.TRANSIENT,
        source=RejectSource.SERVICE_PROVIDER_PRESENTATION,
        reason=RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED,
    )


def _permanent(source: RejectSource, reason: int) -> AAssociateRJ:
    return AAssociateRJ(result=RejectResult.PERMANENT, source=source, reason=reason)


def _titles(titles: Iterable[str]) -> set[str]:
    return {title.strip(" ") for title in titles}


def _association_rejection(policy: Policy, rq: AAssociateRQ) -> AAssociateRJ | None:
    """The A-ASSOCIATE-RJ that the RQ's header fields call for, if any (Table 9-21)."""
    if not rq.protocol_version & 0x0001:
        return _permanent(
            RejectSource.SERVICE_PROVIDER_ACSE, RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED
        )
    if rq.application_context_name != DEFAULT_APPLICATION_CONTEXT:
        return _permanent(
            RejectSource.SERVICE_USER, RejectReasonUser.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED
        )
    if peer_max_length_problem(rq.user_information.maximum_length, policy.min_peer_max_pdu):
        return _permanent(RejectSource.SERVICE_USER, RejectReasonUser.NO_REASON_GIVEN)
    rules = policy.ae_titles
    if rules.calling_ae_titles is not None and rq.calling_ae_title not in _titles(
        rules.calling_ae_titles
    ):
        return _permanent(
            RejectSource.SERVICE_USER, RejectReasonUser.CALLING_AE_TITLE_NOT_RECOGNIZED
        )
    if not _called_ae_matches(policy, rq) and rules.wrong_called_ae is WrongCalledAE.REJECT:
        return _permanent(
            RejectSource.SERVICE_USER, RejectReasonUser.CALLED_AE_TITLE_NOT_RECOGNIZED
        )
    return None


def _called_ae_matches(policy: Policy, rq: AAssociateRQ) -> bool:
    called = _titles(policy.ae_titles.called_ae_titles)
    return "*" in called or rq.called_ae_title in called


def _choose_transfer_syntax(
    policy: Policy, rule: AcceptedContext, proposed: tuple[str, ...]
) -> str | None:
    if policy.transfer_syntax_preference is TransferSyntaxPreference.ACCEPTOR:
        return next((ts for ts in rule.transfer_syntaxes if ts in proposed), None)
    return next((ts for ts in proposed if ts in rule.transfer_syntaxes), None)


def _answer_roles(
    policy: Policy, rq: AAssociateRQ
) -> tuple[list[RoleSelection], dict[str, tuple[bool, bool]]]:
    """AC role items (one per RQ item) and the requestor's agreed (SCU, SCP) per SOP class."""
    answers: list[RoleSelection] = []
    agreed: dict[str, tuple[bool, bool]] = {}
    for item in rq.user_information.role_selections:
        rule = policy.accepted(item.sop_class_uid)
        scu, scp = role_answer(
            item.scu_role,
            item.scp_role,
            we_can_scu=rule is not None and rule.scu_role,
            we_can_scp=rule is not None and rule.scp_role,
        )
        answers.append(RoleSelection(sop_class_uid=item.sop_class_uid, scu_role=scu, scp_role=scp))
        agreed.setdefault(item.sop_class_uid, (scu, scp))
    return answers, agreed


def _requestor_roles(
    rule: AcceptedContext, agreed: dict[str, tuple[bool, bool]]
) -> tuple[bool, bool]:
    """The requestor's (SCU, SCP) roles: from its role item, else the default (PS3.7 D.3.3.4)."""
    if rule.abstract_syntax in agreed:
        return agreed[rule.abstract_syntax]
    return rule.scp_role, False


def _evaluate_contexts(
    policy: Policy, rq: AAssociateRQ, agreed: dict[str, tuple[bool, bool]]
) -> tuple[list[PresentationContextAC], list[NegotiatedContext]]:
    verification_only = not _called_ae_matches(policy, rq)
    results: list[PresentationContextAC] = []
    accepted: list[NegotiatedContext] = []
    seen: set[int] = set()
    for context in rq.presentation_contexts:
        if context.context_id in seen:
            outcome: _Result | NegotiatedContext = _Result.NO_REASON
        else:
            outcome = _evaluate_context(policy, context, agreed, verification_only)
        seen.add(context.context_id)
        if isinstance(outcome, NegotiatedContext):
            accepted.append(outcome)
            result = PresentationContextAC(
                context_id=context.context_id,
                result=_Result.ACCEPTANCE,
                transfer_syntax=outcome.transfer_syntax,
            )
        else:
            result = PresentationContextAC(context_id=context.context_id, result=outcome)
        results.append(result)
    return results, accepted


def _evaluate_context(
    policy: Policy,
    context: PresentationContextRQ,
    agreed: dict[str, tuple[bool, bool]],
    verification_only: bool,
) -> _Result | NegotiatedContext:
    """The accepted context, or the result that rejects it (PS3.8 Table 9-18)."""
    if verification_only and context.abstract_syntax != VERIFICATION_SOP_CLASS:
        return _Result.USER_REJECTION
    rule = policy.accepted(context.abstract_syntax)
    if rule is None:
        return _Result.ABSTRACT_SYNTAX_NOT_SUPPORTED
    chosen = _choose_transfer_syntax(policy, rule, context.transfer_syntaxes)
    if chosen is None:
        return _Result.TRANSFER_SYNTAXES_NOT_SUPPORTED
    peer_scu, peer_scp = _requestor_roles(rule, agreed)
    if not (peer_scu or peer_scp):
        return _Result.USER_REJECTION
    # Our roles mirror the requestor's: it acting as SCU makes us SCP and vice versa.
    return NegotiatedContext(
        context_id=context.context_id,
        abstract_syntax=context.abstract_syntax,
        transfer_syntax=chosen,
        scu_role=peer_scp,
        scp_role=peer_scu,
    )


def _answer_window(policy: Policy, rq: AAssociateRQ) -> AsynchronousOperationsWindow | None:
    """The AC window item (PS3.7 D.3.3.3), from the requestor's point of view, or None.

    Its invoked value is how many operations the requestor may invoke (we perform
    them), its performed value how many it may perform (we invoke them); each is
    at most what the requestor offered and at most what our policy allows.
    """
    offered = rq.user_information.asynchronous_operations_window
    if offered is None:
        return None
    return AsynchronousOperationsWindow(
        max_operations_invoked=limit(
            offered.max_operations_invoked, policy.max_operations_performed
        ),
        max_operations_performed=limit(
            offered.max_operations_performed, policy.max_operations_invoked
        ),
    )


def _answer_extended(
    policy: Policy,
    rq: AAssociateRQ,
    accepted: list[NegotiatedContext],
    extended_check: ExtendedCheck | None,
) -> dict[str, bytes]:
    accepted_classes = {context.abstract_syntax for context in accepted}
    agreed: dict[str, bytes] = {}
    for item in rq.user_information.sop_class_extended:
        uid = item.sop_class_uid
        if uid not in accepted_classes or uid in agreed:
            continue
        info = item.service_class_application_information
        if extended_check is not None:
            answer = extended_check(uid, info)
        else:
            rule = policy.accepted(uid)
            answer = None if rule is None or rule.relational is None else _relational(rule, info)
        if answer is not None:
            agreed[uid] = answer
    return agreed


def _relational(rule: AcceptedContext, info: bytes) -> bytes | None:
    """The answer to a Q/R SOP class extended negotiation per ``rule.relational``.

    Byte 0 is relational queries / retrieve (PS3.4 C.5.1.1, C.5.2.1, C.5.3.1):
    granted when asked for and the profile grants it; the other flags
    (date-time matching, fuzzy matching, timezone adjustment) are declined.
    """
    if not info:
        return None
    granted = rule.relational and info[:1] == b"\x01"
    return (b"\x01" if granted else b"\x00") + b"\x00" * (len(info) - 1)


def evaluate_request(
    policy: Policy,
    rq: AAssociateRQ,
    *,
    identity_check: IdentityCheck | None = None,
    extended_check: ExtendedCheck | None = None,
) -> tuple[AAssociateAC, Negotiated] | AAssociateRJ:
    """Answer ``rq`` per ``policy``: the A-ASSOCIATE-AC and what was agreed, or an RJ.

    The association is rejected (permanent) for a protocol version without
    bit 0, an application context other than DICOM's, a Maximum Length
    Received too small to carry a PDV, a calling AE title not
    in the allow list, a called AE title that is not ours (unless the policy
    accepts such calls for Verification only, in which case every other
    context gets result 1), or a user identity that ``identity_check``
    refuses. Every proposed context gets a result; roles, the asynchronous
    operations window, SOP class extended negotiation (echoed only for accepted
    SOP classes that ``extended_check`` agrees to, or without it as the
    accepted context's ``relational`` says) and user identity are
    answered per PS3.7 D.3.3. Common extended negotiation has no response.
    """
    rejection = _association_rejection(policy, rq)
    if rejection is not None:
        return rejection
    info = rq.user_information
    identity = info.user_identity_rq
    identity_answer: bytes | bool | None = None
    if identity is not None and identity_check is not None:
        identity_answer = identity_check(identity)
        if identity_answer is False:
            return _permanent(RejectSource.SERVICE_USER, RejectReasonUser.NO_REASON_GIVEN)

    role_items, agreed_roles = _answer_roles(policy, rq)
    results, accepted = _evaluate_contexts(policy, rq, agreed_roles)
    if not accepted and policy.reject_without_contexts:
        return _permanent(RejectSource.SERVICE_USER, RejectReasonUser.NO_REASON_GIVEN)
    window = _answer_window(policy, rq)
    extended = _answer_extended(policy, rq, accepted, extended_check)

    items: list[SubItem] = [
        MaximumLength(maximum_length=policy.max_pdu_receive),
        ImplementationClassUID(uid=policy.implementation_class_uid),
    ]
    if policy.implementation_version_name:
        items.append(ImplementationVersionName(name=policy.implementation_version_name))
    if window is not None:
        items.append(window)
    items.extend(role_items)
    items.extend(
        SOPClassExtendedNegotiation(sop_class_uid=uid, service_class_application_information=data)
        for uid, data in extended.items()
    )
    if (
        identity is not None
        and identity.positive_response_requested
        and isinstance(identity_answer, bytes)
    ):
        items.append(UserIdentityAC(server_response=identity_answer))

    ac = AAssociateAC(
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=tuple(results),
        user_information=UserInformation(items=in_wire_order(items)),
    )
    invoked_by_peer, performed_by_peer = (
        DEFAULT_WINDOW
        if window is None
        else (window.max_operations_invoked, window.max_operations_performed)
    )
    negotiated = Negotiated(
        local_ae_title=rq.called_ae_title,
        peer_ae_title=rq.calling_ae_title,
        contexts=tuple(accepted),
        results=tuple(results),
        max_pdu_send=limit(info.maximum_length or 0, policy.max_pdu_send),
        max_pdu_receive=policy.max_pdu_receive,
        max_operations_invoked=performed_by_peer,
        max_operations_performed=invoked_by_peer,
        peer_implementation_class_uid=info.implementation_class_uid or "",
        peer_implementation_version_name=info.implementation_version_name,
        user_identity=identity,
        extended=extended,
    )
    return ac, negotiated
