"""evaluate_accept: the requestor's reading of an A-ASSOCIATE-AC, and the Negotiated API."""

from __future__ import annotations

import pytest

from dicomnet.errors import LocalError, NegotiationError
from dicomnet.negotiation import Negotiated, NegotiatedContext, build_request, evaluate_accept
from dicomnet.policy import Policy, ProposedContext
from dicomnet_pdu.codes import PresentationContextResult, UserIdentityType
from dicomnet_pdu.items import (
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ
from negotiation.builders import CT, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, MR, VERIFICATION

Result = PresentationContextResult

POLICY = Policy(
    ae_title="SCU",
    max_pdu_send=16384,
    proposed_contexts=(
        ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
        ProposedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE)),
        ProposedContext(abstract_syntax=MR, transfer_syntaxes=(EXPLICIT_LE,)),
    ),
)


def _rq(**options: object) -> AAssociateRQ:
    return build_request(POLICY, called_ae_title="PACS", **options)  # type: ignore[arg-type]


def _ac(*results: PresentationContextAC, items: tuple[SubItem, ...] = ()) -> AAssociateAC:
    return AAssociateAC(
        called_ae_title="PACS",
        calling_ae_title="SCU",
        presentation_contexts=results,
        user_information=UserInformation(
            items=(
                MaximumLength(maximum_length=32768),
                ImplementationClassUID(uid="1.2.3.4"),
                ImplementationVersionName(name="PACS_1"),
                *items,
            )
        ),
    )


def _ok(context_id: int, syntax: str) -> PresentationContextAC:
    return PresentationContextAC(
        context_id=context_id, result=Result.ACCEPTANCE, transfer_syntax=syntax
    )


def test_accepted_contexts_and_peer_facts() -> None:
    ac = _ac(
        _ok(1, IMPLICIT_LE),
        _ok(3, IMPLICIT_LE),
        PresentationContextAC(context_id=5, result=Result.ABSTRACT_SYNTAX_NOT_SUPPORTED),
    )
    negotiated = evaluate_accept(POLICY, _rq(), ac)
    assert negotiated.contexts == (
        NegotiatedContext(
            context_id=1,
            abstract_syntax=VERIFICATION,
            transfer_syntax=IMPLICIT_LE,
            scu_role=True,
            scp_role=False,
        ),
        NegotiatedContext(
            context_id=3,
            abstract_syntax=CT,
            transfer_syntax=IMPLICIT_LE,
            scu_role=True,
            scp_role=False,
        ),
    )
    assert negotiated.results == ac.presentation_contexts
    assert (negotiated.local_ae_title, negotiated.peer_ae_title) == ("SCU", "PACS")
    assert negotiated.max_pdu_send == 16384  # peer 32768, capped by our policy
    assert negotiated.max_pdu_receive == POLICY.max_pdu_receive
    assert negotiated.peer_implementation_class_uid == "1.2.3.4"
    assert negotiated.peer_implementation_version_name == "PACS_1"
    assert (negotiated.max_operations_invoked, negotiated.max_operations_performed) == (1, 1)


def test_unknown_context_id_is_an_error() -> None:
    with pytest.raises(NegotiationError, match="7"):
        evaluate_accept(POLICY, _rq(), _ac(_ok(1, IMPLICIT_LE), _ok(7, IMPLICIT_LE)))


def test_unknown_context_id_is_an_error_even_when_rejected() -> None:
    bad = PresentationContextAC(context_id=9, result=Result.USER_REJECTION)
    with pytest.raises(NegotiationError):
        evaluate_accept(POLICY, _rq(), _ac(bad))


def test_transfer_syntax_not_proposed_for_that_context_is_an_error() -> None:
    # Explicit LE was proposed, but for context 3, not for context 1.
    with pytest.raises(NegotiationError, match="transfer syntax"):
        evaluate_accept(POLICY, _rq(), _ac(_ok(1, EXPLICIT_LE)))
    with pytest.raises(NegotiationError, match="transfer syntax"):
        evaluate_accept(POLICY, _rq(), _ac(_ok(3, EXPLICIT_BE)))


