"""evaluate_request: the acceptor's answer to an A-ASSOCIATE-RQ."""

from __future__ import annotations

import pytest

from dicomnet.negotiation import Negotiated, evaluate_request, rejection_for_limit
from dicomnet.policy import (
    AcceptedContext,
    AETitlePolicy,
    TransferSyntaxPreference,
    WrongCalledAE,
)
from dicomnet_pdu.codes import PresentationContextResult, UserIdentityType
from dicomnet_pdu.items import (
    ImplementationVersionName,
    PresentationContextAC,
    PresentationContextRQ,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
)
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRJ, AAssociateRQ
from negotiation.builders import (
    CT,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    MR,
    PEER_CLASS_UID,
    VERIFICATION,
    acceptor_policy,
    request,
)

Result = PresentationContextResult


def _accept(
    outcome: tuple[AAssociateAC, Negotiated] | AAssociateRJ,
) -> tuple[AAssociateAC, Negotiated]:
    assert isinstance(outcome, tuple), f"expected acceptance, got {outcome}"
    return outcome


def _reject(outcome: tuple[AAssociateAC, Negotiated] | AAssociateRJ) -> tuple[int, int, int]:
    assert isinstance(outcome, AAssociateRJ), "expected a rejection"
    return int(outcome.result), int(outcome.source), outcome.reason


# ---------------------------------------------------------------------------- rejections


def test_limit_rejection_is_transient_presentation_local_limit() -> None:
    rj = rejection_for_limit()
    assert (int(rj.result), int(rj.source), rj.reason) == (2, 3, 2)
    assert rj.reason_name() == "local-limit-exceeded"


@pytest.mark.parametrize("version", [0, 2, 0x8000, 0xFFFE])
def test_protocol_version_without_bit_0_is_rejected(version: int) -> None:
    outcome = evaluate_request(acceptor_policy(), request(protocol_version=version))
    assert _reject(outcome) == (1, 2, 2)


@pytest.mark.parametrize("version", [1, 3, 0xFFFF])
def test_protocol_version_with_bit_0_is_accepted(version: int) -> None:
    _accept(evaluate_request(acceptor_policy(), request(protocol_version=version)))


def test_protocol_version_is_checked_before_everything_else() -> None:
    policy = acceptor_policy(ae_titles=AETitlePolicy(called_ae_titles=("OTHER",)))
    rq = request(protocol_version=2, application_context_name="1.2.3")
    assert _reject(evaluate_request(policy, rq)) == (1, 2, 2)


def test_unknown_application_context_is_rejected() -> None:
    outcome = evaluate_request(acceptor_policy(), request(application_context_name="1.2.3.4"))
    assert _reject(outcome) == (1, 1, 2)


def test_calling_ae_not_in_allow_list_is_rejected() -> None:
    policy = acceptor_policy(ae_titles=AETitlePolicy(calling_ae_titles=("MODALITY", "WS1 ")))
    assert _reject(evaluate_request(policy, request(calling_ae_title="SCU"))) == (1, 1, 3)
    _accept(evaluate_request(policy, request(calling_ae_title="MODALITY")))
    _accept(evaluate_request(policy, request(calling_ae_title="WS1")))


def test_calling_ae_titles_are_case_sensitive() -> None:
    policy = acceptor_policy(ae_titles=AETitlePolicy(calling_ae_titles=("MODALITY",)))
    assert _reject(evaluate_request(policy, request(calling_ae_title="modality"))) == (1, 1, 3)


def test_wrong_called_ae_is_rejected() -> None:
    policy = acceptor_policy(ae_titles=AETitlePolicy(called_ae_titles=("SCP", "ARCHIVE")))
    assert _reject(evaluate_request(policy, request(called_ae_title="WRONG"))) == (1, 1, 7)
    _accept(evaluate_request(policy, request(called_ae_title="ARCHIVE")))


def test_wildcard_called_ae_accepts_any_title() -> None:
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), request(called_ae_title="XYZ")))
    assert negotiated.local_ae_title == "XYZ"
    assert ac.called_ae_title == "XYZ"


