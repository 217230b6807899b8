"""build_request: the A-ASSOCIATE-RQ a Policy proposes."""

from __future__ import annotations

import pytest

from dicomnet.errors import ConfigurationError
from dicomnet.negotiation import MAX_CONTEXTS, build_request
from dicomnet.policy import Policy, ProposedContext
from dicomnet_pdu.codes import UserIdentityType
from dicomnet_pdu.items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityRQ,
)
from negotiation.builders import CT, EXPLICIT_LE, IMPLICIT_LE, MR, VERIFICATION


def _policy(**changes: object) -> Policy:
    return Policy(ae_title="SCU", **changes)  # type: ignore[arg-type]


def test_default_is_verification_with_implicit_little_endian() -> None:
    rq = build_request(_policy(), called_ae_title="PACS")
    assert rq.called_ae_title == "PACS"
    assert rq.calling_ae_title == "SCU"
    (context,) = rq.presentation_contexts
    assert context.context_id == 1
    assert context.abstract_syntax == VERIFICATION
    assert context.transfer_syntaxes == (IMPLICIT_LE,)


def test_policy_contexts_get_odd_ids_in_order() -> None:
    proposed = tuple(
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE))
        for uid in (VERIFICATION, CT, MR)
    )
    rq = build_request(_policy(proposed_contexts=proposed), called_ae_title="PACS")
    assert [c.context_id for c in rq.presentation_contexts] == [1, 3, 5]
    assert [c.abstract_syntax for c in rq.presentation_contexts] == [VERIFICATION, CT, MR]
    assert rq.presentation_contexts[1].transfer_syntaxes == (EXPLICIT_LE, IMPLICIT_LE)


def test_explicit_contexts_override_the_policy() -> None:
    policy = _policy(
        proposed_contexts=(ProposedContext(abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,)),)
    )
    rq = build_request(
        policy,
        called_ae_title="PACS",
        contexts=(ProposedContext(abstract_syntax=MR, transfer_syntaxes=(EXPLICIT_LE,)),),
    )
    assert [c.abstract_syntax for c in rq.presentation_contexts] == [MR]


def test_128_contexts_use_ids_1_to_255_and_129_are_refused() -> None:
    many = tuple(
        ProposedContext(abstract_syntax=f"1.2.3.{n}", transfer_syntaxes=(IMPLICIT_LE,))
        for n in range(MAX_CONTEXTS + 1)
    )
    rq = build_request(_policy(), called_ae_title="PACS", contexts=many[:MAX_CONTEXTS])
    assert [c.context_id for c in rq.presentation_contexts] == list(range(1, 256, 2))
    with pytest.raises(ConfigurationError, match="128"):
        build_request(_policy(), called_ae_title="PACS", contexts=many)


def test_no_contexts_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        build_request(_policy(), called_ae_title="PACS", contexts=())


def test_unencodable_values_are_configuration_errors() -> None:
    bad = (ProposedContext(abstract_syntax=CT, transfer_syntaxes=()),)
    with pytest.raises(ConfigurationError, match="transfer syntax"):
        build_request(_policy(), called_ae_title="PACS", contexts=bad)


def test_minimal_user_information() -> None:
    policy = _policy(max_pdu_receive=32768, implementation_version_name="TESTIMPL")
    items = build_request(policy, called_ae_title="PACS").user_information.items
    assert items == (
        MaximumLength(maximum_length=32768),
        ImplementationClassUID(uid=policy.implementation_class_uid),
        ImplementationVersionName(name="TESTIMPL"),
    )


def test_version_name_is_left_out_when_empty() -> None:
    info = build_request(
        _policy(implementation_version_name=""), called_ae_title="PACS"
    ).user_information
    assert info.implementation_version_name is None
    assert info.implementation_class_uid is not None


@pytest.mark.parametrize(
    ("invoked", "performed", "sent"),
    [(1, 1, False), (8, 1, True), (1, 8, True), (0, 0, True), (0, 1, True)],
)
def test_window_is_sent_only_when_not_one_one(invoked: int, performed: int, sent: bool) -> None:
    policy = _policy(max_operations_invoked=invoked, max_operations_performed=performed)
    window = build_request(policy, called_ae_title="PACS").user_information
    if sent:
        assert window.asynchronous_operations_window == AsynchronousOperationsWindow(
            max_operations_invoked=invoked, max_operations_performed=performed
        )
    else:
        assert window.asynchronous_operations_window is None


def test_role_items_only_for_roles_other_than_scu_only() -> None:
    contexts = (
        ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)),
        ProposedContext(
            abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,), scu_role=False, scp_role=True
        ),
        ProposedContext(
            abstract_syntax=MR, transfer_syntaxes=(IMPLICIT_LE,), scu_role=True, scp_role=True
        ),
    )
    rq = build_request(_policy(), called_ae_title="PACS", contexts=contexts)
    assert rq.user_information.role_selections == (
        RoleSelection(sop_class_uid=CT, scu_role=False, scp_role=True),
        RoleSelection(sop_class_uid=MR, scu_role=True, scp_role=True),
    )


def test_one_role_item_per_abstract_syntax_with_the_union_of_roles() -> None:
    contexts = (
        ProposedContext(abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,)),
        ProposedContext(
            abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE,), scu_role=False, scp_role=True
        ),
    )
    rq = build_request(_policy(), called_ae_title="PACS", contexts=contexts)
    assert len(rq.presentation_contexts) == 2
    assert rq.user_information.role_selections == (
        RoleSelection(sop_class_uid=CT, scu_role=True, scp_role=True),
    )


def test_optional_items_in_the_order_of_ps3_7_annex_d_3_3() -> None:
    identity = UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
        positive_response_requested=True,
        primary_field=b"alice",
        secondary_field=b"secret",
    )
    common = SOPClassCommonExtendedNegotiation(
        sop_class_uid=CT, service_class_uid="1.2.840.10008.4.2"
    )
    policy = _policy(max_operations_invoked=4)
    contexts = (
        ProposedContext(
            abstract_syntax=CT, transfer_syntaxes=(IMPLICIT_LE,), scu_role=True, scp_role=True
        ),
    )
    rq = build_request(
        policy,
        called_ae_title="PACS",
        contexts=contexts,
        user_identity=identity,
        extended={CT: b"\x01"},
        common_extended=(common,),
    )
    kinds = [type(item) for item in rq.user_information.items]
    assert kinds == [
        MaximumLength,
        ImplementationClassUID,
        ImplementationVersionName,
        AsynchronousOperationsWindow,
        RoleSelection,
        SOPClassExtendedNegotiation,
        SOPClassCommonExtendedNegotiation,
        UserIdentityRQ,
    ]
    info = rq.user_information
    assert info.user_identity_rq == identity
    assert info.sop_class_common_extended == (common,)
    assert info.sop_class_extended == (
        SOPClassExtendedNegotiation(
            sop_class_uid=CT, service_class_application_information=b"\x01"
        ),
    )
