"""Every seed AE that acts as an SCP, served by dicomnet and negotiated against by real peers.

Each test loads a profile (``conformance/profiles``), serves its Policy on an
ephemeral loopback port, and lets DCMTK or pynetdicom negotiate with it. The
expected answers are transcribed from the seed documents in ``shared/seeds/``
(section and table given beside each), never read from the profile under test.

Presentation-context results are those of PS3.8 Table 9-18: 0 acceptance,
1 user rejection, 3 abstract syntax not supported, 4 transfer syntaxes not
supported.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from conftest import require_module
from storage.test_scp_support import make_dataset, part10_dataset_bytes, write_part10

from dicomnet.ae import AE, Server
from dicomnet.association import Association
from dicomnet.conformance import load_profile
from dicomnet.errors import AssociationRejected
from dicomnet.policy import Policy
from dicomnet.services.base import Service
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.memory import MemoryStore
from interop.profile_peers import association, find_dcmtk, run_associations, run_program

pytestmark = pytest.mark.interop

IVR = "1.2.840.10008.1.2"
ELE = "1.2.840.10008.1.2.1"
EBE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
RLE = "1.2.840.10008.1.2.5"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS_14 = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"
MPEG2 = "1.2.840.10008.1.2.4.100"
H264_HP41 = "1.2.840.10008.1.2.4.102"
H264_BD = "1.2.840.10008.1.2.4.103"

VERIFICATION = "1.2.840.10008.1.1"
CR = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
MR = "1.2.840.10008.5.1.4.1.1.4"
US = "1.2.840.10008.5.1.4.1.1.6.1"
SC = "1.2.840.10008.5.1.4.1.1.7"
NM = "1.2.840.10008.5.1.4.1.1.20"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
PET = "1.2.840.10008.5.1.4.1.1.128"
RT_IMAGE = "1.2.840.10008.5.1.4.1.1.481.1"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
PSO_FIND = "1.2.840.10008.5.1.4.1.2.3.1"
PSO_MOVE = "1.2.840.10008.5.1.4.1.2.3.2"
MWL_FIND = "1.2.840.10008.5.1.4.31"


@functools.cache
def dcmtk(name: str) -> str:
    """DCMTK's ``name``, looked up once per module."""
    return find_dcmtk(name)


def dcmtk_section(out: str, pdu: str) -> str:
    """The ``-d`` dump of ``pdu`` ("A-ASSOCIATE-RQ" or "A-ASSOCIATE-AC") in DCMTK output."""
    return out.split(f"BEGIN {pdu}", 1)[1].split(f"END {pdu}", 1)[0]


def dcmtk_proposed(out: str) -> list[list[str]]:
    """The transfer syntax lists of the contexts in a DCMTK ``-d`` A-ASSOCIATE-RQ dump."""
    contexts: list[list[str]] = []
    for line in dcmtk_section(out, "A-ASSOCIATE-RQ").splitlines():
        text = line.removeprefix("D:").strip()
        if text.startswith("Context ID:"):
            contexts.append([])
        elif text[:1] == "=" and text[1:2].isalpha() and contexts:
            contexts[-1].append(text)
    return contexts


def dcmtk_accepted(out: str) -> list[str]:
    """The accepted transfer syntax of each context in a DCMTK ``-d`` A-ASSOCIATE-AC dump."""
    marker = "Accepted Transfer Syntax:"
    return [
        line.split(marker, 1)[1].strip()
        for line in dcmtk_section(out, "A-ASSOCIATE-AC").splitlines()
        if marker in line
    ]


def policy_of(name: str) -> Policy:
    return load_profile(name).policy()


async def serve(policy: Policy, handlers: Iterable[Service] = ()) -> Server:
    """A dicomnet server for ``policy`` (its own AE title) on an ephemeral loopback port."""
    return await AE(policy.ae_title, policy, handlers=handlers).serve("127.0.0.1", 0)


