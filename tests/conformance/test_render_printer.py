"""The rendered statement of dicomnet's film printer: its facts, and no drift."""

from __future__ import annotations

from dicomnet.conformance import default_data_dir, load_profile, render

RENDERED = default_data_dir() / "rendered" / "dicomnet-printer.md"


def test_printer_statement_lists_the_print_classes_and_statuses() -> None:
    text = RENDERED.read_text(encoding="utf-8")
    for name in (
        "Basic Grayscale Print Management Meta SOP Class",
        "Basic Color Print Management Meta SOP Class",
        "Print Job SOP Class",
        "Presentation LUT SOP Class",
        "Basic Annotation Box SOP Class",
    ):
        assert f"| {name} |" in text, name
    for code in ("B604", "B609", "B60A", "C603", "C600", "0106", "0120"):
        assert f"| {code} |" in text, code


def test_checked_in_printer_rendering_has_not_drifted() -> None:
    fresh = render(load_profile("dicomnet-printer"), "md")
    assert RENDERED.read_text(encoding="utf-8") == fresh, (
        "re-render with: dicomnet conformance render dicomnet-printer"
        " -o conformance/rendered/dicomnet-printer.md"
    )
