"""NegotiationMemo: an acceptance (or a request) reused only where negotiating afresh is equal."""

from __future__ import annotations

from typing import Any

import pytest
from negotiation.builders import (
    CT,
    EXPLICIT_LE,
    IMPLICIT_LE,
    VERIFICATION,
    acceptor_policy,
    request,
)

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.association.memo import NegotiationMemo
from dicomnet.dimse.commands import CommandField
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.items import UserIdentityRQ, UserIdentityType
from dicomnet_pdu.pdus import AAssociateRJ, AAssociateRQ


def _fresh(policy: Policy, rq: Any) -> Any:
    return negotiation.evaluate_request(policy, rq)


def test_equal_request_gets_the_acceptance_computed_before() -> None:
    memo = NegotiationMemo()
    policy = acceptor_policy()
    calls: list[int] = []

    def evaluate() -> Any:
        calls.append(1)
        return _fresh(policy, request())

    first = memo.accepted(policy, request(), evaluate)
    again = memo.accepted(policy, request(), evaluate)  # an equal, separately built RQ
    assert again is first and len(calls) == 1
    ac, negotiated = again
    fresh_ac, fresh_negotiated = _fresh(policy, request())
    assert encode_pdu(ac) == encode_pdu(fresh_ac)
    assert negotiated == fresh_negotiated


def test_different_request_or_policy_is_negotiated_afresh() -> None:
    memo = NegotiationMemo()
    policy = acceptor_policy()
    verification = request()
    ct = request((CT, (EXPLICIT_LE,)))
    memo.accepted(policy, verification, lambda: _fresh(policy, verification))
    ac, negotiated = memo.accepted(policy, ct, lambda: _fresh(policy, ct))
    assert [c.abstract_syntax for c in negotiated.contexts] == [CT]
    assert encode_pdu(ac) == encode_pdu(_fresh(policy, ct)[0])

    narrower = acceptor_policy(
        accepted_contexts=(
            AcceptedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
        )
    )
    outcome = memo.accepted(narrower, ct, lambda: _fresh(narrower, ct))
    assert isinstance(outcome, tuple)
    assert outcome[1].contexts == ()  # the new policy's answer, not the one kept
    assert len(memo) == 1  # the other policy's entries were forgotten


def test_rejections_and_failures_are_not_kept() -> None:
    memo = NegotiationMemo()
    policy = acceptor_policy()
    wrong = request(called_ae_title="SOMEONE-ELSE")
    calls: list[int] = []

    def reject() -> AAssociateRJ:
        calls.append(1)
        return negotiation.rejection_for_limit()

    for _ in range(2):
        assert isinstance(memo.accepted(policy, wrong, reject), AAssociateRJ)
    assert len(calls) == 2

    def broken() -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        memo.accepted(policy, request(), broken)
    assert len(memo) == 0


def test_the_same_pdu_objects_get_the_kept_outcome_without_being_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memo = NegotiationMemo()
    policy = acceptor_policy()
    rq = request()
    first = memo.accepted(policy, rq, lambda: _fresh(policy, rq))
    hashed: list[AAssociateRQ] = []
    real_hash = AAssociateRQ.__hash__

    def counted(pdu: AAssociateRQ) -> int:
        hashed.append(pdu)
        return real_hash(pdu)

    def never() -> Any:
        raise AssertionError("negotiated again")

    monkeypatch.setattr(AAssociateRQ, "__hash__", counted)
    assert memo.accepted(policy, rq, never) is first
    assert hashed == []
    assert memo.accepted(policy, request(), never) is first  # equal, another object
    assert len(hashed) == 1
    # The same object under another policy is negotiated afresh.
    narrower = acceptor_policy(
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,)),)
    )
    outcome = memo.accepted(narrower, rq, lambda: _fresh(narrower, rq))
    assert isinstance(outcome, tuple) and outcome is not first
    assert outcome[1] == _fresh(narrower, rq)[1]


def test_entries_are_bounded() -> None:
    memo = NegotiationMemo(entries=2)
    policy = acceptor_policy()
    for title in ("A", "B", "C"):
        rq = request(calling_ae_title=title)
        memo.accepted(policy, rq, lambda rq=rq: _fresh(policy, rq))  # type: ignore[misc]
    assert len(memo) == 2


def _scu_policy(*uids: str) -> Policy:
    return Policy(
        ae_title="SCU",
        proposed_contexts=tuple(
            ProposedContext(abstract_syntax=uid, transfer_syntaxes=(IMPLICIT_LE,)) for uid in uids
        ),
    )


async def test_server_answers_a_repeated_request_as_a_fresh_negotiation_would() -> None:
    seen: list[Association] = []

    async def remember(request: IncomingRequest) -> int:
        seen.append(request.association)
        return 0

    policy = acceptor_policy()
    scp = AE(
        "SCP", policy, handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=remember)]
    )
    scu = AE("SCU", _scu_policy(VERIFICATION))
    async with await scp.serve("127.0.0.1", 0) as server:
        for _ in range(3):
            async with scu.associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
                assert (await assoc.echo()).is_success
        assert len(server.memo) == 1
        other = AE("OTHER", _scu_policy(CT, VERIFICATION))
        async with other.associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
            assert [c.abstract_syntax for c in assoc.contexts] == [CT, VERIFICATION]
            assert (await assoc.echo()).is_success
    assert len(server.memo) == 2
    for association in seen:
        assert association._request is not None and association._accept is not None
        fresh_ac, fresh_negotiated = _fresh(server.policy, association._request)
        assert encode_pdu(association._accept) == encode_pdu(fresh_ac)
        assert association.negotiated == fresh_negotiated
    assert seen[3].negotiated.peer_ae_title == "OTHER"


async def test_an_acceptor_with_a_hook_decides_every_time() -> None:
    calls: list[bytes] = []

    def check(identity: UserIdentityRQ) -> bool:
        calls.append(identity.primary_field)
        return True

    identity = UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME,
        positive_response_requested=False,
        primary_field=b"bob",
    )
    async with await AE("SCP", identity_check=check).serve("127.0.0.1", 0) as server:
        for _ in range(2):
            async with AE("SCU").associate(
                "127.0.0.1", server.port, called_ae="SCP", user_identity=identity
            ) as assoc:
                assert (await assoc.echo()).is_success
        assert len(server.memo) == 0
    assert calls == [b"bob", b"bob"]


async def test_requestor_reuses_its_request_until_its_policy_changes() -> None:
    scu = AE("SCU", _scu_policy(VERIFICATION))
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        requests = []
        for _ in range(2):
            async with scu.associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
                requests.append(assoc._request)
        assert requests[0] is requests[1]
        scu.policy = _scu_policy(VERIFICATION, CT)
        async with scu.associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
            assert assoc._request is not requests[0]
            assert len(assoc._request.presentation_contexts) == 2  # type: ignore[union-attr]
            assert [c.abstract_syntax for c in assoc.contexts] == [VERIFICATION]
