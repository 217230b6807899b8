"""Where a folder store puts each instance: flat, or by patient, study and series.

* :attr:`Layout.FLAT` - ``<root>/<SOPInstanceUID>.dcm``;
* :attr:`Layout.HIERARCHICAL` -
  ``<root>/<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.

The folder names come from the peer's data set, so each is escaped to be one
safe path component (:func:`path_component`): bytes other than ASCII letters,
digits, ``-``, ``_`` and ``.`` become ``%XX``, a leading ``.`` too (no hidden
folders, never ``.`` or ``..``), an empty or missing value is ``~none``
(``~`` is always escaped, so no value gives that name), and a value whose
escaped form is longer than :data:`MAX_COMPONENT` is cut and ended with a
digest of the whole. No value can name a folder outside its parent. The
file name is :func:`~dicomnet.storage.filenames.instance_filename`.

The layout is chosen per store folder and kept in it (the file
``<root>/.layout``, see :func:`settle_layout`), so a restart uses the same one.
"""

from __future__ import annotations

import hashlib
import os
from enum import Enum
from pathlib import Path, PurePath
from typing import Final

from .filenames import instance_filename
from .sinks import StorageError

__all__ = [
    "LAYOUT_FILE",
    "MAX_COMPONENT",
    "Layout",
    "LayoutMismatch",
    "hierarchical_path",
    "path_component",
    "read_layout",
    "settle_layout",
]

#: The file (in the store's root) that names the folder's layout.
LAYOUT_FILE: Final = ".layout"
#: Longest folder name made from a value (longer ones are cut and get a digest).
MAX_COMPONENT: Final = 96
#: The folder name of an empty or missing value.
NO_VALUE: Final = "~none"
_SAFE: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


class Layout(Enum):
    """How a folder store arranges its files."""

    FLAT = "flat"
    HIERARCHICAL = "hierarchical"


class LayoutMismatch(StorageError):
    """A folder was asked for a layout other than the one it has."""


def path_component(value: bytes | str) -> str:
    """``value`` (a data set's raw value, or text) as one safe folder name."""
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    raw = raw.strip(b" \0")
    if not raw:
        return NO_VALUE
    text = "".join(
        chr(byte) if byte in _SAFE and not (i == 0 and byte == 0x2E) else f"%{byte:02X}"
        for i, byte in enumerate(raw)
    )
    if len(text) > MAX_COMPONENT:
        digest = hashlib.sha256(raw).hexdigest()[:16]
        text = f"{text[: MAX_COMPONENT - 17].rstrip('%0123456789ABCDEF')}~{digest}"
    return text


def hierarchical_path(
    patient_id: bytes | str, study_uid: bytes | str, series_uid: bytes | str, sop_instance_uid: str
) -> PurePath:
    """The path of an instance under the store's root in :attr:`Layout.HIERARCHICAL`."""
    return PurePath(
        path_component(patient_id),
        path_component(study_uid),
        path_component(series_uid),
        instance_filename(sop_instance_uid),
    )


def read_layout(root: str | os.PathLike[str]) -> Layout | None:
    """The layout recorded in ``root``, or ``None`` if none is."""
    try:
        text = (Path(root) / LAYOUT_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutMismatch(f"{root}: cannot read {LAYOUT_FILE}: {exc}") from exc
    try:
        return Layout(text)
    except ValueError:
        raise LayoutMismatch(f"{root}: unknown layout {text!r} in {LAYOUT_FILE}") from None


def settle_layout(root: str | os.PathLike[str], requested: Layout | None = None) -> Layout:
    """The layout of the store folder ``root``, recorded there on first use.

    A folder that records a layout keeps it: ``requested`` (``None``: whatever
    it has) must be that one, else :class:`LayoutMismatch`. A folder without a
    record is flat if it already holds anything (stores made before layouts
    were recorded), else it takes ``requested`` (default flat); the choice is
    then written to ``<root>/.layout``.
    """
    folder = Path(root)
    recorded = read_layout(folder)
    if recorded is None:
        occupied = False
        if folder.is_dir():
            with os.scandir(folder) as entries:
                occupied = any(not entry.name.startswith(".") for entry in entries)
        recorded = Layout.FLAT if occupied or requested is None else requested
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f"{LAYOUT_FILE}.tmp"
        temp.write_text(recorded.value + "\n", encoding="ascii")
        os.replace(temp, folder / LAYOUT_FILE)
    if requested is not None and requested is not recorded:
        raise LayoutMismatch(
            f"{folder} is a {recorded.value} store; it cannot be used as {requested.value}"
        )
    return recorded
