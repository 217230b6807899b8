"""Proposed presentation contexts for a set of instances, and splitting past 128."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicomnet.errors import LocalError
from dicomnet.storage.scu import MAX_CONTEXTS, batches, collect_files, proposed_contexts_for
from dicomnet.storage.source import InstanceSource

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
MR = "1.2.840.10008.5.1.4.1.1.4"
CT = "1.2.840.10008.5.1.4.1.1.2"
SC = "1.2.840.10008.5.1.4.1.1.7"


def from_file(name: str) -> InstanceSource:
    path = get_testdata_file(name)
    assert path is not None
    return InstanceSource.from_path(path)


def fake(sop_class: str, syntax: str = EXPLICIT_LE, n: int = 0) -> InstanceSource:
    return InstanceSource.from_bytes(
        b"", sop_class_uid=sop_class, sop_instance_uid=f"1.2.3.{n}", transfer_syntax_uid=syntax
    )


def test_one_context_per_class_and_syntax_file_syntax_first() -> None:
    sources = [
        from_file("MR_small.dcm"),
        from_file("MR_small_bigendian.dcm"),
        from_file("MR_small_implicit.dcm"),
        from_file("CT_small.dcm"),
        from_file("MR_small.dcm"),  # same class and syntax: no new context
    ]
    contexts = proposed_contexts_for(sources)
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        (MR, (EXPLICIT_LE, IMPLICIT_LE)),
        (MR, (EXPLICIT_BE, IMPLICIT_LE)),
        (MR, (IMPLICIT_LE,)),
        (CT, (EXPLICIT_LE, IMPLICIT_LE)),
    ]
    assert all(c.scu_role and not c.scp_role for c in contexts)


def test_compressed_file_also_offers_a_native_syntax() -> None:
    [context] = proposed_contexts_for([from_file("SC_rgb_jpeg_dcmtk.dcm")])
    assert context.abstract_syntax == SC
    assert context.transfer_syntaxes == (JPEG_BASELINE, IMPLICIT_LE, EXPLICIT_LE)


def test_extra_syntaxes_unreachable_are_left_out() -> None:
    # Native pixel data cannot be JPEG-encoded here, so JPEG Baseline is not offered.
    [context] = proposed_contexts_for(
        [from_file("MR_small.dcm")], extra_syntaxes=(JPEG_BASELINE, EXPLICIT_BE)
    )
    assert context.transfer_syntaxes == (EXPLICIT_LE, EXPLICIT_BE)


def test_only_extra_proposes_exactly_those() -> None:
    contexts = proposed_contexts_for(
        [from_file("MR_small.dcm"), from_file("CT_small.dcm")],
        extra_syntaxes=(IMPLICIT_LE,),
        only_extra=True,
    )
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        (MR, (IMPLICIT_LE,)),
        (CT, (IMPLICIT_LE,)),
    ]


def test_merged_per_class_when_too_many_contexts() -> None:
    syntaxes = (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE)
    sources = [fake(f"1.2.840.10008.9.{i}", syntaxes[j]) for i in range(60) for j in range(3)]
    contexts = proposed_contexts_for(sources)
    assert len(contexts) == 60
    assert contexts[0].transfer_syntaxes == (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE)


def test_more_classes_than_contexts_is_refused_and_batches_split_them() -> None:
    sources = [fake(f"1.2.840.10008.9.{i}", n=i) for i in range(MAX_CONTEXTS + 5)]
    sources.append(fake("1.2.840.10008.9.0", n=999))  # joins the first batch's class
    with pytest.raises(LocalError, match="128"):
        proposed_contexts_for(sources)
    groups = batches(sources)
    assert [len(g) for g in groups] == [MAX_CONTEXTS + 1, 5]
    assert groups[0][-1].sop_instance_uid == "1.2.3.999"
    for group in groups:
        assert len(proposed_contexts_for(group)) <= MAX_CONTEXTS


def test_collect_files_walks_directories_in_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("b/2", "b/1", "a/deep/x", "a/z", "top"):
        (tmp_path / name).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in collect_files([tmp_path])]
    assert found == ["top", "a/z", "a/deep/x", "b/1", "b/2"]
    assert list(collect_files([tmp_path / "top"])) == [tmp_path / "top"]
