"""The association requestor's side: reading the A-ASSOCIATE-AC against our RQ.

The AC is checked strictly where a mistake would make us send on a context the
peer does not know (unknown context IDs, transfer syntaxes we did not propose)
and leniently elsewhere: values above what we offered are capped to our offer.
"""

from __future__ import annotations

from dicomnet.errors import NegotiationError
from dicomnet.policy import Policy
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.items import PresentationContextRQ
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ

from .outcome import Negotiated, NegotiatedContext
from .rules import DEFAULT_WINDOW, limit, peer_max_length_problem

__all__ = ["evaluate_accept"]


def _our_roles(rq: AAssociateRQ, ac: AAssociateAC, abstract_syntax: str) -> tuple[bool, bool]:
    """Our (SCU, SCP) roles for ``abstract_syntax`` (PS3.7 D.3.3.4).

    Without a role item of ours, or without the acceptor's answer to it, the
    defaults apply: requestor SCU only. A role is ours only when we proposed it
    and the acceptor returned 1 for it (an answer for an unproposed role is
    ignored).
    """
    proposed = next(
        (i for i in rq.user_information.role_selections if i.sop_class_uid == abstract_syntax),
        None,
    )
    answer = next(
        (i for i in ac.user_information.role_selections if i.sop_class_uid == abstract_syntax),
        None,
    )
    if proposed is None or answer is None:
        return True, False
    return proposed.scu_role and answer.scu_role, proposed.scp_role and answer.scp_role


def _accepted_contexts(rq: AAssociateRQ, ac: AAssociateAC) -> list[NegotiatedContext]:
    proposed: dict[int, PresentationContextRQ] = {
        context.context_id: context for context in rq.presentation_contexts
    }
    answered: set[int] = set()
    accepted: list[NegotiatedContext] = []
    for result in ac.presentation_contexts:
        ours = proposed.get(result.context_id)
        if ours is None:
            raise NegotiationError(
                f"A-ASSOCIATE-AC answers presentation context {result.context_id},"
                " which was not proposed"
            )
        if result.context_id in answered:
            raise NegotiationError(
                f"A-ASSOCIATE-AC answers presentation context {result.context_id} twice"
            )
        answered.add(result.context_id)
        if result.result != PresentationContextResult.ACCEPTANCE:
            continue
        if result.transfer_syntax not in ours.transfer_syntaxes:
            raise NegotiationError(
                f"A-ASSOCIATE-AC accepts presentation context {result.context_id} with transfer"
                f" syntax {result.transfer_syntax}, which was not proposed for it"
            )
        scu, scp = _our_roles(rq, ac, ours.abstract_syntax)
        accepted.append(
            NegotiatedContext(
                context_id=result.context_id,
                abstract_syntax=ours.abstract_syntax,
                transfer_syntax=result.transfer_syntax,
                scu_role=scu,
                scp_role=scp,
            )
        )
    return accepted


def evaluate_accept(policy: Policy, rq: AAssociateRQ, ac: AAssociateAC) -> Negotiated:
    """What was agreed, from the requestor's point of view, given our ``rq`` and its ``ac``.

    Raises :class:`~dicomnet.errors.NegotiationError` when the AC answers a
    context we did not propose, answers one twice, or accepts one with a
    transfer syntax we did not propose for it, and when its Maximum Length
    Received is below ``policy.min_peer_max_pdu`` (nothing could be sent).
    """
    accepted = _accepted_contexts(rq, ac)
    info = ac.user_information
    problem = peer_max_length_problem(info.maximum_length, policy.min_peer_max_pdu)
    if problem is not None:
        raise NegotiationError(problem)
    offered = rq.user_information.asynchronous_operations_window
    offered_window = (
        DEFAULT_WINDOW
        if offered is None
        else (offered.max_operations_invoked, offered.max_operations_performed)
    )
    answered = info.asynchronous_operations_window
    if answered is None:
        invoked, performed = DEFAULT_WINDOW
    else:
        # The acceptor may only lower what we offered (PS3.7 D.3.3.3); cap it if it did not.
        invoked = limit(answered.max_operations_invoked, offered_window[0])
        performed = limit(answered.max_operations_performed, offered_window[1])
    requested_extended = {item.sop_class_uid for item in rq.user_information.sop_class_extended}
    extended: dict[str, bytes] = {}
    for item in info.sop_class_extended:
        if item.sop_class_uid in requested_extended:
            extended.setdefault(item.sop_class_uid, item.service_class_application_information)
    return Negotiated(
        local_ae_title=rq.calling_ae_title,
        peer_ae_title=rq.called_ae_title,
        contexts=tuple(accepted),
        results=tuple(ac.presentation_contexts),
        max_pdu_send=limit(info.maximum_length or 0, policy.max_pdu_send),
        max_pdu_receive=policy.max_pdu_receive,
        max_operations_invoked=invoked,
        max_operations_performed=performed,
        peer_implementation_class_uid=info.implementation_class_uid or "",
        peer_implementation_version_name=info.implementation_version_name,
        user_identity=rq.user_information.user_identity_rq,
        extended=extended,
    )