# ---------------------------------------------------------------- DicomArk (000)

# Table 6, "Supported Transfer Syntaxes by the Inbound Server" (storage).
DICOMARK_TABLE_6 = [
    IVR,
    ELE,
    DEFLATED,
    RLE,
    JPEG_LOSSLESS_SV1,
    JPEG_LOSSLESS_14,
    JPEG_BASELINE,
    JPEG_EXTENDED,
    JPEG_LS_LOSSLESS,
    JPEG_LS_NEAR,
    J2K_LOSSLESS,
    J2K,
    MPEG2,
]


async def test_dicomark_inbound_echoscu_any_calling_and_called_ae() -> None:
    # §5.1.1.1: the called AE is checked unless the Inbound AE title is the wildcard "*";
    # requests from any calling AE title are accepted.
    echoscu = dcmtk("echoscu")
    async with await serve(policy_of("dicomark-inbound")) as server:
        results = [
            await run_program(
                echoscu, "-v", "-aet", calling, "-aec", called, "127.0.0.1", str(server.port)
            )
            for calling, called in [("RANDOM1", "WHATEVER"), ("X", "DICOMARK")]
        ]
    for code, out in results:
        assert code == 0, out
        assert "Received Echo Response (Success)" in out, out


async def test_dicomark_inbound_storage_contexts_pynetdicom() -> None:
    require_module("pynetdicom")
    classes = [CT, MR, SC, CR, US, US_MULTIFRAME, DX_PRESENTATION, ENHANCED_SR, PET, RT_IMAGE]
    # Every Table 6 syntax alone, each with a Table 5 class in turn.
    listed = [(classes[i % len(classes)], [ts]) for i, ts in enumerate(DICOMARK_TABLE_6)]
    contexts = [
        (VERIFICATION, [IVR]),  # Table 4
        (VERIFICATION, [ELE]),  # "Transfer Syntax Selection Policies" for verification
        (VERIFICATION, [EBE]),  # not in that list
        *listed,
        (CT, [EBE]),  # Explicit VR Big Endian is not in Table 6
        (SEGMENTATION, [IVR]),  # not in Table 5
        (MWL_FIND, [IVR]),  # not a storage class at all
    ]
    async with await serve(policy_of("dicomark-inbound")) as server:
        (report,) = await run_associations(
            [association(server.port, contexts, calling="RANDOM2", called="ANYTHING", echo=True)]
        )
    assert report.established, report
    assert report.echo == 0
    assert report.result(0) == (0, IVR)
    assert report.result(1) == (0, ELE)
    assert report.result(2) == (4, None)
    for index, (abstract, (ts,)) in enumerate(listed, start=3):
        assert report.contexts[index].abstract_syntax == abstract
        assert report.result(index) == (0, ts), (abstract, ts)
    tail = [report.result(i)[0] for i in range(len(contexts) - 3, len(contexts))]
    assert tail == [4, 3, 3]


# ---------------------------------------------------------------- LifeSys (003)


#: The three LifeSys SCP AEs with their default AE titles (Table 1.48).
LIFESYS_SCPS = pytest.mark.parametrize(
    ("profile", "called"),
    [("lifesys-storage", "STORE_SCP"), ("lifesys-qr", "QR_SCP"), ("lifesys-mwl", "MWL_SCP")],
)


