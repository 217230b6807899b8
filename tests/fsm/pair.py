"""Two ULConnections wired back to back in memory, with a fake clock.

The "transport" between them is a pair of byte pipes: :meth:`Pair.deliver`
moves what one side queued into the other's ``receive_data``. When either side
asks to close, the link closes after the bytes already queued have been
delivered, and both sides get ``receive_data(b"")``, as a TCP close would give.
"""

from __future__ import annotations

import struct

from dicomnet_pdu.codec import decode_pdu, encode_pdu
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.events import ULEvent
from dicomnet_pdu.items import (
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import PDU, PDV, AAssociateAC, AAssociateRQ, PDataTF

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
#: The user information PS3.8 requires in A-ASSOCIATE-RQ/AC: one Maximum Length.
USER_INFO = UserInformation(items=(MaximumLength(maximum_length=16384),))


def make_rq(protocol_version: int = 1) -> AAssociateRQ:
    """An A-ASSOCIATE-RQ proposing Verification."""
    return AAssociateRQ(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextRQ(
                context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
        user_information=USER_INFO,
        protocol_version=protocol_version,
    )


def make_ac() -> AAssociateAC:
    """An A-ASSOCIATE-AC accepting the context of :func:`make_rq`."""
    return AAssociateAC(
        called_ae_title="SCP",
        calling_ae_title="SCU",
        presentation_contexts=(
            PresentationContextAC(
                context_id=1,
                result=PresentationContextResult.ACCEPTANCE,
                transfer_syntax=IMPLICIT_LE,
            ),
        ),
        user_information=USER_INFO,
    )


def make_pdata(payload: bytes = b"\x01\x02\x03", *, is_command: bool = True) -> PDataTF:
    """A P-DATA-TF with one last-fragment PDV on context 1."""
    return PDataTF(pdvs=(PDV(context_id=1, is_command=is_command, is_last=True, data=payload),))


def wire(pdu: PDU) -> bytes:
    """The encoded bytes of one PDU."""
    return encode_pdu(pdu)


def sent_pdus(conn: ULConnection) -> list[PDU]:
    """Drain and decode everything ``conn`` queued for the peer."""
    data = b"".join(conn.data_to_send())
    pdus = []
    while data:
        (length,) = struct.unpack(">I", data[2:6])
        pdus.append(decode_pdu(data[: 6 + length]))
        data = data[6 + length :]
    return pdus


def drain(conn: ULConnection) -> list[ULEvent]:
    """Every event the connection has queued."""
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    return events


class Pair:
    """A requestor and an acceptor joined by an in-memory transport."""

    def __init__(self, *, artim: float = 5.0, max_pdu_receive: int = 16384) -> None:
        self.req = ULConnection(
            Role.REQUESTOR, artim_timeout=artim, max_pdu_receive=max_pdu_receive
        )
        self.acc = ULConnection(Role.ACCEPTOR, artim_timeout=artim, max_pdu_receive=max_pdu_receive)
        self.now = 0.0
        self.link_closed = False

    def other(self, conn: ULConnection) -> ULConnection:
        """The peer of ``conn``."""
        return self.acc if conn is self.req else self.req

    def open(self, rq: AAssociateRQ | None = None) -> None:
        """Connect the transport: the requestor's RQ is queued, not yet delivered."""
        self.req.connect(rq or make_rq())
        self.acc.connection_made(self.now)
        self.req.connection_made(self.now)

    def deliver(self, sender: ULConnection) -> bool:
        """Move what ``sender`` queued to its peer; whether anything moved."""
        data = sender.data_to_send()
        if not data or self.link_closed:
            return False
        self.other(sender).receive_data(b"".join(data), self.now)
        return True

    def close_link(self) -> None:
        """The transport connection closes: both ends see end of stream."""
        if self.link_closed:
            return
        self.link_closed = True
        self.req.receive_data(b"", self.now)
        self.acc.receive_data(b"", self.now)

    def pump(self) -> None:
        """Deliver both ways until quiet, then close the link if either side asked."""
        while True:
            moved = self.deliver(self.req)
            moved = self.deliver(self.acc) or moved
            if moved:
                continue
            if not self.link_closed and (self.req.should_close or self.acc.should_close):
                self.close_link()
                continue
            return

    def establish(self) -> None:
        """Open, deliver the RQ, accept with :func:`make_ac`; both sides end in Sta6."""
        self.open()
        self.deliver(self.req)
        drain(self.acc)
        self.acc.send(make_ac(), self.now)
        self.deliver(self.acc)
        drain(self.req)

    def advance(self, seconds: float) -> None:
        """Move the clock and fire due timers on both sides."""
        self.now += seconds
        for conn in (self.req, self.acc):
            conn.handle_timer(self.now)
