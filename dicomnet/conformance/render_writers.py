"""Blocks of a rendered statement (headings, paragraphs, tables) and their Markdown/HTML writers.

Both writers take the same list of blocks, so the two formats carry the same
content. Inline markup is tiny: ``[text](#anchor)`` links and ```code``` spans.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Block", "BlockList", "Heading", "Paragraph", "Table", "html_page", "markdown"]


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Table


class BlockList:
    """Collects blocks; tables are numbered in order."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.table_number = 0

    def heading(self, level: int, text: str, anchor: str = "") -> None:
        """Append a heading (``anchor`` makes it a link target)."""
        self.blocks.append(Heading(level, text, anchor))

    def para(self, text: str) -> None:
        """Append a paragraph."""
        self.blocks.append(Paragraph(text))

    def table(self, caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Append a numbered table."""
        self.table_number += 1
        self.blocks.append(
            Table(
                f"Table {self.table_number}: {caption}",
                tuple(headers),
                tuple(tuple(row) for row in rows),
            )
        )


# ---------------------------------------------------------------------- writers


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            if block.anchor:
                out.append(f'<a id="{block.anchor}"></a>')
                out.append("")
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
        else:
            out.append(f"**{block.caption}**")
            out.append("")
            out.append("| " + " | ".join(block.headers) + " |")
            out.append("|" + "|".join("---" for _ in block.headers) + "|")
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
        out.append("")
    return "\n".join(out)


def _html_inline(text: str) -> str:
    """Escape ``text`` and turn ``[label](#anchor)`` links and ``code`` spans into HTML."""
    escaped = html.escape(text)
    escaped = re.sub(r"\[([^\]]+)\]\(#([a-z0-9-]+)\)", r'<a href="#\2">\1</a>', escaped)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def html_page(blocks: Sequence[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>table{border-collapse:collapse} td,th{border:1px solid #999;padding:2px 6px}"
        "</style>",
        "</head>",
        "<body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            out.append(f"<h{block.level}{anchor}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_html_inline(block.text)}</p>")
        else:
            out.append("<table>")
            out.append(f"<caption>{html.escape(block.caption)}</caption>")
            out.append(
                "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.headers) + "</tr>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            out.append("</table>")
    out.extend(["</body>", "</html>", ""])
    return "\n".join(out)
