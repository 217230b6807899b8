"""Readers for the PS3.8 state-machine fixtures copied into ``tests/fsm/data``.

The TSV files are a transcription of PS3.8 Tables 9-1 to 9-10 made independently
of the code under test (see ``data/README.md``); tests use them as expected values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"


def read_tsv(name: str) -> list[dict[str, str]]:
    """All records of one fixture file."""
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@dataclass(frozen=True)
class Cell:
    """One cell of Table 9-10; ``action`` is None and ``next_states`` empty when blank."""

    state: str
    event: str
    action: str | None
    next_states: tuple[str, ...]


def state_table() -> list[Cell]:
    """The 247 cells of Table 9-10, Sta1..Sta13 then Evt1..Evt19."""
    cells = []
    for row in read_tsv("dul_state_table.tsv"):
        blank = row["action"] == "-"
        cells.append(
            Cell(
                state=row["state"],
                event=row["event"],
                action=None if blank else row["action"],
                next_states=() if blank else tuple(row["next_state"].split("|")),
            )
        )
    return cells


def action_next_states() -> dict[str, tuple[str, ...]]:
    """Next state(s) of each action, from Tables 9-6 to 9-9."""
    return {r["action"]: tuple(r["next_state"].split("|")) for r in read_tsv("dul_actions.tsv")}
