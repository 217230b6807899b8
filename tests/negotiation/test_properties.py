"""Properties over random proposals and policies: both sides agree on the outcome."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.negotiation import build_request, evaluate_accept, evaluate_request
from dicomnet.policy import AcceptedContext, Policy, ProposedContext, TransferSyntaxPreference
from dicomnet_pdu.codes import PresentationContextResult
from negotiation.builders import CT, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, MR, VERIFICATION

SYNTAXES = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE)
CLASSES = (VERIFICATION, CT, MR)

syntax_lists = st.lists(st.sampled_from(SYNTAXES), min_size=1, max_size=3, unique=True).map(tuple)
windows = st.integers(min_value=0, max_value=10)

proposed_contexts = st.builds(
    ProposedContext,
    abstract_syntax=st.sampled_from(CLASSES),
    transfer_syntaxes=syntax_lists,
    scu_role=st.booleans(),
    scp_role=st.booleans(),
)
accepted_contexts = st.builds(
    AcceptedContext,
    abstract_syntax=st.sampled_from(CLASSES),
    transfer_syntaxes=syntax_lists,
    scu_role=st.booleans(),
    scp_role=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    proposals=st.lists(proposed_contexts, min_size=1, max_size=12),
    rules=st.lists(accepted_contexts, max_size=3, unique_by=lambda r: r.abstract_syntax),
    preference=st.sampled_from(TransferSyntaxPreference),
    scu_window=st.tuples(windows, windows),
    scp_window=st.tuples(windows, windows),
)
def test_requestor_and_acceptor_agree(
    proposals: list[ProposedContext],
    rules: list[AcceptedContext],
    preference: TransferSyntaxPreference,
    scu_window: tuple[int, int],
    scp_window: tuple[int, int],
) -> None:
    scu = Policy(
        ae_title="SCU",
        max_operations_invoked=scu_window[0],
        max_operations_performed=scu_window[1],
    )
    scp = Policy(
        ae_title="SCP",
        accepted_contexts=tuple(rules),
        transfer_syntax_preference=preference,
        max_operations_invoked=scp_window[0],
        max_operations_performed=scp_window[1],
    )
    rq = build_request(scu, called_ae_title="SCP", contexts=tuple(proposals))
    outcome = evaluate_request(scp, rq)
    assert isinstance(outcome, tuple)
    ac, theirs = outcome
    ours = evaluate_accept(scu, rq, ac)

    assert [r.context_id for r in ac.presentation_contexts] == [
        c.context_id for c in rq.presentation_contexts
    ]
    for proposal, result in zip(rq.presentation_contexts, ac.presentation_contexts, strict=True):
        if result.result == PresentationContextResult.ACCEPTANCE:
            rule = scp.accepted(proposal.abstract_syntax)
            assert rule is not None
            assert result.transfer_syntax in proposal.transfer_syntaxes
            assert result.transfer_syntax in rule.transfer_syntaxes
    assert len(ours.contexts) == len(theirs.contexts)
    for mine, peer in zip(ours.contexts, theirs.contexts, strict=True):
        assert (mine.context_id, mine.transfer_syntax) == (peer.context_id, peer.transfer_syntax)
        assert (mine.scu_role, mine.scp_role) == (peer.scp_role, peer.scu_role)
        assert mine.scu_role or mine.scp_role
    assert ours.max_operations_invoked == theirs.max_operations_performed
    assert ours.max_operations_performed == theirs.max_operations_invoked
    for limit, offered in (
        (ours.max_operations_invoked, scu_window[0]),
        (ours.max_operations_performed, scu_window[1]),
        (theirs.max_operations_invoked, scp_window[0]),
        (theirs.max_operations_performed, scp_window[1]),
    ):
        if offered:
            assert 1 <= limit <= offered
