"""Proposed presentation contexts for a set of instances, and splitting past 128."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicomnet.errors import LocalError
from dicomnet.storage.scu import (
    MAX_CONTEXTS,
    batches,
    collect_files,
    plan_contexts,
    proposed_contexts_for,
)
from dicomnet.storage.source import InstanceSource

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
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


def test_each_file_syntax_alone_in_a_context_then_the_fallbacks() -> None:
    sources = [
        from_file("MR_small.dcm"),
        from_file("MR_small_bigendian.dcm"),
        from_file("MR_small_implicit.dcm"),
        from_file("CT_small.dcm"),
        from_file("MR_small.dcm"),  # same class and syntax: no new context
    ]
    contexts = proposed_contexts_for(sources)
    # Implicit VR LE (the default fallback) already has an MR context of its own.
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        (MR, (EXPLICIT_LE,)),
        (MR, (EXPLICIT_BE,)),
        (MR, (IMPLICIT_LE,)),
        (CT, (EXPLICIT_LE,)),
        (CT, (IMPLICIT_LE,)),
    ]
    assert all(c.scu_role and not c.scp_role for c in contexts)


@pytest.mark.parametrize(
    ("name", "sop_class", "syntax"),
    [("SC_rgb_jpeg_dcmtk.dcm", SC, JPEG_BASELINE), ("MR_small_RLE.dcm", MR, RLE_LOSSLESS)],
)
def test_compressed_syntax_never_shares_a_context_with_an_uncompressed_one(
    name: str, sop_class: str, syntax: str
) -> None:
    # A peer preferring uncompressed data picks Explicit VR LE wherever it is offered
    # beside the compressed syntax, and the file is then decompressed to send it.
    source = from_file(name)
    auto = proposed_contexts_for([source], (EXPLICIT_LE, IMPLICIT_LE))
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in auto] == [
        (sop_class, (syntax,)),
        (sop_class, (EXPLICIT_LE, IMPLICIT_LE)),
    ]
    default = proposed_contexts_for([source])
    assert [c.transfer_syntaxes for c in default] == [(syntax,), (IMPLICIT_LE,)]


def test_no_extra_syntaxes_proposes_each_files_own_only() -> None:
    # What ``--propose-ts orig`` asks for: no fallback at all, compressed or not.
    sources = [from_file("SC_rgb_jpeg_dcmtk.dcm"), from_file("MR_small_RLE.dcm")]
    sources.append(from_file("MR_small.dcm"))
    contexts = proposed_contexts_for(sources, ())
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in contexts] == [
        (SC, (JPEG_BASELINE,)),
        (MR, (RLE_LOSSLESS,)),
        (MR, (EXPLICIT_LE,)),
    ]


def test_extra_syntaxes_unreachable_are_left_out() -> None:
    # Native pixel data cannot be JPEG-encoded here, so JPEG Baseline is not offered.
    contexts = proposed_contexts_for(
        [from_file("MR_small.dcm")], extra_syntaxes=(JPEG_BASELINE, EXPLICIT_BE, EXPLICIT_BE)
    )
    assert [c.transfer_syntaxes for c in contexts] == [(EXPLICIT_LE,), (EXPLICIT_BE,)]


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


def test_past_the_limit_native_syntaxes_share_a_context_first() -> None:
    syntaxes = (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE)
    sources = [fake(f"1.2.840.10008.9.{i}", syntaxes[j]) for i in range(60) for j in range(3)]
    plan = plan_contexts(sources, (IMPLICIT_LE,))
    # 180 separate contexts; each shared class saves 2: the last 26 classes share.
    assert len(plan.contexts) == MAX_CONTEXTS
    assert [c.transfer_syntaxes for c in plan.contexts[:3]] == [(s,) for s in syntaxes]
    assert plan.contexts[-1].abstract_syntax == "1.2.840.10008.9.59"
    assert plan.contexts[-1].transfer_syntaxes == syntaxes
    assert len(plan.notes) == 26
    assert plan.notes[0].startswith("SOP class 1.2.840.10008.9.34: native syntaxes")
    assert "Explicit VR Big Endian" in plan.notes[0]


def test_past_the_limit_compressed_syntaxes_share_only_as_a_last_resort(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sources = [
        fake(f"1.2.840.10008.9.{i}", syntax, n=j)
        for i in range(50)
        for j, syntax in enumerate((JPEG_BASELINE, RLE_LOSSLESS, EXPLICIT_LE))
    ]
    # Separate: 4 per class (200). Native shared: 3 per class (150), still too many,
    # so the last 11 classes share everything (1 each): 39 * 3 + 11 = 128.
    with caplog.at_level(logging.WARNING, logger="dicomnet.storage.scu"):
        contexts = proposed_contexts_for(sources, (EXPLICIT_LE, IMPLICIT_LE))
    assert len(contexts) == MAX_CONTEXTS
    first = [c.transfer_syntaxes for c in contexts if c.abstract_syntax == "1.2.840.10008.9.0"]
    assert first == [(JPEG_BASELINE,), (RLE_LOSSLESS,), (EXPLICIT_LE, IMPLICIT_LE)]
    last = [c.transfer_syntaxes for c in contexts if c.abstract_syntax == "1.2.840.10008.9.49"]
    assert last == [(JPEG_BASELINE, RLE_LOSSLESS, EXPLICIT_LE, IMPLICIT_LE)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 50
    assert sum("decompressed" in w for w in warnings) == 11
    assert all(str(MAX_CONTEXTS) in w for w in warnings)


def test_within_the_limit_nothing_is_shared() -> None:
    sources = [fake(f"1.2.840.10008.9.{i}", JPEG_BASELINE, n=i) for i in range(64)]
    plan = plan_contexts(sources, (EXPLICIT_LE,))
    assert len(plan.contexts) == 128
    assert plan.notes == []
    assert all(len(c.transfer_syntaxes) == 1 for c in plan.contexts)


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
