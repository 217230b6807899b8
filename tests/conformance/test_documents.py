"""Profiles against the seed documents' own tables.

The expected values below are transcribed from the documents in
``shared/seeds/`` (table numbers given), never computed from the profiles. Where
the document prints a wrong UID the registered one is used and the printed
value is quoted in a comment.
"""

from __future__ import annotations

from dicomnet.conformance import load_profile, load_registry
from dicomnet.policy import Policy

REGISTRY = load_registry()

IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"
EBE = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_14 = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
MPEG2 = "1.2.840.10008.1.2.4.100"
H264_HP41 = "1.2.840.10008.1.2.4.102"
H264_BD = "1.2.840.10008.1.2.4.103"
NATIVE = (IVR, ELE, EBE)

VERIFICATION = "1.2.840.10008.1.1"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
MWL_FIND = "1.2.840.10008.5.1.4.31"

Pairs = set[tuple[str, str]]


def pairs(abstract: list[str] | tuple[str, ...], syntaxes: tuple[str, ...]) -> Pairs:
    return {(a, t) for a in abstract for t in syntaxes}


def proposed_pairs(policy: Policy) -> Pairs:
    return {(c.abstract_syntax, t) for c in policy.proposed_contexts for t in c.transfer_syntaxes}


def accepted_pairs(policy: Policy) -> Pairs:
    return {(c.abstract_syntax, t) for c in policy.accepted_contexts for t in c.transfer_syntaxes}


def policy_of(name: str) -> Policy:
    return load_profile(name, registry=REGISTRY).policy()


def assert_scu_only(policy: Policy) -> None:
    assert all(c.scu_role and not c.scp_role for c in policy.proposed_contexts)


# ---------------------------------------------------------------- Flux (002)


def test_flux_find_scu_table_3_5() -> None:
    policy = policy_of("flux-find-scu")
    # Table 3.1 SOP classes, Table 3.5 transfer syntaxes, one context per SOP class.
    assert proposed_pairs(policy) == pairs([PATIENT_FIND, MWL_FIND], NATIVE)
    assert [c.abstract_syntax for c in policy.proposed_contexts] == [PATIENT_FIND, MWL_FIND]
    assert_scu_only(policy)
    assert not policy.accepted_contexts  # "Find SCU does not accept associations"
    assert policy.max_associations == 1  # Table 3.3
    info = dict(policy.info)  # Table 3.4
    assert info["document_implementation_class_uid"] == "1.2.826.0.1.3680043.2.1635.0.1.0.1"
    assert info["document_implementation_version_name"] == "FLUX_DICOM_101"
    assert (policy.timers.associate, policy.timers.dimse) == (1.0, 1.0)  # Table 3.18


