"""The handler registry: how DIMSE services plug into an association.

A *service* is any object with a ``bindings()`` method returning
:class:`Binding` values; each binding routes one request Command Field
(optionally only for some SOP classes) to a *handler*. A handler is an async
callable that receives an :class:`IncomingRequest` and either

* returns a :class:`Reply` (or a bare status ``int``): one response; or
* is an async generator yielding :class:`Reply` values: every pending response
  (C-FIND, C-GET, C-MOVE; status 0xFF00/0xFF01) and then the final one.

The association runs each incoming request as its own task (PS3.7 §10.2: the
asynchronous operations window bounds how many run at once), builds the
response command from the request and the reply, and sends it. The request's
data set is a :class:`DataStream` that fills while the handler already runs, so a
C-STORE handler can write fragments to a sink as they arrive; unread data
counts against the connection's read high-water mark. A request with a data
set starts its handler when the data set begins to arrive.

A binding marked ``inline`` has its handler started inside the receive
callback instead, and made a task only when it first waits (see
:mod:`dicomnet.association.eager`): a handler that answers at once (a C-ECHO,
a C-STORE whose data set arrived with it) then costs no task and no extra
turns of the event loop. Until that first wait it runs outside any task, so on
Python 3.11 it must not need one there (``asyncio.timeout``,
``asyncio.current_task``); from 3.12 on it is the loop's own eager task start.

Services never touch sockets and never know which transport carries them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from dicomnet.dimse.commands import DimseRequest

if TYPE_CHECKING:
    from dicomnet.association import Association
    from dicomnet.negotiation import NegotiatedContext

__all__ = [
    "Binding",
    "Consumer",
    "DataStream",
    "Handler",
    "HandlerRegistry",
    "IncomingRequest",
    "Reply",
    "Service",
]

_log = logging.getLogger("dicomnet.services")

BytesLike: TypeAlias = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One response from a handler.

    ``dataset`` is the encoded data set (in the presentation context's
    transfer syntax) or an iterable of byte chunks; ``fields`` sets further
    response elements by their dataclass field names (for example
    ``affected_sop_instance_uid``, ``number_of_remaining_suboperations``,
    ``error_comment``).
    """

    status: int = 0x0000
    dataset: BytesLike | Iterable[BytesLike] | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


HandlerResult: TypeAlias = Awaitable[Reply | int] | AsyncIterator[Reply]
Handler: TypeAlias = Callable[["IncomingRequest"], HandlerResult]


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    """Route requests with ``command_field`` (and, if given, these SOP classes) to ``handler``."""

    command_field: int
    handler: Handler
    sop_classes: frozenset[str] | None = None
    #: Start the handler inside the receive callback (see the module docstring).
    inline: bool = False
    #: With ``inline``: the handler never needs a current task (``asyncio.timeout``,
    #: ``asyncio.current_task``), after a wait either, so a wait of it on a plain
    #: future goes on from that future's completion without a task.
    resumable: bool = False


class Service(Protocol):
    """Anything that can be added to an AE with ``add_handler``.

    A service that holds state per association may also define
    ``association_ended(association)``: the registry calls it once when each
    association it served ends (release, abort or lost connection), after the
    association's handlers have been cancelled.
    """

    def bindings(self) -> Iterable[Binding]:
        """The request types this service answers."""
        ...


