"""The registry data: every UID known to pydicom (or marked private), groups consistent."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import UID_dictionary

from dicomnet.conformance.registry import load_registry
from dicomnet.errors import ConfigurationError

REGISTRY = load_registry()


def test_every_sop_class_uid_is_registered_in_dicom_or_marked_private() -> None:
    for sop in REGISTRY.sop_classes.values():
        if sop.private:
            continue
        assert sop.uid in UID_dictionary, sop.uid
        name, kind, _info, retired, _keyword = UID_dictionary[sop.uid]
        assert kind in ("SOP Class", "Meta SOP Class"), sop.uid
        assert sop.meta == (kind == "Meta SOP Class"), sop.uid
        assert sop.retired == (retired == "Retired"), sop.uid
        assert sop.name == name


def test_every_transfer_syntax_uid_is_registered_in_dicom_or_marked_private() -> None:
    for syntax in REGISTRY.transfer_syntaxes.values():
        if syntax.private:
            continue
        assert UID_dictionary[syntax.uid][1] == "Transfer Syntax", syntax.uid
        assert syntax.name == UID_dictionary[syntax.uid][0]


def test_every_current_storage_sop_class_of_pydicom_is_in_the_registry() -> None:
    current_storage = {
        uid
        for uid, (name, kind, _info, retired, _kw) in UID_dictionary.items()
        if kind == "SOP Class" and name.endswith("Storage") and retired != "Retired"
    }
    registered = {sop.uid for sop in REGISTRY.storage_sop_classes()}
    # The DICOMDIR's class is named "... Storage" but describes a media file-set (PS3.10).
    media_directory = "1.2.840.10008.1.3.10"
    assert current_storage - {media_directory} <= registered
    assert media_directory not in registered
    assert len(registered) > 150


def test_native_and_compressed_facts() -> None:
    ts = REGISTRY.transfer_syntaxes
    assert ts["1.2.840.10008.1.2"].encoding == "implicit-le"
    assert ts["1.2.840.10008.1.2.1"].encoding == "explicit-le"
    assert ts["1.2.840.10008.1.2.2"].encoding == "explicit-be"
    assert ts["1.2.840.10008.1.2.1.99"].encoding == "deflated"
    for uid in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"):
        assert ts[uid].is_native and not ts[uid].compressed and ts[uid].can_encode()
    rle = ts["1.2.840.10008.1.2.5"]
    assert rle.encoding == "encapsulated" and rle.compressed and rle.encodable_by_pydicom
    baseline = ts["1.2.840.10008.1.2.4.50"]
    assert baseline.compressed and not baseline.encodable_by_pydicom
    # pydicom has no JPEG Baseline encoder at all, plugin or not.
    assert not baseline.can_encode()


def test_kinds_of_the_seed_services() -> None:
    kinds = {uid: sop.kind for uid, sop in REGISTRY.sop_classes.items()}
    assert kinds["1.2.840.10008.1.1"] == "verification"
    assert kinds["1.2.840.10008.1.20.1"] == "commitment"
    assert kinds["1.2.840.10008.5.1.4.31"] == "mwl"
    assert kinds["1.2.840.10008.5.1.4.1.2.2.2"] == "qr"
    assert kinds["1.2.840.10008.5.1.1.9"] == "print"
    assert kinds["1.2.840.10008.5.1.4.1.1.7"] == "storage"


def test_groups_hold_the_documents_lists() -> None:
    # LifeSys Table 1.11: ten syntaxes, the two native ones first.
    image = REGISTRY.transfer_syntax_group("lifesys-image")
    assert len(image) == 10 and image[:2] == ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    # DicomArk Table 6: thirteen syntaxes.
    assert len(REGISTRY.transfer_syntax_group("dicomark-inbound")) == 13
    # Kodak: Explicit BE > Explicit LE > Implicit LE.
    assert REGISTRY.transfer_syntax_group("kodak-explicit-first") == (
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2",
    )
    for ident in ("flux-rle", "flux-jpeg-lossy", "flux-jpeg-lossless"):
        assert REGISTRY.transfer_syntax_group(ident)[:3] == REGISTRY.transfer_syntax_group("native")


def _write_registry(tmp_path: Path, text: str) -> Path:
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "data.toml").write_text(text)
    return tmp_path


def test_bad_uid_names_file_and_key(tmp_path: Path) -> None:
    data = _write_registry(
        tmp_path, 'sop_class = [{ uid = "1.2.840.10008.01.1", name = "x", kind = "other" }]\n'
    )
    with pytest.raises(ConfigurationError) as info:
        load_registry(data)
    message = str(info.value)
    assert "data.toml" in message and "sop_class[0].uid" in message and "not a valid UID" in message


def test_unknown_key_and_unknown_kind_are_errors(tmp_path: Path) -> None:
    data = _write_registry(
        tmp_path, 'sop_class = [{ uid = "1.2.3", name = "x", kind = "other", privat = true }]\n'
    )
    with pytest.raises(ConfigurationError, match=r"sop_class\[0\]\.privat'?: unknown key"):
        load_registry(data)
    (data / "registry" / "data.toml").write_text(
        'sop_class = [{ uid = "1.2.3", name = "x", kind = "imaging" }]\n'
    )
    with pytest.raises(ConfigurationError, match=r"sop_class\[0\]\.kind.*not one of"):
        load_registry(data)


def test_group_member_must_be_registered(tmp_path: Path) -> None:
    data = _write_registry(
        tmp_path,
        '[transfer_syntax_group.g]\ntitle = "G"\ntransfer_syntaxes = ["1.2.840.10008.1.2"]\n',
    )
    with pytest.raises(ConfigurationError) as info:
        load_registry(data)
    assert "transfer_syntax_group.g.transfer_syntaxes[0]" in str(info.value)
    assert "not a registered transfer syntax" in str(info.value)


def test_duplicate_uid_is_an_error(tmp_path: Path) -> None:
    entry = '{ uid = "1.2.3", name = "x", kind = "other", private = true }'
    data = _write_registry(tmp_path, f"sop_class = [{entry}, {entry}]\n")
    with pytest.raises(ConfigurationError, match="registered twice"):
        load_registry(data)
