"""Every SOP class row of the seeds' large tables against the profile, in full.

The other conformance tests compare the small tables in full and spot-check the large
ones (DicomArk Table 5, MedDream Table 4, Kodak Tables 6/7 and 12/13). Here each of those
tables is transcribed row by row from the seed text (``shared/seeds/``; the rows were
lifted from the extracted text with a UID pattern and read against the page, then the
UIDs the extraction garbled were corrected by name, each correction commented), and the
profile's accepted presentation contexts must equal the table: no row missing, none added,
each with the transfer syntaxes the document gives it.

LifeSys Tables 1.2 and 1.9-1.11 and MedDream Table 7 are compared in full in
``test_render.py`` and ``test_documents.py``.
"""

from __future__ import annotations

from dicomnet.conformance import load_profile, load_registry
from dicomnet.policy import Policy

REGISTRY = load_registry()
VERIFICATION = "1.2.840.10008.1.1"
COMMITMENT = "1.2.840.10008.1.20.1"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"
EBE = "1.2.840.10008.1.2.2"

Pairs = set[tuple[str, str]]


def accepted(name: str) -> Policy:
    return load_profile(name, registry=REGISTRY).policy()


def pairs(policy: Policy) -> Pairs:
    return {(c.abstract_syntax, t) for c in policy.accepted_contexts for t in c.transfer_syntaxes}


def product(uids: object, syntaxes: tuple[str, ...]) -> Pairs:
    assert isinstance(uids, list | tuple | set)
    return {(uid, ts) for uid in uids for ts in syntaxes}


def uids_of(rows: list[tuple[str, str]]) -> set[str]:
    return {uid for uid, _name in rows}


# ---------------------------------------------------------------- 000 RadZen DicomArk

