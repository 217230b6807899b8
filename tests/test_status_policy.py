"""Status rules from the profiles' ``[[status]]`` rows (library level; network tests in
tests/interop/test_profile_statuses.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.conformance import load_profile
from dicomnet.errors import ConfigurationError
from dicomnet.services.iod_check import IOD_TAGS, iod_problems
from dicomnet.status_policy import (
    Outcome,
    RetryRule,
    ReturnedRule,
    Situation,
    StatusPolicy,
    code_matches,
)


@pytest.mark.parametrize(
    ("pattern", "code", "expected"),
    [
        ("0110", 0x0110, True),
        ("0110", 0x0111, False),
        ("B00*", 0xB007, True),
        ("B00*", 0xB107, False),
        ("B0xx", 0xB0FF, True),
        ("A700-A7FF", 0xA7FE, True),
        ("A700-A7FF", 0xA800, False),
        ("Cxxx", 0xC001, True),
        ("Other", 0xC001, False),  # fallback rows are not patterns
    ],
)
def test_code_patterns(pattern: str, code: int, expected: bool) -> None:
    assert code_matches(pattern, code) is expected


def test_no_rules_keeps_the_defaults() -> None:
    statuses = StatusPolicy()
    assert statuses.status("C-STORE", Situation.OUT_OF_RESOURCES, 0xA700) == 0xA700
    assert statuses.treat("C-STORE", 0xB007) is Outcome.WARNING
    assert statuses.treat("C-STORE", 0xA700) is Outcome.FAILURE
    assert not statuses.names("C-STORE", Situation.NOT_IOD_CONFORMANT)


def test_the_first_returned_rule_of_a_situation_answers() -> None:
    policy = StatusPolicy(
        returned=(
            ReturnedRule("C-STORE", Situation.OUT_OF_RESOURCES, 0xA701),
            ReturnedRule("C-FIND", Situation.OUT_OF_RESOURCES, 0xA702, abort=True),
            ReturnedRule("C-STORE", Situation.OUT_OF_RESOURCES, 0xA700, abort=True),
        )
    )
    assert policy.status("C-STORE", Situation.OUT_OF_RESOURCES, 0) == 0xA701
    assert not policy.aborts("C-STORE", Situation.OUT_OF_RESOURCES)
    assert policy.aborts("C-FIND", Situation.OUT_OF_RESOURCES)
    assert policy.names("C-FIND", Situation.OUT_OF_RESOURCES)
    assert not policy.names("C-STORE", Situation.CANNOT_UNDERSTAND)
    assert policy == StatusPolicy(returned=policy.returned)


def test_returned_statuses_of_the_seed_profiles() -> None:
    lifesys = load_profile("lifesys-storage").policy().statuses
    assert lifesys.status("C-STORE", Situation.OUT_OF_RESOURCES, 0xA700) == 0x0110
    assert lifesys.status("C-STORE", Situation.NOT_IOD_CONFORMANT, 0xA900) == 0xB007
    assert lifesys.status("C-STORE", Situation.CANNOT_UNDERSTAND, 0xC000) == 0xC000
    qr = load_profile("lifesys-qr").policy().statuses
    assert qr.status("C-FIND", Situation.PROCESSING_FAILURE, 0xC001) == 0x0110
    assert qr.status("C-MOVE", Situation.PROCESSING_FAILURE, 0xC001) == 0x0110
    mwl = load_profile("lifesys-mwl").policy().statuses
    assert mwl.status("C-FIND", Situation.PROCESSING_FAILURE, 0xC001) == 0x0110
    kodak = load_profile("kodak-disk-server").policy().statuses
    assert kodak.status("C-FIND", Situation.UNABLE_TO_PROCESS, 0xC001) == 0xC000
    dicomark = load_profile("dicomark-inbound").policy().statuses
    assert dicomark.aborts("C-STORE", Situation.NOT_IOD_CONFORMANT)
    assert dicomark.status("C-STORE", Situation.OUT_OF_RESOURCES, 0xA700) == 0xA700


def test_received_statuses_of_the_seed_profiles() -> None:
    flux = load_profile("flux-store-scu").policy().statuses
    assert flux.treat("C-STORE", 0xB007) is Outcome.WARNING
    assert flux.treat("C-STORE", 0xA700) is Outcome.ABORT
    assert flux.treat("C-STORE", 0x0000) is Outcome.SUCCESS
    flux_print = load_profile("flux-print-scu").policy().statuses
    assert flux_print.treat("N-ACTION", 0xC600) is Outcome.ABORT
    assert flux_print.treat("N-SET", 0xB604) is Outcome.WARNING
    flux_find = load_profile("flux-find-scu").policy().statuses
    assert flux_find.treat("C-FIND", 0xFE00) is Outcome.FAILURE  # cancel: not "Other" failure
    assert flux_find.treat("C-FIND", 0xA900) is Outcome.ABORT
    lifesys = load_profile("lifesys-qr").policy().statuses
    assert lifesys.treat("C-STORE", 0xB007) is Outcome.SUCCESS
    assert lifesys.treat("C-STORE", 0xB001) is Outcome.FAILURE  # "any other status"
    kodak = load_profile("kodak-disk-server").policy().statuses
    assert kodak.treat("C-STORE", 0xB000) is Outcome.ABORT
    meddream = load_profile("meddream-storage-client").policy().statuses
    assert meddream.treat("C-STORE", 0xB006) is Outcome.WARNING
    assert meddream.treat("C-STORE", 0xC123) is Outcome.FAILURE


BASE = """
[profile]
system = "t"
application_entity = "t"
document = "t"
[ae_title]
title = "T"
[association]
role = "acceptor"
[[accepted]]
sop_classes = ["1.2.840.10008.1.1"]
transfer_syntaxes = ["1.2.840.10008.1.2"]
[[status]]
service = "C-STORE"
"""


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            'direction = "returned"\nstatus = "Failure"\ncode = "0110"\nsituations = ["x"]',
            "'x' is not one of",
        ),
        (
            'direction = "returned"\nstatus = "Failure"\ncode = "Cxxx"\nsituations = ["coercion"]',
            "one code",
        ),
        (
            'direction = "received"\nstatus = "Failure"\ncode = "0110"\nsituations = ["coercion"]',
            "only a returned",
        ),
        (
            'direction = "returned"\nstatus = "Failure"\ncode = "0110"\noutcome = "abort"',
            "only a received",
        ),
        ('direction = "received"\nstatus = "Failure"\ncode = "0110"\noutcome = "later"', "later"),
    ],
)
def test_bad_status_rows_are_refused(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(BASE + row + "\n")
    with pytest.raises(ConfigurationError, match=message):
        load_profile(path)


CT = "1.2.840.10008.5.1.4.1.1.2"
COMPLETE = {
    0x00080016: CT.encode(),
    0x00080018: b"1.2.3",
    0x0020000D: b"1.2",
    0x0020000E: b"1.2.4",
    0x00080060: b"CT",
    0x00280002: b"\x01\x00",
    0x00280004: b"MONOCHROME2 ",
    0x00280010: b"\x02\x00",
    0x00280011: b"\x02\x00",
    0x00280100: b"\x08\x00",
    0x00280101: b"\x08\x00",
    0x00280102: b"\x07\x00",
    0x00280103: b"\x00\x00",
}


def test_iod_checks() -> None:
    assert set(COMPLETE) <= set(IOD_TAGS)
    assert iod_problems(CT, "CT Image Storage", COMPLETE, {0x7FE00010}) == []
    assert iod_problems(CT, "CT Image Storage", COMPLETE, set()) == [
        "Pixel Data missing (Image Pixel module)"
    ]
    mr = {**COMPLETE, 0x00080060: b"MR"}
    assert iod_problems(CT, "CT Image Storage", mr, {0x7FE00010}) == [
        "Modality MR is not CT, as CT Image Storage requires"
    ]
    no_study = {k: v for k, v in COMPLETE.items() if k != 0x0020000D}
    assert iod_problems(CT, "CT Image Storage", no_study, {0x7FE00010}) == [
        "Study Instance UID missing or empty"
    ]
    sr = "1.2.840.10008.5.1.4.1.1.88.22"
    header = {k: v for k, v in COMPLETE.items() if k >> 16 != 0x0028}
    header[0x00080060] = b"SR"
    assert iod_problems(sr, "Enhanced SR Storage", header, set()) == []
    assert iod_problems(sr, "Enhanced SR Storage", header, {0x7FE00010}) == [
        "Pixel Data is not part of Enhanced SR Storage"
    ]


def test_query_constraints_from_the_lifesys_profile() -> None:
    from pydicom.dataset import Dataset

    from dicomnet.query.constraints import violated

    constraints = load_profile("lifesys-qr").query_constraints
    patient_root = "1.2.840.10008.5.1.4.1.2.1.1"
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = ""
    assert violated(constraints, patient_root, query) is not None
    query.PatientName = ""  # present: the Patient ID may be empty
    assert violated(constraints, patient_root, query) is None
    del query.PatientName
    query.PatientID = "AB*"
    assert violated(constraints, patient_root, query) is None
    query.QueryRetrieveLevel = "STUDY"  # the rule is for the PATIENT level
    query.PatientID = ""
    assert violated(constraints, patient_root, query) is None
    assert load_profile("kodak-disk-server").query_constraints == ()


def test_default_ae_policy_is_the_verification_profile() -> None:
    from dicomnet.ae import default_policy

    policy = default_policy("ME")
    assert policy.ae_title == "ME"
    explicit_then_implicit = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in policy.accepted_contexts] == [
        ("1.2.840.10008.1.1", explicit_then_implicit)
    ]
    assert [(c.abstract_syntax, c.transfer_syntaxes) for c in policy.proposed_contexts] == [
        ("1.2.840.10008.1.1", explicit_then_implicit)
    ]
    assert ("profile", "dicomnet-verification") in policy.info
    assert (
        policy.ae_titles.called_ae_titles == ("*",) and policy.ae_titles.calling_ae_titles is None
    )


def test_retry_rule_from_the_profile(tmp_path: Path) -> None:
    source = load_profile("flux-store-scu").path.read_text(encoding="utf-8")
    assert load_profile("flux-store-scu").policy().statuses.retry == RetryRule(3, 1.0)
    path = tmp_path / "flux-store-scu.toml"
    path.write_text(source + "\n[retry]\nattempts = 2\ndelay = 0.5\n", encoding="utf-8")
    assert load_profile(path).policy().statuses.retry == RetryRule(2, 0.5)
    path.write_text(source + "\n[retry]\nattempts = 0\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="attempts"):
        load_profile(path)


def test_retry_outcome_only_for_c_store(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    row = 'direction = "received"\nstatus = "Failure"\ncode = "0110"\noutcome = "retry"\n'
    path.write_text(BASE.replace('service = "C-STORE"', 'service = "C-FIND"') + row)
    with pytest.raises(ConfigurationError, match="C-STORE only"):
        load_profile(path)
    path.write_text(BASE + row)
    assert load_profile(path).policy().statuses.treat("C-STORE", 0x0110) is Outcome.RETRY
