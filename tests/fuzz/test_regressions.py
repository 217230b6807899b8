"""Regression tests for C-FIND defects the network fuzz tests found.

Each sends one C-FIND-RQ with a hostile identifier over a raw association
and checks that it is answered with a failure status the service chose (not
0110, which the dispatcher sends when a handler raised) and an Error Comment
that encodes, and that nothing was logged with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from query.fixtures import write_archive
from query.worklist_items import items

from dicomnet.ae import AE
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CFindRQ, CFindRSP
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.query import InstanceIndex
from dicomnet.query.worklist import WorklistSource
from dicomnet.services.mwl import MODALITY_WORKLIST_FIND, WorklistService
from dicomnet.services.qr import QueryRetrieveService
from fuzz.support import ResponseReader, close_quietly, open_association, raw_pdata
from fuzz.test_find_fuzz import STUDY_ROOT_FIND, contexts, scp_policy

EXPLICIT_CONTEXT = 1
IMPLICIT_CONTEXT = 3
#: Implicit VR: Rows (0028,0010) is US by the dictionary; three bytes cannot be converted.
UNCONVERTIBLE = bytes.fromhex("2800100003000000010203")


async def one_find(
    make_ae: Callable[[], AE], sop_class: str, context_id: int, identifier: bytes
) -> CFindRSP:
    """Send one C-FIND-RQ with ``identifier``; return the first response."""
    async with await make_ae().serve("127.0.0.1", 0) as server:
        raw, _ = await open_association(server.port, contexts((sop_class,)), called="FIND-SCP")
        try:
            command = encode_command(CFindRQ(message_id=1, affected_sop_class_uid=sop_class))
            raw.send(raw_pdata([(context_id, 0x03, command)]))
            raw.send(raw_pdata([(context_id, 0x02, identifier)]))
            answer = await asyncio.wait_for(ResponseReader(raw).next(), 10)
        finally:
            await close_quietly(raw)
    assert isinstance(answer, CFindRSP), f"{answer!r} instead of a C-FIND-RSP"
    assert answer.message_id_being_responded_to == 1
    return answer


def qr_ae(tmp_path: Path) -> Callable[[], AE]:
    write_archive(tmp_path / "archive")

    def make() -> AE:
        service = QueryRetrieveService(
            InstanceIndex.from_folder(tmp_path / "archive"), sop_classes=[STUDY_ROOT_FIND]
        )
        return AE("FIND-SCP", scp_policy((STUDY_ROOT_FIND,)), handlers=[service])

    return make


def mwl_ae() -> AE:
    return AE(
        "FIND-SCP",
        scp_policy((MODALITY_WORKLIST_FIND,)),
        handlers=[WorklistService(WorklistSource(items()))],
    )


def assert_refused(answer: CFindRSP, status: int, caplog: pytest.LogCaptureFixture) -> None:
    assert category(answer.status) is StatusCategory.FAILURE
    assert answer.status == status, (hex(answer.status), answer.error_comment)
    assert answer.error_comment, "no Error Comment"
    assert not [r for r in caplog.records if r.exc_info], "handler raised"


async def test_non_ascii_level_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # (0008,0052) Query/Retrieve Level = b"\xc3\xa9X ": the A900 comment quotes the
    # level. It used to go into Error Comment unfiltered: neither that response nor
    # the dispatcher's 0110 (quoting the same text) could be encoded, and the request
    # stayed unanswered until the DIMSE timer aborted the association.
    identifier = bytes.fromhex("0800520004000000c3a95820")
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(qr_ae(tmp_path), STUDY_ROOT_FIND, IMPLICIT_CONTEXT, identifier)
    assert_refused(answer, 0xA900, caplog)
    assert "not in the Study Root model" in (answer.error_comment or "")


async def test_worklist_undecodable_character_set_gets_c001(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # (0008,0005) Specific Character Set = b"\xc2\x80": the DatasetError text quotes
    # the value; it used to make the C001 unencodable, so the request got 0110.
    identifier = bytes.fromhex("0800050002000000c280")
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(mwl_ae, MODALITY_WORKLIST_FIND, IMPLICIT_CONTEXT, identifier)
    assert_refused(answer, 0xC001, caplog)


async def test_unknown_explicit_vr_is_a_failure_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # (0008,0052) with VR "CR": decode_dataset used to keep the value raw and the
    # handler's first access raised NotImplementedError (0110, traceback logged).
    identifier = b"\x08\x00\x52\x00CR\x08\x00PATIENT "
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(qr_ae(tmp_path), STUDY_ROOT_FIND, EXPLICIT_CONTEXT, identifier)
    assert_refused(answer, 0xC001, caplog)
    assert "unknown VR b'CR' in (0008,0052)" in (answer.error_comment or "")


async def test_unknown_explicit_vr_to_the_worklist_scp(caplog: pytest.LogCaptureFixture) -> None:
    identifier = b"\x08\x00\x60\x00CR\x02\x00MR"
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(mwl_ae, MODALITY_WORKLIST_FIND, EXPLICIT_CONTEXT, identifier)
    assert_refused(answer, 0xC001, caplog)


async def test_unconvertible_value_to_the_query_retrieve_scp(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Framing and VR are fine (Implicit VR): the value fails only when converted.
    identifier = bytes.fromhex("0800520006000000535455445920") + UNCONVERTIBLE
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(qr_ae(tmp_path), STUDY_ROOT_FIND, IMPLICIT_CONTEXT, identifier)
    assert_refused(answer, 0xC001, caplog)
    assert answer.offending_element == (0x00280010,)


async def test_unconvertible_value_to_the_worklist_scp(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        answer = await one_find(mwl_ae, MODALITY_WORKLIST_FIND, IMPLICIT_CONTEXT, UNCONVERTIBLE)
    assert_refused(answer, 0xC001, caplog)
    assert "(0028,0010)" in (answer.error_comment or "")
