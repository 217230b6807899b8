"""Profiles: one Application Entity's conformance facts, read from ``conformance/profiles``.

A :class:`Profile` keeps the facts of the document as read (names, roles,
groups, statuses, query keys, notes); :meth:`Profile.policy` turns the
negotiation-relevant part into a :class:`dicomnet.policy.Policy`. The TOML
schema is described in ``conformance/README.md``; every error raised while
loading is a :class:`~dicomnet.errors.ConfigurationError` naming the file, the
key and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dicomnet.errors import ConfigurationError
from dicomnet.policy import (
    SMALLEST_USABLE_PDU,
    AcceptedContext,
    AETitlePolicy,
    LimitMode,
    Policy,
    ProposedContext,
    Timers,
    TransferSyntaxPreference,
    WrongCalledAE,
)
from dicomnet.query.constraints import QueryConstraint
from dicomnet.status_policy import (
    CATEGORY_CLASSES,
    CATEGORY_OUTCOMES,
    FALLBACK_CODES,
    Outcome,
    ReceivedRule,
    RetryRule,
    ReturnedRule,
    Situation,
    StatusPolicy,
)

from .locate import profiles_dir
from .narrative import Security, Statement, read_security, read_statement
from .registry import Registry, load_registry
from .tomlcheck import Section, load_toml

__all__ = [
    "MATCHING_TYPES",
    "ContextRule",
    "Parameter",
    "Profile",
    "QueryKey",
    "StatusRule",
    "list_profiles",
    "load_profile",
]

ROLES = ("scu", "scp", "scu+scp")
MATCHING_TYPES = ("S", "*", "U", "R", "L", "NONE")
STATUS_CATEGORIES = ("Success", "Pending", "Cancel", "Warning", "Failure", "Refused", "Error", "*")
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
_TAG = re.compile(r"^[0-9A-F]{4},[0-9A-F]{4}$")
_VR = re.compile(r"^[A-Z]{2}$")
_STATUS_CODE = re.compile(r"^([0-9A-F*x]{4}(-[0-9A-F]{4})?|Other|Others|Any)$")
_AE_TITLE_MAX = 16
_DIMSE_SERVICE = re.compile(
    r"^(C-(STORE|FIND|MOVE|GET|ECHO)|N-(ACTION|CREATE|SET|GET|DELETE|EVENT-REPORT))$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextRule:
    """One row (or group of rows) of a presentation context table.

    ``abstract_syntaxes`` are resolved UIDs (explicit ones, then those of
    ``sop_class_group``); ``transfer_syntaxes`` are resolved from the list or
    from ``transfer_syntax_group``. ``role`` is the role *this* AE plays.
    """

    abstract_syntaxes: tuple[str, ...]
    transfer_syntaxes: tuple[str, ...]
    role: str
    sop_class_group: str | None = None
    transfer_syntax_group: str | None = None
    alternative_groups: tuple[str, ...] = ()
    extended_negotiation: str = "None"
    #: The instance's own transfer syntax is proposed ahead of the listed ones (DicomArk).
    instance_transfer_syntax_first: bool = False
    #: The rule covers only abstract syntaxes that no other rule of its table lists.
    unlisted_only: bool = False
    #: Relational queries / retrieve granted (True), refused (False) or not stated (None).
    relational: bool | None = None
    note: str = ""

    @property
    def scu(self) -> bool:
        """This AE plays SCU."""
        return "scu" in self.role

    @property
    def scp(self) -> bool:
        """This AE plays SCP."""
        return "scp" in self.role


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRule:
    """A status this AE returns (``direction="returned"``) or how it handles one received."""

    direction: str
    service: str
    status: str
    code: str
    meaning: str = ""
    behaviour: str = ""
    #: Returned rows: the situations (``dicomnet.status_policy.Situation`` values) answered so.
    situations: tuple[str, ...] = ()
    #: Returned rows: the association is aborted after the answer.
    abort: bool = False
    #: Received rows: success, warning, failure, abort or retry ("" = by category).
    outcome: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryKey:
    """A supported query key and its matching types (LifeSys Tables 1.32, 1.33, 1.45)."""

    model: str
    level: str
    name: str
    tag: str
    vr: str
    #: Subset of S, *, U, R, L, NONE; empty when the document does not say.
    matching: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """A configurable parameter and its default, as the document lists it."""

    name: str
    configurable: bool
    default: str


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One Application Entity's conformance facts (see ``conformance/README.md``)."""

    name: str
    path: Path
    system: str
    application_entity: str
    document: str
    summary: str
    # AE titles
    ae_title: str
    called_ae_titles: tuple[str, ...]
    calling_ae_titles: tuple[str, ...] | None
    calling_allow_list_configurable: bool
    wrong_called_ae: WrongCalledAE
    # association
    association_role: str
    application_context: str
    max_pdu_receive: int
    max_pdu_send: int
    max_operations_invoked: int
    max_operations_performed: int
    max_associations: int
    on_association_limit: LimitMode
    association_limit_note: str
    transfer_syntax_preference: TransferSyntaxPreference
    pack_command_and_data: bool
    max_pdvs_per_pdu: int
    min_peer_max_pdu: int
    max_command_set: int
    tcp_nodelay: bool
    tls: str
    # implementation
    implementation_class_uid: str | None
    implementation_version_name: str | None
    document_implementation_class_uid: str
    document_implementation_version_name: str
    timers: Timers
    #: The timers the document states (the others keep dicomnet's defaults).
    timers_stated: tuple[str, ...]
    timer_notes: tuple[tuple[str, str], ...]
    character_sets: tuple[str, ...]
    accepted: tuple[ContextRule, ...]
    proposed: tuple[ContextRule, ...]
    statuses: tuple[StatusRule, ...]
    query_keys: tuple[QueryKey, ...]
    parameters: tuple[Parameter, ...]
    info: tuple[tuple[str, str], ...]
    registry: Registry = field(repr=False, compare=False)
    #: ``[[query.constraints]]``: conditions a C-FIND identifier must meet (LifeSys).
    query_constraints: tuple[QueryConstraint, ...] = ()
    #: ``[association] reject_without_contexts``: A-ASSOCIATE-RJ when no context is accepted.
    reject_without_contexts: bool = False
    #: ``[coercion] pixel_data_ow_to_ob_8bit``: 8-bit OW Pixel Data kept as OB (Kodak).
    coerce_ow_to_ob_8bit: bool = False
    #: ``[retrieve]``: a failed C-MOVE/C-GET sub-operation: "continue" or "stop" (A702).
    retrieve_on_failure: str = "continue"
    #: ``[retrieve]``: a warning from the destination counts as "warning" or "success".
    retrieve_warning: str = "warning"
    #: ``[character_sets] named_in_requests``: an SCU's non-ASCII identifier names its set.
    name_charset_in_requests: bool = True
    #: ``[retry]``: how a status with the ``retry`` outcome is tried again.
    retry: RetryRule = field(default_factory=RetryRule)
    #: ``[send]``: outbound associations at a time per destination (0: no cap).
    send_max_associations: int = 0
    #: ``[send]``: transfer syntaxes never transcoded from (``no_transcode_group``).
    no_transcode: tuple[str, ...] = ()
    #: ``[send]``: why such an instance is refused (the document's words).
    no_transcode_reason: str = ""
    #: ``[statement]``: prose sections of the rendered statement.
    statement: Statement = field(default_factory=Statement)
    #: ``[security]``: the TLS profile run and the one the document names.
    security: Security = field(default_factory=Security)

    # ------------------------------------------------------------------ derived views

    def sop_class_roles(self) -> tuple[tuple[str, bool, bool], ...]:
        """(SOP class UID, SCU, SCP) for every abstract syntax of either table, first-seen order."""
        roles: dict[str, tuple[bool, bool]] = {}
        for rule in (*self.accepted, *self.proposed):
            for uid in rule.abstract_syntaxes:
                scu, scp = roles.get(uid, (False, False))
                roles[uid] = (scu or rule.scu, scp or rule.scp)
        return tuple((uid, scu, scp) for uid, (scu, scp) in roles.items())

    def policy(self, transfer_syntax_groups: Mapping[str, str] | None = None) -> Policy:
        """The :class:`~dicomnet.policy.Policy` of this AE.

        ``transfer_syntax_groups`` picks one of a rule's ``alternative_groups``
        instead of its default group (Flux Store SCU: ``{"native": "flux-rle"}``).
        Accepted rules naming the same abstract syntax are merged (transfer
        syntaxes in first-seen order); proposed rules stay separate contexts.
        """
        choices = dict(transfer_syntax_groups or {})
        accepted: dict[str, AcceptedContext] = {}
        for rule in self.accepted:
            syntaxes = self._syntaxes(rule, choices)
            for uid in rule.abstract_syntaxes:
                old = accepted.get(uid)
                if old is None:
                    accepted[uid] = AcceptedContext(
                        abstract_syntax=uid,
                        transfer_syntaxes=syntaxes,
                        scu_role=rule.scu,
                        scp_role=rule.scp,
                        relational=rule.relational,
                    )
                else:
                    merged = old.transfer_syntaxes + tuple(
                        ts for ts in syntaxes if ts not in old.transfer_syntaxes
                    )
                    accepted[uid] = AcceptedContext(
                        abstract_syntax=uid,
                        transfer_syntaxes=merged,
                        scu_role=old.scu_role or rule.scu,
                        scp_role=old.scp_role or rule.scp,
                        relational=old.relational if rule.relational is None else rule.relational,
                    )
        proposed = tuple(
            ProposedContext(
                abstract_syntax=uid,
                transfer_syntaxes=self._syntaxes(rule, choices),
                scu_role=rule.scu,
                scp_role=rule.scp,
                instance_syntax_first=rule.instance_transfer_syntax_first,
            )
            for rule in self.proposed
            for uid in rule.abstract_syntaxes
        )
        unused = set(choices) - {r.transfer_syntax_group for r in (*self.accepted, *self.proposed)}
        if unused:
            raise ConfigurationError(
                f"{self.path}: no context of profile {self.name!r} uses group {sorted(unused)[0]!r}"
            )
        policy = Policy(
            ae_title=self.ae_title,
            ae_titles=AETitlePolicy(
                called_ae_titles=self.called_ae_titles,
                calling_ae_titles=self.calling_ae_titles,
                wrong_called_ae=self.wrong_called_ae,
            ),
            accepted_contexts=tuple(accepted.values()),
            proposed_contexts=proposed,
            transfer_syntax_preference=self.transfer_syntax_preference,
            max_pdu_receive=self.max_pdu_receive,
            max_pdu_send=self.max_pdu_send,
            max_operations_invoked=self.max_operations_invoked,
            max_operations_performed=self.max_operations_performed,
            max_associations=self.max_associations,
            on_association_limit=self.on_association_limit,
            timers=self.timers,
            pack_command_and_data=self.pack_command_and_data,
            max_pdvs_per_pdu=self.max_pdvs_per_pdu,
            min_peer_max_pdu=self.min_peer_max_pdu,
            max_command_set=self.max_command_set,
            tcp_nodelay=self.tcp_nodelay,
            reject_without_contexts=self.reject_without_contexts,
            no_transcode_from=self.no_transcode,
            coerce_ow_to_ob_8bit=self.coerce_ow_to_ob_8bit,
            statuses=self.status_policy(),
            character_sets=self.character_sets,
            name_charset_in_requests=self.name_charset_in_requests,
            info=self._policy_info(),
        )
        # Only the values the profile sets replace the Policy defaults.
        if self.implementation_class_uid is not None:
            policy = replace(policy, implementation_class_uid=self.implementation_class_uid)
        if self.implementation_version_name is not None:
            policy = replace(policy, implementation_version_name=self.implementation_version_name)
        return policy

    def status_policy(self) -> StatusPolicy:
        """The ``[[status]]`` rows as a :class:`~dicomnet.status_policy.StatusPolicy`."""
        returned: list[ReturnedRule] = []
        received: list[ReceivedRule] = []
        for row in self.statuses:
            services = tuple(part.strip() for part in row.service.split(",") if part.strip())
            if row.direction == "returned":
                if not row.situations:
                    continue  # a row of the document's table, not tied to a situation
                code = None if row.code in FALLBACK_CODES else int(row.code, 16)
                returned.extend(
                    ReturnedRule(service, Situation(name), code, row.abort)
                    for service in services
                    for name in row.situations
                )
                continue
            outcome = Outcome(row.outcome) if row.outcome else CATEGORY_OUTCOMES.get(row.status)
            if outcome is None:
                continue  # pending and cancel rows describe the exchange, not an outcome
            categories = CATEGORY_CLASSES.get(row.status, frozenset())
            received.extend(
                ReceivedRule(service, row.code, outcome, categories) for service in services
            )
        return StatusPolicy(returned=tuple(returned), received=tuple(received), retry=self.retry)

    def _syntaxes(self, rule: ContextRule, choices: Mapping[str, str]) -> tuple[str, ...]:
        group = rule.transfer_syntax_group
        if group is None or group not in choices:
            return rule.transfer_syntaxes
        chosen = choices[group]
        if chosen != group and chosen not in rule.alternative_groups:
            raise ConfigurationError(
                f"{self.path}: group {chosen!r} is not an alternative to {group!r}"
                f" (alternatives: {', '.join(rule.alternative_groups) or 'none'})"
            )
        return self.registry.transfer_syntax_group(chosen)

    def _policy_info(self) -> tuple[tuple[str, str], ...]:
        facts = [
            ("profile", self.name),
            ("system", self.system),
            ("application_entity", self.application_entity),
            ("document", self.document),
            ("application_context", self.application_context),
            ("tls", self.tls),
            ("character_sets", ", ".join(self.character_sets) or "default repertoire"),
        ]
        if self.document_implementation_class_uid:
            facts.append(
                ("document_implementation_class_uid", self.document_implementation_class_uid)
            )
        if self.document_implementation_version_name:
            facts.append(
                ("document_implementation_version_name", self.document_implementation_version_name)
            )
        if self.calling_allow_list_configurable:
            facts.append(("calling_allow_list_configurable", "true"))
        if self.association_limit_note:
            facts.append(("association_limit", self.association_limit_note))
        facts.extend(self.timer_notes)
        facts.extend(self.info)
        return tuple(facts)


