"""Bad input against ``dicomnet serve``'s Q/R: a clear status, the server keeps serving.

One in-process ``serve()`` over a store holding the five-instance archive
(stored through C-STORE). Every case sends a request a careful SCU would
not, checks the status and its detail fields, and the module checks at the
end that the index rows and the store's files are what they were and a
plain query still answers.
"""

from __future__ import annotations

import sqlite3
import struct
import warnings
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from helpers.peers import free_port
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as PydicomSequence
from query.fixtures import CT, EXPLICIT_LE, IMPLICIT_LE, STUDY_A, STUDY_B, STUDY_C, archive_datasets

from archive.test_serve_archive import Running
from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.association.requests import Response
from dicomnet.dimse.commands import CFindRQ, CGetRQ, CMoveRQ
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.query.query import MAX_KEY_VALUES
from dicomnet.services.qr import (
    FIND,
    GET,
    MAX_IDENTIFIER_BYTES,
    MOVE,
    get_contexts,
    sop_class_for,
)
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.scu import store
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.synthetic import write_part10

MR = "1.2.840.10008.5.1.4.1.1.4"
US = "1.2.840.10008.5.1.4.1.1.6.1"
MODELS = ("patient", "study", "patient-study")
QR_CLASSES = tuple(sop_class_for(m, op) for m in MODELS for op in (FIND, MOVE, GET))


def ident(level: str | None, **keys: object) -> Dataset:
    ds = Dataset()
    if level is not None:
        ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


def element(group: int, elem: int, vr: str, value: bytes) -> bytes:
    """One Explicit VR Little Endian element, its length taken from ``value``."""
    head = struct.pack("<HH", group, elem) + vr.encode()
    if vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


STUDY_LEVEL = element(0x0008, 0x0052, "CS", b"STUDY ")


def snapshot(store_dir: Path) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
    """Row counts of the index tables and (path, size, mtime) of every stored file."""
    db = sqlite3.connect(f"file:{store_dir / '.index' / 'index.sqlite'}?mode=ro", uri=True)
    try:
        rows = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("patient", "study", "series", "instance")
        }
    finally:
        db.close()
    files = sorted(
        (str(p.relative_to(store_dir)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in store_dir.rglob("*.dcm")
    )
    return rows, files


async def responses(
    assoc: Association, request: CFindRQ | CMoveRQ | CGetRQ, data: bytes
) -> list[Response]:
    sop_class = request.affected_sop_class_uid
    stream = assoc.send_request(request, data, context=assoc.context_for(sop_class))
    return [response async for response in stream]


def find_rq(model: str = "study") -> CFindRQ:
    return CFindRQ(message_id=1, affected_sop_class_uid=sop_class_for(model, FIND))


def move_rq(destination: str, model: str = "study") -> CMoveRQ:
    uid = sop_class_for(model, MOVE)
    return CMoveRQ(message_id=1, affected_sop_class_uid=uid, move_destination=destination)


def get_rq(model: str = "study") -> CGetRQ:
    return CGetRQ(message_id=1, affected_sop_class_uid=sop_class_for(model, GET))


def encoded(ds: Dataset, syntax: str = EXPLICIT_LE) -> bytes:
    return encode_dataset(ds, syntax)


def decoded(response: Response) -> Dataset:
    assert response.dataset is not None
    return decode_dataset(response.dataset, EXPLICIT_LE)


class Archive:
    """The running server, its store folder and a Q/R association to it."""

    def __init__(self, running: Running, store_dir: Path, port: int, refuser: int) -> None:
        self.running = running
        self.store_dir = store_dir
        self.port = port
        #: The port of the REFUSER and PICKY move destinations (started by the test).
        self.refuser = refuser

    def associate(
        self, contexts: Sequence[ProposedContext] | None = None, syntax: str = EXPLICIT_LE
    ) -> object:
        if contexts is None:
            contexts = [
                ProposedContext(abstract_syntax=uid, transfer_syntaxes=(syntax,))
                for uid in QR_CLASSES
            ]
        scu = AE("BADSCU", Policy(ae_title="BADSCU"))
        return scu.associate("127.0.0.1", self.port, called_ae="DICOMNET", contexts=contexts)


@pytest.fixture
async def archive(tmp_path: Path) -> AsyncIterator[Archive]:
    # The archive, its MR series stored as MR images (the other instances are CT).
    datasets = archive_datasets()
    datasets[2].SOPClassUID = MR
    (tmp_path / "files").mkdir()
    files = [
        write_part10(tmp_path / "files" / f"i{n}.dcm", ds, EXPLICIT_LE)
        for n, ds in enumerate(datasets)
    ]
    store_dir = tmp_path / "store"
    refuser = free_port()
    running = Running(
        ["--port", "0", "--host", "127.0.0.1", "--output", str(store_dir), "--no-fsync",
         "--destination", f"NOBODY=127.0.0.1:{free_port()}",
         "--destination", f"REFUSER=127.0.0.1:{refuser}",
         "--destination", f"PICKY=127.0.0.1:{refuser}"]
    )  # fmt: skip
    port = await running.port()
    try:
        contexts = [
            ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE,))
            for uid in (CT, MR, US)
        ]
        scu = AE("MODALITY", Policy(ae_title="MODALITY"))
        async with scu.associate(
            "127.0.0.1", port, called_ae="DICOMNET", contexts=contexts
        ) as assoc:
            for path in files:
                result = await store(assoc, InstanceSource.from_path(path))
                assert result.status == 0
        yield Archive(running, store_dir, port, refuser)
    finally:
        assert await running.stop() == 0


