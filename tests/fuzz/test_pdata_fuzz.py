"""Damaged P-DATA-TF on an established association: a DIMSE failure response or A-ABORT.

One server (Verification, CT storage into memory, Study Root C-FIND over an
empty index) serves every example. Each example opens an association with a
raw client and sends one well-framed P-DATA-TF whose PDV has a random context
ID and control header and whose command set is a mutation of a valid C-ECHO,
C-STORE or C-FIND request (see ``mutations.py``). Expected, per PS3.7/PS3.8:

* a complete command that decodes as a request: a response to its Message ID
  (any status), or A-ABORT (e.g. on a context that was not accepted);
* a complete command that does not decode: a failure response, or A-ABORT;
* a data fragment with no command before it: A-ABORT;
* then A-RELEASE-RQ gets A-RELEASE-RP, unless the association was aborted.

Nothing may hang past the exchange bound, the server may log no internal
error, and a fresh association can still C-ECHO at the end.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dicomnet.ae import AE
from dicomnet.dimse.codec import decode_command, encode_command
from dicomnet.dimse.commands import CEchoRQ, CFindRQ, CStoreRQ, DimseRequest, DimseResponse
from dicomnet.dimse.errors import CommandSetError
from dicomnet.dimse.status import StatusCategory, category
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    Policy,
    ProposedContext,
    Timers,
)
from dicomnet.query import InstanceIndex
from dicomnet.services.qr import QueryRetrieveService
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet_pdu.pdus import AAbort, AReleaseRP, AReleaseRQ
from fuzz.mutations import dataset_bytes, mutated_command
from fuzz.support import (
    BadRecords,
    LoopServer,
    ResponseReader,
    close_quietly,
    open_association,
    raw_pdata,
)

IMPLICIT_LE = "1.2.840.10008.1.2"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
SOP_CLASSES = (VERIFICATION_SOP_CLASS, CT_IMAGE_STORAGE, STUDY_ROOT_FIND)
CONTEXTS = tuple(
    ProposedContext(abstract_syntax=uid, transfer_syntaxes=(IMPLICIT_LE,)) for uid in SOP_CLASSES
)
ACCEPTED_IDS = (1, 3, 5)
PENDING = (0xFF00, 0xFF01)

VALID_COMMANDS = (
    encode_command(CEchoRQ(message_id=11, affected_sop_class_uid=VERIFICATION_SOP_CLASS)),
    encode_command(
        CStoreRQ(
            message_id=12,
            affected_sop_class_uid=CT_IMAGE_STORAGE,
            affected_sop_instance_uid="1.2.826.0.1.3680043.99.77",
        )
    ),
    encode_command(CFindRQ(message_id=13, affected_sop_class_uid=STUDY_ROOT_FIND)),
)


def make_ae() -> AE:
    policy = Policy(
        ae_title="SCP",
        accepted_contexts=tuple(
            AcceptedContext(abstract_syntax=uid, transfer_syntaxes=(IMPLICIT_LE,))
            for uid in SOP_CLASSES
        ),
        timers=Timers(artim=0.5, dimse=2.0),
    )
    return AE(
        "SCP",
        policy,
        handlers=[
            StorageService(MemoryStore()),
            QueryRetrieveService(InstanceIndex(), sop_classes=[STUDY_ROOT_FIND]),
        ],
    )


@st.composite
def fuzzed_pdv(draw: st.DrawFn) -> tuple[int, int, bytes]:
    """(context ID, control header, command bytes)."""
    command = draw(st.sampled_from(VALID_COMMANDS).flatmap(mutated_command))
    context_id = draw(st.one_of(st.sampled_from(ACCEPTED_IDS), st.integers(0, 255)))
    header = draw(
        st.one_of(st.just(0x03), st.sampled_from([0x00, 0x01, 0x02]), st.integers(0, 255))
    )
    return context_id, header, command


def expected_answer(context_id: int, header: int, command: bytes) -> str:
    """What the server owes: "request", "failure", "abort" or "none".

    Reserved bits of the control header (PS3.8 Annex E.2) are not tested on
    receipt, so only bits 0 and 1 decide.
    """
    if context_id % 2 == 0:
        return "abort"  # PS3.8 §9.3.2.2: presentation context IDs are odd
    if not header & 0x01:
        return "abort"  # a data set fragment that no command announced
    if not header & 0x02:
        return "none"  # a command still incomplete
    try:
        message = decode_command(command)
    except CommandSetError:
        return "failure"
    if isinstance(message, DimseRequest):
        # PS3.8 §9.3.5: a PDV must name an accepted presentation context.
        return "request" if context_id in ACCEPTED_IDS else "abort"
    return "none"  # a response or C-CANCEL nobody waits for


async def exchange(port: int, pdv: tuple[int, int, bytes], data: bytes) -> None:
    raw, _ = await open_association(port, CONTEXTS)
    reader = ResponseReader(raw)
    context_id, header, command = pdv
    expected = expected_answer(context_id, header, command)
    event(f"expected {expected}")
    try:
        raw.send(raw_pdata([pdv]))
        if expected == "request":
            request = decode_command(command)
            assert isinstance(request, DimseRequest)
            if request.has_dataset:
                raw.send(raw_pdata([(context_id, 0x02, data or b"\0")]))
            answer = await reader.next()
            while isinstance(answer, DimseResponse) and answer.status in PENDING:
                answer = await reader.next()
            assert isinstance(answer, AAbort | DimseResponse), answer
            if isinstance(answer, DimseResponse):
                assert answer.message_id_being_responded_to == request.message_id
        elif expected == "failure":
            answer = await reader.next()
            assert isinstance(answer, AAbort | DimseResponse), answer
            if isinstance(answer, DimseResponse):
                assert category(answer.status) is StatusCategory.FAILURE, hex(answer.status)
        elif expected == "abort":
            answer = await reader.next()
            assert isinstance(answer, AAbort), answer
        else:
            answer = None
        event(f"answer {type(answer).__name__}")
        if isinstance(answer, AAbort):
            return
        raw.send(AReleaseRQ())
        while True:
            end = await reader.next()
            if isinstance(end, AReleaseRP | AAbort):
                return
            assert end is not None, "connection closed without A-RELEASE-RP or A-ABORT"
            assert isinstance(end, DimseResponse), f"{end!r} instead of A-RELEASE-RP"
    finally:
        await close_quietly(raw)


async def echo(port: int) -> None:
    async with AE("SCU").associate("127.0.0.1", port, called_ae="SCP") as assoc:
        assert (await assoc.echo()).is_success


def test_mutated_command_sets_get_failure_or_abort_and_the_server_survives() -> None:
    with BadRecords.installed() as bad, LoopServer.started(make_ae) as scp:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(pdv=fuzzed_pdv(), data=dataset_bytes(explicit=False))
        def one(pdv: tuple[int, int, bytes], data: bytes) -> None:
            bad.take()  # what a failed example left behind
            scp.run(lambda: exchange(scp.port, pdv, data))
            scp.settle()
            assert bad.take() == []

        one()
        scp.run(lambda: echo(scp.port))
        assert bad.take() == []