def test_flux_store_scu_table_3_10_first_group() -> None:
    policy = policy_of("flux-store-scu")
    assert proposed_pairs(policy) == pairs(["1.2.840.10008.5.1.4.1.1.7"], NATIVE)
    assert_scu_only(policy)
    profile = load_profile("flux-store-scu", registry=REGISTRY)
    # The other three groups of Table 3.10: native plus RLE, JPEG lossy (.51), JPEG SV1 (.70).
    extras = {REGISTRY.transfer_syntax_group(g)[-1] for g in profile.proposed[0].alternative_groups}
    assert extras == {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.51", JPEG_LOSSLESS_SV1}


def test_flux_print_scu_table_3_15() -> None:
    policy = policy_of("flux-print-scu")
    meta = ["1.2.840.10008.5.1.1.9", "1.2.840.10008.5.1.1.18"]  # Table 3.13
    assert proposed_pairs(policy) == pairs(meta, NATIVE)
    assert_scu_only(policy)


# ---------------------------------------------------------------- MedDream (001)


def test_meddream_qr_client_table_13() -> None:
    policy = policy_of("meddream-qr-client")
    expected = pairs([STUDY_FIND, STUDY_MOVE, PATIENT_FIND, PATIENT_MOVE], (IVR, ELE))
    assert proposed_pairs(policy) == expected
    assert_scu_only(policy)
    assert not policy.accepted_contexts  # "does not accept Associations"
    assert policy.ae_title == "DCMQR"  # 3.4.1.1
    # Table 22: A-ASSOCIATE-AC 5 s, C-FIND-RSP 60 s, TCP connect no timeout, A-RELEASE-RP 5 s
    timers = policy.timers
    assert (timers.associate, timers.dimse, timers.connect, timers.release) == (5, 60, None, 5)


# Table 19, row by row (SOP class name -> UID by name; the printed UIDs wrap over cells).
MEDDREAM_TABLE_19 = {
    ("1.2.840.10008.5.1.4.1.1.1.1", IVR),  # Digital X-Ray - for Presentation
    ("1.2.840.10008.5.1.4.1.1.1.2", IVR),  # Digital Mammography - for Presentation
    ("1.2.840.10008.5.1.4.1.1.1.3", IVR),  # Digital Intra-oral - for Presentation
    ("1.2.840.10008.5.1.4.1.1.12.1", IVR),  # X-Ray Angiographic (printed "...1.1.12 A")
    ("1.2.840.10008.5.1.4.1.1.12.2", IVR),  # X-Ray Radiofluoroscopic
    ("1.2.840.10008.5.1.4.1.1.2", IVR),  # CT
    ("1.2.840.10008.5.1.4.1.1.3.1", JPEG_BASELINE),  # Ultrasound Multiframe
    ("1.2.840.10008.5.1.4.1.1.4.1", IVR),  # Enhanced MR
    ("1.2.840.10008.5.1.4.1.1.4", IVR),  # MR
    ("1.2.840.10008.5.1.4.1.1.4", JPEG_LOSSLESS_14),  # MR
    ("1.2.840.10008.5.1.4.1.1.20", IVR),  # NM
    ("1.2.840.10008.5.1.4.1.1.20", ELE),  # NM
    ("1.2.840.10008.5.1.4.1.1.6.1", IVR),  # Ultrasound
    ("1.2.840.10008.5.1.4.1.1.6.1", EBE),  # Ultrasound
    ("1.2.840.10008.5.1.4.1.1.7", IVR),  # Secondary Capture
    ("1.2.840.10008.5.1.4.1.1.7", JPEG_LOSSLESS_SV1),  # Secondary Capture
    ("1.2.840.10008.5.1.4.1.1.7", JPEG_BASELINE),  # Secondary Capture (printed "8514117")
    (VERIFICATION, IVR),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", IVR),  # Ophthalmic Photography 8-Bit
    ("1.2.840.10008.5.1.4.1.1.77.1.5.2", IVR),  # Ophthalmic Photography 16-Bit
}


def test_meddream_storage_client_table_19() -> None:
    policy = policy_of("meddream-storage-client")
    got = proposed_pairs(policy)
    assert got >= MEDDREAM_TABLE_19
    # The one addition: Storage Commitment, which Table 16 lists as SCU without a Table 19 row.
    assert got - MEDDREAM_TABLE_19 == {(STORAGE_COMMITMENT, IVR)}
    assert_scu_only(policy)
    # Each row of Table 19 is its own presentation context.
    assert len(policy.proposed_contexts) == len(MEDDREAM_TABLE_19) + 1
    # It accepts the association carrying the N-EVENT-REPORT, as the commitment SCU.
    (commitment,) = policy.accepted_contexts
    assert commitment.abstract_syntax == STORAGE_COMMITMENT
    assert commitment.scu_role and not commitment.scp_role


# Table 7 of the Storage Server (titled "Proposed", role SCP): the contexts it accepts.
MEDDREAM_TABLE_7 = {
    (VERIFICATION, IVR),
    ("1.2.840.10008.5.1.4.1.1.1.1", IVR),
    ("1.2.840.10008.5.1.4.1.1.1.2", IVR),
    ("1.2.840.10008.5.1.4.1.1.1.3", IVR),
    ("1.2.840.10008.5.1.4.1.1.12.1", IVR),
    ("1.2.840.10008.5.1.4.1.1.12.2", IVR),
    ("1.2.840.10008.5.1.4.1.1.2", IVR),
    ("1.2.840.10008.5.1.4.1.1.3.1", JPEG_BASELINE),
    ("1.2.840.10008.5.1.4.1.1.4.1", IVR),
    ("1.2.840.10008.5.1.4.1.1.4", IVR),
    ("1.2.840.10008.5.1.4.1.1.4", JPEG_LOSSLESS_14),
    ("1.2.840.10008.5.1.4.1.1.20", ELE),
    ("1.2.840.10008.5.1.4.1.1.20", IVR),
    ("1.2.840.10008.5.1.4.1.1.6.1", IVR),
    ("1.2.840.10008.5.1.4.1.1.6.1", EBE),
    ("1.2.840.10008.5.1.4.1.1.7", JPEG_BASELINE),
    ("1.2.840.10008.5.1.4.1.1.7", MPEG2),
    ("1.2.840.10008.5.1.4.1.1.7", H264_HP41),
    ("1.2.840.10008.5.1.4.1.1.7", IVR),
    ("1.2.840.10008.5.1.4.1.1.7", JPEG_LOSSLESS_SV1),
    ("1.2.840.10008.5.1.4.1.1.7", H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", MPEG2),  # Video Endoscopic (printed "...77 1141")
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", H264_HP41),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", MPEG2),  # Video Photographic (printed "...77 141")
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", H264_HP41),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", IVR),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.2", IVR),
}


