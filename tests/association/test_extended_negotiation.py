"""User identity and SOP class (common) extended negotiation, dicomnet to dicomnet.

The acceptor decides through the AE hooks ``identity_check`` and
``extended_check`` (PS3.7 D.3.3.5-D.3.3.7); both sides see the outcome on the
association.
"""

from __future__ import annotations

import pytest
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.dimse.commands import CommandField
from dicomnet.errors import AssociationRejected
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, Policy, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet_pdu.codes import RejectResult, RejectSource, UserIdentityType
from dicomnet_pdu.items import SOPClassCommonExtendedNegotiation, UserIdentityRQ

#: One identity of each type of PS3.7 Table D.3-14.
IDENTITIES = [
    UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME,
        positive_response_requested=True,
        primary_field=b"alice",
    ),
    UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
        positive_response_requested=True,
        primary_field=b"alice",
        secondary_field=b"s3cret",
    ),
    UserIdentityRQ(
        identity_type=UserIdentityType.KERBEROS,
        positive_response_requested=True,
        primary_field=b"\x60\x82\x01\x00kerberos-ticket",
    ),
    UserIdentityRQ(
        identity_type=UserIdentityType.SAML,
        positive_response_requested=True,
        primary_field=b"<saml:Assertion>alice</saml:Assertion>",
    ),
    UserIdentityRQ(
        identity_type=UserIdentityType.JWT,
        positive_response_requested=True,
        primary_field=b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    ),
]


def remembering_ae(seen: list[Association], policy: Policy | None = None, **hooks: object) -> AE:
    """An SCP whose C-ECHO handler keeps the association it ran on."""

    async def remember(request: IncomingRequest) -> int:
        seen.append(request.association)
        return 0

    return AE(
        "SCP",
        policy,
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=remember)],
        **hooks,  # type: ignore[arg-type]
    )


class Checker:
    """An identity check that accepts one credential and answers with a server response."""

    def __init__(self, accepted: bytes, response: bytes | bool | None) -> None:
        self.accepted = accepted
        self.response = response
        self.calls: list[UserIdentityRQ] = []

    def __call__(self, identity: UserIdentityRQ) -> bytes | bool | None:
        self.calls.append(identity)
        if identity.primary_field != self.accepted:
            return False
        return self.response


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.identity_type.name.lower())
async def test_identity_accepted_with_server_response(identity: UserIdentityRQ) -> None:
    response = b"server-says-" + bytes([identity.identity_type])
    check = Checker(identity.primary_field, response)
    seen: list[Association] = []
    async with await remembering_ae(seen, identity_check=check).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, user_identity=identity) as assoc:
            assert (await assoc.echo()).is_success
            assert assoc.identity_response == response
            assert assoc.user_identity == identity
            assert assoc.negotiated.user_identity == identity
            (theirs,) = seen
            assert theirs.user_identity == identity
            assert theirs.negotiated.user_identity == identity
            assert theirs.identity_response == response
    assert check.calls == [identity]


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.identity_type.name.lower())
async def test_identity_refused_rejects_the_association(identity: UserIdentityRQ) -> None:
    check = Checker(b"somebody else", b"never sent")
    async with await AE("SCP", identity_check=check).serve("127.0.0.1", 0) as server:
        with pytest.raises(AssociationRejected) as info:
            await AE("SCU").associate("127.0.0.1", server.port, user_identity=identity)
        # The server keeps serving callers without an identity (the check is not asked).
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            assert (await assoc.echo()).is_success
            assert assoc.identity_response is None and assoc.user_identity is None
    exc = info.value
    # PS3.7 D.3.3.7: a refused identity is rejected permanent, service-user, no reason.
    assert (exc.result, exc.source, exc.reason) == (
        RejectResult.PERMANENT,
        RejectSource.SERVICE_USER,
        1,
    )
    assert check.calls == [identity]


@pytest.mark.parametrize("answer", [True, None, b"response"])
async def test_no_server_response_unless_requested(answer: bytes | bool | None) -> None:
    identity = UserIdentityRQ(
        identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
        positive_response_requested=False,
        primary_field=b"bob",
        secondary_field=b"pw",
    )
    check = Checker(b"bob", answer)
    async with await AE("SCP", identity_check=check).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate("127.0.0.1", server.port, user_identity=identity) as assoc:
            assert assoc.identity_response is None
            assert (await assoc.echo()).is_success


async def test_requested_response_without_bytes_sends_no_item() -> None:
    check = Checker(b"alice", True)
    async with await AE("SCP", identity_check=check).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1", server.port, user_identity=IDENTITIES[0]
        ) as assoc:
            assert assoc.identity_response is None
            assert assoc.is_established


async def test_identity_accepted_without_a_hook() -> None:
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1", server.port, user_identity=IDENTITIES[1]
        ) as assoc:
            assert assoc.identity_response is None
            assert (await assoc.echo()).is_success


async def test_a_hook_that_raises_refuses_and_the_server_survives() -> None:
    def broken(identity: UserIdentityRQ) -> bool:
        raise ValueError("directory unreachable")

    async with await AE("SCP", identity_check=broken).serve("127.0.0.1", 0) as server:
        with pytest.raises(AssociationRejected) as info:
            await AE("SCU").associate("127.0.0.1", server.port, user_identity=IDENTITIES[0])
        assert (info.value.result, info.value.reason) == (RejectResult.PERMANENT, 1)
        async with AE("SCU").associate("127.0.0.1", server.port) as assoc:
            assert (await assoc.echo()).is_success


