"""Modality Worklist FIND SCP: matching of worklist items, and dicomnet SCU <-> SCP."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.worklist_items import items, write_items

from dicomnet.ae import AE
from dicomnet.conformance.profile import load_profile
from dicomnet.dimse.status import Status
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.query.worklist import WorklistSource, has_unmatched_keys, match_worklist
from dicomnet.services.mwl import MODALITY_WORKLIST_FIND, WorklistService, support_from_profile
from dicomnet.services.qr import find

SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def query(**step_keys: str) -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    ds.AccessionNumber = ""
    step = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword in ("Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate"):
            setattr(step, keyword, step_keys.pop(keyword, ""))
        for keyword, value in step_keys.items():
            setattr(step, keyword, value)
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def ids(results: list[Dataset]) -> list[str]:
    return sorted(str(r.PatientID) for r in results)


def test_folder_source_reads_dicom_and_json(tmp_path: Path) -> None:
    write_items(tmp_path / "wl")
    source = WorklistSource.from_folder(tmp_path / "wl")
    assert sorted(str(i.PatientID) for i in source) == ["WL1", "WL2", "WL3"]


def test_step_matching_date_range_modality_station() -> None:
    source = WorklistSource(items())
    assert ids(list(match_worklist(source, query()))) == ["WL1", "WL2", "WL3"]
    assert ids(list(match_worklist(source, query(Modality="CT")))) == ["WL1", "WL3"]
    day = query(ScheduledProcedureStepStartDate="20240110")
    assert ids(list(match_worklist(source, day))) == ["WL1", "WL2"]
    week = query(ScheduledProcedureStepStartDate="20240111-20240120", ScheduledStationAETitle="CT1")
    (match,) = match_worklist(source, week)
    assert match.PatientID == "WL3"
    step = match.ScheduledProcedureStepSequence[0]
    assert step.ScheduledProcedureStepStartDate == "20240117" and step.Modality == "CT"
    assert "ScheduledProcedureStepID" not in step  # only the keys asked for
    afternoon = query(ScheduledProcedureStepStartTime="1200-1800")
    assert ids(list(match_worklist(source, afternoon))) == ["WL2"]


def test_top_level_wildcard_and_profile_support() -> None:
    source = WorklistSource(items())
    by_name = query()
    by_name.PatientName = "*OE^J*"
    assert ids(list(match_worklist(source, by_name))) == ["WL1", "WL2"]
    support = support_from_profile(load_profile("lifesys-mwl").query_keys)
    # Patient ID supports single value matching only: a wildcard is not used for matching.
    wild_id = query()
    wild_id.PatientID = "WL1*"
    assert ids(list(match_worklist(source, wild_id, support=support))) == ["WL1", "WL2", "WL3"]
    assert has_unmatched_keys(wild_id, support)
    assert ids(list(match_worklist(source, wild_id))) == ["WL1"]
    assert not has_unmatched_keys(query(Modality="CT"), support)
    # Requested Procedure ID is not matched by the profile (NONE): returned only.
    other = query()
    other.RequestedProcedureID = "RP9"
    assert ids(list(match_worklist(source, other, support=support))) == ["WL1", "WL2", "WL3"]


async def test_worklist_find_over_the_network(tmp_path: Path) -> None:
    write_items(tmp_path / "wl")
    service = WorklistService(
        WorklistSource.from_folder(tmp_path / "wl"),
        support=support_from_profile(load_profile("lifesys-mwl").query_keys),
    )
    scp = Policy(
        ae_title="MWL_SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=MODALITY_WORKLIST_FIND, transfer_syntaxes=SYNTAXES),
        ),
    )
    scu = Policy(
        ae_title="MODALITY",
        proposed_contexts=(
            ProposedContext(abstract_syntax=MODALITY_WORKLIST_FIND, transfer_syntaxes=SYNTAXES),
        ),
    )
    async with await AE("MWL_SCP", scp, handlers=[service]).serve("127.0.0.1", 0) as server:
        async with AE("MODALITY", scu).associate(
            "127.0.0.1", server.port, called_ae="MWL_SCP"
        ) as assoc:
            results = find(assoc, query(Modality="MR"), model="worklist")
            matches = [ds async for ds in results]
            assert results.status == 0x0000 and ids(matches) == ["WL2"]
            assert matches[0].PatientName == "ROE^JANE"
            extra = query()
            extra.RequestedProcedureID = "RP1"
            results = find(assoc, extra, model="worklist")
            assert len([ds async for ds in results]) == 3 and results.partial == 3
            bad = query()
            bad.QueryRetrieveLevel = "STUDY"
            results = find(assoc, bad, model="worklist")
            assert [ds async for ds in results] == []
            assert results.status == Status.DATASET_DOES_NOT_MATCH_SOP_CLASS


@pytest.mark.parametrize("count", [200])
async def test_worklist_cancel(count: int) -> None:
    source = WorklistSource(items()[0] for _ in range(count))
    scp = Policy(
        ae_title="MWL_SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=MODALITY_WORKLIST_FIND, transfer_syntaxes=SYNTAXES),
        ),
    )
    scu = Policy(
        ae_title="MODALITY",
        proposed_contexts=(
            ProposedContext(abstract_syntax=MODALITY_WORKLIST_FIND, transfer_syntaxes=SYNTAXES),
        ),
    )
    async with await AE("MWL_SCP", scp, handlers=[WorklistService(source)]).serve(
        "127.0.0.1", 0
    ) as server:
        async with AE("MODALITY", scu).associate(
            "127.0.0.1", server.port, called_ae="MWL_SCP"
        ) as assoc:
            results = find(assoc, query(), model="worklist")
            seen = 0
            async for _ in results:
                seen += 1
                if seen == 1:
                    await results.cancel()
            assert results.status == Status.CANCEL and seen < count
