"""The invoked side of the asynchronous operations window (PS3.7 D.3.3.3)."""

from __future__ import annotations

import asyncio

import pytest
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.association.dispatch import Dispatcher
from dicomnet.dimse.commands import CEchoRQ, CommandField
from dicomnet.policy import VERIFICATION_SOP_CLASS
from dicomnet.services.base import Binding, IncomingRequest


class Counter:
    """A C-ECHO handler that counts how many requests are being performed at once."""

    def __init__(self, gate_at: int) -> None:
        self.running = 0
        self.peak = 0
        self.total = 0
        self.gate_at = gate_at
        self.gate = asyncio.Event()
        self.associations: list[Association] = []

    async def __call__(self, request: IncomingRequest) -> int:
        self.running += 1
        self.total += 1
        self.peak = max(self.peak, self.running)
        self.associations.append(request.association)
        if self.running >= self.gate_at:
            self.gate.set()
        # Hold every request until the window could be full, then give a surplus request
        # (one the SCU should not have sent) a chance to arrive while this one still runs.
        await self.gate.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.sleep(0.005)
        self.running -= 1
        return 0


@pytest.mark.parametrize("window", [1, 4])
async def test_scu_never_exceeds_max_invoked(
    window: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The SCP runs every request it receives at once (its dispatcher ignores the
    # negotiated limit), so the handler's peak is the number outstanding on the wire.
    original = Dispatcher.set_limit
    monkeypatch.setattr(Dispatcher, "set_limit", lambda self, _: original(self, 0))
    counter = Counter(gate_at=window)
    # The SCP would perform up to 32 at once: only the SCU's own window limits it.
    scp_policy = make_policy("SCP", max_operations_invoked=1, max_operations_performed=32)
    scp = AE(
        "SCP", scp_policy, handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=counter)]
    )
    scu = AE("SCU", make_policy("SCU", max_operations_invoked=window, max_operations_performed=1))
    async with await scp.serve("127.0.0.1", 0) as server:
        async with scu.associate("127.0.0.1", server.port) as assoc:
            assert assoc.negotiated.max_operations_invoked == window
            request = CEchoRQ(message_id=0, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
            streams = [assoc.send_request(request) for _ in range(20)]
            responses = await asyncio.gather(*streams)
    assert [r.status for r in responses] == [0] * 20
    assert counter.total == 20
    assert counter.peak == window
    assert not [r for r in caplog.records if "exceeded the operations window" in r.getMessage()]
    # The acceptor agreed to perform as many as the requestor invokes.
    assert counter.associations[0].negotiated.max_operations_performed == window
    # Message IDs are reused only after their request completed: all 20 were distinct
    # at the time, and the responses matched their requests.
    assert [r.message.message_id_being_responded_to for r in responses] == [
        s.message_id for s in streams
    ]