def test_meddream_storage_server_table_7_contexts() -> None:
    policy = policy_of("meddream-storage-server")
    got = accepted_pairs(policy)
    assert got >= MEDDREAM_TABLE_7
    listed = {a for a, _ in MEDDREAM_TABLE_7}
    # Table 7 is complete for the classes it lists: nothing added to them.
    assert {p for p in got if p[0] in listed} == MEDDREAM_TABLE_7
    # Every other class (Table 4 only) gets the default transfer syntax alone.
    assert {t for a, t in got if a not in listed} == {IVR}
    assert STORAGE_COMMITMENT in {a for a, _ in got}
    assert all(c.scp_role and not c.scu_role for c in policy.accepted_contexts)
    assert policy.ae_titles.called_ae_titles == ("DCMRCV",)  # Table 22
    assert policy.ae_titles.calling_ae_titles is None  # Table 22: any
    assert policy.pack_command_and_data is False  # Table 22 default


# ---------------------------------------------------------------- Kodak (004)


def test_kodak_web_server_table_15_and_memory_manager_table_17() -> None:
    web = policy_of("kodak-web-server")
    assert proposed_pairs(web) == pairs([STUDY_FIND], NATIVE)
    assert_scu_only(web)
    manager = policy_of("kodak-memory-manager")
    # Table 17 prints the FIND UID ...2.2.1 for "Study Root MOVE"; the MOVE UID is meant.
    assert proposed_pairs(manager) == pairs([STUDY_MOVE], NATIVE)
    assert dict(manager.info)["document_implementation_version_name"] == "PROVISION-v1.0"


def test_kodak_disk_server_table_3_sub_operation_contexts() -> None:
    table_3 = [
        "1.2.840.10008.5.1.4.1.1.1",  # CR
        "1.2.840.10008.5.1.4.1.1.20",  # NM
        "1.2.840.10008.5.1.4.1.1.7",  # SC
        "1.2.840.10008.5.1.4.1.1.12.1",  # XA
        "1.2.840.10008.5.1.4.1.1.12.2",  # RF
        "1.2.840.10008.5.1.4.1.1.6.1",  # US
        "1.2.840.10008.5.1.4.1.1.6",  # US (Retired)
        "1.2.840.10008.5.1.4.1.1.1.1",  # DX for Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # DX for Processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # MG for Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # MG for Processing
        "1.2.840.10008.5.1.4.1.1.1.3",  # IO for Presentation
        "1.2.840.10008.5.1.4.1.1.1.3.1",  # IO for Processing
        "1.2.840.10008.5.1.4.1.1.481.1",  # RT Image
        "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic
        "1.2.840.10008.5.1.4.1.1.77.1.2",  # VL Microscopic
        "1.2.840.10008.5.1.4.1.1.77.1.3",  # VL Slide Coordinates Microscopic
        "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic
    ]
    # Tables 1 and 4 also list CT, MR and both US Multi-frame classes as SCU.
    tables_1_and_4 = [
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.1.1.3.1",  # printed "...1.1.7.3.1"
        "1.2.840.10008.5.1.4.1.1.3",  # printed "...1.1.7.3"
    ]
    policy = policy_of("kodak-disk-server")
    assert proposed_pairs(policy) == pairs(table_3 + tables_1_and_4, NATIVE)
    assert_scu_only(policy)


# ---------------------------------------------------------------- LifeSys (003)


def test_lifesys_storage_table_1_7_proposed() -> None:
    policy = policy_of("lifesys-storage")
    verification, commitment = policy.proposed_contexts
    assert (verification.abstract_syntax, verification.transfer_syntaxes) == (VERIFICATION, (IVR,))
    assert verification.scu_role and not verification.scp_role
    # Printed "1.2.840.10008.1.20.1.1.1"; role SCP for the N-EVENT-REPORT association.
    assert commitment.abstract_syntax == STORAGE_COMMITMENT
    assert commitment.transfer_syntaxes == (IVR, ELE)
    assert commitment.scp_role and not commitment.scu_role


