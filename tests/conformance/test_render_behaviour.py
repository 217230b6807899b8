"""The behaviour keys of a profile in its rendered statement, and that changing one shows.

Statuses (situations, outcomes, retry), per-service and closing timers, coercion,
query constraints, relational extended negotiation and C-MOVE sub-operation rules
each have a place in the PS3.2 Annex A layout (3.2.4 acceptance, 3.2.6 SOP specific
conformance, 3.4.2 parameters). The first tests read the committed renderings (the
expected values are the seed documents' facts); the last edits one key in a copy of a
profile and requires the statement to change where that key is shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.conformance import load_profile, render
from dicomnet.conformance.locate import profiles_dir

from .test_render import md_table
from .test_rendered_statements import rendered, sections

PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"


def returned(text: str) -> dict[tuple[str, str], str]:
    return {(r[0], r[3]): r[5] for r in md_table(text, "Statuses returned")}


def received(text: str) -> dict[tuple[str, str], str]:
    return {(r[0], r[3]): r[5] for r in md_table(text, "Handling of statuses received")}


def timers(text: str) -> dict[str, str]:
    return {r[0]: r[1] for r in md_table(text, "Timers")}


def relational(text: str) -> dict[str, str]:
    caption = "SOP class extended negotiation (relational queries and retrieval)"
    return {r[1]: r[2] for r in md_table(text, caption)}


def test_lifesys_qr_statuses_constraints_and_relational() -> None:
    text = rendered("lifesys-qr")
    # 003 §4.2.2: 0110 on a database failure (where PS3.4 has C001/A700).
    assert returned(text)[("C-FIND", "0110")] == "processing failure"
    assert returned(text)[("C-MOVE", "A900")] == "identifier does not match SOP class"
    # Table 1.27: warnings from the destination are "considered successful".
    assert received(text)[("C-STORE", "B007")] == "success: counted as done (stated)"
    assert received(text)[("C-STORE", "Any")].startswith("failure: not done")
    # §"Specific Conformance for Query SOP Classes": Patient ID / Patient's Name rules.
    (patient, study) = md_table(text, "C-FIND identifier constraints (answered A900 when broken)")
    assert patient[1:4] == ["PATIENT", "(0010,0020)", "(0010,0010) present"]
    assert study[1:4] == ["STUDY", "(0010,0020) or (0010,0010)", "another STUDY key has a value"]
    assert relational(text)[PATIENT_FIND] == "granted when requested"
    # In PS3.2's place for it: the acceptance policy, before the SOP specific conformance.
    where = text.index("relational queries and retrieval)**")
    assert text.index("#### 3.2.4 Association Acceptance") < where < text.index("#### 3.2.6")
    assert timers(text)["Closing: ARTIM after sending A-RELEASE-RP or A-ABORT"] == "16 s"


def test_kodak_disk_server_coercion_relational_and_suboperations() -> None:
    text = rendered("kodak-disk-server")
    body = sections(text)["Coercion of received attributes"]
    assert "stored with VR OB" in body and "then B000" in body  # §3.1.3.2.2.1
    assert returned(text)[("C-STORE", "B000")] == "coercion"
    assert returned(text)[("C-STORE", "A700")] == "out of resources"
    assert received(text)[("C-STORE", "Other")] == (
        "abort: not done; the association is aborted (stated)"
    )
    # §3.1.3.3.2 / §3.1.3.4.2: no relational C-MOVE, no relational search.
    assert relational(text)[STUDY_MOVE].startswith("refused")
    assert relational(text)[STUDY_FIND].startswith("refused")
    rules = {r[0]: r[1] for r in md_table(text, "C-MOVE sub-operations")}
    assert rules["A failed C-STORE sub-operation"].endswith("answered A702")
    assert rules["Waiting for each C-STORE-RSP"] == "no timeout"  # §3.1.2.1.2.1
    assert timers(text)["Waiting for the responses to a C-STORE request"] == "no timeout"


def test_meddream_per_service_and_closing_timers() -> None:
    # 001 Table 22: C-FIND-RSP 60 s, C-MOVE-RSP 600 s, closing timeout 500 ms.
    client = timers(rendered("meddream-qr-client"))
    assert client["Waiting for the responses to a C-FIND request"] == "60 s"
    assert client["Waiting for the responses to a C-MOVE request"] == "600 s"
    server = timers(rendered("meddream-storage-server"))
    assert server["Closing: ARTIM after sending A-RELEASE-RP or A-ABORT"] == "0.5 s"


def test_storage_acceptor_without_coercion_says_so() -> None:
    body = sections(rendered("lifesys-storage"))["Coercion of received attributes"]
    assert body.strip() == "None: instances are stored as received; no attribute is coerced."
    assert "Coercion of received attributes" not in rendered("flux-store-scu")


# (profile, text in the TOML, its replacement, shown before, shown after)
EDITS = [
    ("lifesys-storage", "closing = 16 ", "closing = 20 ", "A-ABORT | 16 s |", "A-ABORT | 20 s |"),
    (
        "meddream-qr-client",
        '"C-MOVE" = 600',
        '"C-MOVE" = 300',
        "a C-MOVE request | 600 s |",
        "a C-MOVE request | 300 s |",
    ),
    (
        "kodak-disk-server",
        "pixel_data_ow_to_ob_8bit = true",
        "pixel_data_ow_to_ob_8bit = false",
        "stored with VR OB",
        "no attribute is coerced",
    ),
    (
        "kodak-disk-server",
        'relational = false                # §3.1.3.3.2: "does not support relational C-MOVE',
        'relational = true                 # §3.1.3.3.2: "does not support relational C-MOVE',
        f"| {STUDY_MOVE} | refused",
        f"| {STUDY_MOVE} | granted when requested |",
    ),
    (
        "kodak-disk-server",
        'on_failure = "stop"',
        'on_failure = "continue"',
        "the C-MOVE answered A702",
        "the remaining sub-operations go on",
    ),
    (
        "lifesys-qr",
        'service = "C-FIND"\nstatus = "Failure"\ncode = "0110"\n'
        'situations = ["processing-failure"]',
        'service = "C-FIND"\nstatus = "Failure"\ncode = "0110"\nsituations = ["out-of-resources"]',
        "logged. | processing failure |",
        "logged. | out of resources |",
    ),
    (
        "lifesys-qr",
        'code = "B007"\noutcome = "success"',
        'code = "B007"\noutcome = "retry"',
        "| B007 | Considered successful. | success",
        "| B007 | Considered successful. | retry: sent again after 1 s, at most 3 attempts",
    ),
    (
        "lifesys-qr",
        'level = "PATIENT"\nvalue_in = ["0010,0020"]',
        'level = "PATIENT"\nvalue_in = ["0010,0021"]',
        "| PATIENT | (0010,0020) |",
        "| PATIENT | (0010,0021) |",
    ),
    (
        "dicomark-inbound",
        "[timers]\nartim = 5",
        "[timers]\nartim = 5\nclosing = 2",
        "| 5 s (the ARTIM value) |",
        "A-ABORT | 2 s |",
    ),
]


@pytest.mark.parametrize("edit", EDITS, ids=[f"{e[0]}:{e[4][:24]}" for e in EDITS])
def test_changing_a_behaviour_key_changes_the_statement(
    tmp_path: Path, edit: tuple[str, str, str, str, str]
) -> None:
    name, old, new, before, after = edit
    source = (profiles_dir() / f"{name}.toml").read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    copy = tmp_path / f"{name}.toml"
    copy.write_text(source.replace(old, new), encoding="utf-8")
    original = render(load_profile(name), "md")
    changed = render(load_profile(copy), "md")
    assert before in original and after not in original
    assert after in changed and before not in changed


def test_retry_rule_is_rendered_with_its_values(tmp_path: Path) -> None:
    source = (profiles_dir() / "flux-store-scu.toml").read_text(encoding="utf-8")
    edited = source.replace('outcome = "abort"', 'outcome = "retry"') + (
        "\n[retry]\nattempts = 4\ndelay = 2.5\n"
    )
    copy = tmp_path / "flux-store-scu.toml"
    copy.write_text(edited, encoding="utf-8")
    text = render(load_profile(copy), "md")
    assert "sent again after 2.5 s, at most 4 attempts in all, then a failure (stated)" in text
    assert "Retry: a C-STORE answered with a status whose outcome is retry" in text
