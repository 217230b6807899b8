"""A service wrapper that counts what a Storage SCP answers (for :class:`~.metrics.Metrics`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import replace

from dicomnet.dimse.commands import CommandField
from dicomnet.services.base import Binding, Handler, IncomingRequest, Reply, Service

from .metrics import Metrics

__all__ = ["MeteredService"]


class MeteredService:
    """``service`` with each C-STORE it answers counted in ``metrics`` (other requests as is)."""

    def __init__(self, service: Service, metrics: Metrics) -> None:
        self.service = service
        self.metrics = metrics

    def bindings(self) -> Iterable[Binding]:
        """The service's bindings, C-STORE ones counted."""
        for binding in self.service.bindings():
            if binding.command_field == CommandField.C_STORE_RQ:
                yield replace(binding, handler=self._counted(binding.handler))
            else:
                yield binding

    def _counted(self, handler: Handler) -> Handler:
        metrics = self.metrics

        async def counted(request: IncomingRequest) -> Reply | int:
            result = handler(request)
            if not inspect.isawaitable(result):  # pragma: no cover - C-STORE answers once
                raise TypeError("a C-STORE handler answers with one reply")
            reply = await result
            status = reply if isinstance(reply, int) else reply.status
            size = request.data.received if request.data is not None else 0
            metrics.instance(request.association, int(status), size)
            return reply

        return counted
