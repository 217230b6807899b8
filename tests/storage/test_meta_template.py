"""The file header template gives the bytes of encode_file_meta for every instance UID."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.storage.folder import FolderStore
from dicomnet.storage.meta import HeaderTemplate, encode_file_meta, file_header
from dicomnet.storage.sinks import InstanceInfo, StorageError

CT = "1.2.840.10008.5.1.4.1.1.2"
SYNTAXES = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50", "1.2.3"]
AE_TITLES = ["", " ", "A", "AB", "STORESCU", "  PADDED  ", "SIXTEEN-CHARS-AE", "TOO-LONG-AE-TITLE"]

uids = st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,20}){0,6}", fullmatch=True)
# Anything a peer may send (stored as given, so the template must copy it too).
texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=80)


def info_for(
    sop_instance_uid: str,
    *,
    sop_class_uid: str = CT,
    syntax: str = SYNTAXES[1],
    ae_title: str = "",
    version: str = "DICOMNET_1",
) -> InstanceInfo:
    return InstanceInfo(
        sop_class_uid=sop_class_uid,
        sop_instance_uid=sop_instance_uid,
        transfer_syntax_uid=syntax,
        source_ae_title=ae_title,
        implementation_version_name=version,
    )


@settings(max_examples=300, deadline=None)
@given(
    sop_class_uid=st.one_of(uids, texts),
    instance_uid=st.one_of(uids, texts),
    syntax=st.sampled_from(SYNTAXES),
    ae_title=st.sampled_from(AE_TITLES),
    version=st.sampled_from(["", "V", "DICOMNET_1", "A-VERSION-NAME-LONGER-THAN-16"]),
)
def test_template_bytes_equal_the_encoder(
    sop_class_uid: str, instance_uid: str, syntax: str, ae_title: str, version: str
) -> None:
    model = info_for(
        "9.9", sop_class_uid=sop_class_uid, syntax=syntax, ae_title=ae_title, version=version
    )
    template = HeaderTemplate(model)
    info = dataclasses.replace(model, sop_instance_uid=instance_uid)
    header = template.header(instance_uid)
    assert header == file_header(info)
    assert header.endswith(encode_file_meta(info))


def test_odd_and_even_uid_lengths_share_one_template() -> None:
    template = HeaderTemplate(info_for("1.2", ae_title="AE"))
    for uid in ("1", "12", "1.2.3", "1.2.34", "1." + "2" * 62):
        header = template.header(uid)
        assert header == file_header(info_for(uid, ae_title="AE"))
        assert len(header) % 2 == 0


def test_a_value_too_long_for_the_meta_is_refused_like_the_encoder() -> None:
    template = HeaderTemplate(info_for("1.2"))
    with pytest.raises(StorageError):
        file_header(info_for("1" * 0x10000))
    with pytest.raises(StorageError):
        template.header("1" * 0x10000)


def test_the_store_keeps_a_template_per_class_syntax_and_ae(tmp_path: Path) -> None:
    store = FolderStore(str(tmp_path), fsync=False)
    for n in range(3):
        for ae_title in ("A", "B"):
            for syntax in SYNTAXES[:2]:
                info = info_for(f"1.2.{n}", ae_title=ae_title, syntax=syntax)
                assert store.file_header(info) == file_header(info)
    assert len(store._templates) == 4


def test_the_store_bounds_its_templates(tmp_path: Path) -> None:
    store = FolderStore(str(tmp_path), fsync=False)
    for n in range(200):
        info = info_for("1.2.3", ae_title=f"AE{n}")
        assert store.file_header(info) == file_header(info)
        assert len(store._templates) <= 64
