"""The C-STORE-RSP to a data set that ends with a read is written as soon as it is made.

The last fragment of a data set arriving in a read of its own (a synchronous SCU's
last PDU): the handler answers inside that read, and the response goes to the
socket at once, before the association restarts the DIMSE timer for the read and
before the handler's bookkeeping, not in the transmit after the read. Responses
made while more of the read is still to be handled wait and leave together.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, pdata_bytes, store_rq_command

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.dimse.codec import decode_command
from dicomnet.dimse.commands import CStoreRSP
from dicomnet.policy import ProposedContext
from dicomnet.services.base import Binding, IncomingRequest
from dicomnet_pdu.pdus import AAssociateAC, PDataTF

PDU_LENGTH = 16384
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _drop(views: Any) -> None:
    return None


async def discard(request: IncomingRequest) -> int:
    assert request.data is not None
    request.data.consume_with(_drop)
    await request.data.finished()
    return 0


async def test_the_answer_to_a_data_set_ending_a_read_leaves_before_the_bookkeeping() -> None:
    policy = replace(storage_policy("SCP"), max_pdu_receive=PDU_LENGTH)
    binding = Binding(command_field=0x0001, handler=discard, inline=True)
    ae = AE("SCP", policy, handlers=[binding])
    contexts = (
        ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(IMPLICIT_LE,)),
    )
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=contexts)
    events: list[str] = []
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(rq), AAssociateAC)
            (association,) = server.active
            transport = association.protocol._transport
            assert transport is not None
            for name in ("write", "writelines"):
                original = getattr(transport, name)

                def recording(data: Any, original: Any = original) -> None:
                    events.append("write")
                    original(data)

                setattr(transport, name, recording)
            restart = association._dimse.restart

            def restarting() -> None:
                events.append("restart")
                restart()

            association._dimse.restart = restarting  # type: ignore[method-assign]
            wire = pdata_bytes(
                1, store_rq_command(5, "1.2.3.5"), bytes(3 * PDU_LENGTH), max_pdu=PDU_LENGTH
            )
            last = len(wire) - (PDU_LENGTH + 6)  # where the last data PDU begins
            raw.send(wire[:last])
            await asyncio.sleep(0.2)  # read and handled: the data set is open
            events.clear()
            raw.send(wire[last:])  # its last PDU alone, in a read of its own
            answer = await raw.receive()
        finally:
            await raw.close()
    assert isinstance(answer, PDataTF)
    response = decode_command(bytes(answer.pdvs[0].data))
    assert isinstance(response, CStoreRSP) and response.message_id_being_responded_to == 5
    assert response.status == 0 and response.affected_sop_instance_uid == "1.2.3.5"
    # The read's DIMSE timer restart (and everything after the answer) came after it.
    assert events[:2] == ["write", "restart"]