def test_lifesys_qr_table_1_24_proposed() -> None:
    image = (
        IVR,
        ELE,
        JPEG_BASELINE,
        "1.2.840.10008.1.2.4.51",
        JPEG_LOSSLESS_14,
        JPEG_LOSSLESS_SV1,
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
    )  # Table 1.26
    non_image = (IVR, ELE)  # Table 1.25
    image_classes = [
        "1.2.840.10008.5.1.1.29",
        "1.2.840.10008.5.1.1.30",
        "1.2.840.10008.5.1.4.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.2",
        "1.2.840.10008.5.1.4.1.1.1.2.1",
        "1.2.840.10008.5.1.4.1.1.1.3",
        "1.2.840.10008.5.1.4.1.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.1.1.4.1",
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.12.1",  # printed "1.2.840.10008.5.1.4.1.1.1.2.1"
        "1.2.840.10008.5.1.4.1.1.12.2",  # printed "1.2.840.10008.5.1.4.1.1.1.2.2"
        "1.2.840.10008.5.1.4.1.1.20",
        "1.2.840.10008.5.1.4.1.1.77.1.1",
        "1.2.840.10008.5.1.4.1.1.77.1.2",
        "1.2.840.10008.5.1.4.1.1.77.1.3",
        "1.2.840.10008.5.1.4.1.1.77.1.4",
        "1.2.840.10008.5.1.4.1.1.128",  # printed "1.2.840.10008.5.1.4.1.1.28"
        "1.2.840.10008.5.1.4.1.1.481.1",
    ]
    non_image_classes = [
        "1.2.840.10008.5.1.4.1.1.11.1",  # printed "1.2.840.10008.5.1.4.1.1.1.1"
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.59",
    ]
    table = pairs(image_classes, image) | pairs(non_image_classes, non_image)
    # Table 1.19 (SCU) and 4.2.2 General add Verification, the multi-frame SC classes and Raw Data.
    additions = (
        pairs([VERIFICATION], (IVR,))
        | pairs(
            [
                "1.2.840.10008.5.1.4.1.1.7.2",
                "1.2.840.10008.5.1.4.1.1.7.3",
                "1.2.840.10008.5.1.4.1.1.7.4",
            ],
            image,
        )
        | pairs(["1.2.840.10008.5.1.4.1.1.66"], non_image)
    )
    policy = policy_of("lifesys-qr")
    assert proposed_pairs(policy) == table | additions
    assert_scu_only(policy)


# ---------------------------------------------------------------- DicomArk (000)


def test_dicomark_send_queue_table_3() -> None:
    profile = load_profile("dicomark-send-queue", registry=REGISTRY)
    policy = profile.policy()
    # "As sent by source": the instance's own transfer syntax first, then Implicit VR LE.
    (rule,) = profile.proposed
    assert rule.instance_transfer_syntax_first
    assert all(c.transfer_syntaxes == (IVR,) for c in policy.proposed_contexts)
    assert_scu_only(policy)
    assert policy.max_associations == 1  # "only initiate 1 association at a time"
    inbound = policy_of("dicomark-inbound")
    stored = {c.abstract_syntax for c in inbound.accepted_contexts} - {VERIFICATION}
    assert {c.abstract_syntax for c in policy.proposed_contexts} == stored


def test_dicomark_inbound_table_5_spot_checks() -> None:
    accepted = {c.abstract_syntax for c in policy_of("dicomark-inbound").accepted_contexts}
    # Rows whose printed UIDs are garbled in Table 1 or 5, by name:
    assert "1.2.840.10008.5.1.4.1.1.1.1" in accepted  # DX For Presentation
    assert "1.2.840.10008.5.1.4.1.1.1.2.1" in accepted  # MG For Processing (Table 1: ...1.1.2.1)
    assert "1.2.840.10008.5.1.4.1.1.481.2" in accepted  # RT Dose (Table 5: OCR noise)
    assert "1.2.840.10008.5.1.4.1.1.77.1.5.2" in accepted  # OP 16 bit (Table 5: blank UID)
    assert "1.2.840.10008.1.9" in accepted  # Basic Study Content Notification (Retired)
    assert "1.2.840.10008.5.1.4.38.1" in accepted  # Hanging Protocol Storage
    assert len(accepted) == 81  # Verification + 80 rows of Table 5
