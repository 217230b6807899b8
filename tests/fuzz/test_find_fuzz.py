"""Random C-FIND identifiers against the Query/Retrieve and Modality Worklist SCPs.

Each test runs one SCP (Q/R FIND over a small archive, or Modality Worklist
FIND over three items) for all its examples. An example opens an
association with a raw client and sends one to three C-FIND-RQs, each on an
Explicit or Implicit VR Little Endian context, whose identifier is either
element-shaped random bytes, a well-formed identifier of query keys with
random values (wildcards, ranges, odd characters, wrong levels, sequences of
any shape), or such an identifier damaged at the byte level. Every C-FIND
must end in a final response to its Message ID: success, or a failure
status (A900, Cxxx...), never 0110 "processing failure" (which this SCP
sends only when a handler raised); or the association is aborted. The server
logs no internal error and answers a C-ECHO on a fresh association after.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from query.fixtures import write_archive
from query.worklist_items import items

from dicomnet.ae import AE
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CFindRQ, CFindRSP
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    Policy,
    ProposedContext,
    Timers,
)
from dicomnet.query import InstanceIndex
from dicomnet.query.worklist import WorklistSource
from dicomnet.services.mwl import MODALITY_WORKLIST_FIND, WorklistService
from dicomnet.services.qr import QueryRetrieveService
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.pdus import AAbort, AReleaseRP, AReleaseRQ
from fuzz.mutations import dataset_bytes
from fuzz.support import (
    BadRecords,
    LoopServer,
    ResponseReader,
    close_quietly,
    open_association,
    raw_pdata,
)

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PENDING = (0xFF00, 0xFF01)
PROCESSING_FAILURE = 0x0110

# Query keys: tag -> VR (PS3.6), and values worth trying for each kind.
KEYS = {
    0x00080005: b"CS",  # Specific Character Set
    0x00080020: b"DA",  # Study Date
    0x00080030: b"TM",  # Study Time
    0x00080050: b"SH",  # Accession Number
    0x00080052: b"CS",  # Query/Retrieve Level
    0x00080060: b"CS",  # Modality
    0x00080061: b"CS",  # Modalities in Study
    0x00100010: b"PN",  # Patient's Name
    0x00100020: b"LO",  # Patient ID
    0x00100030: b"DA",  # Patient's Birth Date
    0x0020000D: b"UI",  # Study Instance UID
    0x0020000E: b"UI",  # Series Instance UID
    0x00080018: b"UI",  # SOP Instance UID
    0x00200013: b"IS",  # Instance Number
}
STEP_KEYS = {
    0x00080060: b"CS",  # Modality
    0x00400001: b"AE",  # Scheduled Station AE Title
    0x00400002: b"DA",  # Scheduled Procedure Step Start Date
    0x00400003: b"TM",  # Scheduled Procedure Step Start Time
    0x00400009: b"SH",  # Scheduled Procedure Step ID
}
SPS_SEQUENCE = 0x00400100
QUERY_RETRIEVE_LEVEL = 0x00080052


ODD_VALUES = st.sampled_from(
    [
        b"",
        b"PATIENT ",
        b"STUDY ",
        b"SERIES",
        b"IMAGE ",
        b"WORKLIST",
        b"*",
        b"?",
        b"P1",
        b"DOE^J*",
        b"*\\*",
        b"20240101-20231231",
        b"-",
        b"20240110-",
        b"1200-1800",
        b"ISO_IR 192",
        b"ISO 2022 IR 87",
        b"\x1b$B",
        b"1.2.826.0.1.3680043.8.498.71.1\\1.2.3",
        b"CT\\MR",
        b"\xff\xfe\x00",
        b"9" * 70,
    ]
)


def explicit_element(tag: int, vr: bytes, value: bytes, *, undefined: bool = False) -> bytes:
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
    if vr in {b"SQ", b"OB", b"UN", b"UT"}:
        return head + b"\0\0" + struct.pack("<I", 0xFFFFFFFF if undefined else len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def implicit_element(tag: int, value: bytes, *, undefined: bool = False) -> bytes:
    length = 0xFFFFFFFF if undefined else len(value)
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, length) + value


def encode(explicit: bool, tag: int, vr: bytes, value: bytes, undefined: bool = False) -> bytes:
    if explicit:
        return explicit_element(tag, vr, value, undefined=undefined)
    return implicit_element(tag, value, undefined=undefined)


@st.composite
def query_identifier(draw: st.DrawFn, explicit: bool) -> bytes:
    """Query keys in ascending order with random values; maybe a step sequence."""
    value = st.one_of(ODD_VALUES, st.text(max_size=10).map(lambda s: s.encode("utf-8")))
    chosen = draw(st.lists(st.sampled_from(sorted(KEYS)), unique=True, max_size=7))
    elements = {}
    for tag in chosen:
        raw = draw(value)
        elements[tag] = encode(explicit, tag, KEYS[tag], raw + b" " * (len(raw) % 2))
    if draw(st.integers(0, 3)):
        level = draw(st.sampled_from([b"PATIENT ", b"STUDY ", b"SERIES", b"IMAGE "]))
        elements[QUERY_RETRIEVE_LEVEL] = encode(explicit, QUERY_RETRIEVE_LEVEL, b"CS", level)
    if draw(st.booleans()):
        items_bytes = b""
        for _ in range(draw(st.integers(0, 2))):
            step = b"".join(
                encode(explicit, tag, vr, draw(value).ljust(2)[:16])
                for tag, vr in sorted(STEP_KEYS.items())
                if draw(st.booleans())
            )
            undefined_item = draw(st.booleans())
            item_length = 0xFFFFFFFF if undefined_item else len(step)
            items_bytes += struct.pack("<HHI", 0xFFFE, 0xE000, item_length) + step
            if undefined_item:
                items_bytes += struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        undefined = draw(st.booleans())
        if undefined:
            items_bytes += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        elements[SPS_SEQUENCE] = encode(explicit, SPS_SEQUENCE, b"SQ", items_bytes, undefined)
    return b"".join(elements[tag] for tag in sorted(elements))


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, cut, or garbage appended."""
    if not data:
        return draw(st.binary(max_size=16))
    out = bytearray(data)
    how = draw(st.sampled_from(["flip", "cut", "append"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 3))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
    elif how == "cut":
        del out[draw(st.integers(0, len(out) - 1)) :]
    else:
        out += draw(st.binary(min_size=1, max_size=12))
    return bytes(out)


@st.composite
def find_request(draw: st.DrawFn, sop_classes: tuple[str, ...]) -> tuple[int, bytes]:
    """(context ID, identifier bytes); context ID 1 + 4k is Explicit, 3 + 4k Implicit."""
    index = draw(st.integers(0, len(sop_classes) - 1))
    explicit = draw(st.booleans())
    context_id = 1 + 4 * index + (0 if explicit else 2)
    kind = draw(st.sampled_from(["random", "query", "query", "damaged"]))
    if kind == "random":
        data = draw(dataset_bytes(explicit=explicit))
    else:
        data = draw(query_identifier(explicit))
        if kind == "damaged":
            data = draw(damaged(data))
    return context_id, data


def contexts(sop_classes: tuple[str, ...]) -> tuple[ProposedContext, ...]:
    """Explicit then Implicit VR Little Endian for each SOP class: IDs 1, 3, 5, 7..."""
    return tuple(
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=(syntax,))
        for uid in sop_classes
        for syntax in (EXPLICIT_LE, IMPLICIT_LE)
    )