# ---------------------------------------------------------------------- loading

_SITUATIONS = tuple(s.value for s in Situation)
_OUTCOMES = tuple(o.value for o in Outcome)


def _only_unlisted(rules: tuple[ContextRule, ...]) -> tuple[ContextRule, ...]:
    """Drop from ``unlisted_only`` rules the abstract syntaxes other rules of the table list."""
    listed = {uid for rule in rules if not rule.unlisted_only for uid in rule.abstract_syntaxes}
    return tuple(
        replace(rule, abstract_syntaxes=tuple(u for u in rule.abstract_syntaxes if u not in listed))
        if rule.unlisted_only
        else rule
        for rule in rules
    )


def list_profiles(data_dir: Path | None = None) -> tuple[str, ...]:
    """Names (file stems) of the profiles under ``data_dir`` (default: the repository's)."""
    return tuple(sorted(path.stem for path in profiles_dir(data_dir).glob("*.toml")))


def load_profile(
    name_or_path: str | Path, *, data_dir: Path | None = None, registry: Registry | None = None
) -> Profile:
    """Load a profile by name (``"lifesys-storage"``) or by path to a TOML file.

    SOP classes, transfer syntaxes and groups are resolved against ``registry``
    (default: the registry under ``data_dir``).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = profiles_dir(data_dir) / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(list_profiles(data_dir))
            raise ConfigurationError(f"unknown profile {str(name_or_path)!r} (known: {known})")
    reg = registry if registry is not None else load_registry(data_dir)
    return _ProfileReader(load_toml(path), reg).read()


class _ProfileReader:
    def __init__(self, top: Section, registry: Registry) -> None:
        self.top = top
        self.registry = registry

    def read(self) -> Profile:
        top = self.top
        head = top.table("profile", required=True)
        titles = top.table("ae_title", required=True)
        assoc = top.table("association")
        impl = top.table("implementation")
        timers = top.table("timers")
        charsets = top.table("character_sets")
        query = top.table("query")
        retrieve = top.table("retrieve")
        send = top.table("send")
        coercion = top.table("coercion")
        retry = top.table("retry")

        ae_title = self._ae_title(titles, "title")
        called = titles.strings("called", (ae_title,))
        for index, title in enumerate(called):
            if title != "*":
                self._check_ae_title(titles, f"called[{index}]", title)
        calling: tuple[str, ...] | None = None
        if titles.has("calling") and titles.data["calling"] != "any":
            calling = titles.strings("calling")
            for index, title in enumerate(calling):
                self._check_ae_title(titles, f"calling[{index}]", title)
        else:
            titles.optional_string("calling")

        defaults = Policy(ae_title=ae_title)
        profile = Profile(
            name=top.path.stem,
            path=top.path,
            system=head.string("system"),
            application_entity=head.string("application_entity"),
            document=head.string("document"),
            summary=head.string("summary", ""),
            ae_title=ae_title,
            called_ae_titles=called,
            calling_ae_titles=calling,
            calling_allow_list_configurable=titles.boolean(
                "calling_allow_list_configurable", False
            ),
            wrong_called_ae=WrongCalledAE(
                titles.choice("wrong_called_ae", [m.value for m in WrongCalledAE], "reject")
            ),
            association_role=assoc.choice("role", ("acceptor", "requestor", "acceptor+requestor")),
            application_context=assoc.uid("application_context", APPLICATION_CONTEXT),
            max_pdu_receive=assoc.integer("max_pdu_receive", defaults.max_pdu_receive),
            max_pdu_send=assoc.integer("max_pdu_send", defaults.max_pdu_send),
            max_operations_invoked=assoc.integer(
                "max_operations_invoked", defaults.max_operations_invoked, high=65535
            ),
            max_operations_performed=assoc.integer(
                "max_operations_performed", defaults.max_operations_performed, high=65535
            ),
            max_associations=assoc.integer("max_associations", 0),
            on_association_limit=LimitMode(
                assoc.choice("on_association_limit", [m.value for m in LimitMode], "reject")
            ),
            association_limit_note=assoc.string("association_limit_note", ""),
            transfer_syntax_preference=TransferSyntaxPreference(
                assoc.choice(
                    "transfer_syntax_preference",
                    [m.value for m in TransferSyntaxPreference],
                    "requestor",
                )
            ),
            pack_command_and_data=assoc.boolean("pack_command_and_data", False),
            max_pdvs_per_pdu=assoc.integer("max_pdvs_per_pdu", 0),
            min_peer_max_pdu=assoc.integer(
                "min_peer_max_pdu", defaults.min_peer_max_pdu, low=SMALLEST_USABLE_PDU
            ),
            max_command_set=assoc.integer("max_command_set", defaults.max_command_set, low=1),
            tcp_nodelay=assoc.boolean("tcp_nodelay", True),
            tls=assoc.choice("tls", ("none", "optional", "required"), "none"),
            implementation_class_uid=(impl.uid("class_uid") if impl.has("class_uid") else None),
            implementation_version_name=impl.optional_string("version_name"),
            document_implementation_class_uid=self._document_uid(impl),
            document_implementation_version_name=impl.string("document_version_name", ""),
            timers=Timers(
                artim=self._artim(timers),
                associate=timers.seconds("associate", defaults.timers.associate),
                dimse=timers.seconds("dimse", defaults.timers.dimse),
                connect=timers.seconds("connect", defaults.timers.connect),
                release=timers.seconds("release", defaults.timers.release),
                closing=timers.seconds("closing", None),
                responses=self._responses(timers),
            ),
            timers_stated=tuple(
                key
                for key in ("artim", "associate", "dimse", "connect", "release", "closing")
                if timers.has(key)
            ),
            timer_notes=timers.string_map("notes"),
            character_sets=charsets.strings("supported", ()),
            name_charset_in_requests=charsets.boolean("named_in_requests", True),
            accepted=_only_unlisted(tuple(self._context(s, "scp") for s in top.tables("accepted"))),
            proposed=_only_unlisted(tuple(self._context(s, "scu") for s in top.tables("proposed"))),
            statuses=tuple(self._status(s) for s in top.tables("status")),
            query_keys=tuple(self._query_key(s) for s in query.tables("keys")),
            parameters=tuple(self._parameter(s) for s in top.tables("parameter")),
            info=top.string_map("info"),
            registry=self.registry,
            query_constraints=tuple(self._constraint(s) for s in query.tables("constraints")),
            reject_without_contexts=assoc.boolean("reject_without_contexts", False),
            coerce_ow_to_ob_8bit=coercion.boolean("pixel_data_ow_to_ob_8bit", False),
            retrieve_on_failure=retrieve.choice("on_failure", ("continue", "stop"), "continue"),
            retrieve_warning=retrieve.choice("warning", ("warning", "success"), "warning"),
            retry=RetryRule(
                attempts=retry.integer("attempts", 3, low=1, high=100),
                delay=retry.seconds("delay", 1.0) or 0.0,
            ),
            send_max_associations=send.integer("max_associations", 0),
            no_transcode=self._no_transcode(send),
            no_transcode_reason=send.string("no_transcode_reason", ""),
            statement=read_statement(top),
            security=read_security(top),
        )
        if impl.has("version_name") and profile.implementation_version_name is not None:
            version = profile.implementation_version_name
            if not 1 <= len(version) <= _AE_TITLE_MAX:
                raise impl.error("version_name", "must be 1 to 16 characters (PS3.7 D.3.3.2)")
        for section in (
            head,
            titles,
            assoc,
            impl,
            timers,
            charsets,
            query,
            retrieve,
            send,
            coercion,
            retry,
            top,
        ):
            section.done()
        if not profile.accepted and not profile.proposed:
            raise top.error("accepted", "a profile needs [[accepted]] or [[proposed]] contexts")
        return profile

    # ------------------------------------------------------------------ pieces

    def _no_transcode(self, send: Section) -> tuple[str, ...]:
        name = send.optional_string("no_transcode_group")
        if name is None:
            return ()
        if name not in self.registry.transfer_syntax_groups:
            raise send.error("no_transcode_group", f"unknown transfer syntax group {name!r}")
        return self.registry.transfer_syntax_group(name)

    def _check_ae_title(self, section: Section, key: str, title: str) -> None:
        if not 1 <= len(title) <= _AE_TITLE_MAX or title != title.strip() or "\\" in title:
            raise section.error(key, f"{title!r} is not a valid AE title (1-16 characters)")

    def _ae_title(self, section: Section, key: str) -> str:
        title = section.string(key)
        self._check_ae_title(section, key, title)
        return title

    def _artim(self, timers: Section) -> float:
        value = timers.seconds("artim", 5.0)
        if value is None:
            raise timers.error("artim", "ARTIM must be a number of seconds (PS3.8 §9.1.5)")
        return value

    def _responses(self, timers: Section) -> tuple[tuple[str, float | None], ...]:
        """``[timers.responses]``: per-service response timeouts ("C-FIND" = 60, "none")."""
        table = timers.table("responses")
        found: list[tuple[str, float | None]] = []
        for service in table.data:
            if not _DIMSE_SERVICE.match(service):
                raise table.error(service, "not a DIMSE service name (C-FIND, C-MOVE, N-ACTION...)")
            found.append((service, table.seconds(service, None)))
        table.done()
        return tuple(found)

    def _document_uid(self, impl: Section) -> str:
        value = impl.string("document_class_uid", "")
        if value:
            impl.check_uid("document_class_uid", value)
        return value

    def _context(self, section: Section, default_role: str) -> ContextRule:
        explicit = section.uids("sop_classes", ())
        for index, uid in enumerate(explicit):
            if uid not in self.registry.sop_classes:
                raise section.error(f"sop_classes[{index}]", f"{uid} is not a registered SOP class")
        sop_group = section.optional_string("sop_class_group")
        grouped: tuple[str, ...] = ()
        if sop_group is not None:
            if sop_group not in self.registry.sop_class_groups:
                raise section.error("sop_class_group", f"unknown SOP class group {sop_group!r}")
            grouped = self.registry.sop_class_group(sop_group)
        kind = section.optional_string("sop_class_kind")
        if kind is not None:
            try:
                retired = section.boolean("include_retired", False)
                of_kind = tuple(entry.uid for entry in self.registry.of_kind(kind, retired=retired))
            except ValueError as exc:
                raise section.error("sop_class_kind", str(exc)) from None
            grouped += tuple(uid for uid in of_kind if uid not in grouped)
        abstract = explicit + tuple(uid for uid in grouped if uid not in explicit)
        if not abstract:
            raise section.error(
                "sop_classes", "missing (give sop_classes, sop_class_group or sop_class_kind)"
            )

        ts_group = section.optional_string("transfer_syntax_group")
        if section.has("transfer_syntaxes") == (ts_group is not None):
            raise section.error(
                "transfer_syntaxes", "give exactly one of transfer_syntaxes, transfer_syntax_group"
            )
        if ts_group is not None:
            syntaxes = self._group(section, "transfer_syntax_group", ts_group)
        else:
            syntaxes = section.uids("transfer_syntaxes")
            for index, uid in enumerate(syntaxes):
                if uid not in self.registry.transfer_syntaxes:
                    raise section.error(
                        f"transfer_syntaxes[{index}]", f"{uid} is not a registered transfer syntax"
                    )
            if not syntaxes:
                raise section.error("transfer_syntaxes", "at least one transfer syntax is needed")
        alternatives = section.strings("alternative_groups", ())
        for index, ident in enumerate(alternatives):
            self._group(section, f"alternative_groups[{index}]", ident)
        rule = ContextRule(
            abstract_syntaxes=abstract,
            transfer_syntaxes=syntaxes,
            role=section.choice("role", ROLES, default_role),
            sop_class_group=sop_group,
            transfer_syntax_group=ts_group,
            alternative_groups=alternatives,
            extended_negotiation=section.string("extended_negotiation", "None"),
            instance_transfer_syntax_first=section.boolean("instance_transfer_syntax_first", False),
            unlisted_only=section.boolean("unlisted_only", False),
            relational=section.boolean("relational", False) if section.has("relational") else None,
            note=section.string("note", ""),
        )
        section.done()
        return rule

    def _group(self, section: Section, key: str, ident: str) -> tuple[str, ...]:
        if ident not in self.registry.transfer_syntax_groups:
            raise section.error(key, f"unknown transfer syntax group {ident!r}")
        return self.registry.transfer_syntax_group(ident)

    def _status(self, section: Section) -> StatusRule:
        code = section.string("code")
        if not _STATUS_CODE.match(code):
            raise section.error(
                "code", f"{code!r} is not a status code (e.g. 0000, B00x, A700-A7FF)"
            )
        direction = section.choice("direction", ("returned", "received"))
        situations = section.strings("situations", ())
        for index, name in enumerate(situations):
            if name not in _SITUATIONS:
                raise section.error(
                    f"situations[{index}]", f"{name!r} is not one of {', '.join(_SITUATIONS)}"
                )
        concrete = re.fullmatch(r"[0-9A-F]{4}", code) is not None
        if situations and direction != "returned":
            raise section.error("situations", "only a returned status has situations")
        if situations and not (concrete or code in FALLBACK_CODES):
            raise section.error("code", "a status with situations needs one code (e.g. 0110)")
        outcome = section.choice("outcome", _OUTCOMES) if section.has("outcome") else ""
        if outcome and direction != "received":
            raise section.error("outcome", "only a received status has an outcome")
        if outcome == "retry" and section.string("service") != "C-STORE":
            raise section.error("outcome", "retry is acted on for C-STORE only")
        abort = section.boolean("abort", False)
        if abort and direction != "returned":
            raise section.error("abort", "only a returned status aborts the association")
        rule = StatusRule(
            direction=direction,
            service=section.string("service"),
            status=section.choice("status", STATUS_CATEGORIES),
            code=code,
            meaning=section.string("meaning", ""),
            behaviour=section.string("behaviour", ""),
            situations=situations,
            abort=abort,
            outcome=outcome,
        )
        section.done()
        return rule

    def _query_key(self, section: Section) -> QueryKey:
        model = section.uid("model")
        sop = self.registry.sop_classes.get(model)
        if sop is None or sop.kind not in ("qr", "mwl"):
            raise section.error("model", f"{model} is not a registered Q/R or worklist SOP class")
        tag = section.string("tag")
        if not _TAG.match(tag):
            raise section.error("tag", f"{tag!r} is not a tag (gggg,eeee in upper-case hex)")
        vr = section.string("vr")
        if not _VR.match(vr):
            raise section.error("vr", f"{vr!r} is not a VR")
        matching = section.strings("matching")
        for index, kind in enumerate(matching):
            if kind not in MATCHING_TYPES:
                raise section.error(
                    f"matching[{index}]", f"{kind!r} is not one of {', '.join(MATCHING_TYPES)}"
                )
        key = QueryKey(
            model=model,
            level=section.string("level"),
            name=section.string("name"),
            tag=tag,
            vr=vr,
            matching=matching,
        )
        section.done()
        return key

    def _constraint(self, section: Section) -> QueryConstraint:
        models = section.uids("models")
        for index, model in enumerate(models):
            sop = self.registry.sop_classes.get(model)
            if sop is None or sop.kind != "qr":
                raise section.error(f"models[{index}]", f"{model} is not a Q/R SOP class")

        def tags(key: str) -> tuple[int, ...]:
            found = section.strings(key, ())
            for index, tag in enumerate(found):
                if not _TAG.match(tag):
                    raise section.error(f"{key}[{index}]", f"{tag!r} is not a tag (gggg,eeee)")
            return tuple(int(tag.replace(",", ""), 16) for tag in found)

        constraint = QueryConstraint(
            models=models,
            level=section.choice("level", ("PATIENT", "STUDY", "SERIES", "IMAGE")),
            value_in=tags("value_in"),
            unless_present=tags("unless_present"),
            unless_level_value=section.boolean("unless_level_value", False),
            note=section.string("note", ""),
        )
        if not constraint.value_in:
            raise section.error("value_in", "at least one tag is needed")
        section.done()
        return constraint

    def _parameter(self, section: Section) -> Parameter:
        parameter = Parameter(
            name=section.string("name"),
            configurable=section.boolean("configurable", True),
            default=section.string("default", ""),
        )
        section.done()
        return parameter
