"""Bad command sets over a real association, answered per PS3.7 (failure status or A-ABORT).

A raw client negotiates a normal association with a dicomnet SCP and then
sends hand-made command sets in P-DATA-TF:

* a request lacking a required element, whose Command Field and Message ID
  can be read, gets a failure response naming it (C-ECHO: 0212H mistyped
  argument, as its status set has no other failure; C-STORE: C000H cannot
  understand, PS3.4 B.2.3), and the association goes on; a data set announced
  by such a request is read and dropped;
* a command set that cannot be parsed at all (no response can be addressed),
  or a request on a presentation context that was not accepted, gets A-ABORT
  (source 2 service-provider, reason 6 invalid-PDU-parameter-value).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers.policies import CT_IMAGE_STORAGE, IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, command_set, element, pdata_bytes

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.dimse.codec import decode_command, encode_command
from dicomnet.dimse.commands import CEchoRQ, CEchoRSP, CStoreRSP, DimseMessage
from dicomnet.policy import VERIFICATION_SOP_CLASS, AcceptedContext, ProposedContext
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.pdus import AAbort, AAssociateAC, AReleaseRP, AReleaseRQ, PDataTF
from dicomnet_pdu.pdv import Reassembler

VERIFICATION_CONTEXT = 1
CT_CONTEXT = 3

CONTEXTS = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
    ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
)

# Command elements (PS3.7 Annex E).
AFFECTED_SOP_CLASS = 0x00000002
COMMAND_FIELD = 0x00000100
MESSAGE_ID = 0x00000110
PRIORITY = 0x00000700
DATA_SET_TYPE = 0x00000800
AFFECTED_SOP_INSTANCE = 0x00001000
NO_DATA_SET = 0x0101


@pytest.fixture
async def client() -> AsyncIterator[RawClient]:
    """A raw client with an association to an SCP accepting Verification and CT storage."""
    policy = make_policy(
        "SCP",
        timers={"artim": 0.3},  # after its A-ABORT the SCP closes within ARTIM (PS3.8 AA-1)
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)
            ),
            AcceptedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(IMPLICIT_LE,)),
        ),
    )
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=CONTEXTS)
        ac = await raw.request(rq)
        assert isinstance(ac, AAssociateAC)
        assert [pc.result for pc in ac.presentation_contexts] == [0, 0]
        try:
            yield raw
        finally:
            await raw.close()


async def receive_command(raw: RawClient) -> tuple[int, DimseMessage]:
    """The next DIMSE command the SCP sends, with its context ID."""
    reassembler = Reassembler()
    while True:
        pdu = await raw.receive()
        assert isinstance(pdu, PDataTF), pdu
        for fragment in reassembler.feed(pdu):
            assert fragment.is_command
            return fragment.context_id, decode_command(bytes(fragment.data))


async def assert_still_serving(raw: RawClient) -> None:
    """A good C-ECHO is answered, and the association releases normally."""
    echo = CEchoRQ(message_id=99, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
    raw.send(pdata_bytes(VERIFICATION_CONTEXT, encode_command(echo)))
    _, response = await receive_command(raw)
    assert isinstance(response, CEchoRSP)
    assert (response.message_id_being_responded_to, response.status) == (99, 0)
    raw.send(AReleaseRQ())
    assert isinstance(await raw.receive(), AReleaseRP)


async def test_echo_without_affected_sop_class_gets_mistyped_argument(client: RawClient) -> None:
    bad = command_set(
        element(COMMAND_FIELD, 0x0030),
        element(MESSAGE_ID, 7),
        element(DATA_SET_TYPE, NO_DATA_SET),
    )
    client.send(pdata_bytes(VERIFICATION_CONTEXT, bad))
    context_id, response = await receive_command(client)
    assert context_id == VERIFICATION_CONTEXT
    assert isinstance(response, CEchoRSP)
    assert response.message_id_being_responded_to == 7
    assert response.status == 0x0212  # PS3.7 C.5.5 mistyped argument
    assert response.dimse_status.is_failure
    await assert_still_serving(client)


async def test_store_without_instance_uid_gets_c000_and_its_data_set_is_dropped(
    client: RawClient,
) -> None:
    bad = command_set(
        element(AFFECTED_SOP_CLASS, CT_IMAGE_STORAGE),
        element(COMMAND_FIELD, 0x0001),
        element(MESSAGE_ID, 8),
        element(PRIORITY, 0),
        element(DATA_SET_TYPE, 0x0000),
    )
    # The data set follows in several PDUs (small maximum length), as a real SCU sends it.
    client.send(pdata_bytes(CT_CONTEXT, bad, b"\x08\x00\x16\x00" * 300, max_pdu=256))
    context_id, response = await receive_command(client)
    assert context_id == CT_CONTEXT
    assert isinstance(response, CStoreRSP)
    assert response.message_id_being_responded_to == 8
    assert response.status == 0xC000  # PS3.4 B.2.3 cannot understand
    assert response.affected_sop_class_uid == CT_IMAGE_STORAGE
    assert response.offending_element == (AFFECTED_SOP_INSTANCE,)
    await assert_still_serving(client)


async def test_mistyped_element_gets_0212(client: RawClient) -> None:
    bad = command_set(
        element(AFFECTED_SOP_CLASS, VERIFICATION_SOP_CLASS),
        element(COMMAND_FIELD, 0x0030),
        element(MESSAGE_ID, 9),
        element(DATA_SET_TYPE, b"\x01\x01\x00\x00"),  # US with 4 bytes
    )
    client.send(pdata_bytes(VERIFICATION_CONTEXT, bad))
    _, response = await receive_command(client)
    assert isinstance(response, CEchoRSP)
    assert (response.message_id_being_responded_to, response.status) == (9, 0x0212)
    await assert_still_serving(client)


@pytest.mark.parametrize(
    "bad",
    [
        encode_command(CEchoRQ(message_id=5, affected_sop_class_uid=VERIFICATION_SOP_CLASS))[:-3],
        b"\x00\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",  # group length, then nothing
        command_set(element(COMMAND_FIELD, 0x0030), element(DATA_SET_TYPE, NO_DATA_SET)),
    ],
    ids=["truncated", "group-length-too-long", "no-message-id"],
)
async def test_unanswerable_command_set_gets_abort(client: RawClient, bad: bytes) -> None:
    client.send(pdata_bytes(VERIFICATION_CONTEXT, bad))
    abort = await client.receive()
    assert isinstance(abort, AAbort)
    assert (abort.source, abort.reason) == (
        AbortSource.SERVICE_PROVIDER,
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
    )
    assert await client.at_eof()


async def test_request_on_a_context_that_was_not_accepted_gets_abort(client: RawClient) -> None:
    echo = CEchoRQ(message_id=3, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
    client.send(pdata_bytes(5, encode_command(echo)))
    abort = await client.receive()
    assert isinstance(abort, AAbort)
    assert (abort.source, abort.reason) == (
        AbortSource.SERVICE_PROVIDER,
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
    )