@LIFESYS_SCPS
async def test_lifesys_rejects_the_eleventh_association(profile: str, called: str) -> None:
    # Tables 1.49, 1.21 and 1.39: at most 10 simultaneous associations; Tables 1.8, 1.29
    # and 1.42: past it 2 rejected-transient / service-provider / 2 local-limit-exceeded.
    echoscu = dcmtk("echoscu")
    policy = policy_of(profile)
    holder = AE("HOLDER")
    async with await serve(policy) as server:
        held: list[Association] = []
        try:
            held.extend(
                [
                    await holder.associate("127.0.0.1", server.port, called_ae=called)
                    for _ in range(10)
                ]
            )
            assert len(server.active) == 10
            code, out = await run_program(
                echoscu, "-v", "-aec", called, "127.0.0.1", str(server.port)
            )
            assert code != 0, out
            assert "Rejected Transient" in out, out
            assert "Service Provider (Presentation Related)" in out, out
            assert "Local Limit Exceeded" in out, out
            with pytest.raises(AssociationRejected) as caught:
                await holder.associate("127.0.0.1", server.port, called_ae=called)
            rejection = caught.value
            assert (int(rejection.result), int(rejection.source), rejection.reason) == (2, 3, 2)
            # Transient: with one association gone, the same request succeeds.
            await held.pop().release()
            code, out = await run_program(
                echoscu, "-v", "-aec", called, "127.0.0.1", str(server.port)
            )
            assert code == 0, out
            assert "Received Echo Response (Success)" in out
        finally:
            for assoc in held:
                await assoc.release()


@LIFESYS_SCPS
async def test_lifesys_calling_ae_allow_list(profile: str, called: str) -> None:
    # §4.2.1-4.2.3 and Tables 1.8, 1.29, 1.42: configured to accept only listed calling
    # AEs, an unknown one gets 1 rejected-permanent / service-user / 3
    # calling-AE-title-not-recognized.
    echoscu = dcmtk("echoscu")
    policy = policy_of(profile)
    policy = replace(policy, ae_titles=replace(policy.ae_titles, calling_ae_titles=("MODALITY1",)))
    async with await serve(policy) as server:
        port = str(server.port)
        stranger = await run_program(
            echoscu, "-v", "-aet", "STRANGER", "-aec", called, "127.0.0.1", port
        )
        known = await run_program(
            echoscu, "-v", "-aet", "MODALITY1", "-aec", called, "127.0.0.1", port
        )
        with pytest.raises(AssociationRejected) as caught:
            await AE("STRANGER").associate("127.0.0.1", server.port, called_ae=called)
    code, out = stranger
    assert code != 0, out
    assert "Rejected Permanent" in out and "Service User" in out, out
    assert "Calling AE Title Not Recognized" in out, out
    code, out = known
    assert code == 0, out
    assert "Received Echo Response (Success)" in out
    rejection = caught.value
    assert (int(rejection.result), int(rejection.source), rejection.reason) == (1, 1, 3)


async def test_lifesys_storage_wrong_called_ae_gets_verification_only() -> None:
    # §4.2.1: "if the Called AET does not correspond to the actual Storage AET, only a
    # Presentation Context for the Verification SOP Class will be accepted".
    require_module("pynetdicom")
    echoscu = dcmtk("echoscu")
    contexts = [(VERIFICATION, [IVR]), (CT, [IVR])]  # Table 1.9 rows
    async with await serve(policy_of("lifesys-storage")) as server:
        wrong, right = await run_associations(
            [
                association(server.port, contexts, called="NOT_STORE", echo=True),
                association(server.port, contexts, called="STORE_SCP", echo=True),
            ]
        )
        code, out = await run_program(
            echoscu, "-v", "-aec", "NOT_STORE", "127.0.0.1", str(server.port)
        )
    assert wrong.established and wrong.echo == 0
    assert wrong.result(0) == (0, IVR)
    assert wrong.result(1)[0] != 0  # CT refused on this association
    assert right.result(0) == (0, IVR) and right.result(1) == (0, IVR)
    assert right.echo == 0
    assert code == 0, out
    assert "Received Echo Response (Success)" in out


