"""Bookkeeping for requests we invoke: Message IDs, the invoked window, response streams.

PS3.7 §9.1.1: a Message ID identifies a request among those outstanding on an
association; responses name it in Message ID Being Responded To. PS3.7 D.3.3.3:
the asynchronous operations window bounds how many requests an invoker may
have outstanding (0 means unlimited).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Final

from dicomnet.dimse.commands import DimseResponse
from dicomnet.dimse.drafts import draft_class
from dicomnet.dimse.status import DimseStatus
from dicomnet.errors import LocalError

__all__ = [
    "PENDING_STATUSES",
    "IncomingResponse",
    "MessageIds",
    "Response",
    "ResponseStream",
    "Window",
    "received_response",
    "request_sop_class",
]

#: The Pending statuses (PS3.7 C.4.1): more responses follow.
PENDING_STATUSES: Final = frozenset({0xFF00, 0xFF01})


def request_sop_class(message: object) -> str:
    """The Affected (or Requested) SOP Class UID of a request, "" without one."""
    return str(
        getattr(message, "affected_sop_class_uid", None)
        or getattr(message, "requested_sop_class_uid", "")
    )


class IncomingResponse:
    """A response to one of our requests whose data set is still arriving."""

    __slots__ = ("message", "parts")

    def __init__(self, message: DimseResponse) -> None:
        self.message = message
        self.parts: list[bytes] = []


class MessageIds:
    """Allocates Message IDs 1..65535, wrapping, never one still in use."""

    def __init__(self) -> None:
        self._next = 1
        #: The IDs outstanding (the association's receive path discards an answered one
        #: itself: :meth:`release` without the call).
        self.in_use: set[int] = set()

    def allocate(self) -> int:
        """The next free ID (raises :class:`LocalError` if all 65535 are outstanding)."""
        candidate = self._next
        if candidate not in self.in_use:  # the usual case, without the loop's range
            self._next = 1 if candidate == 0xFFFF else candidate + 1
            self.in_use.add(candidate)
            return candidate
        for _ in range(0xFFFF):
            candidate = self._next
            self._next = 1 if candidate == 0xFFFF else candidate + 1
            if candidate not in self.in_use:
                self.in_use.add(candidate)
                return candidate
        raise LocalError("every Message ID is in use")

    def release(self, message_id: int) -> None:
        """Make ``message_id`` available again."""
        self.in_use.discard(message_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.in_use


class Window:
    """A fair counting limit for outstanding operations; ``limit == 0`` is unlimited.

    Slots are handed to waiters in arrival order. :meth:`try_acquire` takes a
    slot without awaiting when one is free, so the common case costs no future.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take a free slot now if there is one and nobody waits for it; else False."""
        if self.limit > 0 and (self.in_use >= self.limit or self._waiters):
            return False
        self.in_use += 1
        return True

    async def acquire(self) -> None:
        """Wait for a free slot."""
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just before the cancellation
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Free a slot taken by :meth:`acquire`: it goes to the oldest waiter, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; in_use is unchanged
                return
        self.in_use -= 1


@dataclass(frozen=True, slots=True)
class Response:
    """One DIMSE response received for a request we sent."""

    message: DimseResponse
    dataset: bytes | None
    context_id: int

    @property
    def status(self) -> int:
        """The Status (0000,0900) code."""
        return self.message.status

    @property
    def dimse_status(self) -> DimseStatus:
        """The status with its PS3.7 Annex C detail fields."""
        return self.message.dimse_status

    @property
    def is_pending(self) -> bool:
        """Whether more responses follow (0xFF00/0xFF01)."""
        return self.message.status in PENDING_STATUSES


# One per request answered: made as the constructor would, with plain stores
# (dicomnet.dimse.drafts) rather than the frozen __init__'s object.__setattr__ calls.
_RESPONSE_DRAFT = draft_class(Response)


def received_response(message: DimseResponse, dataset: bytes | None, context_id: int) -> Response:
    """``Response(message=message, dataset=dataset, context_id=context_id)``."""
    draft = _RESPONSE_DRAFT()
    draft.message = message
    draft.dataset = dataset
    draft.context_id = context_id
    draft.__class__ = Response
    response: Response = draft
    return response


class ResponseStream:
    """The responses to one request, returned at once by ``Association.send_request``.

    ``await stream`` gives the final response; ``async for rsp in stream``
    yields every response, pending ones first, ending with the final one.
    :meth:`cancel` sends C-CANCEL-RQ (PS3.7 §9.3.2.3) for a C-FIND/C-GET/C-MOVE.
    ``send_request`` writes the request itself when nothing waits before it and
    the write buffer has room; otherwise (or for the rest of a message the
    buffer cannot take) a task does, kept in :attr:`sender`.
    """

    def __init__(
        self,
        cancel: Callable[[ResponseStream], Awaitable[None]],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """``loop``: the running event loop, when the caller has it at hand."""
        self._loop = loop
        # The pending responses not yet iterated (made at the first one: most requests
        # have none); a waiter future only while the iterator waits.
        self._items: deque[Response] | None = None
        self._waiter: asyncio.Future[None] | None = None
        # The final response or the error, once in; a future only once someone awaits.
        self._done = False
        self._response: Response | None = None
        self._error: BaseException | None = None
        self._final: asyncio.Future[Response] | None = None
        self._cancel = cancel
        self._iterating = False
        #: The Message ID allocated to the request (0 until it is sent).
        self.message_id = 0
        #: The presentation context ID the request went on (0 until it is sent).
        self.context_id = 0
        #: The request's Command Field (0 until it is sent).
        self.command_field = 0
        self.sender: asyncio.Task[None] | None = None
        #: Called with this stream once the final response (or the error) is in,
        #: synchronously, from the association's receive path: it must not block.
        self.on_final: Callable[[ResponseStream], None] | None = None

    @property
    def done(self) -> bool:
        """Whether the final response (or an error) arrived."""
        return self._done

    def deliver(self, response: Response) -> None:
        """Hand over one response (called by the association)."""
        if self._done:
            return
        if response.message.status in PENDING_STATUSES:  # (is_pending, without the call)
            items = self._items
            if items is None:
                items = self._items = deque()
            items.append(response)
            self._wake()
            return
        self._done = True
        self._response = response
        final = self._final
        if final is not None and not final.done():  # (cancelled with its awaiter)
            final.set_result(response)
        if self._waiter is not None:  # (the iterator waits: rare)
            self._wake()
        self._call_on_final()

    def fail(self, exc: BaseException) -> None:
        """End the stream with an error (association gone, send failed, ...)."""
        if self._done:
            return
        self._done = True
        self._error = exc
        final = self._final
        if final is not None and not final.done():
            final.set_exception(exc)
            # The error is also raised through the iterator and by result(): mark it
            # retrieved so a future whose awaiter went away does not warn about it.
            final.exception()
        self._wake()
        self._call_on_final()

    def _call_on_final(self) -> None:
        # Dropped as it is called: a callback that holds its stream (the Storage SCU's
        # does) would otherwise keep both alive in a cycle until the collector's next walk.
        on_final = self.on_final
        if on_final is not None:
            self.on_final = None
            on_final(self)

    def result(self) -> Response:
        """The final response once :attr:`done` (raises the error the stream ended with;
        ``asyncio.InvalidStateError`` before)."""
        if self._error is not None:
            raise self._error
        if self._response is None:
            raise asyncio.InvalidStateError("the final response has not arrived")
        return self._response

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __await__(self) -> Generator[object, None, Response]:
        final = self._final
        if final is None or final.cancelled():  # a new awaiter after one was cancelled
            final = self._final = (self._loop or asyncio.get_running_loop()).create_future()
            if self._error is not None:
                final.set_exception(self._error)
                final.exception()  # see fail()
            elif self._response is not None:
                final.set_result(self._response)
        return final.__await__()

    def __aiter__(self) -> AsyncIterator[Response]:
        if self._iterating:
            raise RuntimeError("a response stream can be iterated only once")
        self._iterating = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Response]:
        while True:
            items = self._items
            if items:
                yield items.popleft()  # a pending response
                continue
            if self._done:
                yield self.result()  # the final response, or its error raised
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def cancel(self) -> None:
        """Ask the peer to cancel this request (C-CANCEL-RQ); responses keep coming."""
        await self._cancel(self)
