"""The rows an archive's SQLite index holds for one instance, read straight from the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from dicomnet.archive.rows import LEVEL_COLUMNS

#: The parent levels of an instance and the alias of each one's table in :func:`indexed_row`.
PARENTS = (("PATIENT", "p"), ("STUDY", "st"), ("SERIES", "se"))


def indexed_row(db: Path, uid: str, *, instance_attrs: bool = True) -> dict[str, Any]:
    """Every column of instance ``uid`` and of its series, study and patient, by
    ``alias.column`` (``i.`` for the instance; its ``attrs`` only with ``instance_attrs``)."""
    names = [f"i.{c}" for c in LEVEL_COLUMNS["IMAGE"]] + (["i.attrs"] if instance_attrs else [])
    for level, alias in PARENTS:
        names += [f"{alias}.{c}" for c in LEVEL_COLUMNS[level]] + [f"{alias}.attrs"]
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            f"SELECT {', '.join(names)} FROM instance i JOIN series se ON i.series_fk = se.pk"
            " JOIN study st ON se.study_fk = st.pk JOIN patient p ON st.patient_fk = p.pk"
            " WHERE i.sop_uid = ?",
            (uid,),
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, uid
    return dict(zip(names, row, strict=True))
