"""PNG chart of the store suite (matplotlib, when installed; it is not a project dependency)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .harness import SuiteResult

__all__ = ["plot_store"]

_COLOURS = {"dicomnet": "#1f77b4", "pynetdicom": "#ff7f0e", "dcmtk": "#2ca02c"}


def _colour(label: str) -> str:
    """Bars are coloured by the implementation that differs from a same-pair row."""
    scu, _, rest = label.partition(" -> ")
    scp = rest.split(",", 1)[0]
    if scu == scp:
        return _COLOURS.get(scu, "#7f7f7f")
    return "#9467bd"  # crosses


def plot_store(result: SuiteResult, path: Path) -> Path | None:
    """One horizontal bar chart of instances/s per table; None if matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = [t for t in result.tables if any(r.ok for r in t.rows) and t.rows]
    tables = [t for t in tables if "instances_per_second" in {c.key for c in t.columns}]
    if not tables:
        return None
    heights = [max(2.0, 0.32 * len(t.rows) + 1.0) for t in tables]
    figure, axes = plt.subplots(
        len(tables), 1, figsize=(10, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    axes_list = list(axes) if len(tables) > 1 else [axes]
    for axis, table in zip(axes_list, tables, strict=True):
        labels = [row.label for row in table.rows]
        values = [
            float(row.values.get("instances_per_second") or 0.0) if row.ok else 0.0
            for row in table.rows
        ]
        positions = list(range(len(labels)))
        axis.barh(positions, values, color=[_colour(label) for label in labels])
        axis.set_yticks(positions, labels, fontsize=7)
        axis.invert_yaxis()
        axis.set_title(table.title, fontsize=9)
        axis.set_xlabel("instances/s", fontsize=8)
        for position, row in zip(positions, table.rows, strict=True):
            if not row.ok:
                axis.text(0, position, " unavailable", va="center", fontsize=6, color="red")
    machine = result.machine
    figure.suptitle(
        f"dicomnet store benchmark, {machine.get('date_utc', '')}, "
        f"{machine.get('cpu_count', '?')} CPUs",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
