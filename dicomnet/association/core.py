"""The association: the object users hold (PS3.8 §7, PS3.7 §7 and §9-10).

One :class:`Association` sits on one connection. It listens to the Upper
Layer events the transport delivers (:class:`dicomnet.transport.LinkListener`),
negotiates (acceptor) or checks the answer (requestor), turns P-DATA into DIMSE
messages, matches responses to our requests by Message ID Being Responded To,
hands incoming requests to the :class:`~dicomnet.association.dispatch.Dispatcher`,
and runs the local timers.

Theory of operation: everything that changes state happens in callbacks from
the transport (``ul_event``, ``timer_expired``, ``link_lost``), synchronously;
coroutines only wait on futures those callbacks resolve. When the association
ends, for whatever reason, :meth:`_end` runs exactly once and fails every
waiter with the one exception that says why (``AssociationRejected``,
``AssociationAborted``, ``TimeoutExpired``, ``PeerProtocolError``), or with
nothing when it was released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dicomnet import negotiation
from dicomnet.dimse import commands as cmd
from dicomnet.dimse.codec import decode_command
from dicomnet.dimse.errors import CommandSetError
from dicomnet.dimse.status import DimseStatus
from dicomnet.errors import (
    AssociationAborted,
    AssociationRejected,
    DicomNetError,
    LocalError,
    PeerProtocolError,
    TimeoutExpired,
)
from dicomnet.log import ERROR_LIMIT, AssociationLogger, logsafe
from dicomnet.policy import VERIFICATION_SOP_CLASS, Policy
from dicomnet.services.base import DataStream, HandlerRegistry
from dicomnet.timers import ARTIM
from dicomnet_pdu import events as ul
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.errors import LocalProtocolError, RemoteProtocolError
from dicomnet_pdu.pdus import (
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)
from dicomnet_pdu.pdv import (
    DataParts,
    Fragment,
    Reassembler,
)

from .dimse_timer import DIMSE, DimseTimer
from .dispatch import Dispatcher
from .holding import HOLD_BYTES, hold_for_handler
from .hooks import NegotiationHooks
from .kept import KeptByAE
from .memo import NegotiationMemo, evaluate_accept
from .requests import (
    PENDING_STATUSES,
    IncomingResponse,
    MessageIds,
    ResponseStream,
    Window,
    received_response,
)
from .sending import SendingSide
from .waiting import Outcome

if TYPE_CHECKING:
    from dicomnet.negotiation import Negotiated, NegotiatedContext
    from dicomnet.transport import ULProtocol

__all__ = ["Association"]

_logger = logging.getLogger("dicomnet.association")


class Association(SendingSide):
    """One DICOM association, requestor or acceptor side.

    Use it as an async context manager: leaving the block releases the
    association (A-RELEASE, PS3.8 §7.2), or aborts it (A-ABORT, §7.3) when the
    block raised. Created by :meth:`dicomnet.ae.AE.associate` (requestor) and
    by :meth:`dicomnet.ae.AE.serve` (acceptor), never directly.
    """

    def __init__(
        self,
        *,
        policy: Policy,
        registry: HandlerRegistry,
        requestor: bool,
        number: int,
        request: AAssociateRQ | None = None,
        reject_for_limit: bool = False,
        on_end: Callable[[Association], None] | None = None,
        hooks: NegotiationHooks | None = None,
        memo: NegotiationMemo | None = None,
        kept: KeptByAE | None = None,
    ) -> None:
        self.policy = policy
        self.registry = registry
        self.is_requestor = requestor
        self.number = number
        self._request = request
        self._reject_for_limit = reject_for_limit
        self._on_end = on_end
        self._hooks = hooks or NegotiationHooks()
        self._memo = memo  # negotiation outcomes of this AE, reused for equal PDUs
        #: What the services keep for the AE's next associations (see :mod:`.kept`).
        self.kept = KeptByAE() if kept is None else kept
        #: What each service keeps for this association alone (by the service; see
        #: :class:`~dicomnet.services.storage_scp.StorageService`), gone with it.
        self.service_state: dict[object, Any] = {}
        self._accept: AAssociateAC | None = None
        peer = request.called_ae_title if request is not None else ""
        self.log = AssociationLogger(_logger, "")
        self.log.rename(number, policy.ae_title, peer, requestor=requestor)
        self._protocol: ULProtocol | None = None
        self._negotiated: Negotiated | None = None
        self._established = Outcome()
        self._release_done: Outcome | None = None
        self._ended = False
        self._ended_evt = asyncio.Event()
        self._released = False
        self._release_collision = False
        self._artim_expired = False
        self.error: BaseException | None = None
        self._reassembler = Reassembler(max_command_set=policy.max_command_set)
        self._ids = MessageIds()
        self._window = Window(0)
        self._outstanding: dict[int, ResponseStream] = {}
        self._receiving: dict[int, DataStream | IncomingResponse] = {}
        # Contexts whose last command was answered with a failure because it could not be
        # decoded: the data set the peer sends after it is read and dropped.
        self._discarding: set[int] = set()
        self._send_slot = Window(1)  # one message at a time, in order; try_acquire is free
        # While the last fragment of a read ends a data set (see _continue): its answer is
        # written as soon as it is made.
        self._answer_at_once = False
        self._senders: set[asyncio.Task[None]] = set()
        self.dispatcher = Dispatcher(self, self.log)
        self._dimse = DimseTimer(policy.timers, self._owed, outstanding=self._outstanding)
        self.peer_address: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ link

    def attach(self, protocol: ULProtocol) -> None:
        """Bind to the transport protocol (called at connection time)."""
        self._protocol = protocol
        self.peer_address = protocol.peername
        self._dimse.attach(protocol.timers, protocol.flow)
        if self.is_requestor:
            protocol.timers.start("associate", self.policy.timers.associate)

    @property
    def protocol(self) -> ULProtocol:
        """The transport protocol (once connected)."""
        if self._protocol is None:
            raise LocalError("not connected")
        return self._protocol

    def ul_event(self, event: object) -> None:
        """Handle one Upper Layer event (see :class:`dicomnet.transport.LinkListener`).

        Events still queued behind the one that ended the association (PDUs the
        peer sent in the same read as the one we aborted for) are ignored.
        """
        if self._ended:
            return
        if type(event) is ul.DataRun:
            if self._negotiated is not None:  # P-DATA-TF PDUs read together
                pdvs = event.pdvs
                parts = self._reassembler.continue_data(pdvs)
                if parts is None:
                    self._run(self._reassembler.feed_items(pdvs), None)
                else:
                    self._continue(parts)
        elif isinstance(event, ul.DataIndication):
            self._on_pdata(event.pdata)
        elif isinstance(event, ul.AssociateIndication):
            self._on_associate_rq(event.rq)
        elif isinstance(event, ul.AssociateAccepted):
            self._on_associate_ac(event)
        elif isinstance(event, ul.AssociateRejected):
            rj = event.rj
            self.log.info(
                "rejected: result %d source %d reason %d", rj.result, rj.source, rj.reason
            )
            self._end(AssociationRejected(rj.result, rj.source, rj.reason))
        elif isinstance(event, ul.ReleaseIndication):
            self._on_release_rq(event.collision)
        elif isinstance(event, ul.ReleaseConfirmation):
            self._on_release_rp()
        elif isinstance(event, ul.AbortIndication):
            self._on_abort(event)
        elif isinstance(event, ul.TransportClosed):
            self._on_transport_closed()

    def timer_expired(self, name: str, seconds: float) -> None:
        """A deadline passed: ARTIM is closed by the core; the others abort (PS3.8 §9.1.5)."""
        waiting = f" waiting for {self._owed()}" if name == DIMSE else ""
        self.log.warning("%s timer expired after %g s%s", name, seconds, waiting)
        error = TimeoutExpired(name, seconds)
        if name == ARTIM:
            self._artim_expired = True
            self.error = self.error or error
            return
        self._abort_with(AAbort(source=AbortSource.SERVICE_USER), error)

    def link_lost(self, exc: BaseException | None) -> None:
        """The transport is gone."""
        if not self._ended:
            self._on_transport_closed()

    # ------------------------------------------------------------------ negotiation

    def _on_associate_rq(self, rq: AAssociateRQ) -> None:
        self._request = rq
        self.log.rename(self.number, rq.called_ae_title, rq.calling_ae_title, requestor=False)
        if self._reject_for_limit:
            rj = negotiation.rejection_for_limit()
            self.log.warning("association limit reached: rejecting")
            self._answer(rj)
            self._end(None)
            return
        outcome = self._hooks.evaluate(self.policy, rq, self.log, self._memo)
        if not isinstance(outcome, tuple):
            reject = (outcome.result, outcome.source, outcome.reason)
            self.log.info("rejecting: result %d source %d reason %d", *reject)
            self._answer(outcome)
            self._end(None)
            return
        ac, negotiated = outcome
        self._accept = ac
        if self._answer(ac):
            self._established_with(negotiated)

    def _answer(self, pdu: AAssociateAC | AAssociateRJ | AReleaseRP) -> bool:
        """Answer the peer's A-ASSOCIATE-RQ or A-RELEASE-RQ; False when it is too late.

        The peer may have sent something invalid right behind its request, in
        the same read: the core then already answered with A-ABORT (AA-8) and
        left Sta3 (or Sta8), and the abort indication that follows ends the
        association.
        """
        try:
            self.protocol.send_pdu(pdu)
        except LocalProtocolError as exc:
            self.log.info(
                "no answer sent, the association is already over: %s", logsafe(exc, ERROR_LIMIT)
            )
            return False
        return True

    def _on_associate_ac(self, event: ul.AssociateAccepted) -> None:
        self.protocol.timers.stop("associate")
        assert self._request is not None
        self._accept = event.ac
        try:
            negotiated = evaluate_accept(self._memo, self.policy, self._request, event.ac)
        except DicomNetError as exc:
            self.log.error("unusable A-ASSOCIATE-AC: %s", logsafe(exc, ERROR_LIMIT))
            self._abort_with(AAbort(source=AbortSource.SERVICE_USER), exc)
            return
        self._established_with(negotiated)

    def _established_with(self, negotiated: Negotiated) -> None:
        self._negotiated = negotiated
        self._window = Window(negotiated.max_operations_invoked)
        self.dispatcher.set_limit(negotiated.max_operations_performed)
        self.log.info(
            "established: %d context(s), max PDU send %d, window %d/%d",
            len(negotiated.contexts),
            negotiated.max_pdu_send,
            negotiated.max_operations_invoked,
            negotiated.max_operations_performed,
        )
        self._established.set()
        self._dimse.update()

    async def wait_established(self) -> None:
        """Wait for A-ASSOCIATE-AC (requestor); raises why it failed otherwise."""
        await self._established.wait()

    # ------------------------------------------------------------------ receiving

    def _on_pdata(self, pdata: PDataTF) -> None:
        """A P-DATA-TF decoded whole (a run of them comes as a ``DataRun``, see ul_event)."""
        if self._negotiated is not None:
            pdvs = [(p.context_id, p.control_header, memoryview(p.data)) for p in pdata.pdvs]
            self._run(self._reassembler.feed_items(pdvs), None)

    def _run(self, items: Iterator[Fragment | DataParts], held: DataParts | None) -> None:
        """Handle a run's messages; ``held``: its fragments that waited for a handler."""
        # Every fragment is progress: a message arriving slowly is not a silent peer. The
        # timer is restarted once, below, whatever the handlers started here send.
        dimse = self._dimse
        dimse.deferred = True
        try:
            self._handle_run(items, held)
        finally:
            dimse.deferred = False
        if not self._ended:
            dimse.restart()

    def _continue(self, parts: DataParts) -> None:
        """:meth:`_run` for a run that continues a data set already begun (the usual read)."""
        target = self._receiving.get(parts.context_id)
        if type(target) is not DataStream or not target.received:
            self._run(iter((parts,)), None)  # its handler may not have started: _handle_run
            return
        # Its handler has started (when its first fragments came) and nothing is held for
        # it: the fragments go to its stream, and the run is progress, as in _run.
        dimse = self._dimse
        dimse.deferred = True
        # A data set ending with the run: nothing else in this read to gather its answer with.
        self._answer_at_once = parts.is_last
        try:
            # What _on_parts does for a DataStream, without looking the target up again.
            queued = target.feed_views(parts.parts)
            if queued and self._protocol is not None and not self._protocol.is_lost:
                self._protocol.flow.add_backlog(queued)
            if parts.is_last:
                del self._receiving[parts.context_id]
                target.finish()  # a handler waiting for the end may answer in here
                self.dispatcher.data_arriving(target)
        finally:
            dimse.deferred = False
            self._answer_at_once = False
        if self._ended:
            return
        flow = dimse.flow
        if parts.is_last or self._released or (flow is not None and flow.read_paused):
            dimse.restart()
        else:
            dimse.restart_owed()  # the rest of this data set is owed (_owed, known here)

    def _handle_run(self, items: Iterator[Fragment | DataParts], held: DataParts | None) -> None:
        try:
            if held is not None:
                if self._ended:
                    return
                self._on_parts(held)
            for item in items:
                if self._ended:
                    return
                if isinstance(item, DataParts):
                    parts = item
                elif item.is_command:
                    self._discarding.discard(item.context_id)
                    self._on_command(item.context_id, bytes(item.data))
                    continue
                else:
                    parts = DataParts(item.context_id, item.is_last, [memoryview(item.data)])
                target = self._receiving.get(parts.context_id)
                if (
                    self.dispatcher.awaiting_data
                    and type(target) is DataStream
                    and (not parts.is_last or sum(map(len, parts.parts)) >= HOLD_BYTES)
                ):
                    # Its handler starts first and may take these as they are.
                    self.dispatcher.data_arriving(target)
                    if self._ended:
                        return
                if (
                    type(target) is DataStream
                    and not target.received
                    and hold_for_handler(
                        self._protocol, target, parts.parts, partial(self._run, items, parts)
                    )
                ):
                    break
                self._on_parts(parts)
        except RemoteProtocolError as exc:
            self.log.error("bad P-DATA: %s", logsafe(exc, ERROR_LIMIT))
            self._abort_with(
                AAbort(source=exc.abort_source, reason=exc.abort_reason),
                PeerProtocolError(str(exc)),
            )

    def _on_parts(self, item: DataParts) -> None:  # views valid during this call only
        context_id = item.context_id
        target = self._receiving.get(context_id)
        if isinstance(target, DataStream):
            queued = target.feed_views(item.parts)
            if queued and self._protocol is not None and not self._protocol.is_lost:
                self._protocol.flow.add_backlog(queued)
            if item.is_last:
                del self._receiving[context_id]
                target.finish()  # a handler waiting for the end may answer in here
                # A handler not started yet finds its (small) data set complete.
                self.dispatcher.data_arriving(target)
            return
        if target is None:
            if context_id not in self._discarding:
                raise RemoteProtocolError("data set fragment without a command")
            if item.is_last:
                self._discarding.discard(context_id)
            return
        target.parts += [bytes(part) for part in item.parts]
        if item.is_last:
            del self._receiving[context_id]
            self._deliver(context_id, target.message, b"".join(target.parts))

    def _on_command(self, context_id: int, data: bytes) -> None:
        try:
            message = decode_command(data)
        except CommandSetError as exc:
            self.dispatcher.answer_bad_command(context_id, exc)
            return
        if isinstance(message, cmd.DimseResponse):
            if message.has_dataset:
                self._receiving[context_id] = IncomingResponse(message)
            else:
                self._deliver(context_id, message, None)
        elif isinstance(message, cmd.CCancelRQ):
            mid = message.message_id_being_responded_to
            if not self.dispatcher.cancel_request(mid):
                self.log.debug("C-CANCEL for request %d, which is not running", mid)
        elif isinstance(message, cmd.DimseRequest):
            # The DIMSE timer is restarted once the run this request came in is handled.
            self.dispatcher.receive(context_id, message)

    def _deliver(self, context_id: int, message: cmd.DimseResponse, data: bytes | None) -> None:
        mid = message.message_id_being_responded_to
        stream = self._outstanding.get(mid)
        if stream is None:
            self.log.warning("response to unknown request %d ignored", mid)
            return
        response = received_response(message, data, context_id)
        stream.deliver(response)
        if message.status not in PENDING_STATUSES:  # (not response.is_pending)
            del self._outstanding[mid]
            self._ids.in_use.discard(mid)  # (self._ids.release(mid), without the call)
            self._window.release()
            self._dimse.update()

    # ------------------------------------------------------------------ sending (see .sending)

    async def echo(self, *, context: int | NegotiatedContext | None = None) -> DimseStatus:
        """C-ECHO (PS3.7 §9.1.5): the Verification service's status (0x0000 = success)."""
        request = cmd.CEchoRQ(message_id=1, affected_sop_class_uid=VERIFICATION_SOP_CLASS)
        stream = self.send_request(request, context=context)
        if self._protocol is not None:
            self._protocol.flush()  # a round trip: nothing to gather it with
        return (await stream).dimse_status

    # ------------------------------------------------------------------ timers

    def _owed(self) -> str | None:
        """What the peer owes us now, for :class:`DimseTimer` (``None``: nothing)."""
        if self._negotiated is None or self._ended or self._released:  # not is_established
            return None
        if self._dimse.sending:
            return "the peer to read our message"
        flow = self._dimse.flow  # (DimseTimer.read_paused, without the call: once per read)
        if flow is not None and flow.read_paused:
            return None  # a consumer of ours is behind: the wait is not the peer's
        if self._outstanding:
            return "a response"
        if self._receiving or self._reassembler.in_message:
            return "the rest of a message"
        if not self.is_requestor and not self.dispatcher.busy:
            return "a request or the release"  # idle acceptor
        return None

    def dispatcher_idle_changed(self) -> None:
        """Called by the dispatcher when a handler finishes. With none left running, the
        responses sent go out now, not at the end of the step (concurrent ones are gathered)."""
        if self._protocol is not None and not self.dispatcher.running:
            self._protocol.flush()
        self._dimse.update()

    # ------------------------------------------------------------------ release / abort

    async def release(self) -> None:
        """A-RELEASE (PS3.8 §7.2): wait for the peer's A-RELEASE-RP and the close."""
        if self._ended or self._negotiated is None:
            return
        if self._release_done is None:
            self._release_done = Outcome()
            self._released = True
            self._dimse.stop()
            self.protocol.timers.start("release", self.policy.timers.release)
            self.log.info("releasing")
            try:
                self.protocol.send_pdu(AReleaseRQ())
            except LocalProtocolError as exc:
                self._abort_with(AAbort(), PeerProtocolError(str(exc)))
        await self._release_done.wait()
        await self.wait_closed()

    def _on_release_rq(self, collision: bool) -> None:
        self._released = True
        self.dispatcher.stop_all(
            AssociationAborted(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED, "released")
        )
        self._dimse.stop()
        if not collision:
            self.log.info("peer released")
            if self._answer(AReleaseRP()):
                self._end(None)
            return
        # PS3.8 §7.2 release collision: the requestor answers first (AR-9, Sta9 -> Sta11);
        # the acceptor answers after the peer's RP arrives (AR-10, Sta10 -> Sta12 -> AR-4).
        self.log.info("release collision")
        self._release_collision = True
        if self.is_requestor:
            self.protocol.send_pdu(AReleaseRP())

    def _on_release_rp(self) -> None:
        if self._release_collision and not self.is_requestor:
            self.protocol.send_pdu(AReleaseRP())
        self.protocol.timers.stop("release")
        self.log.info("released")
        # The core closes the connection now (AR-3): begin that before release() resumes,
        # so that by then the close is done and its wait for it does not suspend.
        self.protocol.transmit()
        self._end(None)

    async def abort(self) -> None:
        """A-ABORT (PS3.8 §7.3): send A-ABORT and drop the association."""
        self.abort_nowait()
        await self.wait_closed()

    def abort_nowait(self, why: str = "local") -> None:
        """Send A-ABORT (service-user) and end the association without waiting."""
        self._abort_with(
            AAbort(source=AbortSource.SERVICE_USER),
            AssociationAborted(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED, why),
        )

    def _abort_with(self, pdu: AAbort, error: BaseException) -> None:
        if self._ended:
            return
        if self._protocol is not None and not self._protocol.is_lost:
            try:
                self._protocol.send_pdu(pdu)
            except LocalProtocolError:
                # The core already ended the association (an A-ABORT it queued for a
                # later PDU of the same read): write what it queued, then close.
                self._protocol.close_transport()
        self._end(error)

    def _on_abort(self, event: ul.AbortIndication) -> None:
        who = "peer" if event.from_peer else "provider"
        self.log.warning("aborted by %s: source %d reason %d", who, event.source, event.reason)
        if self._artim_expired and self.error is not None:
            self._end(self.error)
            return
        self._end(AssociationAborted(event.source, event.reason, f"A-ABORT from {who}"))

    def _on_transport_closed(self) -> None:
        if self._ended:
            return
        if self._artim_expired and self.error is not None:
            self._end(self.error)
        elif self._release_done is not None or (self._released and not self._release_collision):
            self._end(None)
        else:
            self._end(
                AssociationAborted(
                    AbortSource.SERVICE_PROVIDER,
                    AbortReason.NOT_SPECIFIED,
                    "connection closed by peer",
                )
            )

    def _closed_error(self) -> BaseException:
        if self.error is not None:
            return self.error
        if self._ended or self._released:
            return AssociationAborted(
                AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED, "association released"
            )
        return LocalError("the association is not established")

    def _end(self, error: BaseException | None) -> None:
        """Finish exactly once: resolve or fail every waiter with ``error``."""
        if self._ended:
            return
        self._ended = True
        if error is not None:
            self.error = error
        self._ended_evt.set()
        failure = self._closed_error()
        if not self._established.done():
            self._established.set(failure if error is None else error)
        if self._release_done is not None:
            self._release_done.set(error)
        for stream in list(self._outstanding.values()):
            stream.fail(failure)
        self._outstanding.clear()
        for target in self._receiving.values():
            if isinstance(target, DataStream):
                target.fail(failure)
        self._receiving.clear()
        self.dispatcher.stop_all(failure)
        if self._protocol is not None and not self._protocol.is_lost:
            self._dimse.stop()
            self._protocol.timers.stop("associate")
            self._protocol.timers.stop("release")
        if error is None:
            self.log.info("ended")
        else:
            self.log.info("ended: %s", logsafe(error, ERROR_LIMIT))
        if self._on_end is not None:
            self._on_end(self)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        if self._protocol is not None:
            await asyncio.shield(self._protocol.closed)

    # ------------------------------------------------------------------ context manager

    async def __aenter__(self) -> Association:
        await self.wait_established()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.release()
            if self.error is not None and not isinstance(self.error, AssociationAborted):
                raise self.error
        else:
            await self.abort()
