"""The Storage SCP's series memo: one per association, never a source of stale or empty rows.

Once an association has sent an instance of a series walked whole, its later instances
are walked for their own columns and the Series Instance UID only, and their entries take
the patient, study and series values from the first (see ``walked_entry``). A writer that
does not know the series then (deleted meanwhile) must still get every value, and a second
association must read its instances anew.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers.index_rows import PARENTS, indexed_row
from pydicom.dataset import Dataset
from query.fixtures import CT, archive_datasets

from dicomnet.ae import AE
from dicomnet.archive import SqliteIndex, ingest
from dicomnet.archive.entry import IndexEntry, entry_from_data_set
from dicomnet.archive.ingest import IndexedFileSink, IndexedSink, IndexedStore
from dicomnet.archive.rows import LEVEL_COLUMNS
from dicomnet.archive.walked import MEMO_SERIES, walked_entry
from dicomnet.association.core import Association
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.meta import file_header
from dicomnet.storage.scu import store
from dicomnet.storage.sinks import InstanceInfo, SeriesMemo, WalkedHeader

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"


def _instance(series: int, n: int, syntax: str = EXPLICIT, **values: object) -> tuple[Dataset, str]:
    ds = archive_datasets()[0]
    ds.PatientID = f"PAT{series}"
    ds.PatientName = f"DOE^JANE{series}"
    ds.StudyDescription = f"STUDY {series}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.2.1125.7.{series}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.2.1125.8.{series}"
    ds.SeriesDescription = f"SERIES {series}"
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.2.1125.9.{series}.{n}"
    ds.InstanceNumber = n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    return ds, syntax


def _rows(db: Path, uid: str) -> dict[str, Any]:
    return indexed_row(db, uid, instance_attrs=False)


def _expected(ds: Dataset, syntax: str) -> dict[str, Any]:
    """The rows of ``ds`` as the reference reader (the header read in full) makes them."""
    data = encode_dataset(ds, syntax)
    entry = entry_from_data_set(
        data,
        complete=True,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=CT,
        transfer_syntax_uid=syntax,
        path="",
        size=len(data),
    )
    assert entry is not None
    values: dict[str, Any] = {f"i.{c}": entry.columns.get(c, "") for c in LEVEL_COLUMNS["IMAGE"]}
    values["i.sop_class"] = entry.columns.get("sop_class") or CT
    for level, alias in PARENTS:
        for column in LEVEL_COLUMNS[level]:
            values[f"{alias}.{column}"] = entry.columns.get(column, "")
        values[f"{alias}.attrs"] = entry.headers[level]
    return values


class _Archive:
    def __init__(self, tmp_path: Path, index: SqliteIndex) -> None:
        self.tmp_path = tmp_path
        self.index = index
        self.db = tmp_path / "index.sqlite"
        self.files = tmp_path / "files"
        self.files.mkdir()
        #: (SOP Instance UID, whether its walk captured the series' instance columns only).
        self.walks: list[tuple[str, bool]] = []
        self.port = 0

    async def send(self, assoc: Association, ds: Dataset, syntax: str) -> None:
        info = InstanceInfo(
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            transfer_syntax_uid=syntax,
        )
        path = self.files / f"{ds.SOPInstanceUID}.dcm"
        path.write_bytes(file_header(info) + encode_dataset(ds, syntax))
        result = await store(assoc, path)
        assert result.status == 0, ds.SOPInstanceUID

    async def delete(self, ds: Dataset) -> None:
        """Delete the study of ``ds``, rows and files."""
        for path in await self.index.delete(study_uid=str(ds.StudyInstanceUID)):
            Path(path).unlink()

    def partial(self, ds: Dataset) -> bool:
        found = [partial for uid, partial in self.walks if uid == str(ds.SOPInstanceUID)]
        assert len(found) == 1, found
        return found[0]


@asynccontextmanager
async def _archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[_Archive]:
    index = await SqliteIndex.open(tmp_path / "index.sqlite", fsync=False)
    archive = _Archive(tmp_path, index)
    for kind in (IndexedSink, IndexedFileSink):

        def spy(
            sink: Any,
            walk: WalkedHeader,
            memo: SeriesMemo | None = None,
            partial: bool = False,
            walked: Any = kind.header_walked,
        ) -> None:
            archive.walks.append((walk.values[0x00080018].decode().strip("\0 "), partial))
            walked(sink, walk, memo, partial)

        monkeypatch.setattr(kind, "header_walked", spy)
    reparsed: list[str] = []
    original = ingest.entry_from_data_set

    def counting(*args: Any, **kwargs: Any) -> IndexEntry | None:
        reparsed.append(kwargs["sop_instance_uid"])
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest, "entry_from_data_set", counting)
    indexed = IndexedStore(FolderStore(tmp_path / "store", fsync=False), index)
    accepted = AcceptedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT, IMPLICIT))
    ae = AE(
        "ARCHIVE",
        Policy(ae_title="ARCHIVE", accepted_contexts=(accepted,)),
        handlers=[StorageService(indexed)],
    )
    try:
        async with await ae.serve("127.0.0.1", 0) as server:
            archive.port = server.port
            yield archive
    finally:
        await index.close()
    # Every instance was indexed from the walk (and the memo), none read again by pydicom.
    assert reparsed == []


def _scu() -> AE:
    proposed = tuple(
        ProposedContext(abstract_syntax=CT, transfer_syntaxes=(syntax,))
        for syntax in (EXPLICIT, IMPLICIT)
    )
    return AE("SCU", Policy(ae_title="SCU", proposed_contexts=proposed))


async def test_a_series_deleted_between_two_instances_is_made_again_with_every_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = (_instance(1, n) for n in (1, 2, 3))
    async with _archive(tmp_path, monkeypatch) as archive:
        async with _scu().associate("127.0.0.1", archive.port, called_ae="ARCHIVE") as assoc:
            await archive.send(assoc, *first)
            await archive.send(assoc, *second)
            await archive.delete(first[0])
            await archive.send(assoc, *third)
    assert [partial for _uid, partial in archive.walks] == [False, True, True]
    # The third instance's walk had its own columns only; its series, study and patient
    # rows were made anew, every column filled (from the first instance, equal here).
    assert _rows(archive.db, str(third[0].SOPInstanceUID)) == _expected(*third)
    assert _rows(archive.db, str(third[0].SOPInstanceUID))["p.patient_name"] == "DOE^JANE1"


async def test_series_sent_in_turn_get_their_own_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A, B, A, B, C: B and C are new to the association after another series (read
    # from the bytes kept), each series in another study and patient.
    sent = [_instance(1, 1), _instance(2, 1), _instance(1, 2), _instance(2, 2)]
    sent += [_instance(3, 1, IMPLICIT), _instance(3, 2, IMPLICIT)]
    async with _archive(tmp_path, monkeypatch) as archive:
        async with _scu().associate("127.0.0.1", archive.port, called_ae="ARCHIVE") as assoc:
            for n, (ds, syntax) in enumerate(sent):
                if n == 3:
                    # The writer forgets every series: the rest make their rows anew.
                    await archive.delete(sent[0][0])
                    await archive.delete(sent[1][0])
                await archive.send(assoc, ds, syntax)
    assert [archive.partial(ds) for ds, _ in sent] == [False, True, True, True, False, True]
    # B's rows made anew from its second instance, C's from its first.
    for ds, syntax in sent[3:5]:
        assert _rows(archive.db, str(ds.SOPInstanceUID)) == _expected(ds, syntax)
    last, first_of_c = _expected(*sent[5]), _expected(*sent[4])
    last.update({name: value for name, value in first_of_c.items() if not name.startswith("i.")})
    assert _rows(archive.db, str(sent[5][0].SOPInstanceUID)) == last


async def test_two_associations_do_not_share_the_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A study sent with a wrong name, deleted, then sent again corrected (same UIDs).
    wrong = [_instance(1, n, PatientName="WRONG^NAME") for n in (1, 2)]
    right = [_instance(1, n, PatientName="RIGHT^NAME") for n in (1, 2)]
    async with _archive(tmp_path, monkeypatch) as archive:
        async with _scu().associate("127.0.0.1", archive.port, called_ae="ARCHIVE") as assoc:
            for ds, syntax in wrong:
                await archive.send(assoc, ds, syntax)
        await archive.delete(wrong[0][0])
        async with _scu().associate("127.0.0.1", archive.port, called_ae="ARCHIVE") as assoc:
            for ds, syntax in right:
                await archive.send(assoc, ds, syntax)
    assert [partial for _uid, partial in archive.walks] == [False, True, False, True]
    assert _rows(archive.db, str(right[0][0].SOPInstanceUID)) == _expected(*right[0])
    for ds, syntax in right:
        row = _rows(archive.db, str(ds.SOPInstanceUID))
        columns = {
            name: value for name, value in _expected(ds, syntax).items() if "attrs" not in name
        }
        assert {name: row[name] for name in columns} == columns
        assert row["p.patient_name"] == "RIGHT^NAME"


async def test_an_instance_disagreeing_with_its_series_first_gets_the_first_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Documented: within one association the series' first instance walked whole gives
    # the patient, study and series values, as a writer that knows the series does.
    first = _instance(1, 1)
    other = _instance(1, 2, PatientName="OTHER^NAME", StudyDescription="OTHER")
    async with _archive(tmp_path, monkeypatch) as archive:
        async with _scu().associate("127.0.0.1", archive.port, called_ae="ARCHIVE") as assoc:
            await archive.send(assoc, *first)
            await archive.delete(first[0])
            await archive.send(assoc, *other)
    assert archive.partial(other[0])
    row = _rows(archive.db, str(other[0].SOPInstanceUID))
    assert row["p.patient_name"] == "DOE^JANE1"
    assert row["st.study_description"] == "STUDY 1"
    assert row["i.instance_number"] == "2"


def test_the_memo_holds_a_bounded_number_of_series() -> None:
    memo: SeriesMemo = {}
    prefix = b"\0" * 16
    for series in range(MEMO_SERIES + 2):
        raw = {0x0020000E: f"1.2.3.{series}".encode(), 0x00100010: f"NAME{series}".encode()}
        info = InstanceInfo(
            sop_class_uid=CT, sop_instance_uid=f"1.2.4.{series}", transfer_syntax_uid=EXPLICIT
        )
        walk = WalkedHeader(raw, frozenset(), None, len(prefix))
        assert walked_entry(prefix, walk, info, "", 0, memo=memo) is not None
    # The oldest series went first; each kept only its values above the instance.
    assert list(memo) == [f"1.2.3.{series}".encode() for series in range(2, MEMO_SERIES + 2)]
    assert memo[b"1.2.3.5"] == {0x00100010: b"NAME5"}
    # A later instance of a kept series takes them; of a series gone, it is read anew.
    info = InstanceInfo(sop_class_uid=CT, sop_instance_uid="1.2.4.99", transfer_syntax_uid=EXPLICIT)
    walk = WalkedHeader({0x0020000E: b"1.2.3.5"}, frozenset(), None, len(prefix))
    entry = walked_entry(prefix, walk, info, "", 0, memo=memo, partial=True)
    assert entry is not None
    assert entry.columns["patient_name"] == "NAME5"
    assert entry.columns["series_uid"] == "1.2.3.5"
    walk = WalkedHeader({0x0020000E: b"1.2.3.0"}, frozenset(), None, len(prefix))
    entry = walked_entry(prefix, walk, info, "", 0, memo=memo, partial=True)
    # (Read from the bytes kept: here sixteen zero bytes, an empty element, no name.)
    assert entry is None or entry.columns["patient_name"] == ""
