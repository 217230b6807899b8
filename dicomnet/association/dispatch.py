"""Running incoming requests: one task per request, at most max-performed at once.

A handler bound ``inline`` (see :mod:`dicomnet.services.base`) starts inside
the receive callback instead (see :mod:`.eager`) and becomes a task only when
it has to wait; so do our own answers (unknown operation, duplicate Message
ID). An inline handler of a request with a data set starts when its data
arrives: before the first fragments are handed on (so a handler that claims its
stream gets them uncopied), or, when the whole data set is in one small run,
after it (so the handler finds it complete and answers at once). A handler
that then waits for the end of its own data set (``await stream.finished()``
after ``consume_with``) is not made a task for that wait: the receive callback
that delivers the last fragment steps it on at once (the answer goes out with
that callback's writes, not a loop turn later). A handler bound ``resumable``
as well is not made a task when it waits on a plain future either: the
future's done callback steps it on, or, for a :class:`~dicomnet.wakeup.WakingFuture`
or a :class:`~dicomnet.wakeup.SharedFuture` (the SQLite index's group commit, one
per batch), its producer does right after completing it;
the DIMSE timer is restarted once for what it sent. Any other wait makes it a task.

PS3.7 D.3.3.3: the acceptor of an association announces how many operations
it performs at once. A peer that sends more than that while they are all
still running breaks the window; we do not abort for it but *queue* the extra
requests (their handlers start as slots free, in arrival order) and log a
warning: the requests stay correct, only slower, and peers that miscount by
one are common. Queued requests' data sets still count against the read
high-water mark, so a flood of them pauses reading instead of filling memory.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from dicomnet.dimse.commands import CStoreRQ, DimseRequest
from dicomnet.dimse.errors import CommandSetError
from dicomnet.dimse.responses import build_response, failure_response
from dicomnet.dimse.status import Status
from dicomnet.errors import DicomNetError, PeerProtocolError
from dicomnet.log import ERROR_LIMIT, logsafe
from dicomnet.services.base import DataStream, Handler, IncomingRequest, Reply
from dicomnet.wakeup import SharedFuture, WakingFuture
from dicomnet_pdu.codes import AbortReason, AbortSource
from dicomnet_pdu.errors import LocalProtocolError
from dicomnet_pdu.pdus import AAbort

from .eager import EagerRun, start_eager

if TYPE_CHECKING:
    from dicomnet.log import AssociationLogger

    from .core import Association

__all__ = ["Dispatcher"]

_PENDING = frozenset({0xFF00, 0xFF01})


class Dispatcher:
    """Incoming requests of one association: queueing, tasks, cancellation, replies."""

    def __init__(self, association: Association, log: AssociationLogger) -> None:
        self._association = association
        self._log = log
        self._limit = 0  # set when the association is established
        self._running: dict[int, IncomingRequest] = {}
        # The task of each request whose handler waits (by id of the request): it goes
        # when the handler finishes, in its last step, not in a done callback a turn later.
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # Handlers waiting without a task (by id of the request): for the end of their
        # data set, stepped on when it ends (or given a task for anything else), or, bound
        # resumable, for a plain future, stepped on by its done callback.
        self._parked: dict[int, tuple[IncomingRequest, EagerRun]] = {}
        # A catch-up of the DIMSE timer is due at the end of this loop step (see _resumed).
        self._catching_up = False
        # The shared future handlers were parked on last, and those handlers (see _go_on).
        self._shared: SharedFuture | None = None
        self._shared_runs: list[tuple[IncomingRequest, EagerRun]] = []
        self._queued: deque[tuple[IncomingRequest, Handler | None]] = deque()
        # Running requests whose handler starts when their data set begins to arrive.
        self._awaiting_data: dict[DataStream, tuple[IncomingRequest, Handler]] = {}
        self._starting_queued = False

    def set_limit(self, max_performed: int) -> None:
        """Max operations performed, from negotiation (0 = unlimited)."""
        self._limit = max_performed

    @property
    def busy(self) -> bool:
        """Whether any request is running or queued."""
        return bool(self._running or self._queued)

    @property
    def running(self) -> int:
        """How many handlers run now."""
        return len(self._running)

    def receive(self, context_id: int, message: DimseRequest) -> None:
        """A request arrived on ``context_id``: submit it with its handler and data stream."""
        association = self._association
        context = association.negotiated.context_by_id(context_id)
        if context is None:
            # PS3.8 §9.3.5: a PDV must name an accepted presentation context.
            association._abort_with(
                AAbort(
                    source=AbortSource.SERVICE_PROVIDER,
                    reason=AbortReason.INVALID_PDU_PARAMETER_VALUE,
                ),
                PeerProtocolError(
                    f"request {message.message_id} on presentation context {context_id},"
                    " which was not accepted"
                ),
            )
            return
        stream: DataStream | None = None
        if message.has_dataset:
            stream = DataStream(on_consumed=association._dimse.consumed)
            association._receiving[context_id] = stream
        sop_class = getattr(message, "affected_sop_class_uid", None) or getattr(
            message, "requested_sop_class_uid", None
        )
        handler = association.registry.find(message.command_field, sop_class)
        request = IncomingRequest(
            association=association, message=message, context=context, data=stream
        )
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug("received %s (id %d)", type(message).__name__, message.message_id)
        self.submit(request, handler)

    def submit(self, request: IncomingRequest, handler: Handler | None) -> None:
        """Start the handler for ``request`` now, or queue it past the window."""
        mid = request.message.message_id
        if mid in self._running or (
            self._queued and any(q.message.message_id == mid for q, _ in self._queued)
        ):
            # PS3.7 Annex C: 0210H duplicate invocation, the Message ID is still in use.
            self._log.warning("duplicate invocation of Message ID %d", mid)
            self._start(request, _duplicate)
            return
        if self._limit and len(self._running) >= self._limit:
            self._log.warning(
                "peer exceeded the operations window (%d running); request %d queued",
                self._limit,
                mid,
            )
            self._queued.append((request, handler))
            return
        self._start(request, handler)

    @property
    def awaiting_data(self) -> bool:
        """Whether a handler waits for its data set to begin (see :meth:`data_arriving`)."""
        return bool(self._awaiting_data)

    def data_arriving(self, stream: DataStream) -> None:
        """Fragments of ``stream`` are about to be fed, or it is complete: start its handler."""
        entry = self._awaiting_data.pop(stream, None)
        if entry is not None:
            self._step(*entry)

    def answer_bad_command(self, context_id: int, exc: CommandSetError) -> None:
        """PS3.7 §9.1.1/§7.5: answer with a failure when the request is known, else abort."""
        association = self._association
        self._log.error("undecodable command set: %s", logsafe(exc, ERROR_LIMIT))
        response = failure_response(exc)
        if response is None:
            association._abort_with(
                AAbort(
                    source=AbortSource.SERVICE_PROVIDER,
                    reason=AbortReason.INVALID_PDU_PARAMETER_VALUE,
                ),
                PeerProtocolError(f"undecodable command set: {exc}"),
            )
            return
        association._discarding.add(context_id)
        association._spawn(association.send_message(context_id, response, None))

    def cancel_request(self, message_id: int) -> bool:
        """Flag the request ``message_id`` as cancelled (C-CANCEL-RQ); False if unknown."""
        request = self._running.get(message_id)
        if request is None:
            for queued, _ in self._queued:
                if queued.message.message_id == message_id:
                    request = queued
                    break
        if request is None:
            return False
        request.cancelled.set()
        return True

    def stop_all(self, exc: BaseException) -> None:
        """The association ended: fail data streams and cancel every handler."""
        for request, _ in self._queued:
            if request.data is not None:
                request.data.fail(exc)
        self._queued.clear()
        for request in list(self._running.values()):
            if request.data is not None:
                request.data.fail(exc)
        for request, _ in self._awaiting_data.values():
            # Never started: nothing ran, so nothing to answer or clean up.
            self._running.pop(request.message.message_id, None)
        self._awaiting_data.clear()
        for task in list(self._tasks.values()):
            task.cancel()
        parked = list(self._parked.values())
        self._parked.clear()
        for request, run in parked:
            # Cancelled at the wait it is in, as its task would be (the future it waits on
            # too, unless others share it); a clean-up that waits goes on in a task.
            waiting = run.waiting
            if type(waiting) is asyncio.Future or type(waiting) is WakingFuture:
                waiting.cancel()
            try:
                done = run.throw(asyncio.CancelledError())
            except asyncio.CancelledError:
                continue
            if not done:
                self._keep(request, run.to_task())

    def _start(self, request: IncomingRequest, handler: Handler | None) -> None:
        self._running[request.message.message_id] = request
        if handler is None or handler is _duplicate:
            self._step(request, handler)  # our own answers: they never need a task
            return
        if not self._association.registry.starts_inline(handler):
            self._keep(request, asyncio.get_running_loop().create_task(self._run(request, handler)))
            return
        stream = request.data
        if stream is not None and not stream.received and not stream.complete:
            self._awaiting_data[stream] = (request, handler)
            return
        self._step(request, handler)

    def _step(self, request: IncomingRequest, handler: Handler | None) -> None:
        """Run the handler until it first waits; a task takes it on from there (or
        the end of its data set does, see :meth:`_go_on`)."""
        if sys.version_info >= (3, 12):  # pragma: no cover - the test machine runs 3.11
            task = start_eager(self._run(request, handler))
            if task is not None:
                self._keep(request, task)
            return
        resumable = handler is not None and self._association.registry.resumes_untasked(handler)
        self._go_on(request, EagerRun(self._run(request, handler), resumable=resumable))

    def _go_on(self, request: IncomingRequest, run: EagerRun, stepped: bool = False) -> None:
        """Step ``run`` (unless ``stepped`` already) until it is done or waits: for the end
        of its own data set, the stream steps it on (:meth:`_woken`); for anything else,
        a task does."""
        if not stepped and run.step():
            return
        waiting = run.waiting
        if type(waiting) is SharedFuture and run.resumable:
            # The same, for a future many handlers share (a batch of the group commit):
            # taken as a task takes what it waits on (the next handler's await of it
            # yields it again instead of failing). The handlers of this association
            # parked on it are woken together, by one waker (see _resumed_all).
            waiting._asyncio_future_blocking = False
            parked = self._parked[id(request)] = (request, run)
            if waiting is not self._shared:
                self._shared = waiting
                self._shared_runs = []
                waiting.wakers.append(partial(self._resumed_all, self._shared_runs))
            self._shared_runs.append(parked)
            return
        if type(waiting) is WakingFuture and run.resumable:
            # Its producer steps it on right after completing it (see dicomnet.wakeup).
            self._parked[id(request)] = (request, run)
            waiting.waker = partial(self._resumed, request, run)
            return
        stream = request.data
        if stream is not None and waiting is not None and waiting is stream.waiter:
            self._parked[id(request)] = (request, run)
            stream.on_wake(partial(self._woken, request, run))
            return
        if run.resumable and type(waiting) is asyncio.Future:
            self._parked[id(request)] = (request, run)
            waiting.add_done_callback(partial(self._resumed, request, run))
            return
        self._keep(request, run.to_task())

    def _defer_restarts(self) -> None:
        """What the handlers resumed now send (a group commit wakes many at once)
        restarts the DIMSE timer once, at the end of this loop step."""
        self._association._dimse.deferring(True)
        if not self._catching_up:
            self._catching_up = True
            asyncio.get_running_loop().call_soon(self._caught_up)

    def _resumed(self, request: IncomingRequest, run: EagerRun, future: object = None) -> None:
        """The future a resumable ``run`` waits on is done: step it on (from a loop callback
        or from the future's producer, outside any run of received PDUs)."""
        if self._parked.pop(id(request), None) is None:
            return  # cancelled with the association
        if not self._association._dimse.deferred:
            self._defer_restarts()
        # (A try costs nothing here; contextlib.suppress would make an object per call.)
        try:  # noqa: SIM105
            self._go_on(request, run)
        except asyncio.CancelledError:
            pass  # its wait was cancelled from elsewhere: it ended as a cancelled task would

    def _resumed_all(self, runs: list[tuple[IncomingRequest, EagerRun]]) -> None:
        """The shared future ``runs`` wait on is done: step each on (see :meth:`_resumed`)."""
        if runs is self._shared_runs:
            self._shared = None  # (handlers parked from now on wait on another one)
            self._shared_runs = []
        if not self._association._dimse.deferred:
            self._defer_restarts()
        parked = self._parked
        for request, run in runs:
            if parked.pop(id(request), None) is None:
                continue  # cancelled with the association
            try:
                # (What _go_on does, its step written out: most handlers end here.)
                run.waiting = run.context.run(run.send, None)
            except StopIteration:
                continue
            except asyncio.CancelledError:
                continue  # its wait was cancelled from elsewhere: it ended as a task would
            except Exception:
                self._log.exception("resuming a parked handler failed")
                continue
            try:
                self._go_on(request, run, True)
            except asyncio.CancelledError:
                pass
            except Exception:
                self._log.exception("resuming a parked handler failed")

    def _caught_up(self) -> None:
        """After handlers were resumed: the DIMSE timer does what they asked of it."""
        self._catching_up = False
        dimse = self._association._dimse
        dimse.deferring(False)
        dimse.catch_up()

    def _woken(self, request: IncomingRequest, run: EagerRun) -> None:
        """The data stream ``run`` waits on has set its future's result."""
        if self._parked.pop(id(request), None) is None:
            return  # handed to a task already (the association ended)
        stream = request.data
        assert stream is not None
        if stream.complete and not stream.failed:
            self._go_on(request, run)  # the whole data set is in: answer now
        elif stream.complete:
            # Failed: the association is ending, and stop_all cancels it where it waits.
            self._parked[id(request)] = (request, run)
        else:
            # A fragment to read, or a failure: on in a task, where a cancellation finds it.
            self._keep(request, run.to_task())

    def _keep(self, request: IncomingRequest, task: asyncio.Task[None]) -> None:
        self._tasks[id(request)] = task

    async def _run(self, request: IncomingRequest, handler: Handler | None) -> None:
        final_sent = False
        try:
            if handler is None:
                await self._send(request, Reply(status=Status.UNRECOGNIZED_OPERATION))
                final_sent = True
                return
            result = handler(request)
            if type(result) is not CoroutineType and isinstance(result, AsyncIterator):
                async for reply in result:
                    await self._send(request, reply)
                    if reply.status not in _PENDING:
                        final_sent = True
                        break
            else:
                outcome = await result
                if isinstance(outcome, Reply):
                    await self._send(request, outcome)
                    final_sent = outcome.status not in _PENDING
                else:  # a bare status: no Reply to build and take apart again
                    status = int(outcome)
                    await self._answer(request, status)
                    final_sent = status not in _PENDING
            if not final_sent:
                raise DicomNetError("handler ended without a final (non-pending) response")
        except asyncio.CancelledError:
            raise
        except (DicomNetError, ConnectionError) as exc:
            if self._association.is_established and not final_sent:
                self._log.error(
                    "request %d failed: %s", request.message.message_id, logsafe(exc, ERROR_LIMIT)
                )
                await self._try_failure(request, str(exc))
        except LocalProtocolError as exc:
            # The core ended the association already (an A-ABORT it queued for bytes
            # behind this request in the same read); its indication ends ours next.
            self._log.info(
                "no response to request %d, the association is already over: %s",
                request.message.message_id,
                logsafe(exc, ERROR_LIMIT),
            )
        except Exception as exc:
            self._log.exception("handler for request %d raised", request.message.message_id)
            if not final_sent:
                await self._try_failure(request, f"{type(exc).__name__}: {exc}")
        finally:
            self._finish(request)

    async def _try_failure(self, request: IncomingRequest, comment: str) -> None:
        try:
            await self._send(
                request, Reply(status=Status.PROCESSING_FAILURE, fields={"error_comment": comment})
            )
        except Exception as exc:  # the association may be gone; nothing more to do
            self._log.debug("could not send the failure response: %s", logsafe(exc, ERROR_LIMIT))

    def _answer(self, request: IncomingRequest, status: int) -> Coroutine[Any, Any, None]:
        """Sending the response with ``status`` alone (no data set, no further fields):
        the coroutine to await (the association's own, no frame of this method's)."""
        context_id = request.context.context_id
        if type(request.message) is CStoreRQ:  # one per stored instance: made in one step
            return self._association.send_store_response(context_id, request.message, status)
        message = build_response(request.message, status)
        return self._association.send_message(context_id, message)

    async def _send(self, request: IncomingRequest, reply: Reply) -> None:
        if reply.dataset is None and not reply.fields:
            await self._answer(request, reply.status)
            return
        message = build_response(
            request.message, reply.status, has_dataset=reply.dataset is not None, **reply.fields
        )
        await self._association.send_message(request.context.context_id, message, reply.dataset)

    def _finish(self, request: IncomingRequest) -> None:
        self._tasks.pop(id(request), None)
        self._running.pop(request.message.message_id, None)
        if request.data is not None:
            # Unread fragments (and any still to come) must not hold back reading.
            request.data.discard_rest()
        if not self._starting_queued:
            # A queued handler that answers at once finishes inside _start: the loop
            # here starts the next one (no recursion, however many are queued).
            self._starting_queued = True
            try:
                while self._queued and (not self._limit or len(self._running) < self._limit):
                    queued, handler = self._queued.popleft()
                    self._start(queued, handler)
            finally:
                self._starting_queued = False
        self._association.dispatcher_idle_changed()


async def _duplicate(request: IncomingRequest) -> Reply:
    return Reply(status=Status.DUPLICATE_INVOCATION)