async def test_lifesys_qr_and_mwl_contexts_pynetdicom() -> None:
    require_module("pynetdicom")
    # Table 1.30: Verification (Implicit VR LE), FIND and MOVE of the three models
    # (Implicit and Explicit VR LE). Table 1.43: Verification and MWL FIND.
    qr_models = [PATIENT_FIND, PATIENT_MOVE, STUDY_FIND, STUDY_MOVE, PSO_FIND, PSO_MOVE]
    qr_contexts = [(VERIFICATION, [IVR])]
    qr_contexts += [(uid, [ts]) for uid in qr_models for ts in (IVR, ELE)]
    qr_refused = [
        (PATIENT_GET, [IVR]),  # GET is not listed
        (MWL_FIND, [IVR]),  # the worklist is another AE
        (STUDY_FIND, [EBE]),  # listed class, unlisted syntax
        (VERIFICATION, [ELE]),  # Verification is Implicit VR LE only
    ]
    mwl_contexts = [(VERIFICATION, [IVR]), (MWL_FIND, [IVR]), (MWL_FIND, [ELE])]
    mwl_refused = [(STUDY_FIND, [IVR]), (MWL_FIND, [EBE])]
    async with (
        await serve(policy_of("lifesys-qr")) as qr,
        await serve(policy_of("lifesys-mwl")) as mwl,
    ):
        qr_report, mwl_report, qr_wrong_called = await run_associations(
            [
                association(qr.port, qr_contexts + qr_refused, called="QR_SCP", echo=True),
                association(mwl.port, mwl_contexts + mwl_refused, called="MWL_SCP", echo=True),
                association(qr.port, qr_contexts, called="SOMEONE", echo=True),
            ]
        )
    assert qr_report.established and qr_report.echo == 0
    for index, (_, (ts,)) in enumerate(qr_contexts):
        assert qr_report.result(index) == (0, ts), qr_contexts[index]
    refused = [qr_report.result(len(qr_contexts) + i)[0] for i in range(len(qr_refused))]
    assert refused == [3, 3, 4, 4]
    assert mwl_report.established and mwl_report.echo == 0
    for index, (_, (ts,)) in enumerate(mwl_contexts):
        assert mwl_report.result(index) == (0, ts), mwl_contexts[index]
    refused = [mwl_report.result(len(mwl_contexts) + i)[0] for i in range(len(mwl_refused))]
    assert refused == [3, 4]
    # §4.2.2: with another called AE title, only Verification.
    assert qr_wrong_called.result(0) == (0, IVR)
    assert all(c.result != 0 for c in qr_wrong_called.contexts[1:])
    assert qr_wrong_called.echo == 0


async def test_lifesys_qr_and_mwl_findscu_negotiates() -> None:
    # findscu proposes one FIND context (Explicit LE, Explicit BE, Implicit LE); the Table
    # 1.30/1.43 syntaxes are little endian only. No C-FIND SCP service runs here, so only
    # the negotiation is checked.
    findscu = dcmtk("findscu")
    async with (
        await serve(policy_of("lifesys-qr")) as qr,
        await serve(policy_of("lifesys-mwl")) as mwl,
    ):
        runs = {
            option: await run_program(
                findscu,
                "-d",
                option,
                "-aec",
                called,
                "-k",
                "QueryRetrieveLevel=STUDY",
                "127.0.0.1",
                str(server.port),
            )
            for option, called, server in [
                ("-P", "QR_SCP", qr),
                ("-S", "QR_SCP", qr),
                ("-O", "QR_SCP", qr),
                ("-W", "MWL_SCP", mwl),
            ]
        }
    names = {
        "-P": "FINDPatientRootQueryRetrieveInformationModel",
        "-S": "FINDStudyRootQueryRetrieveInformationModel",
        "-O": "RETIRED_FINDPatientStudyOnlyQueryRetrieveInformationModel",
        "-W": "FINDModalityWorklistInformationModel",
    }
    for option, (_, out) in runs.items():
        assert "Association Accepted" in out, out
        ac = dcmtk_section(out, "A-ASSOCIATE-AC")
        assert f"Abstract Syntax: ={names[option]}" in ac, ac
        assert "(Accepted)" in ac, ac
        (accepted,) = dcmtk_accepted(out)
        assert accepted in ("=LittleEndianExplicit", "=LittleEndianImplicit"), ac


