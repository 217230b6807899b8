"""Whole PDUs of every type in random order against a running acceptor.

A raw client sends a random sequence of PDUs (A-ASSOCIATE-RQ acceptable or
not, A-ASSOCIATE-AC/RJ, P-DATA-TF with a C-ECHO, A-RELEASE-RQ/RP, A-ABORT, a
PDU of an unknown type) from the moment the connection opens, and checks
each answer against PS3.8 Table 9-10 as transcribed in ``tests/fsm/data``
(the acceptor starts in Sta2): the action of the cell says what the client
must see (A-ASSOCIATE-AC or -RJ, A-ABORT, A-RELEASE-RP, the C-ECHO
response, a closed connection, or nothing), and its next state is where the
next PDU lands. The client waits for each expected answer before sending on,
so the server's state is known at every step. At the end, a probe checks the
state the model says the server is in (Sta6: a C-ECHO works; Sta13: an
A-ASSOCIATE-RQ gets A-ABORT, AA-7), or the example ends with the connection
cut mid-PDU. One server serves every example and still answers a C-ECHO on
a fresh association afterwards.
"""

from __future__ import annotations

import struct

from fsm.spec_tables import state_table
from helpers.raw_ul import RawClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CEchoRQ, CEchoRSP
from dicomnet.policy import (
    VERIFICATION_SOP_CLASS,
    AcceptedContext,
    AETitlePolicy,
    Policy,
    ProposedContext,
    Timers,
)
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortSource
from dicomnet_pdu.items import MaximumLength, PresentationContextAC, UserInformation
from dicomnet_pdu.pdus import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AReleaseRP,
    AReleaseRQ,
)
from fuzz.support import (
    BadRecords,
    LoopServer,
    ResponseReader,
    close_quietly,
    raw_pdata,
    read_pdu_or_eof,
)

IMPLICIT_LE = "1.2.840.10008.1.2"
CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
)


def _rq(called: str) -> bytes:
    rq = negotiation.build_request(
        Policy(ae_title="FUZZER"), called_ae_title=called, contexts=CONTEXTS
    )
    return encode_pdu(rq)


ECHO = encode_command(CEchoRQ(message_id=42, affected_sop_class_uid=VERIFICATION_SOP_CLASS))

#: name -> (PS3.8 event the acceptor sees, bytes on the wire)
PDUS: dict[str, tuple[str, bytes]] = {
    "rq": ("Evt6", _rq("SCP")),
    "rq-unacceptable": ("Evt6", _rq("NOBODY")),
    "ac": (
        "Evt3",
        encode_pdu(
            AAssociateAC(
                called_ae_title="SCP",
                calling_ae_title="FUZZER",
                presentation_contexts=(
                    PresentationContextAC(context_id=1, result=0, transfer_syntax=IMPLICIT_LE),
                ),
                user_information=UserInformation(items=(MaximumLength(maximum_length=16384),)),
            )
        ),
    ),
    "rj": ("Evt4", encode_pdu(AAssociateRJ(result=1, source=1, reason=1))),
    "pdata": ("Evt10", raw_pdata([(1, 0x03, ECHO)])),
    "release-rq": ("Evt12", encode_pdu(AReleaseRQ())),
    "release-rp": ("Evt13", encode_pdu(AReleaseRP())),
    "abort": ("Evt16", encode_pdu(AAbort())),
    "unknown-type": ("Evt19", b"\x0a\x00" + struct.pack(">I", 4) + b"\0\0\0\0"),
}

#: Sta13 after an invalid PDU, when nothing more is read.
DEAF = "Sta13-deaf"

TABLE = {(cell.state, cell.event): cell for cell in state_table()}


def make_ae() -> AE:
    policy = Policy(
        ae_title="SCP",
        ae_titles=AETitlePolicy(called_ae_titles=("SCP",)),
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
        # Long enough that Sta13 never ends on its own during an example.
        timers=Timers(artim=10.0, dimse=10.0),
    )
    return AE("SCP", policy)


async def expect_abort(reader: ResponseReader, *, provider: bool) -> None:
    answer = await reader.next()
    assert isinstance(answer, AAbort), f"expected A-ABORT, got {answer!r}"
    if provider:
        assert answer.source is AbortSource.SERVICE_PROVIDER  # AA-8


