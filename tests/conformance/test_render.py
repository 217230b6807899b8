"""The rendered statement: LifeSys Storage against the document's tables, and no drift."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dicomnet.conformance import default_data_dir, list_profiles, load_profile, render

RENDERED = default_data_dir() / "rendered" / "lifesys-storage.md"

IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"

# LifeSys (003_f5322d9008bf32ef.txt) Table 1.2, "SOP Classes for Storage AE": UID -> (SCU, SCP).
TABLE_1_2 = {
    "1.2.840.10008.1.1": (True, True),
    "1.2.840.10008.1.20.1": (False, True),
    "1.2.840.10008.5.1.1.29": (False, True),
    "1.2.840.10008.5.1.1.30": (False, True),
    "1.2.840.10008.5.1.4.1.1.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.1.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.2": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.2.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.3": (False, True),
    "1.2.840.10008.5.1.4.1.1.1.3.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.2": (False, True),
    "1.2.840.10008.5.1.4.1.1.3.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.4": (False, True),
    "1.2.840.10008.5.1.4.1.1.4.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.6.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.7": (False, True),
    "1.2.840.10008.5.1.4.1.1.7.2": (False, True),
    "1.2.840.10008.5.1.4.1.1.7.3": (False, True),
    "1.2.840.10008.5.1.4.1.1.7.4": (False, True),
    "1.2.840.10008.5.1.4.1.1.12.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.12.2": (False, True),
    "1.2.840.10008.5.1.4.1.1.20": (False, True),
    "1.2.840.10008.5.1.4.1.1.66": (False, True),
    "1.2.840.10008.5.1.4.1.1.77.1.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.77.1.2": (False, True),
    "1.2.840.10008.5.1.4.1.1.77.1.3": (False, True),
    "1.2.840.10008.5.1.4.1.1.77.1.4": (False, True),
    "1.2.840.10008.5.1.4.1.1.128": (False, True),
    "1.2.840.10008.5.1.4.1.1.481.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.11.1": (False, True),
    "1.2.840.10008.5.1.4.1.1.88.11": (False, True),
    "1.2.840.10008.5.1.4.1.1.88.22": (False, True),
    "1.2.840.10008.5.1.4.1.1.88.33": (False, True),
    "1.2.840.10008.5.1.4.1.1.88.59": (False, True),
}

# Table 1.10 (non-image) and Table 1.11 (image) transfer syntaxes.
NON_IMAGE = {IVR, ELE}
IMAGE = NON_IMAGE | {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
}

# Table 1.9, "Accepted Presentation Contexts for Storage AE" (all role SCP, no extended
# negotiation). Printed UIDs that are wrong: "1.2.840.10008.5.1.4.1.111.1" (GSPS) and
# "1.2.840.10008.5.1.4.1.188.xx" (the SR and KOS rows).
TABLE_1_9 = {
    "1.2.840.10008.1.1": {IVR},
    "1.2.840.10008.1.20.1": NON_IMAGE,
    "1.2.840.10008.5.1.1.29": IMAGE,
    "1.2.840.10008.5.1.1.30": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.1.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.2": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.2.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.3": IMAGE,
    "1.2.840.10008.5.1.4.1.1.1.3.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.2": IMAGE,
    "1.2.840.10008.5.1.4.1.1.3.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.4": IMAGE,
    "1.2.840.10008.5.1.4.1.1.4.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.6.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.7": IMAGE,
    "1.2.840.10008.5.1.4.1.1.12.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.12.2": IMAGE,
    "1.2.840.10008.5.1.4.1.1.20": IMAGE,
    "1.2.840.10008.5.1.4.1.1.66": NON_IMAGE,
    "1.2.840.10008.5.1.4.1.1.77.1.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.77.1.2": IMAGE,
    "1.2.840.10008.5.1.4.1.1.77.1.3": IMAGE,
    "1.2.840.10008.5.1.4.1.1.77.1.4": IMAGE,
    "1.2.840.10008.5.1.4.1.1.128": IMAGE,
    "1.2.840.10008.5.1.4.1.1.481.1": IMAGE,
    "1.2.840.10008.5.1.4.1.1.11.1": NON_IMAGE,
    "1.2.840.10008.5.1.4.1.1.88.11": NON_IMAGE,
    "1.2.840.10008.5.1.4.1.1.88.22": NON_IMAGE,
    "1.2.840.10008.5.1.4.1.1.88.33": NON_IMAGE,
    "1.2.840.10008.5.1.4.1.1.88.59": NON_IMAGE,
}
# Table 1.2 lists the multi-frame Secondary Capture classes as SCP, Table 1.9 omits them: the
# profile accepts them with the image syntaxes, and nothing else is added.
ADDED_TO_TABLE_1_9 = {
    "1.2.840.10008.5.1.4.1.1.7.2": IMAGE,
    "1.2.840.10008.5.1.4.1.1.7.3": IMAGE,
    "1.2.840.10008.5.1.4.1.1.7.4": IMAGE,
}


def md_table(text: str, caption: str) -> list[list[str]]:
    """Rows of the Markdown table whose bold caption contains ``caption``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("**") and caption in line)
    rows = []
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def group_members(text: str) -> dict[str, set[str]]:
    """Transfer syntax group anchors of the rendered text -> the UIDs of their tables."""
    groups = {}
    for anchor in re.findall(r'<a id="(ts-[a-z0-9-]+)"></a>', text):
        tail = text.split(f'<a id="{anchor}"></a>', 1)[1]
        heading = re.search(r"^#{4,5} (.+)$", tail, re.MULTILINE)
        assert heading is not None
        groups[anchor] = {row[1] for row in md_table(tail, heading.group(1))}
    return groups


