"""``dicomnet serve --metrics-port PORT``: counters for operators (off by default).

A single process serves ``http://HOST:PORT/metrics`` (Prometheus text format)
itself. With ``--workers`` the supervisor serves it: each worker sends its
counters to the supervisor once a second over the pipe they share, and the
supervisor sums them (the counters of a worker that died are kept and the
new worker's are added to them, so a counter never goes back). Every
association also leaves one record on the ``dicomnet.associations`` logger
(see :mod:`dicomnet.observe.metrics`), with or without the endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from dicomnet.ae import Server
from dicomnet.cli.announce import announce
from dicomnet.observe.exposition import render
from dicomnet.observe.http import MetricsEndpoint, start_metrics_endpoint
from dicomnet.observe.metrics import Metrics, Snapshot
from dicomnet.observe.service import MeteredService
from dicomnet.services.base import Service
from dicomnet.services.storage_scp import StorageService

__all__ = ["Exposure", "add_metrics_arguments", "attach", "expose", "metered", "metrics_from"]

_log = logging.getLogger("dicomnet.cli.serve")
#: Seconds between two snapshots a worker sends.
PUBLISH_EVERY = 1.0


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-host``."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (off by default; 0 = any)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address of the metrics endpoint (127.0.0.1)",
    )


def metrics_from(args: argparse.Namespace) -> Metrics:
    """The counters of this process (kept even without an endpoint: they cost little)."""
    return Metrics()


def metered(handlers: Sequence[Service], metrics: Metrics) -> list[Service]:
    """``handlers`` with the Storage SCP counted."""
    return [
        MeteredService(handler, metrics) if isinstance(handler, StorageService) else handler
        for handler in handlers
    ]


def attach(server: Server, metrics: Metrics) -> None:
    """Count and log every association of ``server`` as it ends."""
    server.ended_hooks.append(metrics.ended)
    metrics.active = lambda: float(len(server.active))


class Exposure:
    """The endpoint or the publishing task; :meth:`close` ends it."""

    def __init__(
        self, endpoint: MetricsEndpoint | None = None, task: asyncio.Task[None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.task = task

    async def close(self) -> None:
        """Stop serving or publishing."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.endpoint is not None:
            await self.endpoint.close()


async def _publish(metrics: Metrics, publish: Callable[[Snapshot], None]) -> None:
    while True:
        try:
            publish(metrics.snapshot())
        except OSError:  # the supervisor is gone: the lifeline stops this worker
            return
        await asyncio.sleep(PUBLISH_EVERY)


async def expose(
    args: argparse.Namespace, metrics: Metrics, publish: Callable[[Snapshot], None] | None
) -> Exposure:
    """Serve ``metrics`` (``--metrics-port``), or publish them to a supervisor (a worker).

    Raises OSError when the endpoint cannot listen.
    """
    port = getattr(args, "metrics_port", None)
    if port is None:
        return Exposure()
    if publish is not None:
        return Exposure(task=asyncio.get_running_loop().create_task(_publish(metrics, publish)))
    endpoint = await start_metrics_endpoint(
        args.metrics_host, port, lambda: render(metrics.snapshot())
    )
    announce(f"metrics listening on {endpoint.port}")
    return Exposure(endpoint=endpoint)
