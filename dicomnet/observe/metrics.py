"""Counters of one serving process and the record of each association.

A :class:`Metrics` belongs to one server (no global state). The Storage SCP
wrapper (:class:`~.service.MeteredService`) calls :meth:`Metrics.instance`
for every C-STORE it answers; the server calls :meth:`Metrics.ended` when an
association ends, which logs one structured record on the logger
``dicomnet.associations`` (INFO; the fields are also in the record's
``association`` attribute, for a JSON log formatter) and counts it.

A :class:`Snapshot` is the counters as plain data: workers send theirs to
their supervisor, which sums them (:func:`~.exposition.merge`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from dicomnet.association import Association

__all__ = ["AssociationStats", "Metrics", "Snapshot", "outcome_of"]

_records = logging.getLogger("dicomnet.associations")

#: Counter name -> {label value -> count}; gauges the same with one "" label.
Snapshot: TypeAlias = dict[str, dict[str, float]]


@dataclass(slots=True)
class AssociationStats:
    """What one association did (kept until it ends)."""

    started: float = field(default_factory=time.monotonic)
    instances: int = 0
    failures: int = 0
    bytes: int = 0


def outcome_of(association: Association) -> str:
    """``released``, ``aborted``, ``rejected`` or ``failed`` (never established)."""
    try:
        association.negotiated  # noqa: B018 (raises unless it was established)
    except Exception:
        if association.request is not None and association.error is None:
            return "rejected"
        return "failed"
    return "released" if association.error is None else "aborted"


class Metrics:
    """The counters of one process; :meth:`snapshot` gives them as plain data."""

    def __init__(self) -> None:
        self._stats: dict[int, AssociationStats] = {}
        self.associations: dict[str, float] = {}
        self.instances = 0.0
        self.bytes = 0.0
        self.failures: dict[str, float] = {}
        #: Gauges read at each snapshot (name -> function), e.g. a send queue's depth.
        self.gauges: dict[str, Callable[[], float]] = {}
        self.active: Callable[[], float] | None = None

    def _of(self, association: Association) -> AssociationStats:
        stats = self._stats.get(id(association))
        if stats is None:
            stats = self._stats[id(association)] = AssociationStats()
        return stats

    def started(self, association: Association) -> None:
        """Note when ``association`` began (else its first instance is the start)."""
        self._of(association)

    def instance(self, association: Association, status: int, size: int) -> None:
        """Count one C-STORE answered with ``status`` after ``size`` data set bytes."""
        stats = self._of(association)
        stats.bytes += size
        self.bytes += size
        if status == 0 or 0xB000 <= status <= 0xBFFF:  # success and warnings: kept
            stats.instances += 1
            self.instances += 1
        else:
            stats.failures += 1
            key = f"{status:04X}"
            self.failures[key] = self.failures.get(key, 0) + 1

    def ended(self, association: Association) -> None:
        """Log the association's record and count it."""
        stats = self._stats.pop(id(association), None) or AssociationStats()
        outcome = outcome_of(association)
        self.associations[outcome] = self.associations.get(outcome, 0) + 1
        if not _records.isEnabledFor(logging.INFO):
            return  # nobody reads the record: do not build it
        request = association.request
        try:
            contexts = [c.abstract_syntax for c in association.contexts]
        except Exception:
            contexts = []
        peer = association.peer_address
        record: dict[str, Any] = {
            "peer": f"{peer[0]}:{peer[1]}" if peer else None,
            "calling_ae": request.calling_ae_title if request is not None else None,
            "called_ae": request.called_ae_title if request is not None else None,
            "contexts": len(contexts),
            "sop_classes": sorted(set(contexts)),
            "instances": stats.instances,
            "failures": stats.failures,
            "bytes": stats.bytes,
            "seconds": round(time.monotonic() - stats.started, 3),
            "outcome": outcome,
        }
        _records.info(
            "association %s peer=%s calling=%s called=%s contexts=%d instances=%d failures=%d"
            " bytes=%d seconds=%.3f",
            outcome,
            record["peer"],
            record["calling_ae"],
            record["called_ae"],
            record["contexts"],
            record["instances"],
            record["failures"],
            record["bytes"],
            record["seconds"],
            extra={"association": record},
        )

    def snapshot(self) -> Snapshot:
        """The counters and gauges now."""
        out: Snapshot = {
            "associations_total": dict(self.associations),
            "instances_total": {"": self.instances},
            "bytes_received_total": {"": self.bytes},
            "instance_failures_total": dict(self.failures),
        }
        gauges = dict(self.gauges)
        if self.active is not None:
            gauges["associations_active"] = self.active
        for name, read in gauges.items():
            try:
                out[name] = {"": float(read())}
            except Exception:  # a gauge that cannot be read is left out
                continue
        return out
