"""The ``[queue]`` table of a system file: destinations, routing rules, forward mode.

::

    [queue]
    profile = "dicomark-send-queue"   # the sending AE's profile (calling AE title, contexts)
    mode = "async"                    # or "sync": the inbound C-STORE returns the
                                      # destination's status (waits up to send_timeout)
    poll = 5                          # seconds between looks at the queue when idle

    [[queue.destination]]
    name = "backup"                   # what `dicomnet queue` and the routes call it
    ae_title = "BACKUP"               # called AE title
    address = "backup.example:104"    # else the [destinations] (or --destination) entry of ae_title
    calling_ae = "DICOMARK"           # else the profile's AE title
    max_attempts = 5                  # then the job is in 'error'
    backoff = 2.0                     # seconds before the 2nd attempt, doubling ...
    backoff_max = 600                 # ... up to this
    jitter = 0.2                      # +-20 % on each wait
    send_timeout = 60                 # no answer for this long: the association is aborted
    min_interval = 0.0                # seconds between the starts of two sends
    max_rate = 0                      # bytes per second written (0: no limit)
    max_associations = 0              # 0: the profile's [send] max_associations (else 1)
    window = 0                        # C-STOREs in flight (0: what was negotiated)
    schedule = "always"               # or "HH:MM-HH:MM" (local time): send only then

    [[queue.route]]                   # every rule that matches adds its destinations
    to = ["backup"]
    calling_ae = ["CT1"]              # each key optional; absent = any
    called_ae = ["DICOMARK"]
    modality = ["CT", "MR"]
    sop_class = ["1.2.840.10008.5.1.4.1.1.2"]

An instance matches a rule when each list given contains its value (AE titles
compared without padding; ``*`` in a list matches anything).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from ssl import SSLContext

from dicomnet.conformance.tomlcheck import Section
from dicomnet.storage.sinks import InstanceInfo

__all__ = ["DestinationSpec", "ForwardMode", "QueueSpec", "RouteRule", "read_queue"]

#: ``parse_address(text) -> (host, port)`` (raises ValueError).
_Parse = Callable[[str], tuple[str, int]]
_SCHEDULE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class ForwardMode(Enum):
    """When the inbound C-STORE is answered."""

    ASYNC = "async"  # once the instance and its jobs are durable
    SYNC = "sync"  # with the destination's status (up to the send timeout)


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """One destination of the queue."""

    name: str
    ae_title: str
    address: tuple[str, int] | None
    calling_ae: str | None = None
    max_attempts: int = 5
    backoff: float = 2.0
    backoff_max: float = 600.0
    jitter: float = 0.2
    send_timeout: float = 60.0
    min_interval: float = 0.0
    max_rate: float = 0.0
    max_associations: int = 0
    window: int = 0
    #: (start, end) minutes after midnight, local time; ``None``: always.
    schedule: tuple[int, int] | None = None
    #: TLS towards the destination (not read from a system file: set by a program).
    ssl: SSLContext | None = None

    def in_schedule(self, minute_of_day: int) -> bool:
        """Whether sending is allowed at ``minute_of_day`` (0..1439)."""
        if self.schedule is None:
            return True
        start, end = self.schedule
        if start <= end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end  # over midnight


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Instances matching every list given go to ``to``."""

    to: tuple[str, ...]
    calling_ae: tuple[str, ...] = ()
    called_ae: tuple[str, ...] = ()
    modality: tuple[str, ...] = ()
    sop_class: tuple[str, ...] = ()

    def matches(self, info: InstanceInfo, modality: str) -> bool:
        """Whether the instance described goes to this rule's destinations."""
        return (
            _any(self.calling_ae, info.source_ae_title.strip())
            and _any(self.called_ae, info.called_ae_title.strip())
            and _any(self.modality, modality.strip())
            and _any(self.sop_class, info.sop_class_uid)
        )


