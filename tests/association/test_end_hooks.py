"""Services told when each association ends (``association_ended``), on both sides."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.dimse.commands import CommandField
from dicomnet.services.base import Binding, HandlerRegistry, IncomingRequest


class Tracking:
    """A C-ECHO service that records the associations it is told have ended."""

    def __init__(self, fail: bool = False) -> None:
        self.ended: list[Association] = []
        self.fail = fail
        self.done = asyncio.Event()

    def bindings(self) -> Iterable[Binding]:
        async def echo(request: IncomingRequest) -> int:
            return 0

        return [Binding(command_field=CommandField.C_ECHO_RQ, handler=echo)]

    def association_ended(self, association: Association) -> None:
        self.ended.append(association)
        self.done.set()
        if self.fail:
            raise RuntimeError("hook failed")


@pytest.mark.parametrize("how", ["release", "abort"])
async def test_both_sides_hear_the_end_once(how: str) -> None:
    acceptor, requestor = Tracking(), Tracking()
    async with await AE("SCP", handlers=[acceptor]).serve("127.0.0.1", 0) as server:
        ae = AE("SCU")
        ae.add_handler(requestor)
        assoc = await ae.associate("127.0.0.1", server.port, called_ae="SCP")
        assert (await assoc.echo()).code == 0
        assert acceptor.ended == [] and requestor.ended == []
        await (assoc.release() if how == "release" else assoc.abort())
        await acceptor.done.wait()
    assert requestor.ended == [assoc]
    assert len(acceptor.ended) == 1 and acceptor.ended[0] is not assoc
    assert acceptor.ended[0].is_ended


async def test_a_failing_hook_does_not_stop_the_others() -> None:
    first, second = Tracking(fail=True), Tracking()
    registry = HandlerRegistry([first, second])
    copied = registry.copy()
    marker = object()
    copied.association_ended(marker)
    assert first.ended == [marker] and second.ended == [marker]


def test_a_service_added_twice_is_told_once() -> None:
    service = Tracking()
    registry = HandlerRegistry([service, service])
    registry.association_ended("x")
    assert service.ended == ["x"]
