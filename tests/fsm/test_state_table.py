"""The state table of dicomnet_pdu.fsm against PS3.8 Table 9-10, cell by cell."""

from __future__ import annotations

import pytest

from dicomnet_pdu.fsm import NEXT_STATES, TRANSITIONS, Action, Event, State, transition

from .spec_tables import Cell, action_next_states, read_tsv, state_table

CELLS = state_table()


def test_fixture_has_every_cell_once() -> None:
    assert len(CELLS) == 13 * 19
    assert len({(c.state, c.event) for c in CELLS}) == 13 * 19


def test_enums_match_the_standard() -> None:
    assert [s.value for s in State] == [r["state"] for r in read_tsv("dul_states.tsv")]
    assert [e.value for e in Event] == [r["event"] for r in read_tsv("dul_events.tsv")]
    assert {a.value for a in Action} == {r["action"] for r in read_tsv("dul_actions.tsv")}


def test_action_next_states_match_tables_9_6_to_9_9() -> None:
    expected = action_next_states()
    got = {a.value: tuple(s.value for s in states) for a, states in NEXT_STATES.items()}
    assert got == expected


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.state}-{c.event}")
def test_cell(cell: Cell) -> None:
    result = transition(State(cell.state), Event(cell.event))
    if cell.action is None:
        assert result is None
        return
    assert result is not None
    assert result.action.value == cell.action
    assert tuple(s.value for s in result.next_states) == cell.next_states


def test_defined_cell_count() -> None:
    assert len(TRANSITIONS) == sum(c.action is not None for c in CELLS) == 123


def test_conditional_next_state_refuses_a_single_answer() -> None:
    ae6 = transition(State.STA2, Event.EVT6)
    assert ae6 is not None
    with pytest.raises(ValueError, match="AE-6"):
        _ = ae6.next_state
    ae5 = transition(State.STA1, Event.EVT5)
    assert ae5 is not None
    assert ae5.next_state is State.STA2
