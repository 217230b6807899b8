"""The Prometheus text format (version 0.0.4) of :class:`~.metrics.Metrics` snapshots.

Several processes (``serve --workers``) are summed with :func:`merge`:
counters add up, and so do the gauges (active associations, queue depth
of each process). Names get the ``dicomnet_`` prefix; the label of each
counter is the one :data:`LABELS` names.
"""

from __future__ import annotations

from collections.abc import Iterable

from .metrics import Snapshot

__all__ = ["CONTENT_TYPE", "LABELS", "merge", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Metric name -> (label name or "", type, help).
LABELS: dict[str, tuple[str, str, str]] = {
    "associations_total": ("outcome", "counter", "Associations ended, by outcome"),
    "instances_total": ("", "counter", "Instances stored (C-STORE success or warning)"),
    "bytes_received_total": ("", "counter", "Data set bytes received in C-STORE requests"),
    "instance_failures_total": ("status", "counter", "C-STORE failures, by status (hex)"),
    "associations_active": ("", "gauge", "Associations being served"),
    "queue_depth": ("", "gauge", "Send jobs waiting in the queue"),
    "workers": ("", "gauge", "Worker processes serving"),
    "worker_restarts_total": ("", "counter", "Workers started again after they died"),
}


def merge(snapshots: Iterable[Snapshot]) -> Snapshot:
    """The sum of ``snapshots``, metric by metric and label by label."""
    total: Snapshot = {}
    for snapshot in snapshots:
        for name, values in snapshot.items():
            into = total.setdefault(name, {})
            for label, value in values.items():
                into[label] = into.get(label, 0.0) + float(value)
    return total


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(snapshot: Snapshot) -> str:
    """``snapshot`` in the Prometheus text format."""
    lines: list[str] = []
    for name in sorted(snapshot):
        label, kind, text = LABELS.get(name, ("", "untyped", name))
        full = f"dicomnet_{name}"
        lines.append(f"# HELP {full} {text}")
        lines.append(f"# TYPE {full} {kind}")
        values = snapshot[name]
        if label and not values:
            continue
        for key in sorted(values):
            number = values[key]
            shown = repr(float(number)) if number != int(number) else str(int(number))
            if label and key:
                lines.append(f'{full}{{{label}="{_escape(key)}"}} {shown}')
            else:
                lines.append(f"{full} {shown}")
    return "\n".join(lines) + "\n"
