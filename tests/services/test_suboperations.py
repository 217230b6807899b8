"""C-MOVE sub-operations as a profile says: [[proposed]] contexts, failure and warning rules."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from query.fixtures import CT, STUDY_A, archive_datasets, write_archive

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.dimse.commands import CommandField
from dicomnet.dimse.status import Status
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.query import InstanceIndex
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.services.qr import (
    MOVE,
    QueryRetrieveService,
    RetrieveProgress,
    move,
    sop_class_for,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.services.suboperations import (
    OnFailure,
    RetrieveRules,
    WarningIs,
    suboperation_contexts,
)
from dicomnet.status_policy import Outcome, ReceivedRule, RetryRule, StatusPolicy
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.source import InstanceSource

MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
SYNTAXES = (EXPLICIT_LE, IMPLICIT_LE)
STUDY_MOVE = sop_class_for("study", MOVE)
COERCION = 0xB000  # C-STORE warning: coercion of data elements
OUT_OF_RESOURCES = 0xA700


class Answering:
    """A C-STORE SCP that stores, then answers the statuses it is given, in turn."""

    def __init__(self, statuses: Iterable[int]) -> None:
        self.store = MemoryStore()
        self.storage = StorageService(self.store)
        self.statuses = list(statuses)
        self.calls = 0

    def bindings(self) -> Iterable[Binding]:
        return (Binding(command_field=CommandField.C_STORE_RQ, handler=self.handle),)

    async def handle(self, request: IncomingRequest) -> Reply:
        reply = await self.storage.handle(request)
        status = self.statuses[self.calls] if self.calls < len(self.statuses) else 0
        self.calls += 1
        return dataclasses.replace(reply, status=status)


def _study_a() -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = STUDY_A
    return ds


@pytest.fixture
def index(tmp_path: Path) -> InstanceIndex:
    write_archive(tmp_path / "archive")
    return InstanceIndex.from_folder(tmp_path / "archive")


async def _move(
    index: InstanceIndex,
    destination: Answering,
    rules: RetrieveRules,
    statuses: StatusPolicy | None = None,
) -> list[RetrieveProgress]:
    accepted = tuple(
        AcceptedContext(abstract_syntax=uid, transfer_syntaxes=SYNTAXES) for uid in (CT, MR)
    )
    dest = AE("DEST", Policy(ae_title="DEST", accepted_contexts=accepted), handlers=[destination])
    async with await dest.serve("127.0.0.1", 0) as dest_server:
        service = QueryRetrieveService(
            index, destinations={"DEST": ("127.0.0.1", dest_server.port)}, rules=rules
        )
        qr_policy = Policy(
            ae_title="QR_SCP",
            accepted_contexts=(
                AcceptedContext(abstract_syntax=STUDY_MOVE, transfer_syntaxes=SYNTAXES),
            ),
            statuses=statuses or StatusPolicy(),
        )
        qr = AE("QR_SCP", qr_policy, handlers=[service])
        async with await qr.serve("127.0.0.1", 0) as server:
            scu = Policy(
                ae_title="SCU",
                proposed_contexts=(
                    ProposedContext(abstract_syntax=STUDY_MOVE, transfer_syntaxes=SYNTAXES),
                ),
            )
            async with AE("SCU", scu).associate(
                "127.0.0.1", server.port, called_ae="QR_SCP"
            ) as assoc:
                return [p async for p in move(assoc, _study_a(), "DEST")]


STUDY_A_UIDS = sorted(ds.SOPInstanceUID for ds in archive_datasets()[:3])


async def test_by_default_a_failure_does_not_stop_the_others(index: InstanceIndex) -> None:
    destination = Answering([0, OUT_OF_RESOURCES])
    final = (await _move(index, destination, RetrieveRules()))[-1]
    assert final.status == 0xB000
    assert (final.completed, final.failed, final.warning) == (2, 1, 0)
    assert destination.calls == 3


async def test_stop_on_failure_answers_a702_and_sends_no_more(index: InstanceIndex) -> None:
    destination = Answering([0, OUT_OF_RESOURCES])
    progress = await _move(index, destination, RetrieveRules(on_failure=OnFailure.STOP))
    final = progress[-1]
    assert final.status == Status.OUT_OF_RESOURCES_SUBOPERATIONS  # A702, as Kodak answers
    assert (final.completed, final.failed) == (1, 2)
    assert destination.calls == 2  # the third instance was never sent
    assert len(final.failed_uids) == 2 and set(final.failed_uids) <= set(STUDY_A_UIDS)


async def test_warnings_count_as_success_when_the_profile_says_so(index: InstanceIndex) -> None:
    plain = (await _move(index, Answering([COERCION] * 3), RetrieveRules()))[-1]
    assert plain.status == 0xB000 and (plain.completed, plain.warning) == (0, 3)
    rules = RetrieveRules(warning=WarningIs.SUCCESS)
    final = (await _move(index, Answering([COERCION] * 3), rules))[-1]
    assert final.status == 0x0000
    assert (final.completed, final.failed, final.warning) == (3, 0, 0)


def _retrying(attempts: int) -> StatusPolicy:
    """A Q/R AE whose profile gives A700 from the destination the outcome ``retry``."""
    rule = ReceivedRule("C-STORE", "A700", Outcome.RETRY)
    return StatusPolicy(received=(rule,), retry=RetryRule(attempts=attempts, delay=0.01))


async def test_a_retry_outcome_sends_the_sub_operation_again(index: InstanceIndex) -> None:
    destination = Answering([OUT_OF_RESOURCES, OUT_OF_RESOURCES])  # then success
    final = (await _move(index, destination, RetrieveRules(), _retrying(3)))[-1]
    assert final.status == 0x0000
    assert (final.completed, final.failed, final.warning) == (3, 0, 0)
    assert destination.calls == 5  # the first instance three times, the others once


async def test_sub_operation_retries_stop_after_the_attempts(index: InstanceIndex) -> None:
    destination = Answering([OUT_OF_RESOURCES] * 100)
    final = (await _move(index, destination, RetrieveRules(), _retrying(2)))[-1]
    assert (final.completed, final.failed) == (0, 3)
    assert destination.calls == 6  # each instance twice, no more


def test_rules_from_the_seed_profiles() -> None:
    assert RetrieveRules.from_profile(load_profile("lifesys-qr")) == RetrieveRules(
        warning=WarningIs.SUCCESS
    )
    assert RetrieveRules.from_profile(load_profile("kodak-disk-server")) == RetrieveRules(
        on_failure=OnFailure.STOP
    )
    assert RetrieveRules.from_profile(load_profile("dicomnet-serve")) == RetrieveRules()


def _with_syntax(ds: Dataset, syntax: str) -> InstanceSource:
    source = InstanceSource.from_dataset(ds)
    source.transfer_syntax_uid = syntax
    return source


def test_contexts_are_the_profiles_rows_for_listed_classes() -> None:
    profile_rows = [
        ProposedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_BE, EXPLICIT_LE)),
        ProposedContext(abstract_syntax="1.2.840.10008.1.1", transfer_syntaxes=(IMPLICIT_LE,)),
    ]
    sources = [
        _with_syntax(_dataset(CT, "1.2.3.1"), IMPLICIT_LE),
        _with_syntax(_dataset(CT, "1.2.3.2"), EXPLICIT_LE),
        _with_syntax(_dataset(MR, "1.2.3.3"), EXPLICIT_LE),
    ]
    contexts = suboperation_contexts(sources, profile_rows)
    ct = [c for c in contexts if c.abstract_syntax == CT]
    assert ct == [profile_rows[0]]  # the profile's row, once, whatever the files' syntaxes
    mr = [c for c in contexts if c.abstract_syntax == MR]
    # An unlisted class: the instance's own syntax, then Implicit VR LE.
    assert [s for c in mr for s in c.transfer_syntaxes][:2] == [EXPLICIT_LE, IMPLICIT_LE]
    assert all(c.abstract_syntax != "1.2.840.10008.1.1" for c in contexts)


def test_lifesys_qr_proposes_its_table_1_24_rows() -> None:
    policy = load_profile("lifesys-qr").policy()
    rows = [c for c in policy.proposed_contexts if c.abstract_syntax == CT]
    assert rows
    contexts = suboperation_contexts(
        [_with_syntax(_dataset(CT, "1.2.3.9"), EXPLICIT_LE)], policy.proposed_contexts
    )
    assert contexts == rows


def _dataset(sop_class: str, uid: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid
    return ds