# Table 5, "Presentation Contexts accepted by the Inbound Server for C-STORE requests": every
# row "See Transfer Syntax Selection Policies Below" (Table 6), role SCP, no negotiation.
DICOMARK_TABLE_5 = [
    ("1.2.840.10008.1.9", "Basic Study Content Notification SOP Class (Retired)"),
    ("1.2.840.10008.5.1.1.27", "Stored Print Storage SOP Class (Retired)"),
    ("1.2.840.10008.5.1.1.29", "Hardcopy Grayscale Image Storage SOP Class (Retired)"),
    ("1.2.840.10008.5.1.1.30", "Hardcopy Color Image Storage SOP Class (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.1", "Computed Radiography Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage - For Presentation"),
    (
        "1.2.840.10008.5.1.4.1.1.1.1.1",
        "Digital X-Ray Image Storage - For Processing",
    ),  # printed "...1.1.1.1"
    ("1.2.840.10008.5.1.4.1.1.1.2", "Digital Mammography X- Ray Image Storage - For Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.2.1", "Digital Mammography X- Ray Image Storage - For Processing"),
    ("1.2.840.10008.5.1.4.1.1.1.3", "Digital Intra-oral X-Ray Image Storage - For Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.3.1", "Digital Intra-oral X-Ray Image Storage - For Processing"),
    ("1.2.840.10008.5.1.4.1.1.10", "Standalone Modality LUT Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"),
    ("1.2.840.10008.5.1.4.1.1.11", "Standalone VOI LUT Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.11.1", "Grayscale Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.11.2", "Color Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.11.3", "Pseudo-Color Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.11.4", "Blending Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.12.1", "X-Ray Angiographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.1.1", "Enhanced XA Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.2", "X-Ray Radiofluoroscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.2.1", "Enhanced XRF Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.3", "X-Ray Angiographic Bi- Plane Image Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.128", "Positron Emission Tomography Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.129", "Standalone PET Curve Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.2.1", "Enhanced CT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.20", "Nuclear Medicine Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.3", "Ultrasound Multi-frame"),
    ("1.2.840.10008.5.1.4.1.1.3.1", "Ultrasound Multi-frame"),
    ("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4.1", "Enhanced MR Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4.2", "MR Spectroscopy Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.1", "RT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.2", "RT Dose Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.3", "RT Structure Set Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.4", "RT Beams Treatment"),
    ("1.2.840.10008.5.1.4.1.1.481.5", "RT Plan Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.6", "RT Brachy Treatment"),
    ("1.2.840.10008.5.1.4.1.1.481.7", "RT Treatment Summary"),
    ("1.2.840.10008.5.1.4.1.1.5", "Nuclear Medicine Image Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.6", "Ultrasound Image"),
    ("1.2.840.10008.5.1.4.1.1.6.1", "Ultrasound Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.66", "Raw Data Storage"),
    ("1.2.840.10008.5.1.4.1.1.66.1", "Spatial Registration"),
    ("1.2.840.10008.5.1.4.1.1.66.2", "Spatial Fiducials Storage"),
    ("1.2.840.10008.5.1.4.1.1.67", "Real World Value"),
    ("1.2.840.10008.5.1.4.1.1.7", "Secondary Capture"),
    ("1.2.840.10008.5.1.4.1.1.7.1", "Multi-frame Single Bit Secondary Capture"),
    ("1.2.840.10008.5.1.4.1.1.7.2", "Multi-frame Grayscale Byte Secondary Capture Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.7.3", "Multi-frame Grayscale Word Secondary Capture Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.7.4", "Multi-frame True Color Secondary Capture Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1", "VL Image Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1", "VL Endoscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", "Video Endoscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.2", "VL Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.2.1", "Video Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.3", "VL Slide-Coordinates Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "VL Photographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", "Video Photographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", "Ophthalmic Photography 8 Bit Image Storage"),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.5.2",
        "Ophthalmic Photography 16 Bit Image Storage",
    ),  # UID cell blank
    ("1.2.840.10008.5.1.4.1.1.77.1.5.3", "Stereometric Relationship Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.2", "VL Multi-frame Image Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.8", "Standalone Overlay Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.88.11", "Basic Text SR"),
    ("1.2.840.10008.5.1.4.1.1.88.22", "Enhanced SR"),
    ("1.2.840.10008.5.1.4.1.1.88.33", "Comprehensive SR"),
    ("1.2.840.10008.5.1.4.1.1.88.40", "Procedure Log Storage"),
    ("1.2.840.10008.5.1.4.1.1.88.50", "Mammography CAD SR"),
    ("1.2.840.10008.5.1.4.1.1.88.59", "Key Object Selection Document"),
    ("1.2.840.10008.5.1.4.1.1.88.65", "Chest CAD SR"),
    ("1.2.840.10008.5.1.4.1.1.9", "Standalone Curve Storage (Retired)"),
    ("1.2.840.10008.5.1.4.1.1.9.1.1", "12-lead ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.1.2", "General ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.1.3", "Ambulatory ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.2.1", "Hemodynamic Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.3.1", "Cardiac Electrophysiology Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.4.1", "Basic Voice Audio Waveform Storage"),
    ("1.2.840.10008.5.1.4.38.1", "Hanging Protocol Storage"),
]

# Table 6, "Supported Transfer Syntaxes by the Inbound Server".
DICOMARK_TABLE_6 = (
    IVR,
    ELE,
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless (Process 14)
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless Only
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.4.100",  # MPEG2 Main Profile @ Main Level
)


def test_dicomark_inbound_tables_4_5_6_in_full() -> None:
    assert len(DICOMARK_TABLE_5) == len(uids_of(DICOMARK_TABLE_5)) == 80
    policy = accepted("dicomark-inbound")
    # Table 4 prints Verification with Implicit VR LE; its "Transfer Syntax Selection
    # Policies" add Explicit VR LE.
    expected = product([VERIFICATION], (IVR, ELE)) | product(
        uids_of(DICOMARK_TABLE_5), DICOMARK_TABLE_6
    )
    assert pairs(policy) == expected
    assert all(c.scp_role and not c.scu_role for c in policy.accepted_contexts)


# ---------------------------------------------------------------- 001 MedDream

