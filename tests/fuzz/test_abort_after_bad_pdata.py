"""Regressions: an A-ABORT is written even when more PDUs follow the bad one in the same read."""

from __future__ import annotations

import pytest

from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.commands import CEchoRQ, CStoreRQ
from dicomnet.policy import VERIFICATION_SOP_CLASS
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.pdus import AAbort, AReleaseRQ
from fuzz.support import ResponseReader, close_quietly, open_association, raw_pdata
from fuzz.test_pdata_fuzz import CONTEXTS as PDATA_CONTEXTS
from fuzz.test_pdata_fuzz import CT_IMAGE_STORAGE
from fuzz.test_pdata_fuzz import make_ae as pdata_ae

ECHO = encode_command(CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS))
STORE = encode_command(
    CStoreRQ(message_id=2, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid="1.2")
)


@pytest.mark.parametrize(
    "wire",
    [
        # A data fragment that no command announced, then A-RELEASE-RQ.
        raw_pdata([(1, 0x02, b"\0\0")]) + encode_pdu(AReleaseRQ()),
        # A command on context 2 (even: invalid), then A-RELEASE-RQ.
        raw_pdata([(2, 0x03, ECHO)]) + encode_pdu(AReleaseRQ()),
        # A C-STORE on context 7 (not accepted), then its data set.
        raw_pdata([(7, 0x03, STORE)]) + raw_pdata([(7, 0x02, b"\0\0")]),
    ],
    ids=["data-then-release", "even-context-then-release", "unaccepted-context-then-data"],
)
async def test_abort_is_sent_when_more_pdus_follow_in_the_same_read(wire: bytes) -> None:
    # PS3.8 AA-8: the acceptor must send A-ABORT. The abort is sent from inside the
    # handling of the first PDU; the core then delivers the next queued event (release
    # indication / P-DATA) re-entrantly from ULProtocol.send_pdu, the association,
    # not yet marked ended, answers it in Sta13, LocalProtocolError comes back out of
    # send_pdu(A-ABORT), and _abort_with resets the transport before the A-ABORT
    # bytes were written: the peer sees a reset and no A-ABORT.
    async with await pdata_ae().serve("127.0.0.1", 0) as server:
        raw, _ = await open_association(server.port, PDATA_CONTEXTS)
        try:
            raw.send(wire)
            answer = await ResponseReader(raw).next()
            assert isinstance(answer, AAbort), f"{answer!r} instead of A-ABORT"
        finally:
            await close_quietly(raw)
