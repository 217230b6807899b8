"""The parts of a statement that show behaviour keys of a profile.

These say what dicomnet *does* with the profile, next to the document's own
tables: the situation in which each returned status is sent (``[[status]]
situations``, ``abort``), what a received status leads to (``outcome``, the
``[retry]`` rule), the per-service response timers and the closing ARTIM
(``[timers]``), coercion of received attributes (``[coercion]``), the query
constraints (``[[query.constraints]]``), relational extended negotiation
(``relational`` of the accepted contexts) and the C-MOVE sub-operation rules
(``[retrieve]``). Each is rendered in the PS3.2 Annex A section it belongs to,
so changing the key changes the statement.
"""

from __future__ import annotations

from dicomnet.policy import Policy
from dicomnet.status_policy import CATEGORY_OUTCOMES, Outcome, RetryRule, Situation

from .profile import Profile, StatusRule
from .registry import Registry
from .render_writers import BlockList

__all__ = ["Behaviour", "outcome_cell", "situation_cell"]

_STORE_KINDS = ("storage",)
_MOVE_SUFFIXES = ("2.1.2", "2.2.2", "2.3.2", "2.1.3", "2.2.3", "2.3.3")  # Q/R MOVE and GET
_COERCION_DEFAULT = 0xB000
_MISMATCH_DEFAULT = 0xA900


def _seconds(value: float | None) -> str:
    return "no timeout" if value is None else f"{value:g} s"


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def situation_cell(rule: StatusRule) -> str:
    """When dicomnet answers a returned row's code: its situations, and an abort after it."""
    if not rule.situations:
        return "-"
    text = "; ".join(
        name.replace("-", " ").replace("sop", "SOP").replace("iod", "IOD")
        for name in rule.situations
    )
    return text + ("; then the association is aborted" if rule.abort else "")


def outcome_cell(rule: StatusRule, retry: RetryRule) -> str:
    """What dicomnet does with a received row's code, and whether the profile states it."""
    stated = bool(rule.outcome)
    outcome = Outcome(rule.outcome) if stated else CATEGORY_OUTCOMES.get(rule.status)
    if outcome is None:
        return "none: the exchange goes on"
    text = {
        Outcome.SUCCESS: "success: counted as done",
        Outcome.WARNING: "warning: counted as done, logged",
        Outcome.FAILURE: "failure: not done; the next request goes on",
        Outcome.ABORT: "abort: not done; the association is aborted",
        Outcome.RETRY: (
            f"retry: sent again after {retry.delay:g} s, at most {retry.attempts} attempts"
            " in all, then a failure"
        ),
    }[outcome]
    return text + (" (stated)" if stated else " (by its category)")