# ---------------------------------------------------------------- Kodak (004)


async def test_kodak_disk_server_prefers_big_endian_pynetdicom() -> None:
    # §3.1.3.1.4 and §3.1.3.2.4: offered a choice, Explicit VR BE, then Explicit VR LE,
    # then Implicit VR LE. Tables 5 and 7 list the three native syntaxes only.
    require_module("pynetdicom")
    contexts = [
        (CT, [IVR, ELE, EBE]),
        (MR, [ELE, IVR, EBE]),
        (VERIFICATION, [IVR, ELE, EBE]),
        (CR, [IVR, ELE]),
        (SC, [IVR]),
        (CT, [JPEG_BASELINE]),
        (PET, [IVR, ELE, EBE]),  # not in Table 6
    ]
    async with await serve(policy_of("kodak-disk-server")) as server:
        (report,) = await run_associations(
            [association(server.port, contexts, called="DISK_SERVER", echo=True)]
        )
    assert report.established and report.echo == 0
    assert [report.result(i) for i in range(len(contexts))] == [
        (0, EBE),
        (0, EBE),
        (0, EBE),
        (0, ELE),
        (0, IVR),
        (4, None),
        (3, None),
    ]


async def test_kodak_disk_server_storescu_big_endian_stored(tmp_path: Path) -> None:
    # storescu -xe proposes Explicit LE first; the Disk-Server still picks Explicit BE, and
    # the file (already Explicit BE) is stored to disk as sent.
    storescu = dcmtk("storescu")
    ds = make_dataset(pixels=64 * 64)
    path = tmp_path / "ct.dcm"
    sent = write_part10(ds, EBE, str(path))
    store = FolderStore(tmp_path / "disk", fsync=False)
    async with await serve(
        policy_of("kodak-disk-server"), handlers=[StorageService(store)]
    ) as server:
        code, out = await run_program(
            storescu,
            *("-d", "-R", "+C", "-xe"),  # one context: Explicit LE, Explicit BE, Implicit LE
            *("-aec", "DISK_SERVER", "127.0.0.1", str(server.port), str(path)),
        )
    assert code == 0, out
    assert dcmtk_proposed(out) == [
        ["=LittleEndianExplicit", "=BigEndianExplicit", "=LittleEndianImplicit"]
    ]
    assert dcmtk_accepted(out) == ["=BigEndianExplicit"]
    stored_path = store.path_for(str(ds.SOPInstanceUID))
    assert part10_dataset_bytes(stored_path.read_bytes()) == sent
    assert pydicom.dcmread(stored_path, stop_before_pixels=True).file_meta.TransferSyntaxUID == EBE


async def test_kodak_memory_server_storescu_held_in_memory(tmp_path: Path) -> None:
    # §3.2.3.2: images are loaded into memory; Table 12 lists CT; the same BE > LE > IVR
    # preference applies, so an Implicit VR LE file arrives converted to Explicit VR BE.
    storescu = dcmtk("storescu")
    ds = make_dataset(pixels=32 * 32)
    path = tmp_path / "ct.dcm"
    write_part10(ds, IVR, str(path))
    store = MemoryStore()
    async with await serve(
        policy_of("kodak-memory-server"), handlers=[StorageService(store)]
    ) as server:
        code, out = await run_program(
            storescu,
            "-d",
            "-R",
            "+C",
            "-aec",
            "MEMORY_SERVER",
            "127.0.0.1",
            str(server.port),
            str(path),
        )
    assert code == 0, out
    assert len(dcmtk_proposed(out)) == 1 and "=BigEndianExplicit" in dcmtk_proposed(out)[0]
    assert dcmtk_accepted(out) == ["=BigEndianExplicit"]
    held = store.instances[str(ds.SOPInstanceUID)]
    assert held.info.transfer_syntax_uid == EBE
    assert held.info.source_ae_title == "STORESCU"
    back = pydicom.dcmread(io.BytesIO(held.part10()))
    assert back.file_meta.TransferSyntaxUID == EBE
    assert back["PixelData"].VR == "OW"  # storescu converts Implicit VR LE's OW to BE words
    assert (back.pixel_array == ds.pixel_array).all()
    assert (back.SOPInstanceUID, back.PatientName, back.Rows) == (
        ds.SOPInstanceUID,
        ds.PatientName,
        ds.Rows,
    )