async def test_bad_find_identifiers_get_clear_statuses(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    assert before[0]["instance"] == 5
    async with archive.associate() as assoc:
        # Framing that does not add up: a length running past the end.
        truncated = STUDY_LEVEL + element(0x0010, 0x0010, "PN", b"DOE^JOHN")[:-3]
        (final,) = await responses(assoc, find_rq(), truncated)
        assert final.status == 0xC001 and final.message.error_comment
        # An unknown explicit VR.
        bad_vr = STUDY_LEVEL + struct.pack("<HH", 0x0010, 0x0010) + b"ZZ\x02\x00AB"
        (final,) = await responses(assoc, find_rq(), bad_vr)
        assert final.status == 0xC001
        # A binary number whose length is not a multiple of its size.
        odd = STUDY_LEVEL + element(0x0020, 0x1208, "US", b"\x01\x02\x03")
        (final,) = await responses(assoc, find_rq(), odd)
        assert final.status == 0xC001
        # No identifier at all.
        (final,) = await responses(assoc, find_rq(), b"")
        assert final.status in (0xC001, 0xA900)
        # An unknown character set: C001.
        unknown = element(0x0008, 0x0005, "CS", b"ISO_IR 999") + STUDY_LEVEL
        (final,) = await responses(assoc, find_rq(), unknown)
        assert final.status == 0xC001 and "ISO_IR 999" in (final.message.error_comment or "")
        # Bytes the character set does not decode: replaced, matched, nothing found.
        undecodable = (
            element(0x0008, 0x0005, "CS", b"ISO_IR 192")
            + STUDY_LEVEL
            + element(0x0010, 0x0010, "PN", b"\xff\xfe\x80\x81")
            + element(0x0020, 0x000D, "UI", b"")
        )
        found = await responses(assoc, find_rq(), undecodable)
        assert [r.status for r in found] == [0x0000]
    assert snapshot(archive.store_dir) == before


UID_KEY = element(0x0020, 0x000D, "UI", b"")


async def test_values_their_vr_does_not_allow(archive: Archive) -> None:
    """A900 naming the key, instead of a query that silently matches nothing."""
    before = snapshot(archive.store_dir)
    cases = {
        "date as US": element(0x0008, 0x0020, "US", b"\x01\x00") + STUDY_LEVEL + UID_KEY,
        "name as OB": STUDY_LEVEL + element(0x0010, 0x0010, "OB", b"DOE*") + UID_KEY,
        "UID as FD": STUDY_LEVEL + element(0x0020, 0x000D, "FD", b"\0" * 8),
        "date": element(0x0008, 0x0020, "DA", b"2024-0101-") + STUDY_LEVEL + UID_KEY,
        "open range": element(0x0008, 0x0020, "DA", b"- ") + STUDY_LEVEL + UID_KEY,
        "date text": element(0x0008, 0x0020, "DA", b"yesterday ") + STUDY_LEVEL + UID_KEY,
        "time": element(0x0008, 0x0030, "TM", b"ab:cd ") + STUDY_LEVEL + UID_KEY,
        "UID wildcard": STUDY_LEVEL + element(0x0020, 0x000D, "UI", b"1.2*"),
        "UID letters": STUDY_LEVEL + element(0x0020, 0x000D, "UI", b"1.2.abc\0"),
        "UID too long": STUDY_LEVEL + element(0x0020, 0x000D, "UI", b"1." * 40),
        "SH too long": element(0x0008, 0x0050, "SH", b"A" * 18) + STUDY_LEVEL + UID_KEY,
        "IS": STUDY_LEVEL + UID_KEY + element(0x0020, 0x1208, "IS", b"x1"),
    }
    offending = {
        "date as US": 0x00080020, "name as OB": 0x00100010, "UID as FD": 0x0020000D,
        "date": 0x00080020, "open range": 0x00080020, "date text": 0x00080020,
        "time": 0x00080030, "UID wildcard": 0x0020000D, "UID letters": 0x0020000D,
        "UID too long": 0x0020000D, "SH too long": 0x00080050, "IS": 0x00201208,
    }  # fmt: skip
    async with archive.associate() as assoc:
        for name, data in cases.items():
            (final,) = await responses(assoc, find_rq(), data)
            assert final.status == 0xA900, name
            assert final.message.offending_element == (offending[name],), name
            assert final.message.error_comment, name
        # Valid values of the same keys: answered.
        good = (
            element(0x0008, 0x0020, "DA", b"20240101-20240131")
            + element(0x0008, 0x0030, "TM", b"10-11 ")
            + STUDY_LEVEL
            + element(0x0020, 0x000D, "UI", STUDY_A.encode())
        )
        assert [r.status for r in await responses(assoc, find_rq(), good)] == [0xFF00, 0x0000]
        # Group lengths and command or meta elements are not keys: they change nothing.
        noise = (
            element(0x0000, 0x0100, "US", b"\x01\x00")
            + element(0x0002, 0x0010, "UI", b"1.2\0")
            + element(0x0008, 0x0000, "UL", b"\0\0\0\0")
            + STUDY_LEVEL
            + UID_KEY
        )
        assert [r.status for r in await responses(assoc, find_rq(), noise)] == [0xFF00] * 3 + [0]
        # The same checks for a retrieve: A900, nothing sent.
        (final,) = await responses(assoc, get_rq(), cases["UID wildcard"])
        assert final.status == 0xA900 and final.message.offending_element == (0x0020000D,)
    assert snapshot(archive.store_dir) == before


async def statuses(assoc: Association, request: CFindRQ, ds: Dataset | bytes) -> list[int]:
    data = ds if isinstance(ds, bytes) else encoded(ds)
    return [r.status for r in await responses(assoc, request, data)]


async def test_levels_and_keys_outside_the_model(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    async with archive.associate() as assoc:
        # Missing, unknown, multi-valued or wrong-model Query/Retrieve Level: A900 naming it.
        for level in (None, "", "FOO", "STUDY\\SERIES"):
            (final,) = await responses(assoc, find_rq(), encoded(ident(level, PatientID="P1")))
            assert final.status == 0xA900, level
            assert final.message.offending_element == (0x00080052,), level
        (final,) = await responses(assoc, find_rq("patient-study"), encoded(ident("SERIES")))
        assert final.status == 0xA900
        (final,) = await responses(assoc, find_rq("study"), encoded(ident("PATIENT")))
        assert final.status == 0xA900
        # A key of a lower level in a hierarchical query: A900 naming the key.
        keys = ident("STUDY", StudyInstanceUID="", SeriesInstanceUID=STUDY_A + ".1")
        (final,) = await responses(assoc, find_rq(), encoded(keys))
        assert final.status == 0xA900 and final.message.offending_element == (0x0020000E,)
        # A series query without its study's unique key (hierarchical): A900.
        (final,) = await responses(assoc, find_rq(), encoded(ident("SERIES", Modality="CT")))
        assert final.status == 0xA900 and final.message.offending_element == (0x0020000D,)
        # Private keys are not supported: ignored for matching, left out, FF01.
        keys = ident("STUDY", StudyInstanceUID="", PatientID="P1")
        block = keys.private_block(0x0009, "ACME 1.0", create=True)
        block.add_new(0x10, "LO", "anything")
        found = await responses(assoc, find_rq(), encoded(keys))
        assert [r.status for r in found] == [0xFF01, 0xFF01, 0x0000]
        for response in found[:-1]:
            answer = decoded(response)
            assert not any(e.tag.is_private for e in answer), answer
        assert sorted(str(decoded(r).StudyInstanceUID) for r in found[:-1]) == [STUDY_A, STUDY_B]
        # A standard attribute the model does not list is matched on the kept header
        # (the archive's extension), absent values returned empty: no error.
        keys = ident("STUDY", StudyInstanceUID="", PatientSex="O", InstitutionName="")
        found = await responses(assoc, find_rq(), encoded(keys))
        assert [r.status for r in found] == [0xFF00] * 3 + [0x0000]
        assert all(decoded(r).InstitutionName in ("", None) for r in found[:-1])
        keys = ident("STUDY", StudyInstanceUID="", InstitutionName="NOWHERE")
        assert await statuses(assoc, find_rq(), keys) == [0x0000]
    assert snapshot(archive.store_dir) == before


async def test_sequences_in_keys(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    async with archive.associate() as assoc:
        # One item: sequence matching (PS3.4 C.2.2.2.6); an empty item asks for the value.
        item = Dataset()
        keys = ident("STUDY", StudyInstanceUID=STUDY_A)
        keys.ReferencedStudySequence = PydicomSequence([item])
        assert await statuses(assoc, find_rq(), keys) == [0xFF00, 0x0000]
        # More than one item in a key sequence: A900 naming it.
        first, second = Dataset(), Dataset()
        first.ReferencedSOPInstanceUID = "1.2.3"
        second.ReferencedSOPInstanceUID = "1.2.4"
        keys = ident("STUDY", StudyInstanceUID="")
        keys.ReferencedStudySequence = PydicomSequence([first, second])
        (final,) = await responses(assoc, find_rq(), encoded(keys))
        assert final.status == 0xA900 and final.message.offending_element == (0x00081110,)
        # A sequence where the attribute is not one (PatientName sent as SQ): A900.
        inner = element(0x0008, 0x0100, "SH", b"X ")
        item_bytes = b"\xfe\xff\x00\xe0" + struct.pack("<I", len(inner)) + inner
        bad = STUDY_LEVEL + element(0x0010, 0x0010, "SQ", item_bytes)
        (final,) = await responses(assoc, find_rq(), bad)
        assert final.status == 0xA900 and final.message.offending_element == (0x00100010,)
        # Query/Retrieve Level as a sequence: A900.
        bad = element(0x0008, 0x0052, "SQ", b"")
        (final,) = await responses(assoc, find_rq(), bad)
        assert final.status == 0xA900
    assert snapshot(archive.store_dir) == before


async def test_huge_identifiers_are_refused(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    # Only Implicit VR has room for long lists (Explicit VR UI lengths stop at 64 KiB).
    async with archive.associate(syntax=IMPLICIT_LE) as assoc:
        # The most values a key may hold are matched; one more is refused (A700 / A701).
        uids = [f"1.2.826.0.1.3680043.8.498.99.{n}" for n in range(MAX_KEY_VALUES - 1)]
        keys = ident("STUDY", StudyInstanceUID="\\".join([*uids, STUDY_C]))
        found = await responses(assoc, find_rq(), encoded(keys, IMPLICIT_LE))
        assert [r.status for r in found] == [0xFF00, 0x0000]
        keys = ident("STUDY", StudyInstanceUID="\\".join([*uids, STUDY_C, STUDY_B]))
        (final,) = await responses(assoc, find_rq(), encoded(keys, IMPLICIT_LE))
        assert final.status == 0xA700 and final.message.offending_element == (0x0020000D,)
        assert str(MAX_KEY_VALUES) in (final.message.error_comment or "")
        (final,) = await responses(assoc, move_rq("NOBODY"), encoded(keys, IMPLICIT_LE))
        assert final.status == 0xA701
        (final,) = await responses(assoc, get_rq(), encoded(keys, IMPLICIT_LE))
        assert final.status == 0xA701
        # An identifier past the byte limit is not read to its end.
        blob = encoded(ident("STUDY", StudyInstanceUID=""), IMPLICIT_LE)
        text = b"x" * (MAX_IDENTIFIER_BYTES + 2)
        big = blob + struct.pack("<HHI", 0x0010, 0x4000, len(text)) + text
        (final,) = await responses(assoc, find_rq(), big)
        assert final.status == 0xA700 and "bytes" in (final.message.error_comment or "")
        (final,) = await responses(assoc, get_rq(), big)
        assert final.status == 0xA701
        # The association is still usable.
        keys = ident("STUDY", StudyInstanceUID=STUDY_A)
        found = await responses(assoc, find_rq(), encoded(keys, IMPLICIT_LE))
        assert [r.status for r in found] == [0xFF00, 0x0000]
    assert snapshot(archive.store_dir) == before


def _study(uid: str) -> bytes:
    return encoded(ident("STUDY", StudyInstanceUID=uid))


def failed_list(response: Response) -> list[str]:
    value = decoded(response).FailedSOPInstanceUIDList
    return sorted([value] if isinstance(value, str) else map(str, value))


STUDY_A_UIDS = [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2", f"{STUDY_A}.2.3"]


async def test_move_destinations_that_fail(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    async with archive.associate() as assoc:
        # Unknown destination: A801 and nothing sent.
        (final,) = await responses(assoc, move_rq("UNKNOWN"), _study(STUDY_A))
        assert final.status == 0xA801 and "UNKNOWN" in (final.message.error_comment or "")
        # Nobody listening: A702, every instance failed and listed.
        (final,) = await responses(assoc, move_rq("NOBODY"), _study(STUDY_A))
        assert final.status == 0xA702
        assert final.message.number_of_failed_suboperations == 3
        assert final.message.number_of_completed_suboperations == 0
        assert failed_list(final) == STUDY_A_UIDS
        # A destination that accepts only Verification (every storage context refused).
        verification = AcceptedContext(
            abstract_syntax="1.2.840.10008.1.1", transfer_syntaxes=(EXPLICIT_LE,)
        )
        refuser = AE("REFUSER", Policy(ae_title="REFUSER", accepted_contexts=(verification,)))
        async with await refuser.serve("127.0.0.1", archive.refuser):
            found = await responses(assoc, move_rq("REFUSER"), _study(STUDY_A))
        # A pending response after each failed sub-operation, then the final one.
        assert [r.status for r in found[:-1]] == [0xFF00, 0xFF00]
        assert [r.message.number_of_remaining_suboperations for r in found[:-1]] == [2, 1]
        final = found[-1]
        assert final.status == 0xA702
        assert final.message.number_of_failed_suboperations == 3
        assert final.message.number_of_completed_suboperations == 0
        assert final.message.number_of_warning_suboperations == 0
        assert failed_list(final) == STUDY_A_UIDS
        # A destination that takes CT but not MR: B000, the MR instance listed as failed.
        received = MemoryStore()
        ct = AcceptedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE,))
        picky = AE("PICKY", Policy(ae_title="PICKY", accepted_contexts=(ct,)))
        async with await picky.serve(
            "127.0.0.1", archive.refuser, handlers=[StorageService(received)]
        ):
            found = await responses(assoc, move_rq("PICKY"), _study(STUDY_A))
        final = found[-1]
        assert final.status == 0xB000
        assert final.message.number_of_failed_suboperations == 1
        assert final.message.number_of_completed_suboperations == 2
        assert failed_list(final) == [f"{STUDY_A}.2.3"]
        assert sorted(received.instances) == STUDY_A_UIDS[:2]
        # An empty Move Destination: the command itself is refused, naming the field.
        (final,) = await responses(assoc, move_rq(""), _study(STUDY_A))
        assert final.status == 0xC000 and final.message.offending_element == (0x00000600,)
    assert snapshot(archive.store_dir) == before


async def test_get_when_the_requestor_refuses_the_storage_role(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    get_uid = sop_class_for("study", GET)
    # Storage contexts proposed without the SCP role: none can carry a C-STORE back.
    plain = [
        ProposedContext(abstract_syntax=uid, transfer_syntaxes=(EXPLICIT_LE,))
        for uid in (get_uid, CT, MR)
    ]
    # Role selection proposed, but no storage class at all.
    bare = get_contexts([], model="study", transfer_syntaxes=(EXPLICIT_LE,))
    for contexts in (plain, bare):
        async with archive.associate(contexts) as assoc:
            found = await responses(assoc, get_rq(), _study(STUDY_A))
            assert [r.status for r in found[:-1]] == [0xFF00, 0xFF00]
            final = found[-1]
            assert final.status == 0xA702
            assert final.message.number_of_failed_suboperations == 3
            assert final.message.number_of_completed_suboperations == 0
            assert failed_list(final) == STUDY_A_UIDS
            # The association goes on: a C-GET of nothing succeeds.
            (final,) = await responses(assoc, get_rq(), _study("1.2.3.4"))
            assert final.status == 0x0000
    assert snapshot(archive.store_dir) == before


async def test_requests_that_do_not_fit_their_context(archive: Archive) -> None:
    before = snapshot(archive.store_dir)
    find_uid, move_uid = sop_class_for("study", FIND), sop_class_for("study", MOVE)
    get_uid = sop_class_for("study", GET)
    async with archive.associate() as assoc:
        # A C-FIND naming the FIND SOP class, sent on the MOVE SOP class's context: 0122.
        request = CFindRQ(message_id=1, affected_sop_class_uid=find_uid)
        stream = assoc.send_request(request, _study(STUDY_A), context=assoc.context_for(move_uid))
        (final,) = [r async for r in stream]
        assert final.status == 0x0122 and move_uid in (final.message.error_comment or "")
        # A C-GET naming the GET class on the FIND context: 0122, nothing sent.
        request = CGetRQ(message_id=1, affected_sop_class_uid=get_uid)
        stream = assoc.send_request(request, _study(STUDY_A), context=assoc.context_for(find_uid))
        (final,) = [r async for r in stream]
        assert final.status == 0x0122
        # A C-FIND of a SOP class that has no C-FIND: 0211 (unrecognized operation).
        request = CFindRQ(message_id=1, affected_sop_class_uid=move_uid)
        stream = assoc.send_request(request, _study(STUDY_A), context=assoc.context_for(move_uid))
        assert [r.status async for r in stream] == [0x0211]
        # A C-GET without an identifier: C001.
        request = CGetRQ(message_id=1, affected_sop_class_uid=get_uid, has_dataset=False)
        stream = assoc.send_request(request, None, context=assoc.context_for(get_uid))
        assert [r.status async for r in stream] == [0xC001]
        # A retrieve at IMAGE level without the SOP Instance UID: A900.
        keys = ident("IMAGE", StudyInstanceUID=STUDY_A, SeriesInstanceUID=STUDY_A + ".1")
        keys.SOPInstanceUID = ""
        (final,) = await responses(assoc, move_rq("NOBODY"), encoded(keys))
        assert final.status == 0xA900 and final.message.offending_element == (0x00080018,)
        # A Patient Root study query without the patient's ID (hierarchical): A900.
        (final,) = await responses(assoc, find_rq("patient"), _study(STUDY_A))
        assert final.status == 0xA900 and final.message.offending_element == (0x00100020,)
        assert await statuses(assoc, find_rq(), ident("STUDY", StudyInstanceUID=STUDY_A)) == [
            0xFF00,
            0x0000,
        ]
    assert snapshot(archive.store_dir) == before
