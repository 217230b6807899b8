"""A command set sent in fragments that never end: A-ABORT once it passes the limit.

Before the bound every fragment was kept until the last one came (256 MiB of command
fragments added 269 MB to the server's RSS). Now the association aborts as soon as
``Policy.max_command_set`` is passed, and the server goes on serving others.
"""

from __future__ import annotations

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.policy import VERIFICATION_SOP_CLASS, ProposedContext
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.pdus import AAbort, AAssociateAC

CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
)


def command_fragment(size: int) -> bytes:
    """One P-DATA-TF holding one command PDV of ``size`` bytes without the last bit."""
    pdv = (size + 2).to_bytes(4, "big") + b"\x01\x01" + bytes(size)
    return b"\x04\x00" + len(pdv).to_bytes(4, "big") + pdv


@pytest.mark.parametrize(("limit", "fragment"), [(None, 16000), (4096, 1000), (4096, 0)])
async def test_endless_command_fragments_are_aborted(limit: int | None, fragment: int) -> None:
    changes: dict[str, object] = {"timers": {"artim": 0.3}}
    if limit is not None:
        changes["max_command_set"] = limit
    policy = make_policy("SCP", **changes)
    bound = policy.max_command_set
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            rq = negotiation.build_request(
                make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
            )
            assert isinstance(await raw.request(rq), AAssociateAC)
            # Twice the limit, in fragments of which none is the last.
            count = 2 * bound // (fragment + 6) + 1
            raw.send(command_fragment(fragment) * count)
            answer = await raw.receive()
            assert answer == AAbort(
                source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.NOT_SPECIFIED
            )
            assert await raw.at_eof()
        finally:
            await raw.close()
        # and the server still serves a well-behaved SCU
        async with AE("SCU").associate(
            "127.0.0.1", server.port, called_ae="SCP", contexts=CONTEXTS
        ) as assoc:
            assert (await assoc.echo()).code == 0