# ---------------------------------------------------------------- SOP class extended

STORAGE_POLICY = make_policy(
    "SCP",
    accepted_contexts=(
        AcceptedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
        AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
    ),
)
PROPOSED = [
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
    ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
]
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


async def test_sop_class_extended_answered_by_the_hook() -> None:
    asked: list[tuple[str, bytes]] = []

    def extended(uid: str, info: bytes) -> bytes | None:
        asked.append((uid, info))
        # Storage (PS3.4 B.3.1): agree to level 2 but refuse digital signatures.
        return bytes([info[0], 0, info[2]]) if uid == CT_IMAGE_STORAGE else None

    seen: list[Association] = []
    ae = remembering_ae(seen, STORAGE_POLICY, extended_check=extended)
    async with await ae.serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1",
            server.port,
            contexts=PROPOSED,
            extended={
                CT_IMAGE_STORAGE: b"\x02\x01\x01",
                VERIFICATION_SOP_CLASS: b"\x01",
                MR_IMAGE_STORAGE: b"\x02\x00\x00",  # not proposed: never asked
            },
        ) as assoc:
            assert assoc.negotiated.extended == {CT_IMAGE_STORAGE: b"\x02\x00\x01"}
            assert assoc.extended == {CT_IMAGE_STORAGE: b"\x02\x00\x01"}
            await assoc.echo()
            (theirs,) = seen
            assert theirs.extended == {CT_IMAGE_STORAGE: b"\x02\x00\x01"}
    assert sorted(asked) == sorted(
        [(CT_IMAGE_STORAGE, b"\x02\x01\x01"), (VERIFICATION_SOP_CLASS, b"\x01")]
    )


async def test_sop_class_extended_unanswered_without_a_hook() -> None:
    async with await AE("SCP", STORAGE_POLICY).serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1", server.port, contexts=PROPOSED, extended={CT_IMAGE_STORAGE: b"\x02"}
        ) as assoc:
            assert assoc.negotiated.extended == {}


async def test_common_extended_reaches_the_acceptor() -> None:
    item = SOPClassCommonExtendedNegotiation(
        sop_class_uid=CT_IMAGE_STORAGE,
        service_class_uid="1.2.840.10008.4.2",
        related_general_sop_classes=("1.2.840.10008.5.1.4.1.1.2.1",),
    )
    seen: list[Association] = []
    ae = remembering_ae(seen, STORAGE_POLICY)
    async with await ae.serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1", server.port, contexts=PROPOSED, common_extended=[item]
        ) as assoc:
            await assoc.echo()
            assert assoc.common_extended == (item,)
            (theirs,) = seen
            assert theirs.common_extended == (item,)
            assert {c.abstract_syntax for c in theirs.contexts} == {
                VERIFICATION_SOP_CLASS,
                CT_IMAGE_STORAGE,
            }


@pytest.mark.parametrize("agree", [True, False])
async def test_common_extended_check_accepts_or_refuses_the_sop_class(agree: bool) -> None:
    item = SOPClassCommonExtendedNegotiation(
        sop_class_uid=CT_IMAGE_STORAGE, service_class_uid="1.2.840.10008.4.2"
    )
    unrelated = SOPClassCommonExtendedNegotiation(
        sop_class_uid=MR_IMAGE_STORAGE, service_class_uid="1.2.840.10008.4.2"
    )
    asked: list[SOPClassCommonExtendedNegotiation] = []

    def common(proposal: SOPClassCommonExtendedNegotiation) -> bool:
        asked.append(proposal)
        return agree

    ae = AE(
        "SCP",
        STORAGE_POLICY,
        common_extended_check=common,
        extended_check=lambda uid, info: info,
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        async with AE("SCU").associate(
            "127.0.0.1",
            server.port,
            contexts=PROPOSED,
            common_extended=[item, unrelated],
            extended={CT_IMAGE_STORAGE: b"\x02"},
        ) as assoc:
            results = {r.context_id: int(r.result) for r in assoc.negotiated.results}
            accepted = {c.abstract_syntax for c in assoc.contexts}
            extended = assoc.negotiated.extended
            (theirs,) = server.active
            their_accepted = {c.abstract_syntax for c in theirs.contexts}
            assert (await assoc.echo()).is_success
    assert asked == [item]  # MR was not proposed as a context: not asked
    if agree:
        assert results == {1: 0, 3: 0}
        assert accepted == their_accepted == {VERIFICATION_SOP_CLASS, CT_IMAGE_STORAGE}
        assert extended == {CT_IMAGE_STORAGE: b"\x02"}
    else:
        assert results == {1: 0, 3: 1}  # CT: user-rejection
        assert accepted == their_accepted == {VERIFICATION_SOP_CLASS}
        assert extended == {}


async def test_an_asynchronous_identity_check_fails_closed() -> None:
    async def deny(identity: UserIdentityRQ) -> bool:
        return False  # would be a coroutine object, which must not count as "accept"

    ae = AE("SCP", identity_check=deny)  # type: ignore[arg-type]
    async with await ae.serve("127.0.0.1", 0) as server:
        with pytest.raises(AssociationRejected) as info:
            await AE("SCU").associate("127.0.0.1", server.port, user_identity=IDENTITIES[0])
    assert (info.value.result, info.value.source, info.value.reason) == (
        RejectResult.PERMANENT,
        RejectSource.SERVICE_USER,
        1,
    )