class HandlerRegistry:
    """Bindings by Command Field; the most specific (SOP-class-bound) one wins."""

    def __init__(self, services: Iterable[Service | Binding] = ()) -> None:
        self._specific: dict[tuple[int, str], Handler] = {}
        self._generic: dict[int, Handler] = {}
        self._inline: set[Handler] = set()
        self._resumable: set[Handler] = set()
        self._end_hooks: list[Callable[[Any], None]] = []
        for service in services:
            self.add(service)

    def add(self, service: Service | Binding) -> None:
        """Register a service (all its bindings) or one binding; later ones override."""
        bindings = [service] if isinstance(service, Binding) else list(service.bindings())
        hook = getattr(service, "association_ended", None)
        if callable(hook) and hook not in self._end_hooks:
            self._end_hooks.append(hook)
        for binding in bindings:
            if binding.inline:
                self._inline.add(binding.handler)
                if binding.resumable:
                    self._resumable.add(binding.handler)
            if binding.sop_classes is None:
                self._generic[binding.command_field] = binding.handler
            else:
                for uid in binding.sop_classes:
                    self._specific[(binding.command_field, uid)] = binding.handler

    def find(self, command_field: int, sop_class: str | None) -> Handler | None:
        """The handler for a request, or ``None`` (the request is answered 0x0211)."""
        if sop_class is not None:
            handler = self._specific.get((command_field, sop_class))
            if handler is not None:
                return handler
        return self._generic.get(command_field)

    def starts_inline(self, handler: Handler) -> bool:
        """Whether ``handler`` was bound ``inline`` (see the module docstring)."""
        return handler in self._inline

    def resumes_untasked(self, handler: Handler) -> bool:
        """Whether ``handler`` was bound ``inline`` and ``resumable``."""
        return handler in self._resumable

    def copy(self) -> HandlerRegistry:
        """An independent copy (an AE's registry is copied per server)."""
        other = HandlerRegistry()
        other._specific = dict(self._specific)
        other._generic = dict(self._generic)
        other._inline = set(self._inline)
        other._resumable = set(self._resumable)
        other._end_hooks = list(self._end_hooks)
        return other

    def association_ended(self, association: Any) -> None:
        """Tell every service with an ``association_ended`` hook that ``association`` ended."""
        for hook in self._end_hooks:
            try:
                hook(association)
            except Exception:
                _log.exception("association end hook %r failed", hook)


#: Takes fragments as they arrive (views of the receive buffer, valid during the call only);
#: returns True to stop: the rest of the data set is then dropped.
Consumer: TypeAlias = Callable[[list[memoryview]], "bool | None"]


