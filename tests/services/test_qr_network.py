"""Query/Retrieve between dicomnet AEs over loopback: C-FIND, C-MOVE, C-GET, cancel, statuses."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.fixtures import CT, STUDY_A, STUDY_B, STUDY_C, archive_datasets, write_archive

from dicomnet.ae import AE, Server
from dicomnet.conformance.profile import load_profile
from dicomnet.dimse.dataset import encode_dataset
from dicomnet.dimse.status import Status
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.query import InstanceIndex
from dicomnet.services.base import IncomingRequest
from dicomnet.services.qr import (
    FIND,
    GET,
    MOVE,
    QueryRetrieveService,
    find,
    get,
    get_contexts,
    move,
    retrieve_accepted_contexts,
    sop_class_for,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import StoredInstance

SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
MODELS = ("patient", "study", "patient-study")
QR_CLASSES = [sop_class_for(m, op) for m in MODELS for op in (FIND, MOVE, GET)]


def scp_policy(title: str = "QR_SCP") -> Policy:
    accepted = [
        AcceptedContext(abstract_syntax=uid, transfer_syntaxes=SYNTAXES) for uid in QR_CLASSES
    ]
    accepted.extend(retrieve_accepted_contexts([CT], SYNTAXES))
    return Policy(ae_title=title, accepted_contexts=tuple(accepted))


def scu_policy(title: str = "QR_SCU") -> Policy:
    proposed = [
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=SYNTAXES) for uid in QR_CLASSES
    ]
    return Policy(ae_title=title, proposed_contexts=tuple(proposed))


def ident(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


@pytest.fixture
def index(tmp_path: Path) -> InstanceIndex:
    write_archive(tmp_path / "archive")
    return InstanceIndex.from_folder(tmp_path / "archive")


@pytest.fixture
async def destination() -> AsyncIterator[tuple[Server, MemoryStore]]:
    store = MemoryStore()
    policy = Policy(
        ae_title="DEST",
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=SYNTAXES),),
    )
    ae = AE("DEST", policy, handlers=[StorageService(store)])
    server = await ae.serve("127.0.0.1", 0)
    async with server:
        yield server, store


@pytest.fixture
async def archive(
    index: InstanceIndex, destination: tuple[Server, MemoryStore]
) -> AsyncIterator[Server]:
    service = QueryRetrieveService(
        index,
        destinations={"DEST": ("127.0.0.1", destination[0].port), "NOWHERE": ("127.0.0.1", 1)},
    )
    ae = AE("QR_SCP", scp_policy(), handlers=[service])
    server = await ae.serve("127.0.0.1", 0)
    async with server:
        yield server


async def test_find_study_level_and_levels_below(archive: Server) -> None:
    ae = AE("QR_SCU", scu_policy())
    async with ae.associate("127.0.0.1", archive.port, called_ae="QR_SCP") as assoc:
        results = find(assoc, ident("STUDY", PatientID="P1", StudyInstanceUID="", StudyDate=""))
        studies = [ds async for ds in results]
        assert results.status == 0x0000
        assert sorted(s.StudyInstanceUID for s in studies) == [STUDY_A, STUDY_B]
        assert all(s.QueryRetrieveLevel == "STUDY" and s.PatientID == "P1" for s in studies)
        images = find(
            assoc,
            ident(
                "IMAGE",
                PatientID="P1",
                StudyInstanceUID=STUDY_A,
                SeriesInstanceUID=STUDY_A + ".1",
                SOPInstanceUID="",
                InstanceNumber="",
            ),
            model="patient",
        )
        assert sorted([int(ds.InstanceNumber) async for ds in images]) == [1, 2]


async def test_find_refuses_an_identifier_that_does_not_fit(archive: Server) -> None:
    ae = AE("QR_SCU", scu_policy())
    async with ae.associate("127.0.0.1", archive.port, called_ae="QR_SCP") as assoc:
        results = find(assoc, ident("SERIES", SeriesInstanceUID=""))
        assert [ds async for ds in results] == []
        assert results.status == Status.DATASET_DOES_NOT_MATCH_SOP_CLASS
        assert results.final is not None
        assert results.final.message.offending_element == (0x0020000D,)


async def test_find_cancel_gives_fe00(tmp_path: Path) -> None:
    index = InstanceIndex()
    base = archive_datasets()[0]
    for n in range(300):
        base.SOPInstanceUID = f"1.2.3.{n}"
        base.StudyInstanceUID = f"1.2.4.{n}"
        index.add_dataset(encode_dataset(base, SYNTAXES[0]), SYNTAXES[0])
    ae_scp = AE("QR_SCP", scp_policy(), handlers=[QueryRetrieveService(index)])
    async with await ae_scp.serve("127.0.0.1", 0) as server:
        ae = AE("QR_SCU", scu_policy())
        async with ae.associate("127.0.0.1", server.port, called_ae="QR_SCP") as assoc:
            results = find(assoc, ident("STUDY", StudyInstanceUID=""))
            seen = 0
            async for _ in results:
                seen += 1
                if seen == 2:
                    await results.cancel()
            assert results.status == Status.CANCEL
            assert 2 <= seen < 300


async def test_profile_support_gives_ff01_for_unsupported_keys(index: InstanceIndex) -> None:
    profile = load_profile("lifesys-qr")
    service = QueryRetrieveService(
        index, support=QueryRetrieveService.support_from_profile(profile.query_keys)
    )
    async with await AE("QR_SCP", scp_policy(), handlers=[service]).serve("127.0.0.1", 0) as server:
        ae = AE("QR_SCU", scu_policy())
        async with ae.associate("127.0.0.1", server.port, called_ae="QR_SCP") as assoc:
            results = find(assoc, ident("STUDY", StudyInstanceUID=STUDY_C, StudyDescription="x*"))
            (match,) = [ds async for ds in results]
            assert match.StudyDescription in (None, "")
            stream_status = results.status
            assert stream_status == 0x0000
            assert results.pending == 1 and results.partial == 1


async def test_move_study_to_destination(
    archive: Server, destination: tuple[Server, MemoryStore]
) -> None:
    ae = AE("QR_SCU", scu_policy())
    async with ae.associate("127.0.0.1", archive.port, called_ae="QR_SCP") as assoc:
        progress = [p async for p in move(assoc, ident("STUDY", StudyInstanceUID=STUDY_A), "DEST")]
    final = progress[-1]
    assert final.status == 0x0000 and final.completed == 3 and final.failed == 0
    assert [p.remaining for p in progress[:-1]] == [2, 1]
    store = destination[1]
    assert sorted(store.instances) == sorted(ds.SOPInstanceUID for ds in archive_datasets()[:3])


async def test_move_statuses(archive: Server) -> None:
    ae = AE("QR_SCU", scu_policy())
    async with ae.associate("127.0.0.1", archive.port, called_ae="QR_SCP") as assoc:
        unknown = [p async for p in move(assoc, ident("STUDY", StudyInstanceUID=STUDY_B), "WHO")]
        assert unknown[-1].status == Status.MOVE_DESTINATION_UNKNOWN
        refused = [
            p async for p in move(assoc, ident("STUDY", StudyInstanceUID=STUDY_B), "NOWHERE")
        ]
        assert refused[-1].status == Status.OUT_OF_RESOURCES_SUBOPERATIONS
        assert refused[-1].failed == 1 and refused[-1].failed_uids == (STUDY_B + ".1.4",)
        bad = [p async for p in move(assoc, ident("STUDY", PatientID="P1"), "DEST")]
        assert bad[-1].status == Status.DATASET_DOES_NOT_MATCH_SOP_CLASS
        nothing = [p async for p in move(assoc, ident("STUDY", StudyInstanceUID="9.9"), "DEST")]
        assert nothing[-1].status == 0x0000 and nothing[-1].completed == 0


async def test_get_stores_on_the_same_association(archive: Server) -> None:
    ae = AE("QR_SCU", scu_policy())
    received = MemoryStore()
    contexts = get_contexts([CT], model="study", transfer_syntaxes=SYNTAXES)
    async with ae.associate(
        "127.0.0.1", archive.port, called_ae="QR_SCP", contexts=contexts
    ) as assoc:
        wanted = f"{STUDY_B}\\{STUDY_C}"
        progress = [p async for p in get(assoc, ident("STUDY", StudyInstanceUID=wanted), received)]
    assert progress[-1].status == 0x0000 and progress[-1].completed == 2
    assert sorted(received.instances) == [STUDY_B + ".1.4", STUDY_C + ".1.5"]


async def test_get_without_storage_role_fails_sub_operations(archive: Server) -> None:
    ae = AE("QR_SCU", scu_policy())
    async with ae.associate("127.0.0.1", archive.port, called_ae="QR_SCP") as assoc:
        progress = [
            p async for p in get(assoc, ident("STUDY", StudyInstanceUID=STUDY_C), MemoryStore())
        ]
    assert progress[-1].status == Status.OUT_OF_RESOURCES_SUBOPERATIONS
    assert progress[-1].failed_uids == (STUDY_C + ".1.5",)


async def test_move_with_a_refused_instance_gives_b000_and_the_failed_uid(
    index: InstanceIndex,
) -> None:
    refused = STUDY_A + ".1.2"

    async def decide(request: IncomingRequest, stored: StoredInstance) -> int:
        return 0xA700 if stored.info.sop_instance_uid == refused else 0x0000

    policy = Policy(
        ae_title="PICKY",
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=SYNTAXES),),
    )
    picky = AE("PICKY", policy, handlers=[StorageService(MemoryStore(), decide=decide)])
    async with await picky.serve("127.0.0.1", 0) as dest:
        service = QueryRetrieveService(index, destinations={"PICKY": ("127.0.0.1", dest.port)})
        async with await AE("QR_SCP", scp_policy(), handlers=[service]).serve(
            "127.0.0.1", 0
        ) as server:
            async with AE("QR_SCU", scu_policy()).associate(
                "127.0.0.1", server.port, called_ae="QR_SCP"
            ) as assoc:
                progress = [
                    p async for p in move(assoc, ident("STUDY", StudyInstanceUID=STUDY_A), "PICKY")
                ]
    final = progress[-1]
    assert final.status == 0xB000
    assert (final.completed, final.failed, final.warning) == (2, 1, 0)
    assert final.failed_uids == (refused,)


async def test_move_cancel_stops_between_sub_operations(
    destination: tuple[Server, MemoryStore],
) -> None:
    index = InstanceIndex()
    base = archive_datasets()[0]
    for n in range(40):
        base.SOPInstanceUID = f"{STUDY_A}.9.{n}"
        index.add_dataset(encode_dataset(base, SYNTAXES[0]), SYNTAXES[0])
    service = QueryRetrieveService(index, destinations={"DEST": ("127.0.0.1", destination[0].port)})
    async with await AE("QR_SCP", scp_policy(), handlers=[service]).serve("127.0.0.1", 0) as server:
        async with AE("QR_SCU", scu_policy()).associate(
            "127.0.0.1", server.port, called_ae="QR_SCP"
        ) as assoc:
            results = move(assoc, ident("STUDY", StudyInstanceUID=STUDY_A), "DEST")
            async for progress in results:
                if progress.pending and progress.completed == 1:
                    await results.cancel()
    final = results.final
    assert final is not None and final.status == Status.CANCEL
    assert final.remaining is not None and final.remaining > 0
    assert final.completed + final.remaining == 40
    assert len(destination[1].instances) == final.completed