# Table 4, "SOP Classes for Storage Server AE": every row SCU NO, SCP YES. (Verification,
# VL Endoscopic and Encapsulated PDF are printed twice.)
MEDDREAM_TABLE_4 = [
    ("1.2.840.10008.1.1", "Verification SOP Class"),
    ("1.2.840.10008.1.20.1", "Storage Commitment Push Model SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage — for Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.1.1", "Digital X-Ray Image Storage — for Processing"),
    ("1.2.840.10008.5.1.4.1.1.1.2", "Digital Mammography X-Ray Image Storage — for"),
    ("1.2.840.10008.5.1.4.1.1.1.2.1", "Digital Mammography X-Ray Image Storage — for"),
    ("1.2.840.10008.5.1.4.1.1.1.3", "Digital Intra — oral X-Ray Image Storage — for Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.3.1", "Digital Intra — oral X-Ray Image Storage — for Processing"),
    ("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"),
    ("1.2.840.10008.5.1.4.1.1.11.1", "Grayscale Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.11.2", "Color Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.11.3", "Pseudocolor Softcopy Presentation Stage Storage SOP"),
    ("1.2.840.10008.5.1.4.1.1.11.4", "Blending Softcopy Presentation State Storage SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.12.1", "X-Ray Angiographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.1.1", "Enhanced XA Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.2", "X-Ray Radiofluoroscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.2.1", "Enhanced XRF Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.2.1", "Enhanced CT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.3.1", "Ultrasound Multiframe Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4.1", "Enhanced MR Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4.2", "MR Spectroscopy Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.1", "Radiation Therapy Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.2", "Radiation Therapy Dose Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.3", "Radiation Therapy Structure Set Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.4", "Radiation Therapy Beams Treatment Record Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.5", "Radiation Therapy Plan Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.6", "Radiation Therapy Brachy Treatment Record Storage"),
    ("1.2.840.10008.5.1.4.1.1.481.7", "Radiation Therapy Treatment Summary Record Storage"),
    ("1.2.840.10008.5.1.4.1.1.20", "NM Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.6.1", "Ultrasound Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.66", "Raw Data Storage"),
    ("1.2.840.10008.5.1.4.1.1.66.1", "Spatial Registration Storage"),
    ("1.2.840.10008.5.1.4.1.1.66.2", "Spatial Fiducials Storage"),
    ("1.2.840.10008.5.1.4.1.1.67", "Real World Value Mapping Storage"),
    ("1.2.840.10008.5.1.4.1.1.7", "Secondary Capture Image Storage"),
    (
        "1.2.840.10008.5.1.4.1.1.7.1",
        "Multiframe Single Bit Secondary Capture Image Storage",
    ),  # "7 .1"
    ("1.2.840.10008.5.1.4.1.1.7.2", "Multiframe Grayscale Byte Secondary Capture Image"),
    ("1.2.840.10008.5.1.4.1.1.7.3", "Multiframe Grayscale Word Secondary Capture Image"),
    ("1.2.840.10008.5.1.4.1.1.7.4", "Multiframe True Color Secondary Capture Image Storage"),
    ("1.2.840.10008.1.1", "Verification SOP Class"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1", "VL endoscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", "Video Endoscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.2", "VL Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.2.1", "Video Microscopic Image Storage"),  # printed "...77.1.21"
    ("1.2.840.10008.5.1.4.1.1.77.1.3", "VL Slide-Coordinates Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "VL Photographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", "Video Photographic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", "Ophthalmic Photography 8-Bit Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.2", "Ophthalmic Photography 16-Bit Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.3", "Stereometric Relationship Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1", "VL endoscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.88.11", "Basic Text SR"),
    ("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"),
    ("1.2.840.10008.5.1.4.1.1.88.22", "Enhanced SR"),
    ("1.2.840.10008.5.1.4.1.1.88.33", "Comprehensive SR"),
    ("1.2.840.10008.5.1.4.1.1.88.40", "Procedure Log Storage"),
    ("1.2.840.10008.5.1.4.1.1.88.50", "Mammography CAD SR"),
    ("1.2.840.10008.5.1.4.1.1.88.59", "Key Object Selection Document"),
    ("1.2.840.10008.5.1.4.1.1.88.65", "Chest CAD SR"),
    ("1.2.840.10008.5.1.4.1.1.88.67", "X-Ray Radiation Dose SR"),
    ("1.2.840.10008.5.1.4.1.1.9.1.1", "12-lead ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.1.2", "General ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.1.3", "Ambulatory ECG Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.2.1", "Hemodynamic Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.3.1", "Cardiac Electrophysiology Waveform Storage"),
    ("1.2.840.10008.5.1.4.1.1.9.4.1", "Basic Voice Audio Waveform Storage"),
    ("1.2.840.10008.5.1.4.38.1", "Hanging Protocol Storage"),
]


def test_meddream_storage_server_table_4_in_full() -> None:
    policy = accepted("meddream-storage-server")
    assert {c.abstract_syntax for c in policy.accepted_contexts} == uids_of(MEDDREAM_TABLE_4)
    assert len(uids_of(MEDDREAM_TABLE_4)) == 66
    assert all(c.scp_role and not c.scu_role for c in policy.accepted_contexts)


# ---------------------------------------------------------------- 004 Kodak

# Tables 2, 6, 10 and 12 print XA, RF and the US classes under "...1.1.7.x"; the registered
# UIDs are used (comments give the printed value).
KODAK_IMAGE_STORAGE = [
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.20", "Nuclear Medicine Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.1", "Computed Radiography Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.7", "Secondary Capture Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.12.1", "X-Ray Angiographic Image Storage"),  # "...1.1.7.12.1"
    ("1.2.840.10008.5.1.4.1.1.12.2", "X-Ray Radiofluoroscopic Image Storage"),  # "...7.12.2"
    ("1.2.840.10008.5.1.4.1.1.6.1", "Ultra Sound Image Storage"),  # "...1.1.7.6.1"
    ("1.2.840.10008.5.1.4.1.1.6", "Ultra Sound Image Storage (retired)"),  # "...1.1.7.6"
    ("1.2.840.10008.5.1.4.1.1.3.1", "Ultra Sound Multi Frame Image Storage"),  # "...7.3.1"
    ("1.2.840.10008.5.1.4.1.1.3", "Ultra Sound Multi Frame Image Storage (retired)"),  # "7.3"
    ("1.2.840.10008.5.1.4.1.1.1.1", "Digital X Ray Image Storage For Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.1.1", "Digital X Ray Image Storage For Processing"),
    ("1.2.840.10008.5.1.4.1.1.1.2", "Digital Mammography X Ray Image Storage For Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.2.1", "Digital Mammography X Ray Image Storage For Processing"),
    ("1.2.840.10008.5.1.4.1.1.1.3", "Digital Intra Oral X Ray Image Storage For Presentation"),
    ("1.2.840.10008.5.1.4.1.1.1.3.1", "Digital Intra Oral X Ray Image Storage For Processing"),
    ("1.2.840.10008.5.1.4.1.1.481.1", "RT Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.1", "VL Endoscopic Image Storage"),  # "1.2.840.10008. 5.1..."
    ("1.2.840.10008.5.1.4.1.1.77.1.2", "VL Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.3", "VL Slide Coordinates Microscopic Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "VL Photographic Image Storage"),
]
# Tables 5, 7, 8, 9, 11 and 13: each class with the three native syntaxes (Table 7 prints
# NM with Big Endian twice and no Implicit VR, and some rows with role SCU; Table 6 and
# §3.1.3.2.4, which give all three to every class, are followed).
KODAK_SYNTAXES = (EBE, ELE, IVR)  # §3.1.3.2.4: the acceptor's order of preference


def test_kodak_disk_server_tables_5_to_9_in_full() -> None:
    policy = accepted("kodak-disk-server")
    classes = [VERIFICATION, *uids_of(KODAK_IMAGE_STORAGE), STUDY_FIND, STUDY_MOVE]
    assert pairs(policy) == product(classes, KODAK_SYNTAXES)
    assert all(c.transfer_syntaxes == KODAK_SYNTAXES for c in policy.accepted_contexts)


def test_kodak_memory_server_tables_11_to_13_in_full() -> None:
    # Table 12 ends at VL Slide Coordinates; Table 13 also has VL Photographic, which the
    # profile accepts (a context table row is what an SCP answers).
    table_12 = uids_of(KODAK_IMAGE_STORAGE) - {"1.2.840.10008.5.1.4.1.1.77.1.4"}
    table_13 = uids_of(KODAK_IMAGE_STORAGE)
    policy = accepted("kodak-memory-server")
    assert pairs(policy) == product([VERIFICATION, *table_13], KODAK_SYNTAXES)
    assert table_12 < {c.abstract_syntax for c in policy.accepted_contexts}


def test_kodak_memory_server_has_no_query_retrieve() -> None:
    """§3.2 (Tables 10-13) gives the Memory-Server Verification and Storage only."""
    profile = load_profile("kodak-memory-server", registry=REGISTRY)
    kinds = {REGISTRY.sop_classes[uid].kind for uid, _scu, _scp in profile.sop_class_roles()}
    assert kinds == {"verification", "storage"}
    assert "no qr service" in dict(profile.info)["query_retrieve"]