def test_context_answered_twice_is_an_error() -> None:
    with pytest.raises(NegotiationError, match="twice"):
        evaluate_accept(POLICY, _rq(), _ac(_ok(1, IMPLICIT_LE), _ok(1, IMPLICIT_LE)))


def test_no_accepted_context_is_not_an_error() -> None:
    rejected = PresentationContextAC(context_id=1, result=Result.NO_REASON)
    negotiated = evaluate_accept(POLICY, _rq(), _ac(rejected))
    assert negotiated.contexts == ()
    assert negotiated.results == (rejected,)


def test_missing_maximum_length_means_our_cap() -> None:
    ac = AAssociateAC(
        called_ae_title="PACS", calling_ae_title="SCU", presentation_contexts=(_ok(1, IMPLICIT_LE),)
    )
    assert evaluate_accept(POLICY, _rq(), ac).max_pdu_send == 16384


def test_extended_negotiation_answers_for_what_we_asked() -> None:
    def item(uid: str, data: bytes) -> SOPClassExtendedNegotiation:
        return SOPClassExtendedNegotiation(
            sop_class_uid=uid, service_class_application_information=data
        )

    rq = _rq(extended={CT: b"\x01\x01"})
    ac = _ac(_ok(3, IMPLICIT_LE), items=(item(CT, b"\x01"), item(MR, b"\x01")))
    assert evaluate_accept(POLICY, rq, ac).extended == {CT: b"\x01"}


def test_user_identity_is_ours() -> None:
    identity = UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME,
        positive_response_requested=False,
        primary_field=b"bob",
    )
    negotiated = evaluate_accept(POLICY, _rq(user_identity=identity), _ac(_ok(1, IMPLICIT_LE)))
    assert negotiated.user_identity == identity


def _negotiated(*contexts: NegotiatedContext) -> Negotiated:
    return Negotiated(
        local_ae_title="A",
        peer_ae_title="B",
        contexts=contexts,
        results=(),
        max_pdu_send=0,
        max_pdu_receive=0,
    )


def _context(context_id: int, syntax: str, *, scu: bool, scp: bool) -> NegotiatedContext:
    return NegotiatedContext(
        context_id=context_id,
        abstract_syntax=CT,
        transfer_syntax=syntax,
        scu_role=scu,
        scp_role=scp,
    )


def test_context_lookup() -> None:
    first = _context(1, IMPLICIT_LE, scu=False, scp=True)
    second = _context(3, EXPLICIT_LE, scu=True, scp=False)
    third = _context(5, IMPLICIT_LE, scu=True, scp=True)
    negotiated = _negotiated(first, second, third)
    assert negotiated.context_by_id(3) is second
    assert negotiated.context_by_id(2) is None
    assert negotiated.context_for(CT) is second
    assert negotiated.context_for(CT, role="scp") is first
    assert negotiated.context_for(CT, role="scu", transfer_syntax=IMPLICIT_LE) is third
    assert negotiated.context_for(CT, role="scp", transfer_syntax=EXPLICIT_LE) is None
    assert negotiated.context_for(MR) is None
    with pytest.raises(LocalError):
        negotiated.context_for(CT, role="both")


@pytest.mark.parametrize("max_length", [1, 6])
def test_maximum_length_that_cannot_carry_a_pdv_is_an_error(max_length: int) -> None:
    ac = _ac(_ok(1, IMPLICIT_LE))
    items = (MaximumLength(maximum_length=max_length), *ac.user_information.items[1:])
    ac = AAssociateAC(
        called_ae_title="PACS",
        calling_ae_title="SCU",
        presentation_contexts=ac.presentation_contexts,
        user_information=UserInformation(items=items),
    )
    with pytest.raises(NegotiationError, match="cannot carry one PDV"):
        evaluate_accept(POLICY, _rq(), ac)
