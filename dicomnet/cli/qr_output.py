"""How the query commands print their matches: a table, DICOM JSON or CSV.

* ``table`` (the default): one row per match, one column per attribute of the
  request identifier (the level's usual keys in their order, then the ``-k``
  keys in theirs; Query/Retrieve Level and Specific Character Set left out),
  cells cut to :data:`CELL_WIDTH` characters. The table is printed when the
  query has ended (the column widths need every row).
* ``json``: a JSON array of the matches in the DICOM JSON Model (PS3.18 F.2),
  written as they arrive.
* ``csv``: a header row of keywords (the table's columns), then one row per
  match, as they arrive.

Several values are joined with ``\\`` as in the data set; a sequence's items
are shown as ``Keyword=value`` pairs, ``;`` between them, each item in ``[]``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset


__all__ = ["CELL_WIDTH", "FORMATS", "MatchWriter", "cell", "columns_of"]

FORMATS: Final = ("table", "json", "csv")
CELL_WIDTH: Final = 40
#: Attributes of the request that are not columns.
_NOT_COLUMNS: Final = frozenset({0x00080052, 0x00080005})


def columns_of(identifier: Dataset, preferred: Iterable[int] = ()) -> list[int]:
    """The tags shown as columns: the identifier's top-level attributes.

    Those in ``preferred`` come first, in its order; the others follow in tag order.
    """
    present = [int(elem.tag) for elem in identifier if int(elem.tag) not in _NOT_COLUMNS]
    first = [tag for tag in dict.fromkeys(preferred) if tag in present]
    return first + [tag for tag in present if tag not in first]


def _name(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag  # noqa: PLC0415 (loaded on first use)

    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _text(elem: DataElement) -> str:
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    if elem.VR == "SQ":
        return " ".join(
            "[" + "; ".join(f"{e.keyword or e.tag}={_text(e)}" for e in item) + "]"
            for item in elem.value or ()
        )
    value = elem.value
    if value is None or value == "":
        return ""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value)


def cell(ds: Dataset, tag: int) -> str:
    """The text of attribute ``tag`` in ``ds`` (empty when absent or empty)."""
    elem = ds.get(tag)
    return "" if elem is None else _text(elem)


def _cut(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "~"


class MatchWriter:
    """Writes matches to ``stream`` in ``fmt`` (see the module docstring).

    :meth:`add` each match, then :meth:`close` (which prints the table, or
    ends the JSON array). :attr:`count` is how many were added.
    """

    def __init__(self, stream: TextIO, fmt: str, columns: list[int]) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.columns = columns
        self.count = 0
        self._rows: list[list[str]] = []
        self._csv = csv.writer(stream) if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow([_name(tag) for tag in columns])

    def add(self, ds: Dataset) -> None:
        """One match."""
        if self.fmt == "json":
            text = json.dumps(ds.to_json_dict(), ensure_ascii=False)
            self.stream.write(("[\n" if self.count == 0 else ",\n") + text)
        elif self._csv is not None:
            self._csv.writerow([cell(ds, tag) for tag in self.columns])
        else:
            self._rows.append([_cut(cell(ds, tag)) for tag in self.columns])
        self.count += 1
        self.stream.flush()

    def close(self) -> None:
        """Finish the output."""
        if self.fmt == "json":
            self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.fmt == "table" and self._rows:
            header = [_name(tag) for tag in self.columns]
            widths = [
                max(len(header[i]), *(len(row[i]) for row in self._rows))
                for i in range(len(header))
            ]
            lines = [header, ["-" * width for width in widths], *self._rows]
            for line in lines:
                cells = (text.ljust(width) for text, width in zip(line, widths, strict=True))
                self.stream.write("  ".join(cells).rstrip() + "\n")
        self.stream.flush()