def _any(allowed: tuple[str, ...], value: str) -> bool:
    return not allowed or "*" in allowed or value in allowed


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """The send queue of a system."""

    profile: str
    destinations: tuple[DestinationSpec, ...]
    routes: tuple[RouteRule, ...]
    mode: ForwardMode = ForwardMode.ASYNC
    poll: float = 5.0

    def route(self, info: InstanceInfo, modality: str) -> tuple[str, ...]:
        """The destinations (names) of an instance, each once, in file order."""
        chosen: dict[str, None] = {}
        for rule in self.routes:
            if rule.matches(info, modality):
                chosen.update(dict.fromkeys(rule.to))
        return tuple(chosen)

    def destination(self, name: str) -> DestinationSpec:
        """The destination called ``name`` (KeyError when none is)."""
        for dest in self.destinations:
            if dest.name == name:
                return dest
        raise KeyError(name)


def read_queue(section: Section, parse_address: _Parse) -> QueueSpec | None:
    """The ``[queue]`` table (``None`` when absent); errors name the file and key."""
    if not section.data:
        section.done()
        return None
    profile = section.string("profile", "dicomark-send-queue")
    mode = ForwardMode(section.choice("mode", [m.value for m in ForwardMode], "async"))
    poll = _number(section, "poll", 5.0, positive=True)
    destinations = tuple(_destination(s, parse_address) for s in section.tables("destination"))
    names = [d.name for d in destinations]
    for name in names:
        if names.count(name) > 1:
            raise section.error("destination", f"two destinations are named {name!r}")
    routes = []
    for rule in section.tables("route"):
        to = rule.strings("to")
        for position, name in enumerate(to):
            if name not in names:
                raise rule.error(f"to[{position}]", f"no destination named {name!r}")
        routes.append(
            RouteRule(
                to=to,
                calling_ae=rule.strings("calling_ae", ()),
                called_ae=rule.strings("called_ae", ()),
                modality=rule.strings("modality", ()),
                sop_class=rule.strings("sop_class", ()),
            )
        )
        rule.done()
    section.done()
    return QueueSpec(
        profile=profile, destinations=destinations, routes=tuple(routes), mode=mode, poll=poll
    )


def _number(section: Section, name: str, default: float, *, positive: bool = False) -> float:
    if not section.has(name):
        return default
    value = section.data[name]
    section._used.add(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise section.error(name, f"expected a number >= 0, got {value!r}")
    if positive and value == 0:
        raise section.error(name, "must be more than 0")
    return float(value)


def _destination(section: Section, parse_address: _Parse) -> DestinationSpec:
    name = section.string("name")
    title = section.string("ae_title")
    text = section.optional_string("address")
    address: tuple[str, int] | None = None
    if text is not None:
        try:
            address = parse_address(text)
        except ValueError as exc:
            raise section.error("address", str(exc)) from None
    schedule = None
    when = section.string("schedule", "always")
    if when != "always":
        found = _SCHEDULE.match(when)
        if found is None:
            raise section.error("schedule", f"expected 'always' or 'HH:MM-HH:MM', got {when!r}")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise section.error("schedule", f"not a time of day: {when!r}")
        schedule = (h1 * 60 + m1, h2 * 60 + m2)
    spec = DestinationSpec(
        name=name,
        ae_title=title,
        address=address,
        calling_ae=section.optional_string("calling_ae"),
        max_attempts=section.integer("max_attempts", 5, low=1),
        backoff=_number(section, "backoff", 2.0),
        backoff_max=_number(section, "backoff_max", 600.0),
        jitter=min(1.0, _number(section, "jitter", 0.2)),
        send_timeout=_number(section, "send_timeout", 60.0, positive=True),
        min_interval=_number(section, "min_interval", 0.0),
        max_rate=_number(section, "max_rate", 0.0),
        max_associations=section.integer("max_associations", 0),
        window=section.integer("window", 0, high=65535),
        schedule=schedule,
    )
    section.done()
    return spec
