"""The DICOM Upper Layer state machine of PS3.8 §9.2, as data.

Thirteen states (Table 9-1 to 9-5), nineteen events and twenty-eight actions
(Tables 9-6 to 9-9), and the state table that joins them (Table 9-10). This
module only *describes* the machine: :func:`transition` says which action a
(state, event) pair triggers and which next states that action may lead to.
Carrying the actions out (sending PDUs, issuing indications, timers) is the
job of :class:`dicomnet_pdu.connection.ULConnection`.

Two actions have a next state that depends on context, exactly as in the
standard: AE-6 (Sta3 when the A-ASSOCIATE-RQ is acceptable to the
service-provider, Sta13 otherwise) and AR-8 (Sta9 for the association-requestor,
Sta10 for the acceptor). For them :attr:`Transition.next_states` lists both,
and the code performing the action picks one.

The 124 cells Table 9-10 leaves blank have no transition: :func:`transition`
returns ``None`` and the caller decides (a local primitive there is misuse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "NEXT_STATES",
    "TRANSITIONS",
    "Action",
    "Event",
    "State",
    "Transition",
    "transition",
]


class State(Enum):
    """The states of the DUL state machine (PS3.8 §9.2.1)."""

    STA1 = "Sta1"  #: Idle
    STA2 = "Sta2"  #: Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
    STA3 = "Sta3"  #: Awaiting local A-ASSOCIATE response primitive
    STA4 = "Sta4"  #: Awaiting transport connection opening to complete
    STA5 = "Sta5"  #: Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU
    STA6 = "Sta6"  #: Association established and ready for data transfer
    STA7 = "Sta7"  #: Awaiting A-RELEASE-RP PDU
    STA8 = "Sta8"  #: Awaiting local A-RELEASE response primitive
    STA9 = "Sta9"  #: Release collision requestor side; awaiting A-RELEASE response
    STA10 = "Sta10"  #: Release collision acceptor side; awaiting A-RELEASE-RP PDU
    STA11 = "Sta11"  #: Release collision requestor side; awaiting A-RELEASE-RP PDU
    STA12 = "Sta12"  #: Release collision acceptor side; awaiting A-RELEASE response
    STA13 = "Sta13"  #: Awaiting transport connection close indication

    # Members are singletons compared by identity; Enum.__hash__ hashes the name in Python,
    # a call per lookup (a step of the machine looks up a state, an event and an action).
    __hash__ = object.__hash__


class Event(Enum):
    """The events of the DUL state machine: the rows of PS3.8 Table 9-10, in order."""

    EVT1 = "Evt1"  #: A-ASSOCIATE request (local user)
    EVT2 = "Evt2"  #: Transport connection confirmation (local transport service)
    EVT3 = "Evt3"  #: A-ASSOCIATE-AC PDU received
    EVT4 = "Evt4"  #: A-ASSOCIATE-RJ PDU received
    EVT5 = "Evt5"  #: Transport connection indication (local transport service)
    EVT6 = "Evt6"  #: A-ASSOCIATE-RQ PDU received
    EVT7 = "Evt7"  #: A-ASSOCIATE response primitive (accept)
    EVT8 = "Evt8"  #: A-ASSOCIATE response primitive (reject)
    EVT9 = "Evt9"  #: P-DATA request primitive
    EVT10 = "Evt10"  #: P-DATA-TF PDU received
    EVT11 = "Evt11"  #: A-RELEASE request primitive
    EVT12 = "Evt12"  #: A-RELEASE-RQ PDU received
    EVT13 = "Evt13"  #: A-RELEASE-RP PDU received
    EVT14 = "Evt14"  #: A-RELEASE response primitive
    EVT15 = "Evt15"  #: A-ABORT request primitive
    EVT16 = "Evt16"  #: A-ABORT PDU received
    EVT17 = "Evt17"  #: Transport connection closed indication
    EVT18 = "Evt18"  #: ARTIM timer expired
    EVT19 = "Evt19"  #: Unrecognized or invalid PDU received

    __hash__ = object.__hash__  # as State's


class Action(Enum):
    """The actions of the DUL state machine (PS3.8 Tables 9-6 to 9-9)."""

    AE_1 = "AE-1"  #: Issue transport connect request
    AE_2 = "AE-2"  #: Send A-ASSOCIATE-RQ PDU
    AE_3 = "AE-3"  #: Issue A-ASSOCIATE confirmation (accept)
    AE_4 = "AE-4"  #: Issue A-ASSOCIATE confirmation (reject), close transport
    AE_5 = "AE-5"  #: Issue transport connection response, start ARTIM
    AE_6 = "AE-6"  #: Stop ARTIM; indicate A-ASSOCIATE, or send A-ASSOCIATE-RJ and start ARTIM
    AE_7 = "AE-7"  #: Send A-ASSOCIATE-AC PDU
    AE_8 = "AE-8"  #: Send A-ASSOCIATE-RJ PDU, start ARTIM
    DT_1 = "DT-1"  #: Send P-DATA-TF PDU
    DT_2 = "DT-2"  #: Issue P-DATA indication
    AR_1 = "AR-1"  #: Send A-RELEASE-RQ PDU
    AR_2 = "AR-2"  #: Issue A-RELEASE indication
    AR_3 = "AR-3"  #: Issue A-RELEASE confirmation, close transport
    AR_4 = "AR-4"  #: Send A-RELEASE-RP PDU, start ARTIM
    AR_5 = "AR-5"  #: Stop ARTIM
    AR_6 = "AR-6"  #: Issue P-DATA indication (awaiting A-RELEASE-RP)
    AR_7 = "AR-7"  #: Send P-DATA-TF PDU (awaiting local A-RELEASE response)
    AR_8 = "AR-8"  #: Issue A-RELEASE indication (release collision)
    AR_9 = "AR-9"  #: Send A-RELEASE-RP PDU (collision, requestor)
    AR_10 = "AR-10"  #: Issue A-RELEASE confirmation (collision, acceptor)
    AA_1 = "AA-1"  #: Send A-ABORT PDU (service-user source), start or restart ARTIM
    AA_2 = "AA-2"  #: Stop ARTIM if running, close transport
    AA_3 = "AA-3"  #: Issue A-ABORT or A-P-ABORT indication, close transport
    AA_4 = "AA-4"  #: Issue A-P-ABORT indication
    AA_5 = "AA-5"  #: Stop ARTIM
    AA_6 = "AA-6"  #: Ignore PDU
    AA_7 = "AA-7"  #: Send A-ABORT PDU
    AA_8 = "AA-8"  #: Send A-ABORT PDU (service-provider source), A-P-ABORT indication, ARTIM

    __hash__ = object.__hash__  # as State's


_S = State
#: The next state(s) of every action, from the action tables 9-6 to 9-9.
NEXT_STATES: Mapping[Action, tuple[State, ...]] = MappingProxyType(
    {
        Action.AE_1: (_S.STA4,),
        Action.AE_2: (_S.STA5,),
        Action.AE_3: (_S.STA6,),
        Action.AE_4: (_S.STA1,),
        Action.AE_5: (_S.STA2,),
        Action.AE_6: (_S.STA3, _S.STA13),
        Action.AE_7: (_S.STA6,),
        Action.AE_8: (_S.STA13,),
        Action.DT_1: (_S.STA6,),
        Action.DT_2: (_S.STA6,),
        Action.AR_1: (_S.STA7,),
        Action.AR_2: (_S.STA8,),
        Action.AR_3: (_S.STA1,),
        Action.AR_4: (_S.STA13,),
        Action.AR_5: (_S.STA1,),
        Action.AR_6: (_S.STA7,),
        Action.AR_7: (_S.STA8,),
        Action.AR_8: (_S.STA9, _S.STA10),
        Action.AR_9: (_S.STA11,),
        Action.AR_10: (_S.STA12,),
        Action.AA_1: (_S.STA13,),
        Action.AA_2: (_S.STA1,),
        Action.AA_3: (_S.STA1,),
        Action.AA_4: (_S.STA1,),
        Action.AA_5: (_S.STA1,),
        Action.AA_6: (_S.STA13,),
        Action.AA_7: (_S.STA13,),
        Action.AA_8: (_S.STA13,),
    }
)
del _S

# PS3.8 Table 9-10, one row per event, one column per state; "." is a blank cell.
#         Sta1 Sta2 Sta3 Sta4 Sta5 Sta6 Sta7 Sta8 Sta9 Sta10 Sta11 Sta12 Sta13
_TABLE_9_10: Mapping[Event, str] = MappingProxyType(
    {
        Event.EVT1: " AE-1 .    .    .    .    .    .    .    .    .    .    .    .   ",
        Event.EVT2: " .    .    .    AE-2 .    .    .    .    .    .    .    .    .   ",
        Event.EVT3: " .    AA-1 AA-8 .    AE-3 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
        Event.EVT4: " .    AA-1 AA-8 .    AE-4 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
        Event.EVT5: " AE-5 .    .    .    .    .    .    .    .    .    .    .    .   ",
        Event.EVT6: " .    AE-6 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-7",
        Event.EVT7: " .    .    AE-7 .    .    .    .    .    .    .    .    .    .   ",
        Event.EVT8: " .    .    AE-8 .    .    .    .    .    .    .    .    .    .   ",
        Event.EVT9: " .    .    .    .    .    DT-1 .    AR-7 .    .    .    .    .   ",
        Event.EVT10: ".    AA-1 AA-8 .    AA-8 DT-2 AR-6 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
        Event.EVT11: ".    .    .    .    .    AR-1 .    .    .    .    .    .    .   ",
        Event.EVT12: ".    AA-1 AA-8 .    AA-8 AR-2 AR-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
        Event.EVT13: ".    AA-1 AA-8 .    AA-8 AA-8 AR-3 AA-8 AA-8 AR-10 AR-3 AA-8 AA-6",
        Event.EVT14: ".    .    .    .    .    .    .    AR-4 AR-9 .    .    AR-4 .   ",
        Event.EVT15: ".    .    AA-1 AA-2 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 .   ",
        Event.EVT16: ".    AA-2 AA-3 .    AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-2",
        Event.EVT17: ".    AA-5 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AR-5",
        Event.EVT18: ".    AA-2 .    .    .    .    .    .    .    .    .    .    AA-2",
        Event.EVT19: ".    AA-1 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-7",
    }
)


@dataclass(frozen=True, slots=True)
class Transition:
    """One defined cell of Table 9-10: the action and the state(s) it may lead to."""

    action: Action
    next_states: tuple[State, ...]

    @property
    def next_state(self) -> State:
        """The next state when the action has only one (AE-6 and AR-8 have two)."""
        if len(self.next_states) != 1:
            raise ValueError(f"{self.action.value} has a context-dependent next state")
        return self.next_states[0]


def _build_transitions() -> dict[tuple[State, Event], Transition]:
    states = list(State)
    table: dict[tuple[State, Event], Transition] = {}
    for event, row in _TABLE_9_10.items():
        cells = row.split()
        if len(cells) != len(states):
            raise AssertionError(f"row {event.value} of Table 9-10 has {len(cells)} cells")
        for state, cell in zip(states, cells, strict=True):
            if cell != ".":
                action = Action(cell)
                table[state, event] = Transition(action, NEXT_STATES[action])
    return table


#: Every defined (state, event) cell of PS3.8 Table 9-10.
TRANSITIONS: Mapping[tuple[State, Event], Transition] = MappingProxyType(_build_transitions())


def transition(state: State, event: Event) -> Transition | None:
    """The action ``event`` triggers in ``state``, or ``None`` for a blank cell."""
    return TRANSITIONS.get((state, event))