# ---------------------------------------------------------------- MedDream (001)

# Table 7 of the Storage Server, row by row (abstract syntax, transfer syntax).
MEDDREAM_TABLE_7 = [
    (VERIFICATION, IVR),
    (DX_PRESENTATION, IVR),
    ("1.2.840.10008.5.1.4.1.1.1.2", IVR),  # Digital Mammography - for Presentation
    ("1.2.840.10008.5.1.4.1.1.1.3", IVR),  # Digital Intra-oral - for Presentation
    ("1.2.840.10008.5.1.4.1.1.12.1", IVR),  # X-Ray Angiographic (printed "...1.1.12 A")
    ("1.2.840.10008.5.1.4.1.1.12.2", IVR),  # X-Ray Radiofluoroscopic
    (CT, IVR),
    (US_MULTIFRAME, JPEG_BASELINE),
    ("1.2.840.10008.5.1.4.1.1.4.1", IVR),  # Enhanced MR
    (MR, IVR),
    (MR, JPEG_LOSSLESS_14),
    (NM, ELE),
    (NM, IVR),
    (US, IVR),
    (US, EBE),
    (SC, JPEG_BASELINE),
    (SC, MPEG2),
    (SC, H264_HP41),
    (SC, IVR),
    (SC, JPEG_LOSSLESS_SV1),
    (SC, H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", MPEG2),  # Video Endoscopic (printed "...77 1141")
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", H264_HP41),
    ("1.2.840.10008.5.1.4.1.1.77.1.1.1", H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", MPEG2),  # Video Photographic (printed "...77 141")
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", H264_HP41),
    ("1.2.840.10008.5.1.4.1.1.77.1.4.1", H264_BD),
    ("1.2.840.10008.5.1.4.1.1.77.1.5.1", IVR),  # Ophthalmic Photography 8 Bit
    ("1.2.840.10008.5.1.4.1.1.77.1.5.2", IVR),  # Ophthalmic Photography 16 Bit
]


async def test_meddream_storage_server_table_7_contexts_pynetdicom() -> None:
    require_module("pynetdicom")
    listed = [(abstract, [ts]) for abstract, ts in MEDDREAM_TABLE_7]
    refused = [
        (CT, [ELE]),  # listed class, syntax not in its row
        (MR, [ELE]),
        (US, [JPEG_BASELINE]),
        (CR, [IVR]),  # not in Table 4 or Table 7
        (PET, [IVR]),
    ]
    async with await serve(policy_of("meddream-storage-server")) as server:
        report, wrong_called = await run_associations(
            [
                association(server.port, listed + refused, called="DCMRCV", echo=True),
                association(server.port, [(VERIFICATION, [IVR])], called="NOT_DCMRCV"),
            ]
        )
    assert report.established and report.echo == 0
    for index, (abstract, (ts,)) in enumerate(listed):
        assert report.result(index) == (0, ts), (abstract, ts)
    got = [report.result(len(listed) + i)[0] for i in range(len(refused))]
    assert got == [4, 4, 4, 3, 3]
    # Table 22: Accepted Called AETs, default DCMRCV: another called AE is refused
    # (1 rejected-permanent / service-user / 7 called-AE-title-not-recognized).
    assert not wrong_called.established
    assert wrong_called.rejected == (1, 1, 7)