def parse_contexts(text: str, caption: str) -> dict[str, tuple[set[str], str, str]]:
    """Abstract syntax UID -> (transfer syntax UIDs, role, extended negotiation)."""
    groups = group_members(text)
    contexts: dict[str, tuple[set[str], str, str]] = {}
    current = ""
    for _name, uid, ts_name, ts_uid, role, ext in md_table(text, caption):
        if uid:
            current = uid
            contexts[current] = (set(), role, ext)
        link = re.search(r"\(#(ts-[a-z0-9-]+)\)", ts_name)
        if link:
            contexts[current][0].update(groups[link.group(1)])
        else:
            contexts[current][0].add(ts_uid)
    return contexts


def test_rendered_lifesys_storage_sop_classes_match_table_1_2() -> None:
    text = RENDERED.read_text(encoding="utf-8")
    rows = md_table(text, "SOP classes")
    got = {uid: (scu == "Yes", scp == "Yes") for _name, uid, scu, scp in rows}
    assert got == TABLE_1_2


def test_rendered_lifesys_storage_contexts_match_tables_1_9_to_1_11() -> None:
    text = RENDERED.read_text(encoding="utf-8")
    contexts = parse_contexts(text, "Accepted presentation contexts")
    assert {uid: ts for uid, (ts, _, _) in contexts.items()} == TABLE_1_9 | ADDED_TO_TABLE_1_9
    assert {role for _, role, _ in contexts.values()} == {"SCP"}
    assert {ext for _, _, ext in contexts.values()} == {"None"}
    proposed = parse_contexts(text, "Proposed presentation contexts")  # Table 1.7
    assert proposed == {
        "1.2.840.10008.1.1": ({IVR}, "SCU", "None"),
        "1.2.840.10008.1.20.1": (NON_IMAGE, "SCP", "None"),
    }


def test_rendered_lifesys_storage_association_facts() -> None:
    text = RENDERED.read_text(encoding="utf-8")
    assert dict(map(tuple, md_table(text, "Number of associations"))) == {
        "Maximum number of simultaneous associations": "10",
        "Association requests past the limit": (
            "rejected: A-ASSOCIATE-RJ (2 transient, 3 provider, 2 local-limit-exceeded)"
        ),
    }
    titles = dict(map(tuple, md_table(text, "AE title policy")))
    assert titles["Association with another called AE title"] == (
        "accepted, with the Verification context only"
    )
    assert "Maximum PDU size received: 16352 bytes" in text
    assert "| 1.2.840.10008.3.1.1.1 |" in text  # application context name
    assert "ISO_IR 192" in text


def test_checked_in_rendering_has_not_drifted() -> None:
    fresh = render(load_profile("lifesys-storage"), "md")
    assert RENDERED.read_text(encoding="utf-8") == fresh, (
        "re-render with: dicomnet conformance render lifesys-storage"
        " -o conformance/rendered/lifesys-storage.md"
    )


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: set[str] = set()
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.hrefs.add(str(values["href"]).lstrip("#"))
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def test_html_rendering_has_the_same_content_and_working_links() -> None:
    profile = load_profile("lifesys-storage")
    page = render(profile, "html")
    parser = _Cells()
    parser.feed(page)
    assert set(TABLE_1_2) <= set(parser.cells)
    assert parser.hrefs and parser.hrefs <= parser.ids  # every group link has its anchor
    assert "Transfer Syntaxes for Image Storage Services" in parser.cells


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_renders_in_both_formats(name: str, tmp_path: Path) -> None:
    profile = load_profile(name)
    text = render(profile, "md")
    assert text.startswith(f"# {profile.system}: {profile.application_entity}")
    for uid, _scu, _scp in profile.sop_class_roles():
        assert f"| {uid} |" in text
    assert "</html>" in render(profile, "html")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(load_profile("lifesys-mwl"), "pdf")