async def step(raw: RawClient, reader: ResponseReader, state: str, name: str) -> str:
    """Send PDU ``name`` to the acceptor in ``state``; check the answer; the next state."""
    event, wire = PDUS[name]
    if state == DEAF:
        raw.send(wire)
        return DEAF
    cell = TABLE[(state, event)]
    assert cell.action is not None, f"model sends {name} where the table has no action"
    raw.send(wire)
    action = cell.action
    if action == "AE-6":
        answer = await read_pdu_or_eof(raw.reader)
        if name == "rq":
            assert isinstance(answer, AAssociateAC), answer
            return "Sta6"  # Sta3, then AE-7 once the AE accepts
        assert isinstance(answer, AAssociateRJ), answer
        assert (answer.result, answer.source, answer.reason) == (1, 1, 7)
        return "Sta13"
    if action in {"AA-1", "AA-7", "AA-8"}:
        await expect_abort(reader, provider=action == "AA-8")
    elif action in {"AA-2", "AA-3"}:
        assert await read_pdu_or_eof(raw.reader) is None, "expected the connection closed"
    elif action == "DT-2":
        answer = await reader.next()
        assert isinstance(answer, CEchoRSP), answer
        assert (answer.message_id_being_responded_to, answer.status) == (42, 0)
    elif action == "AR-2":
        # The AE answers the release indication at once (AR-4, Sta8 -> Sta13).
        assert isinstance(await reader.next(), AReleaseRP)
        return "Sta13"
    else:
        assert action == "AA-6", f"action {action} is not modelled"
    (next_state,) = cell.next_states
    # After an invalid PDU the acceptor parses no more input (framing is lost; see
    # dicomnet_pdu.connection): it stays in Sta13 until the peer closes or ARTIM expires.
    return DEAF if event == "Evt19" else next_state


async def conversation(port: int, names: list[str], cut: tuple[str, int, bool] | None) -> None:
    raw = await RawClient.connect("127.0.0.1", port)
    reader = ResponseReader(raw)
    state = "Sta2"
    try:
        for name in names:
            state = await step(raw, reader, state, name)
            if state == "Sta1":
                return
        if cut is not None:
            name, length, reset = cut
            raw.send(PDUS[name][1][:length])
            await raw.writer.drain()
            if reset:
                raw.writer.transport.abort()
            return
        if state == "Sta6":
            assert await step(raw, reader, state, "pdata") == "Sta6"
            assert await step(raw, reader, state, "release-rq") == "Sta13"
        elif state == "Sta13":
            assert await step(raw, reader, state, "rq") == "Sta13"  # AA-7
        else:
            assert state == DEAF, state
    finally:
        await close_quietly(raw)


async def echo(port: int) -> None:
    async with AE("SCU").associate("127.0.0.1", port, called_ae="SCP") as assoc:
        assert (await assoc.echo()).is_success


PDU_NAMES = st.sampled_from(sorted(PDUS))


@st.composite
def cuts(draw: st.DrawFn) -> tuple[str, int, bool] | None:
    if draw(st.booleans()):
        return None
    name = draw(PDU_NAMES)
    return name, draw(st.integers(1, len(PDUS[name][1]) - 1)), draw(st.booleans())


def test_random_pdu_sequences_are_answered_per_the_state_table() -> None:
    with BadRecords.installed() as bad, LoopServer.started(make_ae) as scp:

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            names=st.lists(
                st.one_of(PDU_NAMES, st.sampled_from(["rq", "pdata"])), min_size=1, max_size=6
            ),
            cut=cuts(),
        )
        def one(names: list[str], cut: tuple[str, int, bool] | None) -> None:
            bad.take()  # what a failed example left behind
            scp.run(lambda: conversation(scp.port, names, cut))
            scp.settle()
            assert bad.take() == []

        one()
        scp.run(lambda: echo(scp.port))
        assert bad.take() == []


def test_model_covers_every_pdu_in_the_states_it_reaches() -> None:
    # The model relies on Sta2, Sta6 and Sta13 having an action for every PDU it sends.
    for state in ("Sta2", "Sta6", "Sta13"):
        for event, _ in PDUS.values():
            assert TABLE[(state, event)].action is not None, (state, event)
