"""Synthetic CT instances: valid Part 10 files, unique UIDs, sizes as reported."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from benchmarks.datasets import WORKLOADS, Workload, generate


def test_generated_files_are_distinct_ct_instances(tmp_path: Path) -> None:
    workload = Workload("tiny", 3, 8, 6, "3 x tiny")
    instances = generate(workload, tmp_path / "tiny")
    assert instances.count == 3
    uids = set()
    for path, uid in zip(instances.paths, instances.sop_instance_uids, strict=True):
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == CTImageStorage
        assert ds.SOPInstanceUID == uid == ds.file_meta.MediaStorageSOPInstanceUID
        assert (ds.Rows, ds.Columns) == (8, 6)
        assert len(ds.PixelData) == workload.pixel_bytes == 8 * 6 * 2
        uids.add(uid)
    assert len(uids) == 3
    assert instances.file_bytes == sum(p.stat().st_size for p in instances.paths)
    assert 0 < instances.dataset_bytes < instances.file_bytes


def test_uids_differ_between_calls(tmp_path: Path) -> None:
    workload = Workload("tiny", 1, 2, 2, "1 x tiny")
    first = generate(workload, tmp_path / "a").sop_instance_uids
    second = generate(workload, tmp_path / "b").sop_instance_uids
    assert first != second


def test_workloads_match_the_suite_definition() -> None:
    assert WORKLOADS["ct"].count == 200 and WORKLOADS["ct"].pixel_bytes == 512 * 512 * 2
    assert WORKLOADS["small"].count == 2000
    assert WORKLOADS["large"].count == 5 and WORKLOADS["large"].pixel_bytes == 64 * 2**20
    assert WORKLOADS["ct"].scaled(20).count == 20
