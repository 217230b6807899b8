"""Shared pieces of the network fuzz tests (no tests here).

Each fuzz test runs one server for the whole test function on an event loop
of its own (:class:`LoopServer`), and hypothesis examples are run one after
another on that loop, each on fresh TCP connections. :class:`BadRecords`
collects the log records that mean a server hit an unexpected exception.

Import as ``from fuzz.support import ...``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from helpers.raw_ul import RawClient

from dicomnet import negotiation
from dicomnet.ae import AE, Server
from dicomnet.dimse.codec import decode_command
from dicomnet.dimse.commands import DimseMessage
from dicomnet.policy import Policy, ProposedContext
from dicomnet_pdu.codec import PDU_HEADER, PDU_HEADER_LENGTH, decode_pdu
from dicomnet_pdu.pdus import PDU, AAbort, AAssociateAC, AReleaseRP, PDataTF
from dicomnet_pdu.pdv import Reassembler

T = TypeVar("T")

#: What one exchange may take at most: a hang past this fails the example.
EXCHANGE_TIMEOUT = 8.0

_BAD_TEXT = ("internal error", "Traceback", "raised")


class BadRecords(logging.Handler):
    """Collects ERROR records of ``dicomnet`` and ``asyncio`` that betray a crash.

    A record counts when it carries exception information, names an internal
    error, or comes from asyncio's own handler (a task exception nobody
    retrieved, a failing callback). The expected ERROR records of bad input
    ("bad P-DATA", "undecodable command set") carry none of these.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if (
            record.exc_info is not None
            or record.name.startswith("asyncio")
            or any(word in text for word in _BAD_TEXT)
        ):
            self.records.append(record)

    def take(self) -> list[str]:
        """The bad records so far (as text), forgetting them."""
        found = [self.format(r) for r in self.records]
        self.records.clear()
        return found

    @classmethod
    @contextmanager
    def installed(cls) -> Iterator[BadRecords]:
        """A collector attached to the ``dicomnet`` and ``asyncio`` loggers."""
        handler = cls()
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        loggers = [logging.getLogger("dicomnet"), logging.getLogger("asyncio")]
        for logger in loggers:
            logger.addHandler(handler)
        try:
            yield handler
        finally:
            for logger in loggers:
                logger.removeHandler(handler)


class LoopServer:
    """One dicomnet server on a private event loop, kept across hypothesis examples."""

    def __init__(self, runner: asyncio.Runner, server: Server) -> None:
        self.runner = runner
        self.server = server

    @property
    def port(self) -> int:
        """The server's TCP port on 127.0.0.1."""
        return self.server.port

    def run(
        self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = EXCHANGE_TIMEOUT
    ) -> T:
        """Run one coroutine on the server's loop, bounded by ``timeout``."""

        async def bounded() -> T:
            return await asyncio.wait_for(make(), timeout)

        return self.runner.run(bounded())

    def settle(self) -> None:
        """Wait until the server serves no association any more."""
        self.run(self.wait_idle)

    async def wait_idle(self) -> None:
        """Until every association has ended (a liveness bound, not a timing check)."""
        for _ in range(600):
            if not self.server.active:
                # One more turn so callbacks of the last close have run.
                await asyncio.sleep(0.01)
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"associations still active: {self.server.active}")

    @classmethod
    @contextmanager
    def started(cls, make_ae: Callable[[], Awaitable[AE] | AE]) -> Iterator[LoopServer]:
        """Start the AE's server on a new loop; close both on exit."""
        with asyncio.Runner() as runner:

            async def start() -> Server:
                ae = make_ae()
                if not isinstance(ae, AE):
                    ae = await ae
                return await ae.serve("127.0.0.1", 0)

            server = runner.run(start())
            try:
                yield cls(runner, server)
            finally:

                async def stop() -> None:
                    server.close()
                    await asyncio.wait_for(server.wait_closed(), 10)

                runner.run(stop())


# ------------------------------------------------------------------ raw traffic


def raw_pdata(pdvs: Sequence[tuple[int, int, bytes]]) -> bytes:
    """A well-framed P-DATA-TF from (context ID, control header, data) triples.

    Written by hand so that any context ID (0..255) and any header byte can
    be sent, which the PDU classes refuse to build.
    """
    items = b"".join(
        struct.pack(">IBB", 2 + len(data), context_id, header) + data
        for context_id, header, data in pdvs
    )
    return PDU_HEADER.pack(0x04, len(items)) + items


async def read_pdu_or_eof(reader: asyncio.StreamReader, timeout: float = 5) -> PDU | None:
    """The next whole PDU, or None when the peer closed the connection."""
    try:
        header = await asyncio.wait_for(reader.readexactly(PDU_HEADER_LENGTH), timeout)
        _, length = PDU_HEADER.unpack(header)
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return decode_pdu(header + body)


async def open_association(
    port: int, contexts: Sequence[ProposedContext], called: str = "SCP"
) -> tuple[RawClient, AAssociateAC]:
    """A raw client with an established association (every context must be accepted)."""
    raw = await RawClient.connect("127.0.0.1", port)
    rq = negotiation.build_request(
        Policy(ae_title="FUZZER"), called_ae_title=called, contexts=contexts
    )
    ac = await raw.request(rq)
    assert isinstance(ac, AAssociateAC), ac
    assert all(pc.result == 0 for pc in ac.presentation_contexts), ac
    return raw, ac


class ResponseReader:
    """Reassembles the DIMSE messages a server sends to a raw client."""

    def __init__(self, raw: RawClient) -> None:
        self.raw = raw
        self._reassembler = Reassembler()
        self._command: DimseMessage | None = None

    async def next(self, timeout: float = 5) -> DimseMessage | AAbort | AReleaseRP | None:
        """The next whole command (data sets are skipped), A-ABORT, A-RELEASE-RP, or None at EOF.

        Anything else (a PDU the server must not send here, a command set it
        could not have meant) fails the test.
        """
        while True:
            pdu = await read_pdu_or_eof(self.raw.reader, timeout)
            if pdu is None or isinstance(pdu, AAbort | AReleaseRP):
                return pdu
            assert isinstance(pdu, PDataTF), f"server sent {pdu!r}"
            for fragment in self._reassembler.feed(pdu):
                if fragment.is_command:
                    message = decode_command(bytes(fragment.data))
                    if not message.has_dataset:
                        return message
                    self._command = message
                elif fragment.is_last:
                    assert self._command is not None, "data set without a command"
                    message, self._command = self._command, None
                    return message


async def close_quietly(raw: RawClient) -> None:
    """Close (or reset) a raw connection, ignoring a peer that already went."""
    with suppress(OSError):
        await raw.close()
