"""pynetdicom's SCU negotiating with a dicomnet SCP: user identity, wrong called AE."""

from __future__ import annotations

import pytest
from conftest import require_module
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy
from helpers.pynetdicom_scu import run_pynetdicom_scu

from dicomnet.ae import AE
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, AETitlePolicy, WrongCalledAE
from dicomnet_pdu.codes import UserIdentityType
from dicomnet_pdu.items import UserIdentityRQ

pytestmark = pytest.mark.interop

#: (type, primary field, secondary field) of each PS3.7 Table D.3-14 identity type.
IDENTITIES = [
    (UserIdentityType.USERNAME, "alice", ""),
    (UserIdentityType.USERNAME_AND_PASSCODE, "alice", "s3cret"),
    (UserIdentityType.KERBEROS, "kerberos-ticket-for-alice", ""),
    (UserIdentityType.SAML, "<saml:Assertion>alice</saml:Assertion>", ""),
    (UserIdentityType.JWT, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln", ""),
]


class Directory:
    """Accepts the credentials listed in IDENTITIES (and only alice's passcode)."""

    def __init__(self) -> None:
        self.seen: list[UserIdentityRQ] = []

    def __call__(self, identity: UserIdentityRQ) -> bytes | bool:
        self.seen.append(identity)
        if identity.primary_field not in {primary.encode() for _, primary, _ in IDENTITIES}:
            return False
        if identity.identity_type == UserIdentityType.USERNAME_AND_PASSCODE:
            return identity.secondary_field == b"s3cret" and b"welcome alice"
        return b"welcome alice"


@pytest.mark.parametrize(
    ("identity_type", "primary", "secondary"), IDENTITIES, ids=lambda v: str(v)[:12]
)
async def test_pynetdicom_identity_accepted(
    identity_type: UserIdentityType, primary: str, secondary: str
) -> None:
    require_module("pynetdicom")
    directory = Directory()
    async with await AE("DICOMNET", identity_check=directory).serve("127.0.0.1", 0) as server:
        report = await run_pynetdicom_scu(
            {
                "host": "127.0.0.1",
                "port": server.port,
                "identity": {
                    "type": int(identity_type),
                    "primary": primary,
                    "secondary": secondary,
                },
            }
        )
    assert report["established"], report
    assert report["server_response"] == "welcome alice"
    assert report["echo"] == 0
    (seen,) = directory.seen
    assert seen.identity_type == identity_type
    assert seen.primary_field == primary.encode() and seen.secondary_field == secondary.encode()
    assert seen.positive_response_requested


@pytest.mark.parametrize(
    ("identity_type", "primary", "secondary"),
    [
        (UserIdentityType.USERNAME, "mallory", ""),
        (UserIdentityType.USERNAME_AND_PASSCODE, "alice", "wrong"),
        (UserIdentityType.JWT, "eyJ.bm9ib2R5.sig", ""),
    ],
    ids=["username", "passcode", "jwt"],
)
async def test_pynetdicom_identity_refused(
    identity_type: UserIdentityType, primary: str, secondary: str
) -> None:
    require_module("pynetdicom")
    async with await AE("DICOMNET", identity_check=Directory()).serve("127.0.0.1", 0) as server:
        report = await run_pynetdicom_scu(
            {
                "host": "127.0.0.1",
                "port": server.port,
                "identity": {
                    "type": int(identity_type),
                    "primary": primary,
                    "secondary": secondary,
                },
            }
        )
    assert not report["established"]
    assert report["rejected"] == [1, 1, 1]  # permanent, service-user, no-reason-given


async def test_pynetdicom_wrong_called_ae_gets_verification_only() -> None:
    require_module("pynetdicom")
    policy = make_policy(
        "DICOMNET",
        ae_titles=AETitlePolicy(
            called_ae_titles=("DICOMNET",), wrong_called_ae=WrongCalledAE.VERIFICATION_ONLY
        ),
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    contexts = [VERIFICATION_SOP_CLASS, CT_IMAGE_STORAGE]
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        wrong = await run_pynetdicom_scu(
            {"host": "127.0.0.1", "port": server.port, "called": "NOBODY", "contexts": contexts}
        )
        right = await run_pynetdicom_scu(
            {"host": "127.0.0.1", "port": server.port, "called": "DICOMNET", "contexts": contexts}
        )
    assert wrong["established"] and wrong["echo"] == 0
    # CT is refused with result 1 (user-rejection, PS3.8 Table 9-18), Verification accepted.
    assert wrong["contexts"] == {VERIFICATION_SOP_CLASS: 0, CT_IMAGE_STORAGE: 1}
    assert right["contexts"] == {VERIFICATION_SOP_CLASS: 0, CT_IMAGE_STORAGE: 0}