def scp_policy(sop_classes: tuple[str, ...]) -> Policy:
    return Policy(
        ae_title="FIND-SCP",
        accepted_contexts=tuple(
            AcceptedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE))
            for uid in (*sop_classes, VERIFICATION_SOP_CLASS)
        ),
        timers=Timers(artim=0.5, dimse=1.0),
    )


async def finds(port: int, sop_classes: tuple[str, ...], requests: list[tuple[int, bytes]]) -> None:
    raw, _ = await open_association(port, contexts(sop_classes), called="FIND-SCP")
    reader = ResponseReader(raw)
    try:
        for message_id, (context_id, data) in enumerate(requests, start=1):
            sop_class = sop_classes[(context_id - 1) // 4]
            command = encode_command(
                CFindRQ(message_id=message_id, affected_sop_class_uid=sop_class)
            )
            raw.send(raw_pdata([(context_id, 0x03, command)]))
            raw.send(raw_pdata([(context_id, 0x02, data)]))
            answer = await reader.next()
            while isinstance(answer, CFindRSP) and answer.status in PENDING:
                assert answer.message_id_being_responded_to == message_id
                answer = await reader.next()
            if isinstance(answer, AAbort):
                # A provider abort answers a protocol error; a user abort here is the
                # SCP's DIMSE timer: the request went unanswered.
                assert answer.source is AbortSource.SERVICE_PROVIDER, (
                    f"C-FIND {message_id} never answered"
                )
                event("A-ABORT")
                return
            assert isinstance(answer, CFindRSP), answer
            assert answer.message_id_being_responded_to == message_id
            event(f"status {answer.status:04X}")
            assert answer.status != PROCESSING_FAILURE, answer.error_comment
            assert category(answer.status) in {StatusCategory.SUCCESS, StatusCategory.FAILURE}
        raw.send(AReleaseRQ())
        assert isinstance(await reader.next(), AReleaseRP)
    finally:
        await close_quietly(raw)


async def echo(port: int) -> None:
    async with AE("SCU").associate("127.0.0.1", port, called_ae="FIND-SCP") as assoc:
        assert (await assoc.echo()).is_success


def run_fuzz(make_ae: object, sop_classes: tuple[str, ...]) -> None:
    assert callable(make_ae)
    with BadRecords.installed() as bad, LoopServer.started(make_ae) as scp:

        @settings(
            max_examples=80,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(requests=st.lists(find_request(sop_classes), min_size=1, max_size=3))
        def one(requests: list[tuple[int, bytes]]) -> None:
            bad.take()  # what a failed example left behind
            scp.run(lambda: finds(scp.port, sop_classes, requests))
            scp.settle()
            assert bad.take() == []

        one()
        scp.run(lambda: echo(scp.port))
        assert bad.take() == []


def test_random_identifiers_to_the_query_retrieve_scp(tmp_path: Path) -> None:
    write_archive(tmp_path / "archive")
    sop_classes = (STUDY_ROOT_FIND, PATIENT_ROOT_FIND)

    def make_ae() -> AE:
        service = QueryRetrieveService(
            InstanceIndex.from_folder(tmp_path / "archive"), sop_classes=sop_classes
        )
        return AE("FIND-SCP", scp_policy(sop_classes), handlers=[service])

    run_fuzz(make_ae, sop_classes)


def test_random_identifiers_to_the_worklist_scp() -> None:
    sop_classes = (MODALITY_WORKLIST_FIND,)

    def make_ae() -> AE:
        service = WorklistService(WorklistSource(items()))
        return AE("FIND-SCP", scp_policy(sop_classes), handlers=[service])

    run_fuzz(make_ae, sop_classes)
