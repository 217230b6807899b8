"""Every rendered statement against its seed document's tables, and against drift.

``conformance/rendered/NAME.md`` is the committed output of
``dicomnet conformance render --all -o conformance/rendered``. The expected
values below are transcribed from the seed documents (``shared/seeds/``,
tables named beside each entry; the documents' OCR spellings such as ``FFOO``
or ``BOO7`` are read as the codes they stand for), never computed from the
profiles. Each is checked in the *rendered text*, so the statement a hospital
receives is what is compared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dicomnet.archive.schema import COLUMNS
from dicomnet.cli.main import main
from dicomnet.conformance import default_data_dir, list_profiles, load_profile, render

from .test_render import md_table, parse_contexts

RENDERED = default_data_dir() / "rendered"
REGENERATE = "dicomnet conformance render --all -o conformance/rendered"

VERIFICATION = "1.2.840.10008.1.1"
COMMITMENT = "1.2.840.10008.1.20.1"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
MWL = "1.2.840.10008.5.1.4.31"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
SC = "1.2.840.10008.5.1.4.1.1.7"

SCU = (True, False)
SCP = (False, True)
IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"
EBE = "1.2.840.10008.1.2.2"
NATIVE = {IVR, ELE, EBE}

# name -> facts from the seed document.
#   roles: SOP class -> (SCU, SCP); "exact" says whether the table must hold only these
#   title, associations (0 = unlimited), pdu (maximum PDU received), charsets
#   timers: rendered timer label prefix -> value as rendered
#   statuses: (service, code) pairs of the status tables
#   keys: query model -> number of keys listed
SEED: dict[str, dict[str, object]] = {
    # 000 RadZen DicomArk §5.2.1 (Inbound Server), §5.2.2 (Send Queue), §7.
    "dicomark-inbound": {
        "roles": {VERIFICATION: SCP, CT: SCP, MR: SCP, SC: SCP},
        "exact": False,
        "title": "DICOMARK",
        "associations": "unlimited",
        "pdu": 16384,
        "charsets": (),
        "statuses": {("C-ECHO", "0000"), ("C-STORE", "0000"), ("C-STORE", "Other")},
        "substitution": True,
    },
    "dicomark-send-queue": {
        "roles": {CT: SCU, MR: SCU, SC: SCU},
        "exact": False,
        "title": "DICOMARK",
        "associations": "1",
        "pdu": 16384,
        "charsets": (),
        "statuses": {("C-STORE", "Any")},
        "substitution": True,
    },
    # 002 Flux: Tables 3.1, 3.3, 3.6, 3.8, 3.9, 3.11, 3.13, 3.14, 3.16, 3.18; §4 ISO_IR 100.
    "flux-find-scu": {
        "proposed": {PATIENT_FIND: NATIVE, MWL: NATIVE},  # Table 3.5
        "roles": {PATIENT_FIND: SCU, MWL: SCU},
        "exact": True,
        "title": "FLUX_FIND",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 100",),
        "timers": {
            "Waiting for A-ASSOCIATE-AC/RJ": "1 s",
            "DIMSE": "1 s",
            "TCP connect": "no timeout",
        },
        "statuses": {("C-FIND", "0000"), ("C-FIND", "FE0*"), ("C-FIND", "Other")},
        "substitution": False,
    },
    "flux-store-scu": {
        "proposed": {SC: NATIVE},  # Table 3.10, first group
        "roles": {SC: SCU},
        "exact": True,
        "title": "FLUX_STORE",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 100",),
        "timers": {"Waiting for A-ASSOCIATE-AC/RJ": "1 s", "DIMSE": "1 s"},
        "statuses": {("C-STORE", "0000"), ("C-STORE", "B00*"), ("C-STORE", "Other")},
        "substitution": False,
    },
    "flux-print-scu": {
        "proposed": {"1.2.840.10008.5.1.1.9": NATIVE, "1.2.840.10008.5.1.1.18": NATIVE},
        "roles": {"1.2.840.10008.5.1.1.9": SCU, "1.2.840.10008.5.1.1.18": SCU},
        "exact": True,
        "title": "FLUX_PRINT",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 100",),
        "timers": {"Waiting for A-ASSOCIATE-AC/RJ": "1 s", "DIMSE": "1 s"},
        "statuses": {
            ("N-CREATE, N-SET, N-ACTION", "0000"),
            ("N-CREATE, N-SET, N-ACTION", "B0**"),
            ("N-CREATE, N-SET, N-ACTION", "Other"),
        },
        "substitution": False,
    },
    # 001 MedDream: Tables 4, 13, 19, the timeouts of §4.4, status tables; UTF-8.
    "meddream-storage-server": {
        "roles": {VERIFICATION: SCP, COMMITMENT: SCP, CT: SCP, MR: SCP},
        "exact": False,
        "title": "DCMRCV",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 192",),
        "timers": {"Waiting for A-ASSOCIATE-AC/RJ": "5 s", "DIMSE": "60 s"},
        "statuses": {("C-STORE", "0000"), ("C-STORE", "0110")},
        "substitution": True,
    },
    "meddream-qr-client": {
        "proposed": {u: {IVR, ELE} for u in (STUDY_FIND, STUDY_MOVE, PATIENT_FIND, PATIENT_MOVE)},
        "roles": {STUDY_FIND: SCU, STUDY_MOVE: SCU, PATIENT_FIND: SCU, PATIENT_MOVE: SCU},
        "exact": True,
        "title": "DCMQR",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 192",),
        "timers": {
            "Waiting for A-ASSOCIATE-AC/RJ": "5 s",
            "DIMSE": "60 s",
            "Waiting for A-RELEASE-RP": "5 s",
        },
        "statuses": {("C-FIND", "0000"), ("C-FIND", "FF00")},
        "substitution": True,
    },
    "meddream-storage-client": {
        "roles": {CT: SCU, MR: SCU},
        "exact": False,
        "title": "DCMSND",
        "associations": "1",
        "pdu": 16384,
        "charsets": ("ISO_IR 192",),
        "timers": {"DIMSE": "60 s"},
        "statuses": {
            ("C-STORE", "0000"),
            ("C-STORE", "B000"),
            ("C-STORE", "B006"),
            ("C-STORE", "B007"),
            ("C-STORE", "Others"),
        },
        "substitution": True,
    },
    # 003 LifeSys: Tables 1.2, 1.8, 1.21, 1.39, 1.48, 1.49, status tables, 1.32/1.33, 1.45.
    "lifesys-storage": {
        "roles": {VERIFICATION: (True, True), COMMITMENT: SCP, CT: SCP, MR: SCP},
        "exact": False,
        "title": "STORE_SCP",
        "associations": "10",
        "pdu": 16352,
        "charsets": ("ISO_IR 192",),
        "timers": {"ARTIM": "5 s", "Waiting for A-ASSOCIATE-AC/RJ": "600 s", "DIMSE": "600 s"},
        "statuses": {
            ("C-ECHO", "0000"),
            ("C-STORE", "0000"),
            ("C-STORE", "0110"),
            ("C-STORE", "B000"),
            ("C-STORE", "B007"),
            ("N-ACTION", "0000"),
            ("N-ACTION", "0110"),
            ("N-ACTION", "0120"),
            ("N-ACTION", "0121"),
            ("N-EVENT-REPORT", "0000"),
            ("N-EVENT-REPORT", "0107"),
            ("N-EVENT-REPORT", "Any"),
        },
        "substitution": True,
    },
    "lifesys-qr": {
        "roles": {VERIFICATION: (True, True), PATIENT_FIND: SCP, STUDY_MOVE: SCP, CT: SCU},
        "exact": False,
        "title": "QR_SCP",
        "associations": "10",
        "pdu": 16352,
        "charsets": ("ISO_IR 192",),
        "timers": {"ARTIM": "5 s", "DIMSE": "600 s"},
        "statuses": {
            ("C-FIND", "0110"),
            ("C-FIND", "FE00"),
            ("C-FIND", "FF00"),
            ("C-MOVE", "A702"),
            ("C-MOVE", "A801"),
            ("C-MOVE", "A900"),
            ("C-MOVE", "Cxxx"),
            ("C-STORE", "B007"),
        },
        "keys": {PATIENT_FIND: 23, STUDY_FIND: 23},
        "substitution": True,
    },
    "lifesys-mwl": {
        "accepted": {VERIFICATION: {IVR}, MWL: {IVR, ELE}},  # Table 1.43
        "roles": {VERIFICATION: SCP, MWL: SCP},
        "exact": True,
        "title": "MWL_SCP",
        "associations": "10",
        "pdu": 16352,
        "charsets": ("ISO_IR 192",),
        "timers": {"DIMSE": "600 s"},
        "statuses": {
            ("C-ECHO", "0000"),
            ("C-FIND", "0000"),
            ("C-FIND", "0110"),
            ("C-FIND", "FE00"),
            ("C-FIND", "FF00"),
        },
        "keys": {MWL: 9},
        "substitution": True,
    },
    # 004 Kodak: §3.1-3.4, status lists of the Disk- and Memory-Server, Table 8 keys; §6.
    "kodak-disk-server": {
        "roles": {VERIFICATION: SCP, STUDY_FIND: SCP, STUDY_MOVE: SCP, CT: (True, True)},
        "exact": False,
        "title": "DISK_SERVER",
        "associations": "unlimited",
        "pdu": 16384,
        "charsets": (),
        "statuses": {
            ("C-STORE", "A700"),
            ("C-STORE", "B000"),
            ("C-STORE", "C000"),
            ("C-MOVE", "A702"),
            ("C-MOVE", "A801"),
            ("C-FIND", "A700"),
            ("C-FIND", "C000"),
        },
        "keys": {STUDY_FIND: 20},
        "substitution": True,
    },
    "kodak-memory-server": {
        "roles": {VERIFICATION: SCP, CT: SCP, MR: SCP},
        "exact": False,
        "title": "MEMORY_SERVER",
        "associations": "unlimited",
        "pdu": 16384,
        "charsets": (),
        "statuses": {("C-STORE", "A700"), ("C-STORE", "B000"), ("C-STORE", "C000")},
        "substitution": True,
    },
    "kodak-web-server": {
        "proposed": {STUDY_FIND: NATIVE},  # Table 15
        "roles": {STUDY_FIND: SCU},
        "exact": True,
        "title": "WEB_SERVER",
        "associations": "unlimited",
        "pdu": 16384,
        "charsets": (),
        "statuses": set(),
        "substitution": False,
    },
    "kodak-memory-manager": {
        "proposed": {STUDY_MOVE: NATIVE},  # Table 17 (its FIND UID is a typo for MOVE)
        "roles": {STUDY_MOVE: SCU},
        "exact": True,
        "title": "MEMORY_MANAGER",
        "associations": "unlimited",
        "pdu": 16384,
        "charsets": (),
        "statuses": set(),
        "substitution": False,
    },
}

# dicomnet's own profiles (no seed document).
OWN = {"dicomnet-serve", "dicomnet-printer", "dicomnet-verification"}

# dicomnet serve: the facts are the code's, not a document's.
SERVE_STATUSES = {
    ("C-STORE", "0000"),
    ("C-STORE", "A700"),
    ("C-STORE", "C000"),
    ("C-FIND", "FF00"),
    ("C-FIND", "FE00"),
    ("C-FIND", "A900"),
    ("C-FIND", "C001"),
    ("C-FIND", "A700"),
    ("C-MOVE", "A801"),
    ("C-MOVE", "A702"),
    ("C-MOVE", "B000"),
    ("N-ACTION", "0110"),
    ("N-EVENT-REPORT", "0112"),
}

# PS3.2 Annex A: the sections a statement has (numbering is the renderer's).
ANNEX_A_SECTIONS = (
    "Conformance Statement Overview",
    "Introduction",
    "Revision History",
    "Audience",
    "Remarks",
    "Terms and Abbreviations",
    "References",
    "Networking",
    "Implementation Model",
    "Application Data Flow",
    "Functional Definition of AEs",
    "Sequencing of Real-World Activities",
    "AE Specifications",
    "SOP Classes",
    "Association Policies",
    "General",
    "Number of Associations",
    "Asynchronous Nature",
    "Implementation Identifying Information",
    "Association Initiation Policy",
    "Association Acceptance Policy",
    "SOP Specific Conformance",
    "Network Interfaces",
    "Physical Network Interface",
    "Additional Protocols",
    "IPv4 and IPv6 Support",
    "Configuration",
    "AE Title/Presentation Address Mapping",
    "Parameters",
    "Media Interchange",
    "Support of Character Sets",
    "Security",
    "Security Profiles",
    "Association Level Security",
    "Application Level Security",
    "Annexes",
    "IOD Contents",
    "Data Dictionary of Private Attributes",
    "Coded Terminology and Templates",
    "Grayscale Image Consistency",
    "Standard Extended, Specialized and Private SOP Classes",
    "Private Transfer Syntaxes",
)


def rendered(name: str) -> str:
    return (RENDERED / f"{name}.md").read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Heading text (without its number) -> the text up to the next heading of any level."""
    out: dict[str, str] = {}
    parts = re.split(r"^#+ (.+)$", text, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        out.setdefault(re.sub(r"^[0-9.]+ ", "", heading), body)
    return out


def kv(text: str, caption: str) -> dict[str, str]:
    return {row[0]: row[1] for row in md_table(text, caption)}


def statuses(text: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for caption in ("Statuses returned", "Handling of statuses received"):
        if f": {caption}**" in text:
            out |= {(row[0], row[3]) for row in md_table(text, caption)}
    return out


# ---------------------------------------------------------------------- drift


def test_every_profile_has_a_committed_rendering() -> None:
    assert sorted(p.stem for p in RENDERED.glob("*.md")) == sorted(list_profiles())
    assert set(SEED) | OWN == set(list_profiles())


@pytest.mark.parametrize("name", list_profiles())
def test_committed_rendering_has_not_drifted(name: str) -> None:
    assert rendered(name) == render(load_profile(name), "md"), f"re-render with: {REGENERATE}"


# ---------------------------------------------------------------------- seed tables


@pytest.mark.parametrize("name", sorted(SEED))
def test_rendered_statement_matches_the_seed_tables(name: str) -> None:
    seed = SEED[name]
    text = rendered(name)
    roles = {row[1]: (row[2] == "Yes", row[3] == "Yes") for row in md_table(text, "SOP classes")}
    expected_roles = seed["roles"]
    assert isinstance(expected_roles, dict)
    if seed["exact"]:
        assert roles == expected_roles
    else:
        assert {uid: roles.get(uid) for uid in expected_roles} == expected_roles
    assert md_table(text, "Local AE title")[0][1] == seed["title"]
    assert (
        kv(text, "Number of associations")["Maximum number of simultaneous associations"]
        == seed["associations"]
    )
    assert f"Maximum PDU size received: {seed['pdu']} bytes." in text
    charsets = seed["charsets"]
    assert isinstance(charsets, tuple)
    body = sections(text)["Support of Character Sets"]
    if charsets:
        assert all(cs in body for cs in charsets)
    else:
        assert "default character repertoire" in body
    timers = kv(text, "Timers")
    for prefix, value in dict(seed.get("timers", {})).items():  # type: ignore[call-overload]
        (label,) = [t for t in timers if t.startswith(prefix)]
        assert timers[label] == value, label
    assert statuses(text) >= seed["statuses"]  # type: ignore[operator]
    for table, caption in (("proposed", "Proposed"), ("accepted", "Accepted")):
        if table in seed:
            contexts = parse_contexts(text, f"{caption} presentation contexts")
            assert {uid: ts for uid, (ts, _, _) in contexts.items()} == seed[table]
    for model, count in dict(seed.get("keys", {})).items():  # type: ignore[call-overload]
        caption = f"{load_profile(name).registry.name_of(model)}: supported keys"
        assert len(md_table(text, caption)) == count


@pytest.mark.parametrize("name", sorted(SEED))
def test_tls_substitution_is_recorded_where_the_document_names_a_retired_profile(
    name: str,
) -> None:
    security = sections(rendered(name))["Security Profiles"]
    if SEED[name]["substitution"]:
        assert "Substitution: the source document names" in security
        assert "Non-Downgrading BCP 195 TLS Secure Transport Connection Profile" in security
        assert "TLS 1.0" in security
    else:
        assert "Substitution" not in security


def test_lifesys_qr_key_matching_types_are_the_documents() -> None:
    # Table 1.32 (Patient Root): Patient's Name S,*,U; Study Date S,U,R; Study Instance UID
    # S,U,L; Modality S,U,L is not stated - the rendered cells are compared for three keys.
    rows = md_table(rendered("lifesys-qr"), "Patient Root Query/Retrieve Information Model")
    by_tag = {row[2]: row[4] for row in rows}
    assert set(by_tag["(0010,0010)"].split(", ")) == {"S", "*", "U"}
    assert "R" in by_tag["(0008,0020)"].split(", ")
    assert "L" in by_tag["(0020,000D)"].split(", ")


# ---------------------------------------------------------------------- dicomnet serve


@pytest.mark.parametrize("name", list_profiles())
def test_every_annex_a_section_is_present_and_not_empty(name: str) -> None:
    found = sections(rendered(name))
    missing = [s for s in ANNEX_A_SECTIONS if s not in found]
    assert not missing
    # A section with sub-sections may be only a heading; a leaf must say something.
    leaves = [s for s in ANNEX_A_SECTIONS if s in found and found[s].strip() == ""]
    parents = {
        "Introduction",
        "Networking",
        "Implementation Model",
        "AE Specifications",
        "Association Policies",
        "Network Interfaces",
        "Configuration",
        "Security",
        "Annexes",
    }
    assert set(leaves) <= parents
    assert "source document: )" not in rendered(name)
    if name in OWN:
        assert "source document" not in rendered(name).split("\n", 3)[2]
        assert "Not stated in the source document" not in rendered(name)


def test_dicomnet_serve_statement_is_complete() -> None:
    text = rendered("dicomnet-serve")
    found = sections(text)
    assert "dicomnet's own profile" in text.splitlines()[2]
    # No section of the hospital's copy falls back to "the document does not say".
    assert "Not stated in the source document" not in text
    for section in ("Application Data Flow", "Sequencing of Real-World Activities", "IOD Contents"):
        assert len(found[section].strip()) > 40, section
    assert statuses(text) == SERVE_STATUSES
    keys = md_table(text, "Patient Root Query/Retrieve Information Model - FIND: supported keys")
    tags = {int(row[2].strip("()").replace(",", ""), 16) for row in keys}
    assert tags == set(COLUMNS)  # exactly the archive index's columns
    assert "Non-Downgrading BCP 195" in found["Security Profiles"]
    assert "Substitution" not in found["Security Profiles"]


def test_render_all_writes_every_profile(tmp_path: Path) -> None:
    assert main(["conformance", "render", "--all", "-o", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.iterdir()) == sorted(list_profiles())
    assert (tmp_path / "lifesys-mwl.md").read_text(encoding="utf-8") == rendered("lifesys-mwl")
    assert main(["conformance", "render", "--all"]) == 2
