"""Which status an AE answers in each situation, and what it does with a status it receives.

A conformance statement lists, per DIMSE service, the statuses the AE returns
(LifeSys answers 0110 "Processing Failure" where PS3.4 suggests A700 or C001)
and how it treats each status it receives (MedDream: a B007 warning "counts as
stored"; Flux: any failure aborts the association). :class:`StatusPolicy`
holds both as plain data, built from a profile's ``[[status]]`` rows by
:mod:`dicomnet.conformance`; services ask it instead of hard-coding a code.

Returned statuses are keyed by :class:`Situation`. A situation the profile
does not name keeps the PS3.4 default the service passes in; a situation
whose default is ``None`` (a check the standard does not ask for, such as the
IOD check) is only acted on when the profile names it.

Received statuses are matched against the rows' code patterns: ``0110``,
``B00*``/``B0xx`` (``*`` or ``x`` stand for one hex digit), ranges such as
``A700-A7FF``, and ``Other``/``Others``/``Any`` for every code no other row of
that service matches. Without a matching row the status's own category
decides (success, warning, failure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from dicomnet.dimse.status import StatusCategory, category

__all__ = [
    "CATEGORY_CLASSES",
    "CATEGORY_OUTCOMES",
    "FALLBACK_CODES",
    "Outcome",
    "ReceivedRule",
    "RetryRule",
    "ReturnedRule",
    "Situation",
    "StatusPolicy",
    "code_matches",
    "default_outcome",
]

#: Code patterns that stand for "every code no other row matches".
FALLBACK_CODES = frozenset({"Other", "Others", "Any"})

_RANGE = re.compile(r"^([0-9A-F]{4})-([0-9A-F]{4})$")
_PATTERN = re.compile(r"^[0-9A-F*x]{4}$")


class Situation(Enum):
    """A situation in which an SCP answers with a non-success status."""

    #: The store or the identifier exceeds a resource (disk full, quota, limits): A700.
    OUT_OF_RESOURCES = "out-of-resources"
    #: An internal failure: the database or file system failed while answering.
    PROCESSING_FAILURE = "processing-failure"
    #: A request the SCP cannot process (an identifier it cannot decode): C001.
    UNABLE_TO_PROCESS = "unable-to-process"
    #: The identifier does not fit the information model or level: A900.
    IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = "identifier-does-not-match-sop-class"
    #: The C-STORE data set cannot be parsed in the negotiated syntax: C000.
    CANNOT_UNDERSTAND = "cannot-understand"
    #: The data set's SOP Class/Instance UID contradicts the command: A900.
    DATASET_DOES_NOT_MATCH_SOP_CLASS = "dataset-does-not-match-sop-class"
    #: The data set is not an instance of its SOP class's IOD (see services.iod_check).
    NOT_IOD_CONFORMANT = "not-iod-conformant"
    #: Attribute values were coerced on reception (B000).
    COERCION = "coercion"


class Outcome(Enum):
    """What an SCU makes of a status it received."""

    SUCCESS = "success"  # done; counted as a plain success
    WARNING = "warning"  # done (stored), counted and logged as a warning
    FAILURE = "failure"  # not done; go on with the next request
    ABORT = "abort"  # not done; abort the association
    RETRY = "retry"  # not done; try again later


#: A received row's outcome when it states none, by its status column ("Refused", "*"...).
#: Pending and Cancel rows describe the exchange and have no outcome.
CATEGORY_OUTCOMES: dict[str, Outcome] = {
    "Success": Outcome.SUCCESS,
    "Warning": Outcome.WARNING,
    "Failure": Outcome.FAILURE,
    "Refused": Outcome.FAILURE,
    "Error": Outcome.FAILURE,
    "*": Outcome.FAILURE,
}
#: The codes a fallback row (``Other``) covers, by its status column (absent: every code).
CATEGORY_CLASSES: dict[str, frozenset[StatusCategory]] = {
    "Warning": frozenset({StatusCategory.WARNING}),
    "Failure": frozenset({StatusCategory.FAILURE}),
    "Refused": frozenset({StatusCategory.FAILURE}),
    "Error": frozenset({StatusCategory.FAILURE}),
}


@dataclass(frozen=True, slots=True)
class RetryRule:
    """How a request whose status has the ``retry`` outcome is tried again.

    ``attempts`` counts every try, the first included (so 1 never retries);
    ``delay`` is the pause in seconds before each further try. After the last
    try the status stands as a failure.
    """

    attempts: int = 3
    delay: float = 1.0


@dataclass(frozen=True, slots=True)
class ReturnedRule:
    """In ``situation``, the SCP of ``service`` answers ``code``.

    ``code`` None keeps the service's default code; ``abort`` ends the
    association after that answer (DicomArk: "the association is aborted").
    """

    service: str
    situation: Situation
    code: int | None
    abort: bool = False


@dataclass(frozen=True, slots=True)
class ReceivedRule:
    """A status of ``service`` matching ``code`` (a pattern) has ``outcome``.

    ``categories`` limits a fallback row (``Other``) to codes of those status
    categories (a "Failure / Other" row does not cover warnings); empty: any.
    """

    service: str
    code: str
    outcome: Outcome
    categories: frozenset[StatusCategory] = frozenset()


def code_matches(pattern: str, code: int) -> bool:
    """Whether ``code`` matches ``pattern`` (exact, ``*``/``x`` digits or a range)."""
    text = f"{code:04X}"
    found = _RANGE.match(pattern)
    if found:
        return int(found.group(1), 16) <= code <= int(found.group(2), 16)
    if not _PATTERN.match(pattern):
        return False
    return all(p in "*x" or p == c for p, c in zip(pattern, text, strict=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusPolicy:
    """Returned and received status rules of one AE (empty: PS3.4 defaults)."""

    returned: tuple[ReturnedRule, ...] = ()
    received: tuple[ReceivedRule, ...] = ()
    #: ``[retry]`` of the profile: how ``retry`` outcomes are tried again.
    retry: RetryRule = RetryRule()
    #: The first returned rule of each (service, situation): asked once per request.
    _first: dict[tuple[str, Situation], ReturnedRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first: dict[tuple[str, Situation], ReturnedRule] = {}
        for rule in self.returned:
            first.setdefault((rule.service, rule.situation), rule)
        object.__setattr__(self, "_first", first)

    def status(self, service: str, situation: Situation, default: int) -> int:
        """The code ``service`` answers in ``situation`` (``default`` unless the profile says)."""
        found = self.stated(service, situation)
        return default if found is None else found

    def stated(self, service: str, situation: Situation) -> int | None:
        """The code the profile states for ``situation``, or None."""
        rule = self._returned(service, situation)
        return None if rule is None else rule.code

    def names(self, service: str, situation: Situation) -> bool:
        """Whether the profile names ``situation`` for ``service`` (a check to make)."""
        return self._returned(service, situation) is not None

    def aborts(self, service: str, situation: Situation) -> bool:
        """Whether ``service`` aborts the association after answering ``situation``."""
        rule = self._returned(service, situation)
        return rule is not None and rule.abort

    def _returned(self, service: str, situation: Situation) -> ReturnedRule | None:
        return self._first.get((service, situation))

    def outcome(self, service: str, code: int, default: Outcome) -> Outcome:
        """What a received ``code`` of ``service`` means here (``default`` without a rule)."""
        fallback: Outcome | None = None
        for rule in self.received:
            if rule.service != service:
                continue
            if rule.code in FALLBACK_CODES:
                if not rule.categories or category(code) in rule.categories:
                    fallback = fallback or rule.outcome
            elif code_matches(rule.code, code):
                return rule.outcome
        # "Other" covers failures and unknown codes, never a plain success.
        if fallback is not None and code != 0x0000:
            return fallback
        return default

    def treat(self, service: str, code: int) -> Outcome:
        """:meth:`outcome` with the code's own category as the default."""
        return self.outcome(service, code, default_outcome(code))


def default_outcome(code: int) -> Outcome:
    """Success, warning or failure, by the code's category (PS3.7 Annex C)."""
    kind = category(code)
    if kind is StatusCategory.SUCCESS:
        return Outcome.SUCCESS
    if kind is StatusCategory.WARNING:
        return Outcome.WARNING
    return Outcome.FAILURE
