"""The Storage SCP hands the indexed values of its walk to the index: same rows, no re-parse."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
from helpers.index_rows import PARENTS, indexed_row
from pydicom.dataset import Dataset
from query.fixtures import CT, archive_datasets

from dicomnet.ae import AE
from dicomnet.archive import SqliteIndex, ingest
from dicomnet.archive.entry import IndexEntry, entry_from_data_set, entry_from_file
from dicomnet.archive.ingest import IndexedStore
from dicomnet.archive.rows import LEVEL_COLUMNS
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.scu import store
from dicomnet.storage.sinks import InstanceInfo

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
SYNTAXES = (EXPLICIT, IMPLICIT, BIG, DEFLATED)


def _case(n: int, syntax: str, **values: object) -> tuple[Dataset, str]:
    ds = archive_datasets()[n % 5]
    # Each case its own patient, study and series: every level row is made from it.
    ds.PatientID = f"PAT{n}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.2.1125.7.{n}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.2.1125.8.{n}"
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.2.1125.9.{n}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    return ds, syntax


def _write(ds: Dataset, syntax: str, path: Path) -> Path:
    info = InstanceInfo(
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.SOPInstanceUID),
        transfer_syntax_uid=syntax,
    )
    path.write_bytes(file_header(info) + encode_dataset(ds, syntax))
    return path


def _expected(entry: IndexEntry) -> dict[str, Any]:
    names = {f"i.{c}" for c in LEVEL_COLUMNS["IMAGE"]}
    values: dict[str, Any] = {name: entry.columns.get(name[2:], "") for name in names}
    values["i.sop_class"] = entry.columns.get("sop_class") or entry.sop_class_uid
    values["i.attrs"] = entry.headers["IMAGE"]
    for level, alias in PARENTS:
        for column in LEVEL_COLUMNS[level]:
            values[f"{alias}.{column}"] = entry.columns.get(column, "")
        values[f"{alias}.attrs"] = entry.headers[level]
    return values


async def test_rows_from_the_walk_equal_rows_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reparsed: list[str] = []
    original = ingest.entry_from_data_set

    def counting(*args: Any, **kwargs: Any) -> IndexEntry | None:
        reparsed.append(kwargs["sop_instance_uid"])
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest, "entry_from_data_set", counting)
    cases = [_case(n, syntax) for n, syntax in enumerate(SYNTAXES)]
    cases += [
        _case(10, EXPLICIT, PatientName="", StudyDate="2024.01.10", StudyTime="10:15:00"),
        _case(11, IMPLICIT, PatientID="A\\B", StudyDescription="\\two"),
        _case(12, BIG, ReferringPhysicianName="SMITH^J^^", BodyPartExamined="HEAD "),
    ]
    latin = [
        _case(20, EXPLICIT, SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jörg"),
        _case(21, BIG, SpecificCharacterSet="ISO_IR 100", StudyDescription="Schädel"),
        _case(22, EXPLICIT, StudyDescription="x" * 1500),  # too long for the walk to capture
    ]
    deflated = [n for n, (_ds, syntax) in enumerate(cases) if syntax == DEFLATED]
    accepted = AcceptedContext(abstract_syntax=CT, transfer_syntaxes=SYNTAXES)
    index = await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False)
    indexed = IndexedStore(FolderStore(tmp_path / "store", fsync=False), index)
    ae = AE(
        "ARCHIVE",
        Policy(ae_title="ARCHIVE", accepted_contexts=(accepted,)),
        handlers=[StorageService(indexed)],
    )
    proposed = tuple(
        ProposedContext(abstract_syntax=CT, transfer_syntaxes=(syntax,)) for syntax in SYNTAXES
    )
    scu = AE("SCU", Policy(ae_title="SCU", proposed_contexts=proposed))
    files = tmp_path / "files"
    files.mkdir()
    try:
        async with await ae.serve("127.0.0.1", 0) as server:
            async with scu.associate("127.0.0.1", server.port, called_ae="ARCHIVE") as assoc:
                for n, (ds, syntax) in enumerate(cases + latin):
                    result = await store(assoc, _write(ds, syntax, files / f"{n}.dcm"))
                    assert result.status == 0, (n, syntax)
    finally:
        await index.close()
    db = tmp_path / "index.sqlite"
    for ds, syntax in cases + latin:
        uid = str(ds.SOPInstanceUID)
        data = encode_dataset(ds, syntax)
        found = indexed_row(db, uid)
        if syntax == DEFLATED:
            stored = tmp_path / "store" / f"{uid}.dcm"
            expected = entry_from_file(stored, source_ae_title="SCU")
        else:
            reference = entry_from_data_set(
                data,
                complete=True,
                sop_instance_uid=uid,
                sop_class_uid=CT,
                transfer_syntax_uid=syntax,
                path="",
                size=len(data),
            )
            assert reference is not None
            expected = reference
        assert found == _expected(expected), (uid, syntax)
    # Each row names the file its instance was stored in.
    with sqlite3.connect(db) as conn:
        paths = dict(conn.execute("SELECT sop_uid, path FROM instance").fetchall())
    assert paths == {
        str(ds.SOPInstanceUID): str(tmp_path / "store" / f"{ds.SOPInstanceUID}.dcm")
        for ds, _syntax in cases + latin
    }
    # Only what the walk cannot capture (a value needing a character set or too long,
    # a deflated data set) is parsed again.
    walked_uids = {str(ds.SOPInstanceUID) for ds, syntax in cases if syntax != DEFLATED}
    assert not walked_uids & set(reparsed)
    # (The value too long to capture is read from the bytes kept without pydicom when the
    # association sent other series before it: then the walk captures the instance's own
    # columns only, and a series new to the association is read from its header's bytes.)
    too_long = str(latin[2][0].SOPInstanceUID)
    assert set(reparsed) - {too_long} == {str(ds.SOPInstanceUID) for ds, _ in latin[:2]} | {
        str(cases[n][0].SOPInstanceUID) for n in deflated
    }