class DataStream:
    """The data set of one incoming message, as its fragments arrive.

    Iterate it (``async for chunk in stream``) to consume fragments in order
    without holding the whole data set, or ``await read()`` for all of it.
    ``on_consumed(n)`` is told how many bytes left the buffer so the
    connection can resume reading (see :class:`dicomnet.flow.FlowControl`).

    Or hand fragments to a synchronous consumer as they arrive
    (:meth:`consume_with`, then ``await finished()``): they are then neither
    copied nor queued, the consumer sees views of the receive buffer.
    """

    def __init__(self, on_consumed: Callable[[int], None] | None = None) -> None:
        self._chunks: deque[bytes] = deque()
        # Set while a reader waits for the next fragment (or the end); none otherwise.
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._error: BaseException | None = None
        self._on_consumed = on_consumed
        self._taken = False
        self._discarding = False
        self._consumer: Consumer | None = None
        self._stopped = False
        self._on_wake: Callable[[], None] | None = None
        #: Total bytes received so far.
        self.received = 0

    @property
    def complete(self) -> bool:
        """Whether the last fragment has arrived."""
        return self._done

    @property
    def claimed(self) -> bool:
        """Whether a reader or a consumer has taken the stream (see :meth:`consume_with`)."""
        return self._taken

    @property
    def failed(self) -> bool:
        """Whether the data set cannot be received whole (the association ended, the
        consumer raised)."""
        return self._error is not None

    @property
    def waiter(self) -> asyncio.Future[None] | None:
        """The future a reader of this stream waits on now (``None`` when none waits)."""
        return self._waiter

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, right after the waiting reader's future gets its result.

        For the association, which steps a reader that waits for the end of
        the data set on at once instead of waking its task (see
        :class:`dicomnet.association.eager.EagerRun`).
        """
        self._on_wake = callback

    @property
    def pending(self) -> int:
        """Fragments received and not yet read: the next ones are taken without waiting."""
        return len(self._chunks)

    def feed(self, chunk: bytes) -> None:
        """Append a fragment (called by the association)."""
        if self._discarding:
            self.received += len(chunk)
            self._release(len(chunk))
            return
        if chunk:
            if self._consumer is not None:
                self.received += len(chunk)
                self._consume([memoryview(chunk)])
                self._release(len(chunk))
                return
            self._chunks.append(chunk)
            self.received += len(chunk)
            self._wake()

    def feed_views(self, views: list[memoryview]) -> int:
        """Append fragments given as views valid during this call only; returns bytes queued.

        With a consumer (:meth:`consume_with`) they go to it at once and
        nothing is queued; otherwise they are copied, as one chunk. The bytes
        queued are what the caller counts against the read backlog.
        """
        if self._discarding:
            self.received += sum(map(len, views))
            return 0
        if self._consumer is not None:
            self.received += sum(map(len, views))
            self._consume(views)
            return 0
        chunk = views[0].tobytes() if len(views) == 1 else b"".join(views)
        if not chunk:
            return 0
        self._chunks.append(chunk)
        self.received += len(chunk)
        self._wake()
        return len(chunk)

    def consume_with(self, consumer: Consumer) -> None:
        """Hand every fragment to ``consumer`` as it arrives, instead of queueing it.

        Fragments already queued go to it first, now. It runs inside the
        connection's receive callback: it must not block for long, and it may
        not keep the views it is given. An exception from it fails the stream
        (raised by :meth:`finished`) and the rest is dropped; so is the rest
        when it returns True.
        """
        if self._taken:
            raise RuntimeError("a data stream can be read only once")
        self._taken = True
        self._consumer = consumer
        if self._chunks and not self._discarding:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._consume([memoryview(chunk) for chunk in chunks])
            self._release(sum(map(len, chunks)))

    def _consume(self, views: list[memoryview]) -> None:
        assert self._consumer is not None
        try:
            stop = self._consumer(views)
        except Exception as exc:
            self._error = self._error or exc
            stop = True
        if stop:
            self._stopped = True
            self._discarding = True
            self._wake()

    async def finished(self) -> None:
        """After :meth:`consume_with`: wait for the last fragment (or the consumer to stop).

        Raises why the data set could not be received (the association ended,
        the consumer raised).
        """
        while not (self._done or self._stopped):
            await self._wait()
        if self._error is not None:
            raise self._error

    def finish(self) -> None:
        """The last fragment arrived."""
        self._done = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        """The association ended before the data set was complete."""
        if not self._done:
            self._error = exc
            self._done = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
            callback = self._on_wake
            if callback is not None:
                self._on_wake = None
                callback()

    async def _wait(self) -> None:
        """Until the next fragment, the end, or an error (whichever comes first)."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def discard_rest(self) -> None:
        """Drop buffered fragments and every later one (nobody will read them)."""
        self._discarding = True
        if self._chunks:
            self._release(sum(map(len, self._chunks)))
            self._chunks.clear()

    def _release(self, nbytes: int) -> None:
        if nbytes and self._on_consumed is not None:
            self._on_consumed(nbytes)

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._taken:
            raise RuntimeError("a data stream can be read only once")
        self._taken = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._release(len(chunk))
                yield chunk
            if self._error is not None:
                raise self._error
            if self._done:
                return
            await self._wait()

    async def read(self) -> bytes:
        """Wait for the whole data set and return it."""
        parts = [chunk async for chunk in self]
        return b"".join(parts)


@dataclass(slots=True, kw_only=True)
class IncomingRequest:
    """One request received on an association, as a handler sees it."""

    association: Association
    message: DimseRequest
    context: NegotiatedContext
    data: DataStream | None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_cancelled(self) -> bool:
        """Whether a C-CANCEL-RQ for this request arrived (PS3.7 §9.3.2.3)."""
        return self.cancelled.is_set()

    async def dataset_bytes(self) -> bytes | None:
        """The whole data set (``None`` when the request has none)."""
        return None if self.data is None else await self.data.read()
