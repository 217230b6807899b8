"""Peers that misbehave around negotiation and failure responses, over real sockets.

* A-ASSOCIATE-RQ and P-DATA-TF in one write: the P-DATA arrives before the
  association could answer (Sta3, AA-8), so the acceptor has already sent
  A-ABORT; the late answer must not be attempted as an internal error.
* A request whose affected UID is malformed and whose handler raises still
  gets its failure response (the malformed UID is left out of it).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, command_set, element, pdata_bytes

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.dimse.codec import decode_command
from dicomnet.dimse.commands import CEchoRSP, CommandField
from dicomnet.dimse.status import Status
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.pdus import AAbort, AAssociateAC, AReleaseRQ, PDataTF
from dicomnet_pdu.pdv import Reassembler

CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
)

AFFECTED_SOP_CLASS = 0x00000002
COMMAND_FIELD = 0x00000100
MESSAGE_ID = 0x00000110
DATA_SET_TYPE = 0x00000800
NO_DATA_SET = 0x0101


def scp_policy() -> object:
    return make_policy(
        "SCP",
        timers={"artim": 0.3},
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
    )


def echo_command(message_id: int, sop_class: str) -> bytes:
    return command_set(
        element(AFFECTED_SOP_CLASS, sop_class),
        element(COMMAND_FIELD, CommandField.C_ECHO_RQ),
        element(MESSAGE_ID, message_id),
        element(DATA_SET_TYPE, NO_DATA_SET),
    )


async def test_pdata_right_behind_the_request_is_aborted_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:  # type: ignore[arg-type]
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            rq = negotiation.build_request(
                make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
            )
            raw.send(encode_pdu(rq) + pdata_bytes(1, echo_command(1, VERIFICATION_SOP_CLASS)))
            answer = await raw.receive()
            assert isinstance(answer, AAbort)
            assert await raw.at_eof()
        finally:
            await raw.close()
        await asyncio.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records]
    assert not any("internal error" in m for m in messages), messages
    assert not [r for r in caplog.records if r.exc_info], messages


async def test_failure_response_leaves_out_a_malformed_uid() -> None:
    async def broken(request: IncomingRequest) -> int:
        raise RuntimeError("handler failed")

    ae = AE(
        "SCP",
        scp_policy(),  # type: ignore[arg-type]
        handlers=[Binding(command_field=CommandField.C_ECHO_RQ, handler=broken)],
    )
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            rq = negotiation.build_request(
                make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
            )
            assert isinstance(await raw.request(rq), AAssociateAC)
            # Context 1 is Verification; the command names it with a malformed UID.
            raw.send(pdata_bytes(1, echo_command(7, "1.2.840..bad uid!")))
            reassembler = Reassembler()
            command = None
            while command is None:
                pdu = await raw.receive()
                assert isinstance(pdu, PDataTF)
                for fragment in reassembler.feed(pdu):
                    command = bytes(fragment.data)
            response = decode_command(command)
            assert isinstance(response, CEchoRSP)
            assert response.message_id_being_responded_to == 7
            assert response.status == Status.PROCESSING_FAILURE
            assert not response.affected_sop_class_uid
        finally:
            await raw.close()


async def test_abort_reaches_the_peer_when_more_pdus_follow_in_the_same_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    async with await AE("SCP", scp_policy()).serve("127.0.0.1", 0) as server:  # type: ignore[arg-type]
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            rq = negotiation.build_request(
                make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS
            )
            assert isinstance(await raw.request(rq), AAssociateAC)
            # A data fragment no command announced (A-ABORT is due), and behind it,
            # in the same write, an A-RELEASE-RQ that must not be answered.
            stray = b"\x04\x00" + (8).to_bytes(4, "big") + (4).to_bytes(4, "big") + b"\x01\x02\0\0"
            raw.send(stray + encode_pdu(AReleaseRQ()))
            answer = await raw.receive()
            assert isinstance(answer, AAbort)
            assert await raw.at_eof()
        finally:
            await raw.close()
        await asyncio.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records]
    assert not any("internal error" in m for m in messages), messages
