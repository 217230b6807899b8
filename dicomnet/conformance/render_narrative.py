"""The PS3.2 Annex A sections of a statement that are mostly prose.

Overview, introduction, implementation model, network interfaces, media,
security and annexes. Each takes its text from the profile's ``[statement]``
or ``[security]`` table when given, else from the rest of the profile (roles,
AE-title policy, TLS, private UIDs), else says that the source document is
silent. No section is left empty.
"""

from __future__ import annotations

from .narrative import DOCUMENT_TLS_PROFILES, TLS_PROFILES
from .profile import ContextRule, Profile
from .registry import Registry
from .render_writers import BlockList

__all__ = ["KIND_TITLES", "Narrative", "charset_paragraphs", "tls_paragraphs"]

#: Service categories of the overview, by registry ``kind``.
KIND_TITLES = {
    "verification": "Verification",
    "storage": "Transfer (Storage)",
    "commitment": "Storage Commitment",
    "qr": "Query/Retrieve",
    "mwl": "Workflow Management (Modality Worklist)",
    "print": "Print Management",
    "other": "Other",
}

_SILENT = "Not stated in the source document."
_TLS_VERSIONS = (
    "TLS 1.2 and TLS 1.3 only: SSL 3.0, TLS 1.0 and TLS 1.1 are refused in both directions"
    " (never negotiated down). TLS 1.2 cipher suites are limited to ephemeral (EC)DHE key"
    " exchange with AEAD encryption (AES-GCM, ChaCha20-Poly1305); TLS 1.3 uses its own suites"
    " and is preferred when both sides have it."
)


def tls_paragraphs(profile: Profile) -> list[str]:
    """What the statement says about TLS for ``profile`` (substitution included)."""
    if profile.tls == "none":
        return ["No secure transport connection profile: this AE does not use TLS."]
    chosen = TLS_PROFILES[profile.security.tls_profile]
    mode = {
        "optional": "TLS when the system file or the command line gives a certificate and key"
        " (tls_cert/tls_key of the [[ae]] entry, or --tls-cert/--tls-key); plain TCP otherwise",
        "required": "TLS always: the AE does not start without a certificate and key",
    }[profile.tls]
    out = [
        f"Supported: the {chosen}. Use: {mode}. {_TLS_VERSIONS}"
        " Clients are asked for a certificate when a CA bundle is configured (tls_ca,"
        " --tls-ca) and refused without one when require_client_cert is set.",
    ]
    document = DOCUMENT_TLS_PROFILES[profile.security.document_tls_profile]
    if document:
        out.append(
            f"Substitution: the source document names the {document}. PS3.15 has retired that"
            " profile and current OpenSSL refuses its protocol version and cipher, so dicomnet"
            f" runs the {chosen} in its place. A peer limited to TLS 1.0 cannot connect."
        )
    return out


_FIND_SCP_KINDS = ("qr", "mwl")


def _has_query_role(rules: tuple[ContextRule, ...], profile: Profile, *, scp: bool) -> bool:
    """Whether a rule gives the AE a query/retrieve or worklist SOP class in that role."""
    return any(
        (rule.scp if scp else rule.scu)
        and any(
            (sop := profile.registry.sop_classes.get(uid)) is not None
            and sop.kind in _FIND_SCP_KINDS
            for uid in rule.abstract_syntaxes
        )
        for rule in rules
    )


def charset_paragraphs(profile: Profile) -> list[str]:
    """How the AE reads and answers in its repertoires (dicomnet.query.charsets)."""
    answers_queries = _has_query_role(profile.accepted, profile, scp=True)
    out = [
        "Stored instances are kept as received, in their own character set. Text received is"
        " decoded in the Specific Character Set it carries."
    ]
    out += _request_paragraphs(profile)
    if not answers_queries:
        return out
    declared = ", ".join(profile.character_sets) or "the default repertoire"
    first = profile.character_sets[0] if profile.character_sets else "the default repertoire"
    out += [
        "Queries: an identifier without Specific Character Set whose text is not ASCII is read"
        f" as {first}. Matching compares decoded text, so a query in one repertoire matches"
        " values stored in another (MÜLLER queried in ISO_IR 192 matches MÜLLER stored in"
        " ISO_IR 100).",
        "Answers (C-FIND responses) are written in: the requester's Specific Character Set when"
        f" this AE supports it ({declared}) and every value fits; else the first supported set"
        " that holds every value; else the default repertoire when every value is ASCII; else"
        " ISO_IR 192 when the requester's identifier named ISO_IR 192; else the first supported"
        " set with each character it cannot hold replaced by '?', and a warning logged naming"
        " the attribute (山田^太郎 answered by an ISO_IR 100 AE to a Latin-1 requester reads"
        " ??^??).",
    ]
    return out


