"""Folder layouts: flat or by patient/study/series, escaped, and kept with the folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.dimse.dataset import encode_dataset
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.layout import (
    LAYOUT_FILE,
    MAX_COMPONENT,
    Layout,
    LayoutMismatch,
    path_component,
    settle_layout,
)
from dicomnet.storage.sinks import InstanceInfo

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    "value",
    ["..", ".", "../../etc", "a/b", "a\\b", "/abs", "C:\\x", "\0", ".hidden", "x" * 300, "Jörg"],
)
def test_every_value_is_one_safe_folder_name(value: str) -> None:
    name = path_component(value)
    assert name not in ("", ".", "..")
    assert "/" not in name and "\\" not in name and "\0" not in name and ":" not in name
    assert not name.startswith(".")
    assert len(name) <= MAX_COMPONENT
    assert Path("/root", name).parent == Path("/root")


def test_escaping_keeps_values_apart() -> None:
    values = ["a b", "a%20b", "a_b", "", " ", "~none", ".a", "%2Ea", "x" * 200, "x" * 201]
    names = [path_component(v) for v in values]
    # "" and " " are both the empty value; every other pair differs.
    assert names[3] == names[4] == "~none"
    del names[4]
    assert len(set(names)) == len(names)
    assert path_component("1.2.840.10008") == "1.2.840.10008"
    assert path_component("PAT-01_a") == "PAT-01_a"


def test_layout_is_kept_with_the_folder(tmp_path: Path) -> None:
    new = tmp_path / "new"
    assert settle_layout(new, Layout.HIERARCHICAL) is Layout.HIERARCHICAL
    assert (new / LAYOUT_FILE).read_text().strip() == "hierarchical"
    assert settle_layout(new) is Layout.HIERARCHICAL  # a restart without the option
    with pytest.raises(LayoutMismatch):
        settle_layout(new, Layout.FLAT)
    assert settle_layout(tmp_path / "default") is Layout.FLAT
    # A folder that holds files from before layouts were recorded is flat.
    old = tmp_path / "old"
    old.mkdir()
    (old / "1.2.3.dcm").write_bytes(b"x")
    with pytest.raises(LayoutMismatch):
        settle_layout(old, Layout.HIERARCHICAL)
    assert settle_layout(old) is Layout.FLAT
    (old / LAYOUT_FILE).write_text("sideways\n")
    with pytest.raises(LayoutMismatch):
        settle_layout(old)


async def _store(store: FolderStore, ds: Dataset, syntax: str) -> Path:
    info = InstanceInfo(
        sop_class_uid=CT, sop_instance_uid=str(ds.SOPInstanceUID), transfer_syntax_uid=syntax
    )
    sink = await store.open_sink(info)
    data = encode_dataset(ds, syntax)
    for start in range(0, len(data), 100):
        await sink.write(data[start : start + 100])
    stored = await sink.commit(info)
    assert stored.path is not None
    return stored.path


@pytest.mark.parametrize("syntax", [EXPLICIT_LE, IMPLICIT_LE, DEFLATED])
async def test_hierarchical_store_files_by_patient_study_series(
    tmp_path: Path, syntax: str
) -> None:
    store = FolderStore(tmp_path, layout=Layout.HIERARCHICAL)
    ds = archive_datasets()[0]
    path = await _store(store, ds, syntax)
    expected = tmp_path / ds.PatientID / ds.StudyInstanceUID / ds.SeriesInstanceUID
    assert path == expected / f"{ds.SOPInstanceUID}.dcm"
    assert path.is_file()
    assert list(store.incoming.iterdir()) == []


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
async def test_peer_values_never_leave_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = FolderStore(root, layout=Layout.HIERARCHICAL)
    ds = archive_datasets()[0]
    ds.PatientID = "../../../outside"
    ds.StudyInstanceUID = ".."
    ds.SeriesInstanceUID = "/etc"
    path = await _store(store, ds, EXPLICIT_LE)
    assert path.resolve().is_relative_to(root.resolve())
    assert len(path.relative_to(root).parts) == 4
    assert not (tmp_path / "outside").exists()
    # Missing values get a folder of their own.
    bare = archive_datasets()[1]
    del bare.PatientID
    path = await _store(store, bare, EXPLICIT_LE)
    assert path.relative_to(root).parts[0] == "~none"


async def test_hierarchical_keep_first_by_path(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, layout=Layout.HIERARCHICAL)
    ds = archive_datasets()[0]
    first = await _store(store, ds, EXPLICIT_LE)
    before = first.read_bytes()
    ds.PatientName = "Other^Name"
    info = InstanceInfo(
        sop_class_uid=CT, sop_instance_uid=str(ds.SOPInstanceUID), transfer_syntax_uid=EXPLICIT_LE
    )
    sink = await store.open_sink(info)
    await sink.write(encode_dataset(ds, EXPLICIT_LE))
    stored = await sink.commit(info)
    assert stored.path == first and stored.outcome.value == "duplicate-kept"
    assert first.read_bytes() == before