def test_wrong_called_ae_in_verification_only_mode_accepts_only_verification() -> None:
    policy = acceptor_policy(
        ae_titles=AETitlePolicy(
            called_ae_titles=("SCP",), wrong_called_ae=WrongCalledAE.VERIFICATION_ONLY
        )
    )
    contexts = ((CT, (IMPLICIT_LE,)), (VERIFICATION, (IMPLICIT_LE,)), (MR, (IMPLICIT_LE,)))
    ac, negotiated = _accept(evaluate_request(policy, request(*contexts, called_ae_title="WRONG")))
    assert [r.result for r in ac.presentation_contexts] == [
        Result.USER_REJECTION,
        Result.ACCEPTANCE,
        Result.USER_REJECTION,
    ]
    assert [c.abstract_syntax for c in negotiated.contexts] == [VERIFICATION]
    # Called correctly, the same request gets CT too (MR is simply not supported).
    ac, _ = _accept(evaluate_request(policy, request(*contexts, called_ae_title="SCP")))
    assert [r.result for r in ac.presentation_contexts] == [
        Result.ACCEPTANCE,
        Result.ACCEPTANCE,
        Result.ABSTRACT_SYNTAX_NOT_SUPPORTED,
    ]


def test_verification_only_mode_still_checks_the_calling_ae() -> None:
    policy = acceptor_policy(
        ae_titles=AETitlePolicy(
            called_ae_titles=("SCP",),
            calling_ae_titles=("MODALITY",),
            wrong_called_ae=WrongCalledAE.VERIFICATION_ONLY,
        )
    )
    rq = request(called_ae_title="WRONG", calling_ae_title="SCU")
    assert _reject(evaluate_request(policy, rq)) == (1, 1, 3)


# ---------------------------------------------------------------------------- contexts


def test_each_presentation_context_result() -> None:
    policy = acceptor_policy()
    rq = request(
        (VERIFICATION, (IMPLICIT_LE,)),
        (CT, (EXPLICIT_BE,)),
        (MR, (IMPLICIT_LE,)),
        (CT, (EXPLICIT_BE, IMPLICIT_LE)),
    )
    ac, negotiated = _accept(evaluate_request(policy, rq))
    assert ac.presentation_contexts == (
        PresentationContextAC(context_id=1, result=Result.ACCEPTANCE, transfer_syntax=IMPLICIT_LE),
        PresentationContextAC(context_id=3, result=Result.TRANSFER_SYNTAXES_NOT_SUPPORTED),
        PresentationContextAC(context_id=5, result=Result.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        PresentationContextAC(context_id=7, result=Result.ACCEPTANCE, transfer_syntax=IMPLICIT_LE),
    )
    assert negotiated.results == ac.presentation_contexts
    assert [(c.context_id, c.transfer_syntax) for c in negotiated.contexts] == [
        (1, IMPLICIT_LE),
        (7, IMPLICIT_LE),
    ]


def test_repeated_context_id_gets_provider_rejection() -> None:
    base = request()
    twice = AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=tuple(
            PresentationContextRQ(
                context_id=1, abstract_syntax=uid, transfer_syntaxes=(IMPLICIT_LE,)
            )
            for uid in (VERIFICATION, CT)
        ),
        user_information=base.user_information,
    )
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), twice))
    assert [r.result for r in ac.presentation_contexts] == [Result.ACCEPTANCE, Result.NO_REASON]
    assert [c.abstract_syntax for c in negotiated.contexts] == [VERIFICATION]


def test_duplicate_abstract_syntaxes_are_each_accepted() -> None:
    rq = request((CT, (EXPLICIT_LE,)), (CT, (IMPLICIT_LE,)), (CT, (EXPLICIT_BE,)))
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), rq))
    assert [(r.result, r.transfer_syntax) for r in ac.presentation_contexts] == [
        (Result.ACCEPTANCE, EXPLICIT_LE),
        (Result.ACCEPTANCE, IMPLICIT_LE),
        (Result.TRANSFER_SYNTAXES_NOT_SUPPORTED, ""),
    ]
    assert [(c.context_id, c.transfer_syntax) for c in negotiated.contexts] == [
        (1, EXPLICIT_LE),
        (3, IMPLICIT_LE),
    ]


def test_128_contexts_are_all_answered() -> None:
    rq = request(*[(CT, (IMPLICIT_LE,))] * 128)
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), rq))
    assert len(ac.presentation_contexts) == 128
    assert [c.context_id for c in negotiated.contexts] == list(range(1, 256, 2))


