"""Observability for operators: per-association records, counters, a Prometheus endpoint.

* :class:`~.metrics.Metrics` - counters of one process (associations by
  outcome, instances, bytes, failures by status) and the structured record
  logged when an association ends (logger ``dicomnet.associations``);
* :class:`~.service.MeteredService` - wraps a Storage SCP to count its instances;
* :mod:`.exposition` - the Prometheus text format, summed over processes;
* :mod:`.http` - a small asyncio HTTP endpoint serving ``/metrics``.

Off by default (``dicomnet serve --metrics-port PORT`` turns it on).
"""

from __future__ import annotations

from .metrics import Metrics, Snapshot
from .service import MeteredService

__all__ = ["MeteredService", "Metrics", "Snapshot"]
