"""SCP/SCU role selection (PS3.7 D.3.3.4), acceptor answer and requestor reading.

The table is written out row by row: the requestor proposes the roles it wants
(SCU, SCP); the acceptor can take some roles for the SOP class; the AC returns
1 only for a proposed role whose opposite the acceptor can take.
"""

from __future__ import annotations

import pytest

from dicomnet.negotiation import Negotiated, build_request, evaluate_accept, evaluate_request
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.items import PresentationContextAC, RoleSelection, UserInformation
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ
from negotiation.builders import CT, IMPLICIT_LE, VERIFICATION, request

Result = PresentationContextResult

# (requestor SCU, requestor SCP) proposed, (acceptor can SCU, acceptor can SCP),
# -> AC item (SCU, SCP), and whether the context is accepted.
ROWS = [
    ((1, 0), (0, 1), (1, 0), True),
    ((1, 0), (1, 0), (0, 0), False),
    ((1, 0), (1, 1), (1, 0), True),
    ((1, 0), (0, 0), (0, 0), False),
    ((0, 1), (0, 1), (0, 0), False),
    ((0, 1), (1, 0), (0, 1), True),
    ((0, 1), (1, 1), (0, 1), True),
    ((0, 1), (0, 0), (0, 0), False),
    ((1, 1), (0, 1), (1, 0), True),
    ((1, 1), (1, 0), (0, 1), True),
    ((1, 1), (1, 1), (1, 1), True),
    ((1, 1), (0, 0), (0, 0), False),
    ((0, 0), (0, 1), (0, 0), False),
    ((0, 0), (1, 0), (0, 0), False),
    ((0, 0), (1, 1), (0, 0), False),
    ((0, 0), (0, 0), (0, 0), False),
]


def _role(scu: int, scp: int, uid: str = CT) -> RoleSelection:
    return RoleSelection(sop_class_uid=uid, scu_role=bool(scu), scp_role=bool(scp))


def _acceptor(scu: int, scp: int) -> Policy:
    return Policy(
        ae_title="SCP",
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=CT,
                transfer_syntaxes=(IMPLICIT_LE,),
                scu_role=bool(scu),
                scp_role=bool(scp),
            ),
        ),
    )


def _answer(policy: Policy, rq: AAssociateRQ) -> tuple[AAssociateAC, Negotiated]:
    outcome = evaluate_request(policy, rq)
    assert isinstance(outcome, tuple)
    return outcome


@pytest.mark.parametrize(("proposed", "acceptor", "answer", "accepted"), ROWS)
def test_role_selection_row(
    proposed: tuple[int, int], acceptor: tuple[int, int], answer: tuple[int, int], accepted: bool
) -> None:
    rq = request((CT, (IMPLICIT_LE,)), extra=(_role(*proposed),))
    ac, theirs = _answer(_acceptor(*acceptor), rq)
    assert ac.user_information.role_selections == (_role(*answer),)
    (result,) = ac.presentation_contexts
    ours = evaluate_accept(Policy(ae_title="SCU"), rq, ac)
    if not accepted:
        assert result.result == Result.USER_REJECTION
        assert theirs.contexts == ours.contexts == ()
        return
    assert result.result == Result.ACCEPTANCE
    (acceptor_side,) = theirs.contexts
    (requestor_side,) = ours.contexts
    # Each side's roles: the requestor takes the agreed roles, the acceptor their mirror.
    assert (requestor_side.scu_role, requestor_side.scp_role) == (bool(answer[0]), bool(answer[1]))
    assert (acceptor_side.scu_role, acceptor_side.scp_role) == (bool(answer[1]), bool(answer[0]))


@pytest.mark.parametrize(
    ("acceptor", "accepted"), [((0, 1), True), ((1, 1), True), ((1, 0), False)]
)
def test_without_role_item_defaults_apply(acceptor: tuple[int, int], accepted: bool) -> None:
    rq = request((CT, (IMPLICIT_LE,)))
    ac, theirs = _answer(_acceptor(*acceptor), rq)
    ours = evaluate_accept(Policy(ae_title="SCU"), rq, ac)
    assert ac.user_information.role_selections == ()
    if not accepted:
        assert ac.presentation_contexts[0].result == Result.USER_REJECTION
        assert theirs.contexts == ours.contexts == ()
        return
    (acceptor_side,) = theirs.contexts
    (requestor_side,) = ours.contexts
    assert (acceptor_side.scu_role, acceptor_side.scp_role) == (False, True)
    assert (requestor_side.scu_role, requestor_side.scp_role) == (True, False)


def test_built_request_negotiates_reverse_roles_end_to_end() -> None:
    requestor = Policy(
        ae_title="SCU",
        proposed_contexts=(
            ProposedContext(
                abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,), scu_role=False, scp_role=True
            ),
        ),
    )
    rq = build_request(requestor, called_ae_title="SCP")
    ac, theirs = _answer(_acceptor(1, 1), rq)
    ours = evaluate_accept(requestor, rq, ac)
    assert ac.user_information.role_selections == (_role(0, 1),)
    assert ours.context_for(CT, role="scp") is not None
    assert ours.context_for(CT, role="scu") is None
    assert theirs.context_for(CT, role="scu") is not None
    assert theirs.context_for(CT, role="scp") is None


def test_role_item_for_an_unsupported_class_is_answered_with_zeros() -> None:
    rq = request((VERIFICATION, (IMPLICIT_LE,)), extra=(_role(1, 1),))
    policy = Policy(
        ae_title="SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    ac, theirs = _answer(policy, rq)
    assert ac.user_information.role_selections == (_role(0, 0),)
    assert [c.abstract_syntax for c in theirs.contexts] == [VERIFICATION]


def _requestor_roles(
    rq_roles: tuple[RoleSelection, ...], ac_roles: tuple[RoleSelection, ...]
) -> tuple[bool, bool]:
    rq = request((CT, (IMPLICIT_LE,)), extra=rq_roles)
    ac = AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextAC(
                context_id=1, result=Result.ACCEPTANCE, transfer_syntax=IMPLICIT_LE
            ),
        ),
        user_information=UserInformation(items=ac_roles),
    )
    (context,) = evaluate_accept(Policy(ae_title="SCU"), rq, ac).contexts
    return context.scu_role, context.scp_role


def test_requestor_defaults_when_the_acceptor_returns_no_role_item() -> None:
    assert _requestor_roles((_role(0, 1),), ()) == (True, False)


def test_requestor_ignores_answers_for_roles_it_did_not_propose() -> None:
    assert _requestor_roles((_role(0, 1),), (_role(1, 1),)) == (False, True)
    assert _requestor_roles((), (_role(0, 1),)) == (True, False)


def test_requestor_reads_the_item_of_its_own_sop_class_only() -> None:
    other = "1.2.840.10008.5.1.4.1.1.4"
    assert _requestor_roles((_role(1, 1),), (_role(0, 1, other), _role(1, 0))) == (True, False)