def test_no_context_accepted_still_accepts_the_association() -> None:
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), request((MR, (IMPLICIT_LE,)))))
    assert negotiated.contexts == ()
    assert [r.result for r in ac.presentation_contexts] == [Result.ABSTRACT_SYNTAX_NOT_SUPPORTED]


# Kodak DirectView: Explicit BE > Explicit LE > Implicit LE.
KODAK_SYNTAXES = (EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE)


@pytest.mark.parametrize(
    ("preference", "offered", "chosen"),
    [
        (TransferSyntaxPreference.ACCEPTOR, (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE), EXPLICIT_BE),
        (TransferSyntaxPreference.ACCEPTOR, (IMPLICIT_LE, EXPLICIT_LE), EXPLICIT_LE),
        (TransferSyntaxPreference.ACCEPTOR, (IMPLICIT_LE,), IMPLICIT_LE),
        (TransferSyntaxPreference.REQUESTOR, (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE), IMPLICIT_LE),
        (TransferSyntaxPreference.REQUESTOR, (EXPLICIT_LE, EXPLICIT_BE), EXPLICIT_LE),
        (TransferSyntaxPreference.REQUESTOR, ("1.2.840.10008.1.2.4.50", EXPLICIT_BE), EXPLICIT_BE),
    ],
)
def test_transfer_syntax_preference(
    preference: TransferSyntaxPreference, offered: tuple[str, ...], chosen: str
) -> None:
    policy = acceptor_policy(
        transfer_syntax_preference=preference,
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=KODAK_SYNTAXES),),
    )
    ac, negotiated = _accept(evaluate_request(policy, request((CT, offered))))
    assert ac.presentation_contexts[0].transfer_syntax == chosen
    assert negotiated.contexts[0].transfer_syntax == chosen


# ---------------------------------------------------------------------------- user information


def test_ac_echoes_titles_and_carries_our_identification() -> None:
    policy = acceptor_policy(max_pdu_receive=65536, implementation_version_name="ACCEPTOR_1")
    ac, negotiated = _accept(
        evaluate_request(policy, request(extra=(ImplementationVersionName(name="PEER_2"),)))
    )
    assert (ac.called_ae_title, ac.calling_ae_title) == ("SCP", "SCU")
    info = ac.user_information
    assert info.maximum_length == 65536
    assert info.implementation_class_uid == policy.implementation_class_uid
    assert info.implementation_version_name == "ACCEPTOR_1"
    assert info.asynchronous_operations_window is None
    assert info.role_selections == ()
    assert negotiated.peer_ae_title == "SCU"
    assert negotiated.peer_implementation_class_uid == PEER_CLASS_UID
    assert negotiated.peer_implementation_version_name == "PEER_2"
    assert negotiated.max_pdu_receive == 65536


@pytest.mark.parametrize(
    ("peer", "cap", "send"),
    [
        (16384, 16384, 16384),
        (32768, 16384, 16384),
        (4096, 16384, 4096),
        (0, 16384, 16384),
        (4096, 0, 4096),
        (0, 0, 0),
        (None, 8192, 8192),
    ],
)
def test_max_pdu_send(peer: int | None, cap: int, send: int) -> None:
    policy = acceptor_policy(max_pdu_send=cap)
    _, negotiated = _accept(evaluate_request(policy, request(max_length=peer)))
    assert negotiated.max_pdu_send == send


def _identity(*, positive: bool) -> UserIdentityRQ:
    return UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
        positive_response_requested=positive,
        primary_field=b"alice",
        secondary_field=b"secret",
    )


def test_user_identity_refused_rejects_with_no_reason_given() -> None:
    seen: list[UserIdentityRQ] = []

    def check(identity: UserIdentityRQ) -> bool:
        seen.append(identity)
        return identity.secondary_field == b"right"

    rq = request(extra=(_identity(positive=True),))
    assert _reject(evaluate_request(acceptor_policy(), rq, identity_check=check)) == (1, 1, 1)
    assert seen == [_identity(positive=True)]


@pytest.mark.parametrize("answer", [True, None])
@pytest.mark.parametrize("positive", [True, False])
def test_user_identity_accepted_without_response(answer: bool | None, positive: bool) -> None:
    rq = request(extra=(_identity(positive=positive),))
    ac, negotiated = _accept(
        evaluate_request(acceptor_policy(), rq, identity_check=lambda _: answer)
    )
    assert ac.user_information.user_identity_ac is None
    assert negotiated.user_identity == _identity(positive=positive)


