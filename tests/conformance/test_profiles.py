"""Profiles: every one loads into a Policy; schema errors are precise; documented facts hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.conformance import list_profiles, load_profile, load_registry
from dicomnet.errors import ConfigurationError
from dicomnet.policy import LimitMode, Policy, TransferSyntaxPreference, WrongCalledAE

REGISTRY = load_registry()
VERIFICATION = "1.2.840.10008.1.1"
IVR_LE = "1.2.840.10008.1.2"
EVR_LE = "1.2.840.10008.1.2.1"
EVR_BE = "1.2.840.10008.1.2.2"
CT = "1.2.840.10008.5.1.4.1.1.2"

EXPECTED_PROFILES = {
    "dicomark-inbound",
    "dicomark-send-queue",
    "meddream-storage-server",
    "meddream-qr-client",
    "meddream-storage-client",
    "flux-find-scu",
    "flux-store-scu",
    "flux-print-scu",
    "lifesys-storage",
    "lifesys-qr",
    "lifesys-mwl",
    "kodak-disk-server",
    "kodak-memory-server",
    "kodak-web-server",
    "kodak-memory-manager",
}


def policy_of(name: str) -> Policy:
    return load_profile(name, registry=REGISTRY).policy()


def test_one_profile_per_seed_application_entity() -> None:
    # ... plus dicomnet's own defaults for `dicomnet serve`, `dicomnet printer` and an AE
    # made without a Policy.
    own = {"dicomnet-serve", "dicomnet-printer", "dicomnet-verification"}
    assert set(list_profiles()) == EXPECTED_PROFILES | own


@pytest.mark.parametrize("name", sorted(EXPECTED_PROFILES))
def test_every_profile_yields_a_policy_of_registered_uids(name: str) -> None:
    profile = load_profile(name, registry=REGISTRY)
    policy = profile.policy()
    assert policy.ae_title == profile.ae_title
    assert policy.accepted_contexts or policy.proposed_contexts
    contexts = (*policy.accepted_contexts, *policy.proposed_contexts)
    for context in contexts:
        assert context.abstract_syntax in REGISTRY.sop_classes
        assert context.transfer_syntaxes
        assert all(ts in REGISTRY.transfer_syntaxes for ts in context.transfer_syntaxes)
    # At most 128 presentation contexts fit in one A-ASSOCIATE-RQ (PS3.8 9.3.2.2).
    assert len(policy.proposed_contexts) <= 128
    # The document's own implementation identity is kept as information only.
    info = dict(policy.info)
    assert info["profile"] == name and info["document"].endswith(".txt")
    assert policy.implementation_class_uid == Policy(ae_title="X").implementation_class_uid
    # The acceptor side answers to at least one called AE title.
    assert policy.ae_titles.called_ae_titles


def test_dicomark_inbound_accepts_any_calling_ae_and_wildcard_called_ae() -> None:
    policy = policy_of("dicomark-inbound")
    assert policy.ae_titles.called_ae_titles == ("*",)
    assert policy.ae_titles.calling_ae_titles is None
    assert policy.max_associations == 0
    assert policy.on_association_limit is LimitMode.QUEUE  # "will block" when capped
    assert (policy.max_pdu_receive, policy.max_pdu_send) == (16384, 16384)
    verification = policy.accepted(VERIFICATION)
    assert verification is not None and set(verification.transfer_syntaxes) == {IVR_LE, EVR_LE}
    ct = policy.accepted(CT)
    assert ct is not None and len(ct.transfer_syntaxes) == 13  # DicomArk Table 6
    assert dict(policy.info)["document_implementation_version_name"] == "fo-dicom 4.0.0"


def test_lifesys_storage_limits_and_ae_title_rules() -> None:
    profile = load_profile("lifesys-storage", registry=REGISTRY)
    policy = profile.policy()
    assert policy.max_associations == 10
    assert policy.on_association_limit is LimitMode.REJECT
    assert policy.ae_titles.calling_ae_titles is None  # any calling AE by default ...
    assert profile.calling_allow_list_configurable  # ... an allow list is optional
    assert policy.ae_titles.wrong_called_ae is WrongCalledAE.VERIFICATION_ONLY
    assert policy.ae_titles.called_ae_titles == ("STORE_SCP",)
    assert (policy.max_pdu_receive, policy.max_pdu_send) == (16352, 65535)
    assert (policy.timers.artim, policy.timers.dimse) == (5.0, 600.0)
    assert (policy.max_operations_invoked, policy.max_operations_performed) == (1, 1)
    assert profile.character_sets == ("ISO_IR 192",)


def test_kodak_disk_server_prefers_big_endian_then_little_then_implicit() -> None:
    policy = policy_of("kodak-disk-server")
    assert policy.transfer_syntax_preference is TransferSyntaxPreference.ACCEPTOR
    for uid in (VERIFICATION, CT, "1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.1.2.2.2"):
        rule = policy.accepted(uid)
        assert rule is not None and rule.transfer_syntaxes == (EVR_BE, EVR_LE, IVR_LE)


def test_lifesys_query_keys_keep_the_matching_types() -> None:
    profile = load_profile("lifesys-qr", registry=REGISTRY)
    keys = {(k.model, k.tag): k.matching for k in profile.query_keys}
    patient_root = "1.2.840.10008.5.1.4.1.2.1.1"
    assert keys[(patient_root, "0010,0010")] == ("S", "*", "U")
    assert keys[(patient_root, "0020,000D")] == ("S", "L")
    assert keys[(patient_root, "0010,0030")] == ("S", "U", "R")
    assert keys[(patient_root, "0008,0005")] == ("NONE",)
    # Study Root's Patient's Sex is S,U (no wildcard), unlike Patient Root's S*,U.
    assert keys[("1.2.840.10008.5.1.4.1.2.2.1", "0010,0040")] == ("S", "U")
    mwl = {k.tag: k.matching for k in load_profile("lifesys-mwl", registry=REGISTRY).query_keys}
    assert mwl["0040,0002"] == ("S", "R") and mwl["0040,0001"] == ("S",)


def test_flux_store_group_can_be_switched_to_an_alternative() -> None:
    profile = load_profile("flux-store-scu", registry=REGISTRY)
    (default,) = profile.policy().proposed_contexts
    assert default.transfer_syntaxes == (IVR_LE, EVR_LE, EVR_BE)
    (rle,) = profile.policy({"native": "flux-rle"}).proposed_contexts
    assert rle.transfer_syntaxes == (IVR_LE, EVR_LE, EVR_BE, "1.2.840.10008.1.2.5")
    with pytest.raises(ConfigurationError, match="not an alternative"):
        profile.policy({"native": "lifesys-image"})
    with pytest.raises(ConfigurationError, match="uses group"):
        profile.policy({"lifesys-image": "flux-rle"})


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown profile 'nope'.*lifesys-storage"):
        load_profile("nope")


# ---------------------------------------------------------------- schema errors

MINIMAL = """
[profile]
system = "S"
application_entity = "A"
document = "d.txt"

