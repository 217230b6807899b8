"""Render a :class:`~dicomnet.conformance.profile.Profile` as a PS3.2-style conformance statement.

The statement is first built as a list of blocks (headings, paragraphs,
tables), then written out as Markdown or HTML, so both formats carry the same
content. The layout follows PS3.2 Annex A: SOP classes with SCU/SCP,
association policies (application context, number of associations,
asynchronous nature, implementation identifying information), acceptance and
initiation policies with presentation context tables, SOP specific conformance
(statuses, query keys), network interfaces, configuration (timers and
parameters) and character sets.
"""

from __future__ import annotations

from collections.abc import Sequence

from dicomnet.policy import LimitMode, Policy, TransferSyntaxPreference, WrongCalledAE

from .profile import ContextRule, Profile
from .render_behaviour import Behaviour, outcome_cell, situation_cell
from .render_narrative import Narrative, charset_paragraphs
from .render_writers import Block, html_page, markdown

__all__ = ["FORMATS", "render"]

FORMATS = ("md", "html")


def render(profile: Profile, fmt: str = "md") -> str:
    """The conformance statement of ``profile`` as Markdown (``"md"``) or HTML (``"html"``)."""
    blocks = _Builder(profile).build()
    if fmt == "md":
        return markdown(blocks)
    if fmt == "html":
        return html_page(blocks, f"{profile.system}: {profile.application_entity}")
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


# ---------------------------------------------------------------------- content


def _role(scu: bool, scp: bool) -> str:
    return "/".join(name for name, on in (("SCU", scu), ("SCP", scp)) if on)


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _seconds(value: float | None) -> str:
    return "no timeout" if value is None else f"{value:g} s"


def _link(anchor: str, text: str) -> str:
    # Links are kept as a tiny inline markup ("[text](#anchor)") that both writers understand.
    return f"[{text}](#{anchor})"