def test_user_identity_server_response_only_when_requested() -> None:
    rq = request(extra=(_identity(positive=True),))
    ac, _ = _accept(evaluate_request(acceptor_policy(), rq, identity_check=lambda _: b"token"))
    assert ac.user_information.user_identity_ac == UserIdentityAC(server_response=b"token")
    rq = request(extra=(_identity(positive=False),))
    ac, _ = _accept(evaluate_request(acceptor_policy(), rq, identity_check=lambda _: b"token"))
    assert ac.user_information.user_identity_ac is None


def test_user_identity_without_a_check_is_accepted_silently() -> None:
    rq = request(extra=(_identity(positive=True),))
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), rq))
    assert ac.user_information.user_identity_ac is None
    assert negotiated.user_identity is not None


def test_no_user_identity_never_calls_the_check() -> None:
    def check(identity: UserIdentityRQ) -> bool:
        raise AssertionError("called without a user identity item")

    _accept(evaluate_request(acceptor_policy(), request(), identity_check=check))


def _extended(uid: str, data: bytes) -> SOPClassExtendedNegotiation:
    return SOPClassExtendedNegotiation(
        sop_class_uid=uid, service_class_application_information=data
    )


def test_extended_negotiation_is_echoed_for_accepted_classes_the_check_agrees_to() -> None:
    calls: list[tuple[str, bytes]] = []

    def check(uid: str, data: bytes) -> bytes | None:
        calls.append((uid, data))
        return None if uid == VERIFICATION else data[:1]

    rq = request(
        (CT, (IMPLICIT_LE,)),
        (VERIFICATION, (IMPLICIT_LE,)),
        extra=(
            _extended(CT, b"\x01\x01"),
            _extended(MR, b"\x01"),
            _extended(VERIFICATION, b"\x00"),
        ),
    )
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), rq, extended_check=check))
    assert calls == [(CT, b"\x01\x01"), (VERIFICATION, b"\x00")]  # MR was not accepted
    assert ac.user_information.sop_class_extended == (_extended(CT, b"\x01"),)
    assert negotiated.extended == {CT: b"\x01"}


def test_extended_negotiation_without_a_check_is_not_answered() -> None:
    rq = request((CT, (IMPLICIT_LE,)), extra=(_extended(CT, b"\x01"),))
    ac, negotiated = _accept(evaluate_request(acceptor_policy(), rq))
    assert ac.user_information.sop_class_extended == ()
    assert negotiated.extended == {}


def test_common_extended_negotiation_has_no_response() -> None:
    common = SOPClassCommonExtendedNegotiation(
        sop_class_uid=CT, service_class_uid="1.2.840.10008.4.2"
    )
    rq = request((CT, (IMPLICIT_LE,)), extra=(common,))
    ac, _ = _accept(evaluate_request(acceptor_policy(), rq, extended_check=lambda u, d: d))
    assert ac.user_information.sop_class_common_extended == ()


# ------------------------------------------------------ maximum length too small to use


@pytest.mark.parametrize("max_length", [1, 2, 5, 6])
def test_maximum_length_that_cannot_carry_a_pdv_is_refused(max_length: int) -> None:
    """A PDV item needs 6 bytes of header: below 7 no response could ever be sent."""
    rq = request((VERIFICATION, (IMPLICIT_LE,)), max_length=max_length)
    assert _reject(evaluate_request(acceptor_policy(), rq)) == (1, 1, 1)


@pytest.mark.parametrize("max_length", [0, 7, 16384])
def test_maximum_length_zero_or_one_pdv_byte_is_accepted(max_length: int) -> None:
    rq = request((VERIFICATION, (IMPLICIT_LE,)), max_length=max_length)
    _, negotiated = _accept(evaluate_request(acceptor_policy(), rq))
    assert negotiated.max_pdu_send == (max_length or 16384)


def test_the_floor_is_a_policy_value() -> None:
    policy = acceptor_policy(min_peer_max_pdu=1024)
    assert _reject(
        evaluate_request(policy, request((VERIFICATION, (IMPLICIT_LE,)), max_length=1023))
    )
    _accept(evaluate_request(policy, request((VERIFICATION, (IMPLICIT_LE,)), max_length=1024)))
    with pytest.raises(ValueError, match="min_peer_max_pdu"):
        acceptor_policy(min_peer_max_pdu=6)