[ae_title]
title = "AE"

[association]
role = "acceptor"

[[accepted]]
sop_classes = ["1.2.840.10008.1.1"]
transfer_syntaxes = ["1.2.840.10008.1.2"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_profile(write(tmp_path, text), registry=REGISTRY)
    message = str(info.value)
    assert "broken.toml" in message
    return message


def test_minimal_profile_loads_with_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL), registry=REGISTRY)
    policy = profile.policy()
    assert profile.name == "broken"
    assert policy.ae_titles.called_ae_titles == ("AE",)
    assert policy.max_pdu_receive == 16384 and policy.timers.artim == 5.0


def test_bad_key_is_named(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, MINIMAL.replace('role = "acceptor"', 'role = "acceptor"\nmax_pdu = 1')
    )
    assert "'association.max_pdu'" in message and "unknown key" in message


def test_bad_uid_is_named(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, MINIMAL.replace('["1.2.840.10008.1.1"]', '["1.2.840.10008.1.1."]')
    )
    assert "'accepted[0].sop_classes[0]'" in message and "not a valid UID" in message


def test_unregistered_uid_is_named(tmp_path: Path) -> None:
    message = load_error(tmp_path, MINIMAL.replace('["1.2.840.10008.1.2"]', '["1.2.3.4"]'))
    assert "'accepted[0].transfer_syntaxes[0]'" in message
    assert "not a registered transfer syntax" in message


