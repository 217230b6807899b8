"""The narrative parts of a conformance statement and the profile's security facts.

PS3.2 Annex A asks for sections that are prose rather than tables: revision
history, audience, the implementation model (application data flow,
functional definition, sequencing), network interfaces, media interchange,
security and the annexes. A profile may give them in ``[statement]``; what it
leaves out is rendered from the rest of the profile or says plainly that the
source document is silent. ``[security]`` names the TLS profile that dicomnet
runs for this AE and, as information, the one the document names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tomlcheck import Section

__all__ = [
    "DOCUMENT_TLS_PROFILES",
    "TLS_PROFILES",
    "Security",
    "Statement",
    "read_security",
    "read_statement",
]

#: TLS profiles dicomnet implements (PS3.15 Annex B), key -> title.
TLS_PROFILES = {
    "bcp195": "BCP 195 TLS Secure Transport Connection Profile (PS3.15 B.9)",
    "non-downgrading-bcp195": (
        "Non-Downgrading BCP 195 TLS Secure Transport Connection Profile (PS3.15 B.10)"
    ),
}

#: Retired profiles a seed document may name, key -> what it required.
DOCUMENT_TLS_PROFILES = {
    "basic": "Basic TLS Secure Transport Connection Profile (PS3.15 B.1, retired: TLS 1.0,"
    " RSA key exchange, 3DES EDE CBC, SHA-1)",
    "aes": "AES TLS Secure Transport Connection Profile (PS3.15 B.3, retired: TLS 1.0, AES)",
    "unnamed": "TLS without naming a PS3.15 profile",
    "": "",
}

#: ``[statement]`` keys, in rendering order.
STATEMENT_KEYS = (
    "revision",
    "audience",
    "remarks",
    "data_flow",
    "sequencing",
    "physical_network",
    "additional_protocols",
    "address_mapping",
    "media",
    "iod_contents",
    "private_attributes",
    "coded_terminology",
    "grayscale",
    "extended_sop_classes",
    "private_transfer_syntaxes",
)


@dataclass(frozen=True, slots=True)
class Statement:
    """Prose sections of the statement (empty string: rendered from a default)."""

    revision: str = ""
    audience: str = ""
    remarks: str = ""
    data_flow: str = ""
    sequencing: str = ""
    physical_network: str = ""
    additional_protocols: str = ""
    address_mapping: str = ""
    media: str = ""
    iod_contents: str = ""
    private_attributes: str = ""
    coded_terminology: str = ""
    grayscale: str = ""
    extended_sop_classes: str = ""
    private_transfer_syntaxes: str = ""


@dataclass(frozen=True, slots=True)
class Security:
    """``[security]``: the TLS profile run, the one the document names, other measures."""

    #: Key of :data:`TLS_PROFILES`: what the TLS contexts of this AE enforce.
    tls_profile: str = "non-downgrading-bcp195"
    #: Key of :data:`DOCUMENT_TLS_PROFILES`: what the source document names (information).
    document_tls_profile: str = ""
    association_level: str = ""
    application_level: str = ""


def _clean(text: str) -> str:
    return " ".join(text.split())


def read_statement(top: Section) -> Statement:
    """The ``[statement]`` table of a profile (every key optional)."""
    section = top.table("statement")
    values = {key: _clean(section.string(key, "")) for key in STATEMENT_KEYS}
    section.done()
    return Statement(**values)


def read_security(top: Section) -> Security:
    """The ``[security]`` table of a profile (every key optional)."""
    section = top.table("security")
    security = Security(
        tls_profile=section.choice("tls_profile", TLS_PROFILES, "non-downgrading-bcp195"),
        document_tls_profile=section.choice("document_tls_profile", DOCUMENT_TLS_PROFILES, ""),
        association_level=_clean(section.string("association_level", "")),
        application_level=_clean(section.string("application_level", "")),
    )
    section.done()
    return security
