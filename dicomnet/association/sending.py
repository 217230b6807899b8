"""The sending side of an association: DIMSE messages out, requests in flight.

:class:`SendingSide` is the part of :class:`~dicomnet.association.core.Association`
that sends: one message at a time through the send slot (command, then data set
fragments, waiting for the transport's write buffer between PDUs), requests
under the invoked operations window (PS3.7 D.3.3.3) with fresh Message IDs and a
:class:`~dicomnet.association.requests.ResponseStream` each, the usual
C-STORE-RSP in one step, and C-CANCEL. Requests that cannot be written in the
caller's step go on in tasks the association keeps until they end.

The association's state it reads and the few methods it calls
(``protocol``, ``_closed_error``) are declared here and set by ``Association``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dicomnet import negotiation
from dicomnet.dimse import commands as cmd
from dicomnet.dimse.codec import encode_command
from dicomnet.dimse.responses import build_response
from dicomnet.dimse.templates import store_rsp_command
from dicomnet.log import ERROR_LIMIT, AssociationLogger, logsafe
from dicomnet.policy import Policy
from dicomnet_pdu.pdv import (
    PDV_HEADER_LENGTH,
    OutItem,
    command_pdu,
    fragment_message,
    whole_message,
)

from .dimse_timer import DimseTimer
from .requests import MessageIds, ResponseStream, Window, request_sop_class
from .view import AssociationView
from .waiting import unless_set

if TYPE_CHECKING:
    from dicomnet.negotiation import NegotiatedContext
    from dicomnet.transport import ULProtocol

__all__ = ["BytesLike", "SendingSide"]

BytesLike = bytes | bytearray | memoryview


class SendingSide(AssociationView):
    """Sending DIMSE messages and requests (see the module); a base of ``Association``."""

    policy: Policy
    log: AssociationLogger
    _protocol: ULProtocol | None
    _dimse: DimseTimer
    _ids: MessageIds
    _window: Window
    _send_slot: Window
    _outstanding: dict[int, ResponseStream]
    _senders: set[asyncio.Task[None]]
    _ended: bool
    _ended_evt: asyncio.Event
    _release_collision: bool
    _answer_at_once: bool

    if TYPE_CHECKING:

        @property
        def protocol(self) -> ULProtocol: ...

        def _closed_error(self) -> BaseException: ...

    async def send_message(
        self,
        context_id: int,
        message: cmd.Message,
        dataset: BytesLike | Iterable[BytesLike] | None = None,
    ) -> None:
        """Send one DIMSE message on ``context_id`` (command, then data set fragments).

        Messages are sent whole, one at a time; between P-DATA-TF PDUs the
        sender waits for the transport's write buffer (flow control).
        """
        if not self.is_established and not (
            self._release_collision and isinstance(message, cmd.DimseResponse)
        ):
            raise self._closed_error()
        pdus = self._fragments(context_id, message, dataset)
        if not self._send_slot.try_acquire():
            await self._send_slot.acquire()
        if self._ended:
            self._send_slot.release()
            raise self._closed_error()
        self._dimse.sending += 1
        protocol = self.protocol
        remaining = self._dimse.progress(pdus)
        try:
            # ULProtocol.send_pdata, without a coroutine when the write buffer has room.
            while not protocol.write_pdata(remaining):
                await protocol.flow.drain()
        finally:
            self._sent()

    async def send_store_response(
        self, context_id: int, request: cmd.CStoreRQ, status: int
    ) -> None:
        """``send_message(context_id, build_response(request, status))``, the usual answer
        to a C-STORE-RQ: its command set made from the request in one step and sent as one
        PDU, without a response object, fragmenting or a generator between them."""
        command = store_rsp_command(request, status) if self.is_established else None
        max_pdu = 0 if command is None else self.negotiated.max_pdu_send
        if command is None or (max_pdu and len(command) + PDV_HEADER_LENGTH > max_pdu):
            await self.send_message(context_id, build_response(request, status))
            return
        if not self._send_slot.try_acquire():
            await self._send_slot.acquire()
        if self._ended:
            self._send_slot.release()
            raise self._closed_error()
        dimse = self._dimse
        dimse.sending += 1
        protocol = self.protocol
        try:
            if not dimse.deferred:
                dimse.restart()  # what progress() does as a message's first PDU is taken
            remaining = iter((command_pdu(context_id, command),))
            while not protocol.write_pdata(remaining):
                await protocol.flow.drain()
            if self._answer_at_once:
                protocol.write_now()  # before the handler's and the run's bookkeeping
        finally:
            self._sent()

    def _fragments(
        self,
        context_id: int,
        message: cmd.Message,
        dataset: BytesLike | Iterable[BytesLike] | None,
    ) -> Iterator[OutItem]:
        return self._cut(context_id, encode_command(message), dataset)

    def _cut(
        self, context_id: int, command: bytes, dataset: BytesLike | Iterable[BytesLike] | None
    ) -> Iterator[OutItem]:
        return fragment_message(
            context_id,
            command,
            dataset,
            max_pdu_length=self.negotiated.max_pdu_send,
            pack_command_and_data=self.policy.pack_command_and_data,
            max_pdvs_per_pdu=self.policy.max_pdvs_per_pdu,
        )

    def _sent(self, *, restarted: bool = False) -> None:
        """A message is out (or failed): the next one may go. ``restarted``: see _issue_now."""
        dimse = self._dimse
        dimse.sending -= 1
        flow = dimse.flow  # (dimse.read_paused, without the call: once per request)
        if not restarted or (flow is not None and flow.read_paused):
            dimse.restart()
        self._send_slot.release()

    def send_request(
        self,
        message: cmd.DimseRequest,
        dataset: BytesLike | Iterable[BytesLike] | None = None,
        *,
        context: int | NegotiatedContext | None = None,
    ) -> ResponseStream:
        """Send a request; its responses come through the returned :class:`ResponseStream`.

        The Message ID of ``message`` is replaced by a fresh one. When the
        invoked window (PS3.7 D.3.3.3) is full, the request waits for a slot.
        ``context`` defaults to the accepted context for the request's SOP
        class in which we are SCU.
        """
        protocol = self._protocol
        stream = ResponseStream(self._send_cancel, None if protocol is None else protocol.loop)
        # No task when nothing waits before us and the write buffer has room; a message
        # the buffer cannot take whole goes on in a task (stream.sender).
        flow = self._dimse.flow  # the connection's (protocol.flow, without the call)
        if (
            # (is_established, without the call: once per request)
            self._negotiated is not None
            and not self._ended
            and not self._released
            and not self._senders
            and protocol is not None
            and flow is not None
            and not flow.write_paused
            and self._send_slot.try_acquire()
        ):
            if self._window.try_acquire():
                self._issue_now(stream, protocol, message, dataset, context)
                return stream
            self._send_slot.release()
        stream.sender = self._spawn(self._issue(stream, message, dataset, context))
        return stream

    def _issue_now(
        self,
        stream: ResponseStream,
        protocol: ULProtocol,
        message: cmd.DimseRequest,
        dataset: BytesLike | Iterable[BytesLike] | None,
        context: int | NegotiatedContext | None,
    ) -> None:
        """:meth:`_issue` with the window slot and the send slot taken, no awaiting."""
        mid = 0
        dimse = self._dimse
        negotiated = self._negotiated  # established: send_request checked it
        assert negotiated is not None
        try:
            chosen = context if type(context) is negotiation.NegotiatedContext else None
            chosen = chosen or self.context_for(request_sop_class(message), context)
            # What _register does, without the call (once per request sent).
            mid = self._ids.allocate()
            stream.message_id = mid
            stream.context_id = chosen.context_id
            stream.command_field = message.command_field
            self._outstanding[mid] = stream  # the DIMSE timer starts as the request is sent
            command = encode_command(message, mid)
            # A small request (command and data set one PDV each) in one step: its PDUs
            # made together and written as one batch, as write_pdata would write them.
            whole = whole_message(
                chosen.context_id,
                command,
                dataset,
                max_pdu_length=negotiated.max_pdu_send,
                pack_command_and_data=self.policy.pack_command_and_data,
            )
            pdus = None if whole is not None else self._cut(chosen.context_id, command, dataset)
            dimse.sending += 1
        except Exception as exc:
            self._send_slot.release()
            self._unissue(stream, mid, exc, acquired=True)
            return
        try:
            if whole is not None:
                remaining: Iterator[OutItem] = iter(())
                if not dimse.deferred:
                    # What progress() does as a message's first PDU is taken: restart(),
                    # whose check of what is owed would find this message being sent.
                    dimse.restart_owed()
                done = protocol.write_whole(*whole)
            else:
                assert pdus is not None
                remaining = dimse.progress(pdus)
                done = protocol.write_pdata(remaining)
        except Exception as exc:
            self._sent()
            self._unissue(stream, mid, exc, acquired=True)
            return
        if done:  # written whole in this step: its first PDU restarted the DIMSE timer
            # What _sent(restarted=True) does, without the call (once per request sent).
            dimse.sending -= 1
            flow = dimse.flow
            if flow is not None and flow.read_paused:
                dimse.restart()
            self._send_slot.release()
        else:
            stream.sender = self._spawn(self._send_rest(stream, mid, protocol, remaining))

    async def _send_rest(
        self,
        stream: ResponseStream,
        mid: int,
        protocol: ULProtocol,
        remaining: Iterator[OutItem],
    ) -> None:
        """The rest of a message :meth:`_issue_now` began, as the write buffer drains."""
        try:
            while not protocol.write_pdata(remaining):
                await protocol.flow.drain()
        except BaseException as exc:
            self._unissue(stream, mid, exc, acquired=True)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._sent()

    def _register(
        self, stream: ResponseStream, message: cmd.DimseRequest, chosen: NegotiatedContext
    ) -> int:
        mid = self._ids.allocate()
        stream.message_id = mid
        stream.context_id = chosen.context_id
        stream.command_field = message.command_field
        self._outstanding[mid] = stream  # the DIMSE timer starts as the request is sent
        return mid

    def _unissue(
        self, stream: ResponseStream, mid: int, exc: BaseException, *, acquired: bool
    ) -> None:
        if acquired and self._outstanding.pop(mid, None) is not None:
            self._ids.release(mid)
            self._window.release()
        elif acquired and not mid:
            self._window.release()
        stream.fail(exc if isinstance(exc, Exception) else self._closed_error())

    async def _issue(
        self,
        stream: ResponseStream,
        message: cmd.DimseRequest,
        dataset: BytesLike | Iterable[BytesLike] | None,
        context: int | NegotiatedContext | None,
    ) -> None:
        acquired = False
        mid = 0
        try:
            if not self.is_established:
                raise self._closed_error()
            chosen = self.context_for(request_sop_class(message), context)
            if not self._window.try_acquire():
                await self._until_ended(self._window.acquire())
            acquired = True
            mid = self._register(stream, message, chosen)
            await self.send_message(chosen.context_id, replace(message, message_id=mid), dataset)
        except BaseException as exc:
            self._unissue(stream, mid, exc, acquired=acquired)
            if not isinstance(exc, Exception):
                raise

    async def _send_cancel(self, stream: ResponseStream) -> None:
        if stream.sender is not None and not stream.sender.done():
            await asyncio.shield(stream.sender)
        if stream.done or not stream.message_id:
            return
        cancel = cmd.CCancelRQ(message_id_being_responded_to=stream.message_id)
        await self.send_message(stream.context_id, cancel)

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        """Run a sending coroutine in the background, kept until it ends; errors logged."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._senders.add(task)
        task.add_done_callback(self._senders.discard)
        task.add_done_callback(self._log_task_error)
        return task

    def _log_task_error(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.debug("background send failed: %s", logsafe(task.exception(), ERROR_LIMIT))

    async def _until_ended(self, awaitable: Any) -> None:
        """Await ``awaitable`` unless the association ends first (then raise why)."""
        if not await unless_set(awaitable, self._ended_evt):
            raise self._closed_error()
