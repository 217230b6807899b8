"""What an acceptor (and a requestor) answers to A-ASSOCIATE PDUs that bend PS3.8, over
real sockets.

* Items of unrecognized types anywhere in the RQ are skipped (PS3.8 §9.3): accepted.
* A RQ without user information, without (or with two) Maximum Length sub-items, or
  with a repeated presentation context ID is an invalid PDU: A-ABORT, never an AC.
* A Maximum Length Received of 1-6 can never carry a response: A-ASSOCIATE-RJ
  (1, 1, 1), a log line saying why, and nothing stored even when the SCU sends its
  C-STORE anyway. As requestor, such an AC is aborted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import (
    RawClient,
    element,
    fake_acceptor,
    pdata_bytes,
    read_pdu,
    store_rq_command,
)

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.errors import DicomNetError
from dicomnet.policy import VERIFICATION_SOP_CLASS, ProposedContext, Timers
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet_pdu.codec import encode_pdu
from dicomnet_pdu.codes import AbortSource, PresentationContextResult
from dicomnet_pdu.items import MaximumLength, PresentationContextAC, UserInformation
from dicomnet_pdu.pdus import AAbort, AAssociateAC, AAssociateRJ, AAssociateRQ

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
VERIFICATION = (
    ProposedContext(abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(IMPLICIT_LE,)),
)
VENDOR_ITEMS = b"\x60\x00\x00\x02zz" + b"\xff\x00\x00\x00" + b"\x99\x00\x00\x01\x00"


def _rq(**policy_changes: object) -> AAssociateRQ:
    policy = make_policy("RAW", **policy_changes)
    return negotiation.build_request(policy, called_ae_title="SCP", contexts=VERIFICATION)


def _split(wire: bytes) -> tuple[bytes, list[bytes]]:
    """An encoded RQ/AC as its fixed part and its variable items."""
    fixed, rest = wire[6:74], wire[74:]
    items = []
    while rest:
        end = 4 + int.from_bytes(rest[2:4], "big")
        items.append(rest[:end])
        rest = rest[end:]
    return fixed, items


def _join(pdu_type: int, fixed: bytes, items: list[bytes]) -> bytes:
    body = fixed + b"".join(items)
    return bytes([pdu_type, 0]) + len(body).to_bytes(4, "big") + body


def _with_vendor_items_everywhere(rq: AAssociateRQ) -> bytes:
    """``rq`` with vendor items before, between and after its items, and inside each
    presentation context and the user information item."""
    fixed, items = _split(encode_pdu(rq))
    out = [VENDOR_ITEMS]
    for item in items:
        if item[0] in (0x20, 0x50):
            value = item[4:] + VENDOR_ITEMS
            out.append(bytes([item[0], 0]) + len(value).to_bytes(2, "big") + value)
        else:
            out.append(item)
        out.append(VENDOR_ITEMS)
    return _join(0x01, fixed, out)


def _malformed(kind: str) -> bytes:
    rq = _rq()
    if kind == "no-user-information":
        fixed, items = _split(encode_pdu(rq))
        return _join(0x01, fixed, [i for i in items if i[0] != 0x50])
    if kind == "no-maximum-length":
        info = UserInformation(
            items=tuple(i for i in rq.user_information.items if not isinstance(i, MaximumLength))
        )
        return encode_pdu(replace(rq, user_information=info))
    if kind == "two-maximum-lengths":
        info = UserInformation(
            items=(MaximumLength(maximum_length=16384), *rq.user_information.items)
        )
        return encode_pdu(replace(rq, user_information=info))
    assert kind == "repeated-context-id"
    context = rq.presentation_contexts[0]
    return encode_pdu(replace(rq, presentation_contexts=(context, context)))


async def test_unrecognized_items_are_skipped_and_the_association_works() -> None:
    async with await AE("SCP").serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            raw.send(_with_vendor_items_everywhere(_rq()))
            answer = await raw.receive()
            assert isinstance(answer, AAssociateAC), answer
            (context,) = answer.presentation_contexts
            assert (context.result, context.transfer_syntax) == (
                PresentationContextResult.ACCEPTANCE,
                IMPLICIT_LE,
            )
        finally:
            await raw.close()


@pytest.mark.parametrize(
    "kind",
    ["no-user-information", "no-maximum-length", "two-maximum-lengths", "repeated-context-id"],
)
async def test_malformed_request_is_aborted_not_accepted(kind: str) -> None:
    scp = AE("SCP", make_policy("SCP", timers={"artim": 0.3}))
    async with await scp.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            raw.send(_malformed(kind))
            answer = await raw.receive()
            # Evt19 in Sta2 is AA-1 (PS3.8 Table 9-10): A-ABORT, service-user source.
            assert answer == AAbort(source=AbortSource.SERVICE_USER), answer
            assert await raw.at_eof()  # after ARTIM: nothing else was sent
        finally:
            await raw.close()


@pytest.mark.parametrize("max_length", [1, 6])
async def test_maximum_length_too_small_for_a_pdv_is_rejected_and_nothing_stored(
    max_length: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    store = FolderStore(tmp_path / "store")
    policy = replace(storage_policy("SCP"), timers=replace(Timers(), artim=0.3))
    ae = AE("SCP", policy, handlers=[StorageService(store)])
    contexts = (
        ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(IMPLICIT_LE,)),
    )
    rq = negotiation.build_request(
        make_policy("RAW", max_pdu_receive=max_length), called_ae_title="SCP", contexts=contexts
    )
    dataset = element(0x00080016, SECONDARY_CAPTURE) + element(0x00080018, "1.2.3.4.5.6.7")
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            answer = await raw.request(rq)
            assert answer == AAssociateRJ(result=1, source=1, reason=1), answer
            # An SCU that sends its C-STORE anyway: ignored in Sta13 (AA-6), never stored.
            command = store_rq_command(1, "1.2.3.4.5.6.7")
            raw.send(pdata_bytes(1, command, dataset, max_pdu=max(max_length, 7)))
            assert await raw.at_eof()
        finally:
            await raw.close()
        await asyncio.sleep(0.05)
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    why = [r.getMessage() for r in caplog.records if "cannot carry one PDV" in r.getMessage()]
    assert len(why) == 1, [r.getMessage() for r in caplog.records]
    assert f"maximum PDU length {max_length} " in why[0]


async def test_requestor_aborts_an_accept_too_small_to_send_on() -> None:
    received: asyncio.Queue[object] = asyncio.Queue()

    async def conversation(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_pdu(reader)
        ac = AAssociateAC(
            called_ae_title="SCP",
            calling_ae_title="SCU",
            presentation_contexts=(
                PresentationContextAC(
                    context_id=1,
                    result=PresentationContextResult.ACCEPTANCE,
                    transfer_syntax=IMPLICIT_LE,
                ),
            ),
            user_information=UserInformation(items=(MaximumLength(maximum_length=6),)),
        )
        writer.write(encode_pdu(ac))
        await received.put(await read_pdu(reader))

    async with fake_acceptor(conversation) as port:
        with pytest.raises(DicomNetError, match="cannot carry one PDV"):
            async with AE("SCU").associate(
                "127.0.0.1", port, called_ae="SCP", contexts=VERIFICATION
            ):
                pass
        answer = await asyncio.wait_for(received.get(), 5)
    assert isinstance(answer, AAbort)