class Behaviour(BlockList):
    """Mixin of the statement builder: the behaviour keys."""

    p: Profile
    policy: Policy
    reg: Registry

    # ------------------------------------------------------------------ 3.2.4

    def relational_negotiation(self) -> None:
        """SOP class extended negotiation of relational queries/retrieval, per accepted row."""
        rows = [
            (
                self.reg.name_of(uid),
                uid,
                "granted when requested"
                if rule.relational
                else "refused: the answer carries 0 for relational queries/retrieval",
            )
            for rule in self.p.accepted
            if rule.relational is not None
            for uid in rule.abstract_syntaxes
        ]
        if not rows:
            return
        self.table(
            "SOP class extended negotiation (relational queries and retrieval)",
            ("Abstract Syntax Name", "Abstract Syntax UID", "Relational"),
            rows,
        )
        self.para(
            "Other extended negotiation flags (date-time matching, fuzzy semantic matching,"
            " timezone adjustment) are answered 0. Without the item, queries and retrievals"
            " are hierarchical."
        )

    # ------------------------------------------------------------------ 3.2.6

    def behaviour_sections(self) -> None:
        """Coercion, query constraints, sub-operation rules and retries, as the profile sets."""
        self.coercion()
        self.query_constraints()
        self.suboperations()
        self.retries()

    def _accepts(self, kinds: tuple[str, ...]) -> bool:
        return any(
            rule.scp
            and any(
                (sop := self.reg.sop_classes.get(uid)) is not None and sop.kind in kinds
                for uid in rule.abstract_syntaxes
            )
            for rule in self.p.accepted
        )

    def coercion(self) -> None:
        if not self._accepts(_STORE_KINDS):
            return
        self.heading(5, "Coercion of received attributes")
        if self.p.coerce_ow_to_ob_8bit:
            code = self.policy.statuses.status("C-STORE", Situation.COERCION, _COERCION_DEFAULT)
            self.para(
                "Pixel Data (7FE0,0010) received with VR OW while Bits Allocated (0028,0100)"
                " is 8 is stored with VR OB (Big Endian byte pairs put back in order). The"
                f" C-STORE response is then {code:04X} (coercion of data elements)."
            )
        else:
            self.para("None: instances are stored as received; no attribute is coerced.")

    def query_constraints(self) -> None:
        constraints = self.p.query_constraints
        if not constraints:
            return
        code = self.policy.statuses.status(
            "C-FIND", Situation.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, _MISMATCH_DEFAULT
        )
        rows = []
        for rule in constraints:
            unless = [f"{_tag(t)} present" for t in rule.unless_present]
            if rule.unless_level_value:
                unless.append(f"another {rule.level} key has a value")
            rows.append(
                (
                    ", ".join(self.reg.name_of(m) for m in rule.models),
                    rule.level,
                    " or ".join(_tag(t) for t in rule.value_in),
                    "; ".join(unless) or "-",
                    rule.note or "-",
                )
            )
        self.table(
            f"C-FIND identifier constraints (answered {code:04X} when broken)",
            ("Models", "Level", "A value required in", "Unless", "Note"),
            rows,
        )

    def suboperations(self) -> None:
        moves = any(
            rule.scp and uid.endswith(_MOVE_SUFFIXES) and uid.startswith("1.2.840.10008.5.1.4.1.2.")
            for rule in self.p.accepted
            for uid in rule.abstract_syntaxes
        )
        if not moves:
            return
        on_failure = {
            "continue": "counted as failed; the remaining sub-operations go on",
            "stop": "the sub-operation association is ended, the rest counted as failed and"
            " the C-MOVE answered A702",
        }[self.p.retrieve_on_failure]
        warning = {
            "warning": "counted as a warning (completed with warnings)",
            "success": "counted as completed",
        }[self.p.retrieve_warning]
        response = self.policy.timers.response("C-STORE")
        self.table(
            "C-MOVE sub-operations",
            ("Parameter", "Value"),
            [
                ("A failed C-STORE sub-operation", on_failure),
                ("A warning from the Move Destination", warning),
                ("Waiting for each C-STORE-RSP", _seconds(response)),
            ],
        )

    def retries(self) -> None:
        if not any(row.outcome == Outcome.RETRY.value for row in self.p.statuses):
            return
        rule = self.p.retry
        self.para(
            f"Retry: a C-STORE answered with a status whose outcome is retry is sent again on"
            f" the same association after {rule.delay:g} s, at most {rule.attempts} attempts in"
            " all; after the last one the status stands as a failure."
        )

    # ------------------------------------------------------------------ 3.4.2

    def timer_rows(self) -> list[tuple[str, str]]:
        """Rows for the closing ARTIM and the per-service response timers."""
        timers = self.p.timers
        closing = (
            _seconds(timers.closing)
            if "closing" in self.p.timers_stated
            else f"{_seconds(timers.artim)} (the ARTIM value)"
        )
        rows = [("Closing: ARTIM after sending A-RELEASE-RP or A-ABORT", closing)]
        rows.extend(
            (f"Waiting for the responses to a {service} request", _seconds(seconds))
            for service, seconds in timers.responses
        )
        return rows