def test_unknown_group_is_named(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'transfer_syntaxes = ["1.2.840.10008.1.2"]', 'transfer_syntax_group = "lifesys-imag"'
    )
    message = load_error(tmp_path, text)
    assert "'accepted[0].transfer_syntax_group'" in message
    assert "unknown transfer syntax group 'lifesys-imag'" in message
    text = MINIMAL.replace('sop_classes = ["1.2.840.10008.1.1"]', 'sop_class_group = "x"')
    assert "unknown SOP class group 'x'" in load_error(tmp_path, text)


def test_wrong_types_and_values_are_named(tmp_path: Path) -> None:
    message = load_error(tmp_path, MINIMAL + '\n[timers]\nartim = "soon"\n')
    assert "'timers.artim'" in message
    message = load_error(
        tmp_path, MINIMAL.replace('role = "acceptor"', 'role = "acceptor"\nmax_associations = -1')
    )
    assert "'association.max_associations'" in message and "out of range" in message
    message = load_error(
        tmp_path, MINIMAL.replace('title = "AE"', 'title = "WAY_TOO_LONG_AE_TITLE"')
    )
    assert "'ae_title.title'" in message and "not a valid AE title" in message
    message = load_error(
        tmp_path, MINIMAL.replace("[ae_title]\n", '[ae_title]\nwrong_called_ae = "ignore"\n')
    )
    assert "'ae_title.wrong_called_ae'" in message and "verification-only" in message


def test_missing_section_and_both_syntax_forms_are_errors(tmp_path: Path) -> None:
    message = load_error(tmp_path, MINIMAL.replace('[association]\nrole = "acceptor"\n', ""))
    assert "'association.role'" in message and "missing" in message
    text = MINIMAL.replace(
        'transfer_syntaxes = ["1.2.840.10008.1.2"]',
        'transfer_syntaxes = ["1.2.840.10008.1.2"]\ntransfer_syntax_group = "native"',
    )
    assert "exactly one of" in load_error(tmp_path, text)


def test_query_key_checks(tmp_path: Path) -> None:
    key = (
        '{ model = "1.2.840.10008.5.1.4.31", level = "W", name = "N", tag = "0010,0010",'
        ' vr = "PN", matching = ["X"] }'
    )
    message = load_error(tmp_path, MINIMAL + f"\n[query]\nkeys = [{key}]\n")
    assert "'query.keys[0].matching[0]'" in message and "'X' is not one of" in message
    bad_model = key.replace("1.2.840.10008.5.1.4.31", "1.2.840.10008.1.1")
    message = load_error(tmp_path, MINIMAL + f"\n[query]\nkeys = [{bad_model}]\n")
    assert "'query.keys[0].model'" in message and "Q/R or worklist" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert "not valid TOML" in load_error(tmp_path, MINIMAL + "\n[profile\n")


def test_bad_input_limits_are_profile_keys(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'role = "acceptor"', 'role = "acceptor"\nmin_peer_max_pdu = 1024\nmax_command_set = 4096'
    )
    policy = load_profile(write(tmp_path, text), registry=REGISTRY).policy()
    assert (policy.min_peer_max_pdu, policy.max_command_set) == (1024, 4096)
    defaults = load_profile(write(tmp_path, MINIMAL), registry=REGISTRY).policy()
    assert (defaults.min_peer_max_pdu, defaults.max_command_set) == (7, 16384)
    too_small = MINIMAL.replace('role = "acceptor"', 'role = "acceptor"\nmin_peer_max_pdu = 6')
    assert "min_peer_max_pdu" in load_error(tmp_path, too_small)
