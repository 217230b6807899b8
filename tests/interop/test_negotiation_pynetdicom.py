"""Negotiation between pynetdicom and dicomnet.

pynetdicom's SCU against a dicomnet SCP: user identity of every type accepted
and refused, each rejection reason, Verification-only mode; and dicomnet's SCU
against pynetdicom's SCP for the asynchronous operations window. pynetdicom
cannot have several requests outstanding (its documentation says it does not
support asynchronous operations), so the performed side of the window is shown
dicomnet to dicomnet only (tests/association).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import require_module
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy
from helpers.pynetdicom_scu import run_pynetdicom_scu, run_pynetdicom_scus

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


def identity_config(port: int, identity_type: int, primary: str, secondary: str) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "identity": {"type": identity_type, "primary": primary, "secondary": secondary},
    }


async def test_pynetdicom_identity_of_each_type_accepted() -> None:
    require_module("pynetdicom")
    directory = Directory()
    async with await AE("DICOMNET", identity_check=directory).serve("127.0.0.1", 0) as server:
        reports = await run_pynetdicom_scus(
            [identity_config(server.port, int(t), p, s) for t, p, s in IDENTITIES]
        )
    for (identity_type, primary, secondary), report, seen in zip(
        IDENTITIES, reports, directory.seen, strict=True
    ):
        assert report["established"], (identity_type, report)
        assert report["server_response"] == "welcome alice"
        assert report["echo"] == 0
        assert seen.identity_type == identity_type
        assert seen.primary_field == primary.encode()
        assert seen.secondary_field == secondary.encode()
        assert seen.positive_response_requested


async def test_pynetdicom_identity_refused() -> None:
    require_module("pynetdicom")
    refused = [
        (UserIdentityType.USERNAME, "mallory", ""),
        (UserIdentityType.USERNAME_AND_PASSCODE, "alice", "wrong"),
        (UserIdentityType.KERBEROS, "someone-elses-ticket", ""),
        (UserIdentityType.SAML, "<saml:Assertion>eve</saml:Assertion>", ""),
        (UserIdentityType.JWT, "eyJ.bm9ib2R5.sig", ""),
    ]
    async with await AE("DICOMNET", identity_check=Directory()).serve("127.0.0.1", 0) as server:
        reports = await run_pynetdicom_scus(
            [identity_config(server.port, int(t), p, s) for t, p, s in refused]
        )
    for report in reports:
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
        wrong, right = await run_pynetdicom_scus(
            [
                {"host": "127.0.0.1", "port": server.port, "called": called, "contexts": contexts}
                for called in ("NOBODY", "DICOMNET")
            ]
        )
    assert wrong["established"] and wrong["echo"] == 0
    # CT is refused with result 1 (user-rejection, PS3.8 Table 9-18), Verification accepted.
    assert wrong["contexts"] == {VERIFICATION_SOP_CLASS: 0, CT_IMAGE_STORAGE: 1}
    assert right["contexts"] == {VERIFICATION_SOP_CLASS: 0, CT_IMAGE_STORAGE: 0}


async def test_pynetdicom_sees_each_rejection() -> None:
    require_module("pynetdicom")
    policy = make_policy(
        "DICOMNET",
        ae_titles=AETitlePolicy(called_ae_titles=("DICOMNET",), calling_ae_titles=("PYNETDICOM",)),
    )
    cases: list[tuple[dict[str, str], list[int] | None]] = [
        ({"calling": "STRANGER"}, [1, 1, 3]),
        ({"called": "NOBODY"}, [1, 1, 7]),
        ({"application_context": "1.2.3.4"}, [1, 1, 2]),
        ({}, None),  # and the server still accepts a proper request
    ]
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        reports = await run_pynetdicom_scus(
            [{"host": "127.0.0.1", "port": server.port, **config} for config, _ in cases]
        )
    for (config, expected), report in zip(cases, reports, strict=True):
        assert report["rejected"] == expected, (config, report)
        assert report["established"] is (expected is None)
    assert reports[-1]["echo"] == 0


async def test_pynetdicom_sees_the_transient_local_limit() -> None:
    require_module("pynetdicom")
    policy = make_policy("DICOMNET", max_associations=1)
    async with await AE("DICOMNET", policy).serve("127.0.0.1", 0) as server:
        async with AE("HOLDER").associate("127.0.0.1", server.port, called_ae="DICOMNET"):
            report = await run_pynetdicom_scu({"host": "127.0.0.1", "port": server.port})
    assert not report["established"]
    assert report["rejected"] == [2, 3, 2]  # transient, provider (presentation), local limit


async def test_dicomnet_scu_window_falls_back_to_one_with_pynetdicom() -> None:
    # pynetdicom performs operations one at a time and does not answer the window item
    # (PS3.7 D.3.3.3: no answer means 1/1); the SCU keeps to it even when asked for many.
    require_module("pynetdicom")
    from pynetdicom import AE as PynetdicomAE
    from pynetdicom import evt

    seen: list[int] = []

    def on_echo(event: Any) -> int:
        seen.append(event.request.MessageID)
        return 0

    scp = PynetdicomAE(ae_title="PYSCP")
    scp.add_supported_context(VERIFICATION_SOP_CLASS)
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)]
    )
    assert server is not None
    try:
        port = server.server_address[1]
        policy = make_policy("DICOMNET", max_operations_invoked=8, max_operations_performed=8)
        async with AE("DICOMNET", policy).associate("127.0.0.1", port, called_ae="PYSCP") as assoc:
            assert assoc.negotiated.max_operations_invoked == 1
            statuses = await asyncio.gather(*(assoc.echo() for _ in range(10)))
    finally:
        server.shutdown()
    assert [s.code for s in statuses] == [0] * 10
    assert len(seen) == 10
