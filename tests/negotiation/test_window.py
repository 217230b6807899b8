"""Asynchronous operations window (PS3.7 D.3.3.3) from both sides.

Values are those of the sub-items: in the RQ the requestor's own limits, in
the AC the acceptor's grant from the requestor's point of view (invoked: how
many the requestor may invoke; performed: how many it may be asked to
perform). 0 means unlimited; no sub-item means 1/1.
"""

from __future__ import annotations

import pytest

from dicomnet.negotiation import build_request, evaluate_accept, evaluate_request
from dicomnet.policy import Policy
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.items import AsynchronousOperationsWindow, PresentationContextAC, UserInformation
from dicomnet_pdu.pdus import AAssociateAC
from negotiation.builders import IMPLICIT_LE, acceptor_policy, request


def _window(invoked: int, performed: int) -> AsynchronousOperationsWindow:
    return AsynchronousOperationsWindow(
        max_operations_invoked=invoked, max_operations_performed=performed
    )


@pytest.mark.parametrize(
    ("offered", "ours", "answer"),
    [
        # requestor (invoked, performed), acceptor policy (invoked, performed), AC item
        ((8, 1), (8, 8), (8, 1)),
        ((8, 8), (2, 3), (3, 2)),
        ((1, 1), (8, 8), (1, 1)),
        ((10, 10), (1, 1), (1, 1)),
        ((0, 0), (0, 0), (0, 0)),
        ((0, 0), (5, 3), (3, 5)),
        ((4, 2), (0, 0), (4, 2)),
        ((0, 7), (9, 0), (0, 7)),
        ((16, 0), (1, 4), (4, 1)),
    ],
)
def test_acceptor_answer(
    offered: tuple[int, int], ours: tuple[int, int], answer: tuple[int, int]
) -> None:
    policy = acceptor_policy(max_operations_invoked=ours[0], max_operations_performed=ours[1])
    outcome = evaluate_request(policy, request(extra=(_window(*offered),)))
    assert isinstance(outcome, tuple)
    ac, negotiated = outcome
    assert ac.user_information.asynchronous_operations_window == _window(*answer)
    # We perform what the requestor invokes, and invoke what it performs.
    assert negotiated.max_operations_invoked == answer[1]
    assert negotiated.max_operations_performed == answer[0]


@pytest.mark.parametrize("ours", [(1, 1), (8, 8), (0, 0)])
def test_no_window_in_rq_means_none_in_ac_and_one_one(ours: tuple[int, int]) -> None:
    policy = acceptor_policy(max_operations_invoked=ours[0], max_operations_performed=ours[1])
    outcome = evaluate_request(policy, request())
    assert isinstance(outcome, tuple)
    ac, negotiated = outcome
    assert ac.user_information.asynchronous_operations_window is None
    assert (negotiated.max_operations_invoked, negotiated.max_operations_performed) == (1, 1)


def _requestor_sees(ours: tuple[int, int], answer: tuple[int, int] | None) -> tuple[int, int]:
    policy = Policy(
        ae_title="SCU", max_operations_invoked=ours[0], max_operations_performed=ours[1]
    )
    rq = build_request(policy, called_ae_title="SCP")
    ac = AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextAC(
                context_id=1,
                result=PresentationContextResult.ACCEPTANCE,
                transfer_syntax=IMPLICIT_LE,
            ),
        ),
        user_information=UserInformation(items=() if answer is None else (_window(*answer),)),
    )
    negotiated = evaluate_accept(policy, rq, ac)
    return negotiated.max_operations_invoked, negotiated.max_operations_performed


@pytest.mark.parametrize(
    ("ours", "answer", "result"),
    [
        ((8, 1), (8, 1), (8, 1)),
        ((8, 8), (3, 2), (3, 2)),
        ((0, 0), (0, 0), (0, 0)),
        ((0, 0), (5, 0), (5, 0)),
        ((8, 1), None, (1, 1)),
        # An acceptor may only lower the offer; a larger answer is capped to it.
        ((4, 2), (9, 9), (4, 2)),
        ((4, 2), (0, 0), (4, 2)),
        # No window offered (1/1) yet an answer came: still 1/1.
        ((1, 1), (8, 8), (1, 1)),
    ],
)
def test_requestor_reading(
    ours: tuple[int, int], answer: tuple[int, int] | None, result: tuple[int, int]
) -> None:
    assert _requestor_sees(ours, answer) == result


def test_both_sides_agree() -> None:
    scu = Policy(ae_title="SCU", max_operations_invoked=8, max_operations_performed=1)
    scp = acceptor_policy(max_operations_invoked=8, max_operations_performed=8)
    rq = build_request(scu, called_ae_title="SCP")
    outcome = evaluate_request(scp, rq)
    assert isinstance(outcome, tuple)
    ac, theirs = outcome
    ours = evaluate_accept(scu, rq, ac)
    assert (ours.max_operations_invoked, ours.max_operations_performed) == (8, 1)
    assert (theirs.max_operations_invoked, theirs.max_operations_performed) == (1, 8)