class _Builder(Narrative, Behaviour):
    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.p = profile
        self.policy: Policy = profile.policy()
        self.reg = profile.registry

    # ------------------------------------------------------------------ helpers

    def name(self, uid: str) -> str:
        return self.reg.name_of(uid)

    def group_link(self, ident: str) -> str:
        return _link(f"ts-{ident}", self.reg.transfer_syntax_groups[ident].title)

    # ------------------------------------------------------------------ document

    def build(self) -> list[Block]:
        p = self.p
        self.heading(1, f"{p.system}: {p.application_entity} Application Entity")
        source = (
            f"source document: {p.document}"
            if p.document
            else "source: dicomnet's own profile, not transcribed from another document"
        )
        self.para(
            f"DICOM conformance statement of the {p.application_entity} AE, rendered from the"
            f" dicomnet profile `{p.name}` ({source}). The sections follow PS3.2 Annex A."
        )
        if p.summary:
            self.para(" ".join(p.summary.split()))
        self.overview()
        self.introduction()
        self.heading(2, "3 Networking")
        self.implementation_model()
        self.heading(3, "3.2 AE Specifications")
        self.heading(4, "3.2.1 SOP Classes")
        self.table(
            "SOP classes",
            ("SOP Class Name", "SOP Class UID", "SCU", "SCP"),
            ((self.name(uid), uid, _yes(scu), _yes(scp)) for uid, scu, scp in p.sop_class_roles()),
        )
        self.association_policies()
        self.initiation_policy()
        self.acceptance_policy()
        self.transfer_syntax_groups()
        self.sop_specific()
        self.network_interfaces(
            f"IPv4 and IPv6 (the address family of the bind or peer address). TLS: {p.tls}."
            f" TCP_NODELAY: {'on' if p.tcp_nodelay else 'off'}."
            f" Command and data set packed into one PDU: {_yes(p.pack_command_and_data).lower()}."
            f" PDVs per PDU: {p.max_pdvs_per_pdu or 'as many as fit'}."
        )
        self.heading(3, "3.4 Configuration")
        self.address_mapping()
        self.parameters()
        self.heading(2, "4 Media Interchange")
        self.para(
            self.p.statement.media or "Not supported: this AE exchanges data on the network only."
        )
        self.heading(2, "5 Support of Character Sets")
        if p.character_sets:
            self.para("Specific character sets supported: " + ", ".join(p.character_sets) + ".")
        else:
            self.para("Only the default character repertoire (ISO-IR 6) is supported.")
        for text in charset_paragraphs(p):
            self.para(text)
        self.security_section()
        self.annexes()
        if p.info:
            self.heading(2, "8 Notes")
            self.table("Further facts from the document", ("Topic", "Fact"), p.info)
        return self.blocks

    def association_policies(self) -> None:
        p, policy = self.p, self.policy
        self.heading(4, "3.2.2 Association Policies")
        self.heading(5, "3.2.2.1 General")
        self.table(
            "Application context name", ("Application Context Name",), [(p.application_context,)]
        )
        self.para(
            f"Maximum PDU size received: {_pdu(p.max_pdu_receive)}."
            f" Maximum PDU size sent: {_pdu(p.max_pdu_send)}."
        )
        self.heading(5, "3.2.2.2 Number of Associations")
        limit = str(p.max_associations) if p.max_associations else "unlimited"
        past = {
            LimitMode.REJECT: "rejected: A-ASSOCIATE-RJ (2 transient, 3 provider,"
            " 2 local-limit-exceeded)",
            LimitMode.QUEUE: "held (not read) until an association ends",
        }[p.on_association_limit]
        rows = [("Maximum number of simultaneous associations", limit)]
        if p.max_associations and "acceptor" in p.association_role:
            rows.append(("Association requests past the limit", past))
        self.table("Number of associations", ("Parameter", "Value"), rows)
        if p.association_limit_note:
            self.para(p.association_limit_note)
        self.heading(5, "3.2.2.3 Asynchronous Nature")
        window = (
            "synchronous: one operation at a time"
            if (p.max_operations_invoked, p.max_operations_performed) == (1, 1)
            else "asynchronous operations window negotiated"
        )
        self.table(
            "Asynchronous nature",
            ("Parameter", "Value"),
            [
                ("Maximum operations invoked", _window(p.max_operations_invoked)),
                ("Maximum operations performed", _window(p.max_operations_performed)),
                ("Mode", window),
            ],
        )
        self.heading(5, "3.2.2.4 Implementation Identifying Information")
        self.table(
            "Implementation identifying information",
            ("Item", "dicomnet", "Document"),
            [
                (
                    "Implementation Class UID",
                    policy.implementation_class_uid,
                    p.document_implementation_class_uid or "not stated",
                ),
                (
                    "Implementation Version Name",
                    policy.implementation_version_name,
                    p.document_implementation_version_name or "not stated",
                ),
            ],
        )

    def context_table(self, caption: str, rules: Sequence[ContextRule]) -> None:
        rows: list[tuple[str, ...]] = []
        notes: list[str] = []
        for rule in rules:
            role = _role(rule.scu, rule.scp)
            for uid in rule.abstract_syntaxes:
                rows.extend(self.context_rows(uid, rule, role))
            if rule.note and rule.abstract_syntaxes:
                names = ", ".join(self.name(uid) for uid in rule.abstract_syntaxes[:3])
                more = " and others" if len(rule.abstract_syntaxes) > 3 else ""
                notes.append(f"{names}{more}: {rule.note}")
            if rule.alternative_groups and rule.transfer_syntax_group:
                choices = ", ".join(self.group_link(g) for g in rule.alternative_groups)
                default = self.group_link(rule.transfer_syntax_group)
                notes.append(f"Instead of {default} the configuration may select: {choices}.")
        self.table(
            caption,
            (
                "Abstract Syntax Name",
                "Abstract Syntax UID",
                "Transfer Syntax Name",
                "Transfer Syntax UID",
                "Role",
                "Extended Negotiation",
            ),
            rows,
        )
        for note in notes:
            self.para(f"Note: {note}")

    def context_rows(self, uid: str, rule: ContextRule, role: str) -> list[tuple[str, ...]]:
        first = (self.name(uid), uid)
        blank = ("", "")
        rows: list[tuple[str, ...]] = []
        lead: list[tuple[str, str]] = []
        if rule.instance_transfer_syntax_first:
            lead.append(("Transfer syntax of the instance as received", "(as received)"))
        if rule.transfer_syntax_group is not None:
            lead.append((self.group_link(rule.transfer_syntax_group), "see group"))
        else:
            lead.extend((self.name(ts), ts) for ts in rule.transfer_syntaxes)
        for index, (ts_name, ts_uid) in enumerate(lead):
            cells = first if index == 0 else blank
            tail = (role, rule.extended_negotiation) if index == 0 else ("", "")
            rows.append((*cells, ts_name, ts_uid, *tail))
        return rows

    def acceptance_policy(self) -> None:
        p = self.p
        self.heading(4, "3.2.4 Association Acceptance Policy")
        if not p.accepted:
            self.para("This AE does not accept associations.")
            return
        called = ", ".join(p.called_ae_titles)
        calling = "any" if p.calling_ae_titles is None else ", ".join(p.calling_ae_titles)
        wrong = {
            WrongCalledAE.REJECT: "rejected: A-ASSOCIATE-RJ (1 permanent, 1 user,"
            " 7 called-AE-title-not-recognized)",
            WrongCalledAE.VERIFICATION_ONLY: "accepted, with the Verification context only",
        }[p.wrong_called_ae]
        if "*" in p.called_ae_titles:
            wrong = "not applicable: the wildcard * accepts any called AE title"
        rows = [
            ("AE title", p.ae_title),
            ("Called AE titles answered to", called),
            ("Calling AE titles accepted", calling),
            ("Calling AE allow list configurable", _yes(p.calling_allow_list_configurable)),
            ("Association with another called AE title", wrong),
        ]
        self.table("AE title policy", ("Parameter", "Value"), rows)
        self.context_table("Accepted presentation contexts", p.accepted)
        self.relational_negotiation()
        if p.transfer_syntax_preference is TransferSyntaxPreference.ACCEPTOR:
            self.para(
                "Transfer syntax selection: when a context offers several acceptable transfer"
                " syntaxes, the first of this AE's list (in the order shown) is chosen."
            )
        else:
            self.para(
                "Transfer syntax selection: the first transfer syntax proposed by the requestor"
                " that this AE accepts is chosen."
            )

    def initiation_policy(self) -> None:
        self.heading(4, "3.2.3 Association Initiation Policy")
        if not self.p.proposed:
            self.para("This AE does not initiate associations.")
            return
        self.context_table("Proposed presentation contexts", self.p.proposed)

    def transfer_syntax_groups(self) -> None:
        used: list[str] = []
        for rule in (*self.p.accepted, *self.p.proposed):
            for ident in (rule.transfer_syntax_group, *rule.alternative_groups):
                if ident is not None and ident not in used:
                    used.append(ident)
        if not used:
            return
        self.heading(4, "3.2.5 Transfer Syntax Groups")
        for ident in used:
            group = self.reg.transfer_syntax_groups[ident]
            self.heading(5, group.title, anchor=f"ts-{ident}")
            if group.source:
                self.para(f"Source: {group.source}.")
            self.table(
                group.title,
                ("Transfer Syntax Name", "Transfer Syntax UID"),
                ((self.name(uid), uid) for uid in group.transfer_syntaxes),
            )

    def sop_specific(self) -> None:
        p = self.p
        self.heading(4, "3.2.6 SOP Specific Conformance")
        if not p.statuses and not p.query_keys:
            self.para("No statuses or query keys beyond those of PS3.4 are stated.")
        headers = ("Service", "Service Status", "Further Meaning", "Status Code", "Behaviour")
        returned = [
            (s.service, s.status, s.meaning, s.code, s.behaviour, situation_cell(s))
            for s in p.statuses
            if s.direction == "returned"
        ]
        if returned:
            self.table("Statuses returned", (*headers, "dicomnet sends it when"), returned)
        received = [
            (s.service, s.status, s.meaning, s.code, s.behaviour, outcome_cell(s, p.retry))
            for s in p.statuses
            if s.direction == "received"
        ]
        if received:
            self.table("Handling of statuses received", (*headers, "dicomnet outcome"), received)
        models: list[str] = []
        for key in p.query_keys:
            if key.model not in models:
                models.append(key.model)
        for model in models:
            self.table(
                f"{self.name(model)}: supported keys",
                ("Level", "Attribute Name", "Tag", "VR", "Types of Matching"),
                (
                    (
                        k.level,
                        k.name,
                        f"({k.tag})",
                        k.vr,
                        ", ".join(k.matching) or "not stated",
                    )
                    for k in p.query_keys
                    if k.model == model
                ),
            )
        if p.query_keys:
            self.para(
                "Types of matching: S single value, * wildcard, U universal, R range,"
                " L list of UIDs, NONE returned but not matched."
            )
        self.behaviour_sections()

    def parameters(self) -> None:
        p = self.p
        self.heading(4, "3.4.2 Parameters")
        timers = p.timers
        default = " (dicomnet default)" if self._own else _DEFAULT
        rows = [
            (label, _seconds(getattr(timers, key)) + ("" if key in p.timers_stated else default))
            for key, label in (
                ("artim", "ARTIM (waiting for A-ASSOCIATE-RQ, or for the close)"),
                ("associate", "Waiting for A-ASSOCIATE-AC/RJ"),
                ("dimse", "DIMSE (peer silent: a response, a fragment, reading ours)"),
                ("connect", "TCP connect"),
                ("release", "Waiting for A-RELEASE-RP"),
            )
        ]
        rows.extend(self.timer_rows())
        rows.extend(p.timer_notes)
        self.table("Timers", ("Timer", "Value"), rows)
        if p.parameters:
            self.table(
                "Configurable parameters",
                ("Parameter", "Configurable", "Default Value"),
                ((x.name, _yes(x.configurable), x.default) for x in p.parameters),
            )


_DEFAULT = " (not stated; dicomnet default)"


def _pdu(value: int) -> str:
    return "unlimited" if value == 0 else f"{value} bytes"


def _window(value: int) -> str:
    return "unlimited" if value == 0 else str(value)