def _request_paragraphs(profile: Profile) -> list[str]:
    """How the AE writes the identifiers of its own C-FIND/C-MOVE/C-GET requests."""
    queries = _has_query_role(profile.proposed, profile, scp=False)
    if not queries:
        return []
    declared = [t for t in profile.character_sets if t != "ISO_IR 6"]
    lead = "Requests (as SCU): a query or retrieve identifier whose text is not ASCII is written"
    wildcard = (
        " sent as '?' (the single-character wildcard, so such a query still matches) and a"
        " warning is logged. An identifier given with its own Specific Character Set is sent"
        " as given."
    )
    if not declared:
        return [
            f"{lead} in the default repertoire, the only one this AE declares: characters"
            " outside it are" + wildcard
        ]
    named = (
        "named in Specific Character Set (0008,0005)"
        if profile.name_charset_in_requests
        else "not named: the identifier carries no Specific Character Set (0008,0005)"
    )
    return [
        f"{lead} in the first of {', '.join(declared)} that holds every value, {named};"
        " characters that none holds are" + wildcard
    ]


class Narrative(BlockList):
    """Mixin of the statement builder: the prose sections."""

    p: Profile
    reg: Registry

    def _text(self, given: str, default: str) -> str:
        return given or default

    @property
    def _own(self) -> bool:
        """Whether the profile is dicomnet's own rather than a transcribed document."""
        return not self.p.document

    def kinds(self) -> dict[str, tuple[list[str], bool, bool]]:
        """Registry kind -> (SOP class UIDs, any SCU, any SCP), first-seen order."""
        out: dict[str, tuple[list[str], bool, bool]] = {}
        for uid, scu, scp in self.p.sop_class_roles():
            sop = self.reg.sop_classes.get(uid)
            kind = sop.kind if sop is not None else "other"
            uids, any_scu, any_scp = out.get(kind, ([], False, False))
            uids.append(uid)
            out[kind] = (uids, any_scu or scu, any_scp or scp)
        return out

    # ------------------------------------------------------------------ 1, 2

    def overview(self) -> None:
        p = self.p
        self.heading(2, "1 Conformance Statement Overview")
        self.para(
            f"The {p.application_entity} AE of {p.system} (AE title {p.ae_title}) "
            + self._flow_sentence()
        )
        rows = []
        for kind, (uids, scu, scp) in self.kinds().items():
            names = (
                ", ".join(self.reg.name_of(u) for u in uids)
                if len(uids) <= 4
                else f"{len(uids)} SOP classes (listed in 3.2.1)"
            )
            rows.append(
                (KIND_TITLES.get(kind, kind), names, "Yes" if scu else "No", "Yes" if scp else "No")
            )
        self.table(
            "Network services",
            (
                "Service Category",
                "SOP Classes",
                "User of Service (SCU)",
                "Provider of Service (SCP)",
            ),
            rows,
        )
        self.para("Media interchange: " + (p.statement.media or "not supported."))

    def _flow_sentence(self) -> str:
        provided = [KIND_TITLES[k] for k, (_, _, scp) in self.kinds().items() if scp]
        used = [KIND_TITLES[k] for k, (_, scu, _) in self.kinds().items() if scu]
        parts = []
        if provided:
            parts.append("provides " + ", ".join(provided) + " as SCP")
        if used:
            parts.append("uses " + ", ".join(used) + " as SCU")
        return " and ".join(parts) + "."

    def introduction(self) -> None:
        p, s = self.p, self.p.statement
        self.heading(2, "2 Introduction")
        self.heading(3, "2.1 Revision History")
        revision = (
            f"Rendered by `dicomnet conformance render {p.name}` from the profile"
            f" conformance/profiles/{p.name}.toml"
            + (f", transcribed from the source document {p.document}." if p.document else ".")
        )
        self.table("Revision history", ("Revision", "Description"), [(p.name, revision)])
        if s.revision:
            self.para(s.revision)
        self.heading(3, "2.2 Audience")
        self.para(
            self._text(
                s.audience,
                "Integrators, network administrators and support staff connecting this AE to"
                " other DICOM systems. The reader is expected to know the DICOM Standard.",
            )
        )
        self.heading(3, "2.3 Remarks")
        self.para(
            self._text(
                s.remarks,
                "This statement says what dicomnet does when it runs this profile. Where"
                " dicomnet differs from the source document (TLS, timers the document does not"
                " state), the difference is written where it applies.",
            )
        )
        self.heading(3, "2.4 Terms and Abbreviations")
        self.table(
            "Abbreviations",
            ("Abbreviation", "Meaning"),
            [
                ("AE", "Application Entity"),
                ("AET", "Application Entity Title"),
                ("DIMSE", "DICOM Message Service Element"),
                ("PDU", "Protocol Data Unit"),
                ("SCP", "Service Class Provider"),
                ("SCU", "Service Class User"),
                ("SOP", "Service-Object Pair"),
                ("TLS", "Transport Layer Security"),
                ("UID", "Unique Identifier"),
            ],
        )
        self.heading(3, "2.5 References")
        refs = [
            ("PS3.2", "DICOM Conformance"),
            ("PS3.4", "DICOM Service Class Specifications"),
            ("PS3.5", "DICOM Data Structures and Encoding (character sets)"),
            ("PS3.7", "DICOM Message Exchange"),
            ("PS3.8", "DICOM Network Communication Support for Message Exchange"),
            ("PS3.15", "DICOM Security and System Management Profiles"),
            ("BCP 195", "IETF Recommendations for Secure Use of TLS (RFC 8996, RFC 9325)"),
        ]
        if p.document:
            refs.append((p.document, f"Conformance statement of {p.system} (source document)"))
        self.table("References", ("Reference", "Title"), refs)

    # ------------------------------------------------------------------ 3.1, 3.3, 3.4.1

    def implementation_model(self) -> None:
        p, s = self.p, self.p.statement
        self.heading(3, "3.1 Implementation Model")
        self.heading(4, "3.1.1 Application Data Flow")
        self.para(
            self._text(s.data_flow, f"The {p.application_entity} AE " + self._flow_sentence())
        )
        self.heading(4, "3.1.2 Functional Definition of AEs")
        self.para(
            " ".join(p.summary.split()) or f"The {p.application_entity} AE " + self._flow_sentence()
        )
        self.heading(4, "3.1.3 Sequencing of Real-World Activities")
        self.para(self._text(s.sequencing, "None." if self._own else _SILENT))

    def network_interfaces(self, transport: str) -> None:
        s = self.p.statement
        self.heading(3, "3.3 Network Interfaces")
        self.heading(4, "3.3.1 Physical Network Interface")
        self.para(
            self._text(
                s.physical_network,
                "Any TCP/IP network interface of the host; dicomnet has no physical interface"
                " of its own.",
            )
        )
        self.heading(4, "3.3.2 Additional Protocols")
        self.para(
            self._text(
                s.additional_protocols,
                "None: host names are resolved by the operating system; DICOM parameters are"
                " not configured by DHCP or DNS.",
            )
        )
        self.heading(4, "3.3.3 IPv4 and IPv6 Support")
        self.para(transport)

    def address_mapping(self) -> None:
        p, s = self.p, self.p.statement
        self.heading(4, "3.4.1 AE Title/Presentation Address Mapping")
        self.table(
            "Local AE title",
            ("Application Entity", "Default AE Title", "Called AE titles answered to"),
            [(p.application_entity, p.ae_title, ", ".join(p.called_ae_titles))],
        )
        self.para(
            self._text(
                s.address_mapping,
                "The TCP port is configured: the port of the AE's entry in the system file, or"
                " --port on the command line. Remote AEs (move destinations, commitment report"
                " addresses) are configured as AE title = host:port in the system file's"
                " [destinations] or with --destination.",
            )
        )

    # ------------------------------------------------------------------ 4..7

    def security_section(self) -> None:
        p = self.p
        self.heading(2, "6 Security")
        self.heading(3, "6.1 Security Profiles")
        for text in tls_paragraphs(p):
            self.para(text)
        self.heading(3, "6.2 Association Level Security")
        calling = (
            "any calling AE title is accepted"
            if p.calling_ae_titles is None
            else "only the calling AE titles " + ", ".join(p.calling_ae_titles) + " are accepted"
        )
        called = (
            "any called AE title is answered (wildcard *)"
            if "*" in p.called_ae_titles
            else "the called AE title must be one of " + ", ".join(p.called_ae_titles)
        )
        self.para(self._text(p.security.association_level, f"{calling.capitalize()}; {called}."))
        self.heading(3, "6.3 Application Level Security")
        self.para(self._text(p.security.application_level, "None."))

    def annexes(self) -> None:
        s = self.p.statement
        silent = _SILENT if not self._own else "None."
        self.heading(2, "7 Annexes")
        self.heading(3, "7.1 IOD Contents")
        self.para(self._text(s.iod_contents, silent))
        self.heading(3, "7.2 Data Dictionary of Private Attributes")
        self.para(self._text(s.private_attributes, "None."))
        self.heading(3, "7.3 Coded Terminology and Templates")
        self.para(self._text(s.coded_terminology, silent))
        self.heading(3, "7.4 Grayscale Image Consistency")
        self.para(self._text(s.grayscale, silent))
        self.heading(3, "7.5 Standard Extended, Specialized and Private SOP Classes")
        private = [
            f"{self.reg.name_of(uid)} ({uid})"
            for uid, _scu, _scp in self.p.sop_class_roles()
            if (sop := self.reg.sop_classes.get(uid)) is not None and sop.private
        ]
        self.para(
            self._text(
                s.extended_sop_classes,
                "Private SOP classes: " + ", ".join(private) + "." if private else "None.",
            )
        )
        self.heading(3, "7.6 Private Transfer Syntaxes")
        used = {ts for r in (*self.p.accepted, *self.p.proposed) for ts in r.transfer_syntaxes}
        private_ts = sorted(
            f"{self.reg.name_of(uid)} ({uid})"
            for uid in used
            if (ts := self.reg.transfer_syntaxes.get(uid)) is not None and ts.private
        )
        self.para(
            self._text(
                s.private_transfer_syntaxes,
                "Private transfer syntaxes: " + ", ".join(private_ts) + "."
                if private_ts
                else "None.",
            )
        )
