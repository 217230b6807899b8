"""Storage SCU: C-STORE instances over an established association (PS3.4 Annex B, PS3.7 §9.1.1).

* :func:`proposed_contexts_for` builds the presentation contexts to propose
  for a set of instances: each SOP class with each of the instances' own
  transfer syntaxes in a context of its own, then one with the fallbacks
  (see :mod:`dicomnet.storage.proposal`).
* :func:`store` sends one instance on the best accepted context: the one
  whose transfer syntax is the instance's own (the bytes go out as read from
  disk), else one it can be transcoded to.
* :func:`store_many` keeps several C-STORE requests in flight when the peer
  granted an asynchronous operations window (PS3.7 D.3.3.3) and yields the
  results as they complete.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeAlias

from dicomnet.dimse.commands import CStoreRQ, Priority, plain_store_rq
from dicomnet.dimse.dataset import IMPLICIT_VR_LITTLE_ENDIAN
from dicomnet.dimse.status import StatusCategory, category, describe
from dicomnet.errors import NegotiationError
from dicomnet.policy import ProposedContext
from dicomnet.status_policy import Outcome

from .file_data import FileDataSet
from .proposal import MAX_CONTEXTS, ContextPlan, plan_contexts
from .shapes import CheckedShapes
from .source import DEFAULT_CHUNK_SIZE, SMALL_FILE, InstanceSource, SourceError
from .transcode import NATIVE_SYNTAXES, TranscodeError, can_transcode, transcode

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.association import Association
    from dicomnet.association.requests import Response, ResponseStream
    from dicomnet.negotiation import NegotiatedContext

__all__ = [
    "MAX_CONTEXTS",
    "ContextPlan",
    "StoreResult",
    "as_source",
    "batches",
    "choose_context",
    "collect_files",
    "plan_contexts",
    "proposed_contexts_for",
    "store",
    "store_all",
    "store_many",
    "window_for",
]

#: In-flight requests when the peer granted an unlimited window (0).
UNLIMITED_WINDOW_CAP: Final = 64

_log = logging.getLogger(__name__)

_new_object: Final = object.__new__
# Outcomes compared once per instance, as plain names: on Python 3.11 ``Outcome.X`` runs
# the enum member's descriptor in Python (about 270 ns, against 7 for a global).
_RETRY: Final = Outcome.RETRY
_ABORT: Final = Outcome.ABORT

Storable: TypeAlias = "InstanceSource | str | os.PathLike[str] | Dataset"


@dataclass(frozen=True)
class StoreResult:
    """The outcome of one C-STORE.

    ``status`` is ``None`` when the request was never sent (unreadable file,
    no usable presentation context, impossible transcoding); ``error`` then
    says why. ``outcome`` is what this AE's profile makes of the status
    (:class:`~dicomnet.status_policy.Outcome`; by default: its category);
    success and warning outcomes count as stored (:attr:`ok`).
    """

    label: str
    sop_class_uid: str
    sop_instance_uid: str
    status: int | None
    category: StatusCategory
    error_comment: str | None = None
    transfer_syntax: str | None = None
    bytes_sent: int = 0
    transcoded: bool = False
    error: str | None = None
    outcome: Outcome = Outcome.FAILURE
    #: How many times the C-STORE-RQ was sent (more than 1 after ``retry`` outcomes).
    attempts: int = 1

    @classmethod
    def not_sent(
        cls, label: str, error: object, *, sop_class_uid: str = "", sop_instance_uid: str = ""
    ) -> StoreResult:
        """The result of an instance whose C-STORE-RQ was never sent, ``error`` saying why."""
        return cls(
            label=label,
            sop_class_uid=sop_class_uid,
            sop_instance_uid=sop_instance_uid,
            status=None,
            category=StatusCategory.FAILURE,
            error=str(error),
        )

    @property
    def ok(self) -> bool:
        """Whether the instance was stored (success or warning status)."""
        return self.outcome in (Outcome.SUCCESS, Outcome.WARNING)

    def describe(self) -> str:
        """One line for a person: label, status and its meaning."""
        if self.status is None:
            return f"{self.label}: not sent: {self.error}"
        text = f"{self.label}: 0x{self.status:04X} {describe(self.status, 0x0001)}"
        if self.error_comment:
            text += f" ({self.error_comment})"
        return text


def as_source(item: Storable) -> InstanceSource:
    """An :class:`InstanceSource` for a source, a file path or a pydicom Dataset."""
    if isinstance(item, InstanceSource):
        return item
    # Path first: os.PathLike is an ABC, and its isinstance check costs more.
    if isinstance(item, Path | str | os.PathLike):
        return InstanceSource.from_path(item, preload=SMALL_FILE)
    return InstanceSource.from_dataset(item)


# ---------------------------------------------------------------- proposing


def proposed_contexts_for(
    sources: Iterable[Storable],
    extra_syntaxes: Sequence[str] = (IMPLICIT_VR_LITTLE_ENDIAN,),
    *,
    only_extra: bool = False,
) -> list[ProposedContext]:
    """Presentation contexts to propose for storing ``sources`` (sources, paths or Datasets).

    Each (SOP class, transfer syntax of an instance) gets a context listing
    that syntax alone, so that an accepted one carries the instance as it is;
    ``extra_syntaxes`` the instances can be converted to follow in one more
    context per SOP class (``()``: each instance's own syntax only).
    ``only_extra`` proposes exactly ``extra_syntaxes`` for every SOP class
    (the files are transcoded as needed). Past :data:`MAX_CONTEXTS`, syntaxes
    share contexts and a warning says which (see :func:`plan_contexts`).
    Raises :class:`~dicomnet.errors.LocalError` when the SOP classes alone
    are more than :data:`MAX_CONTEXTS` (see :func:`batches`).
    """
    plan = plan_contexts(map(as_source, sources), extra_syntaxes, only_extra=only_extra)
    for note in plan.notes:
        _log.warning("%s", note)
    return plan.contexts


def policy_contexts_for(
    sources: Iterable[Storable], proposed: Sequence[ProposedContext]
) -> list[ProposedContext]:
    """The contexts to propose for sending ``sources``: ``proposed``'s rows for their classes.

    A row with ``instance_syntax_first`` becomes one context per transfer syntax the
    class's instances are in, that syntax first and the row's after it (DicomArk Send
    Queue: "the instance's transfer syntax, then Implicit VR Little Endian"). Classes
    with no row get each instance's own syntax plus Implicit VR Little Endian
    (:func:`proposed_contexts_for`).
    """
    listed: dict[str, list[ProposedContext]] = {}
    for context in proposed:
        listed.setdefault(context.abstract_syntax, []).append(context)
    syntaxes: dict[str, list[str]] = {}
    unlisted: list[InstanceSource] = []
    for item in sources:
        source = as_source(item)
        if source.sop_class_uid not in listed:
            unlisted.append(source)
            continue
        own = syntaxes.setdefault(source.sop_class_uid, [])
        if source.transfer_syntax_uid not in own:
            own.append(source.transfer_syntax_uid)
    contexts: list[ProposedContext] = []
    for sop_class, own in syntaxes.items():
        for row in listed[sop_class]:
            if not row.instance_syntax_first:
                contexts.append(row)
                continue
            for syntax in own:
                rest = tuple(ts for ts in row.transfer_syntaxes if ts != syntax)
                contexts.append(replace(row, transfer_syntaxes=(syntax, *rest)))
    if unlisted:
        contexts.extend(proposed_contexts_for(unlisted))
    return contexts


def batches(
    sources: Iterable[InstanceSource], limit: int = MAX_CONTEXTS
) -> list[list[InstanceSource]]:
    """Split ``sources`` into groups of at most ``limit`` SOP classes, order kept per class.

    Each group can be stored on one association.
    """
    groups: list[list[InstanceSource]] = []
    classes: list[set[str]] = []
    for source in sources:
        for group, seen in zip(groups, classes, strict=True):
            if source.sop_class_uid in seen or len(seen) < limit:
                seen.add(source.sop_class_uid)
                group.append(source)
                break
        else:
            groups.append([source])
            classes.append({source.sop_class_uid})
    return groups


# ---------------------------------------------------------------- choosing


def _accepted_for(assoc: Association, sop_class_uid: str) -> list[NegotiatedContext]:
    return [
        ctx
        for ctx in assoc.negotiated.contexts
        if ctx.abstract_syntax == sop_class_uid and ctx.scu_role
    ]


def choose_context(assoc: Association, source: InstanceSource) -> NegotiatedContext:
    """The accepted context to store ``source`` on.

    Preference: the instance's own transfer syntax; then native syntaxes
    (Explicit VR LE, Implicit VR LE, Deflated, Explicit VR BE); then any other
    it can be converted to. Raises :class:`~dicomnet.errors.NegotiationError`
    when the SOP class was not accepted and :class:`TranscodeError` when no
    accepted syntax is reachable.
    """
    contexts = _accepted_for(assoc, source.sop_class_uid)
    if not contexts:
        raise NegotiationError(
            f"{source.label}: no accepted presentation context for SOP class {source.sop_class_uid}"
        )
    own = source.transfer_syntax_uid
    for ctx in contexts:
        if ctx.transfer_syntax == own:
            return ctx
    ranked = sorted(
        contexts,
        key=lambda ctx: (
            NATIVE_SYNTAXES.index(ctx.transfer_syntax)
            if ctx.transfer_syntax in NATIVE_SYNTAXES
            else len(NATIVE_SYNTAXES)
        ),
    )
    for ctx in ranked:
        if can_transcode(own, ctx.transfer_syntax):
            return ctx
    raise TranscodeError(own, ranked[0].transfer_syntax, "no accepted transfer syntax is reachable")


# ---------------------------------------------------------------- storing


class _Counted:
    """Iterates data set chunks and counts the bytes that went out."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk


def _file_data(source: InstanceSource) -> FileDataSet:
    """The data set of a source read from its file as it is sent, straight into the
    PDUs that carry it (see :mod:`dicomnet.storage.file_data`)."""
    assert source.path is not None  # a source not held in memory is a file
    return FileDataSet(source.path, source.offset, source.size - source.pad, pad=source.pad)


def _not_sent(source: InstanceSource, error: BaseException) -> StoreResult:
    why: object = error
    if isinstance(error, SourceError) and error.path == source.label:
        why = error.reason  # the label says which file
    return StoreResult.not_sent(
        source.label,
        why,
        sop_class_uid=source.sop_class_uid,
        sop_instance_uid=source.sop_instance_uid,
    )


async def store(
    assoc: Association,
    item: Storable,
    *,
    priority: int = Priority.MEDIUM,
    move_originator: tuple[str, int] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> StoreResult:
    """C-STORE one instance and return the peer's answer.

    ``item`` is an :class:`InstanceSource`, a file path or a pydicom
    Dataset. ``move_originator`` is ``(AE title, Message ID)`` of the C-MOVE
    this store is a sub-operation of. A non-success status is returned, not
    raised. The data set is first walked to its end
    (:meth:`InstanceSource.check`): one cut short is not sent. Raises
    :class:`SourceError`, :class:`TranscodeError` or
    :class:`~dicomnet.errors.NegotiationError` before anything is sent, and
    the association's errors (abort, timeout) when it fails meanwhile.

    A status whose outcome in this AE's profile is ``retry`` is sent again,
    after the profile's ``[retry] delay``, until ``[retry] attempts`` tries
    have been made; the last answer then stands with the outcome ``failure``.
    :attr:`StoreResult.attempts` counts the tries.
    """
    source = as_source(item)
    result = await _store_once(assoc, source, priority, move_originator, chunk_size)
    return await _settle(
        assoc,
        source,
        result,
        priority=priority,
        move_originator=move_originator,
        chunk_size=chunk_size,
    )


async def _settle(
    assoc: Association,
    source: InstanceSource,
    result: StoreResult,
    *,
    priority: int,
    move_originator: tuple[str, int] | None,
    chunk_size: int,
) -> StoreResult:
    """``result`` of a first attempt, or of the retries its profile outcome asks for."""
    rule = assoc.policy.statuses.retry
    attempt = 1
    while True:
        if result.outcome is not Outcome.RETRY:
            # (a result is made with attempts=1: the common case needs no copy)
            return result if attempt == 1 else replace(result, attempts=attempt)
        if attempt >= rule.attempts or not assoc.is_established:
            assoc.log.warning("%s: giving up after %d attempt(s)", result.describe(), attempt)
            return replace(result, attempts=attempt, outcome=Outcome.FAILURE)
        assoc.log.info(
            "%s: trying again in %g s (attempt %d of %d)",
            result.describe(),
            rule.delay,
            attempt + 1,
            rule.attempts,
        )
        await asyncio.sleep(rule.delay)
        attempt += 1
        result = await _store_once(assoc, source, priority, move_originator, chunk_size)


async def _store_once(
    assoc: Association,
    source: InstanceSource,
    priority: int,
    move_originator: tuple[str, int] | None,
    chunk_size: int,
) -> StoreResult:
    source.check()  # a data set cut short is never sent (nor transcoded)
    ctx = choose_context(assoc, source)
    syntax = ctx.transfer_syntax
    transcoded = syntax != source.transfer_syntax_uid
    if transcoded and source.transfer_syntax_uid in assoc.policy.no_transcode_from:
        raise TranscodeError(
            source.transfer_syntax_uid, syntax, "this AE does not convert from that syntax"
        )
    if transcoded:
        assoc.log.debug(
            "%s: transcoding %s -> %s", source.label, source.transfer_syntax_uid, syntax
        )
        data = transcode(source, syntax)
        chunks: _Counted | FileDataSet = _Counted(iter([data]))
    elif not source.in_memory:
        chunks = _file_data(source)
    else:
        chunks = _Counted(source.chunks(chunk_size))
    request = CStoreRQ(
        message_id=1,
        affected_sop_class_uid=source.sop_class_uid,
        affected_sop_instance_uid=source.sop_instance_uid,
        priority=priority,
        move_originator_ae_title=None if move_originator is None else move_originator[0],
        move_originator_message_id=None if move_originator is None else move_originator[1],
    )
    try:
        response = await assoc.send_request(request, chunks, context=ctx)
    except SourceError:
        # The command and part of the data set may be out: the peer cannot recover.
        if assoc.is_established:
            assoc.abort_nowait("instance unreadable while sending")
        raise
    sent = chunks.length if isinstance(chunks, FileDataSet) else chunks.count
    return _answered(assoc, source, response, syntax, sent, transcoded=transcoded)


def _answered(
    assoc: Association,
    source: InstanceSource,
    response: Response,
    syntax: str,
    bytes_sent: int,
    *,
    transcoded: bool = False,
    judged: dict[int, tuple[StatusCategory, Outcome]] | None = None,
) -> StoreResult:
    """The result of a C-STORE the peer answered with ``response``.

    ``judged``: the category and profile outcome of each status seen so far (the same
    for every answer with that status), filled as new ones come.
    """
    message = response.message
    status = message.status
    found = None if judged is None else judged.get(status)
    if found is None:
        found = (category(status), assoc.policy.statuses.treat("C-STORE", status))
        if judged is not None:
            judged[status] = found
    # One per C-STORE: made without the frozen __init__, whose twelve object.__setattr__
    # calls cost twice as much as filling the new instance's __dict__ at once.
    result: StoreResult = _new_object(StoreResult)
    result.__dict__.update(
        label=source.label,
        sop_class_uid=source.sop_class_uid,
        sop_instance_uid=source.sop_instance_uid,
        status=status,
        category=found[0],
        error_comment=message.error_comment,
        transfer_syntax=syntax,
        bytes_sent=bytes_sent,
        transcoded=transcoded,
        error=None,
        outcome=found[1],
        attempts=1,
    )
    return result


async def _store_or_report(
    assoc: Association, item: Storable, priority: int, chunk_size: int
) -> StoreResult:
    try:
        source = as_source(item)
    except SourceError as exc:
        label = os.fspath(item) if isinstance(item, str | os.PathLike) else "dataset"
        return StoreResult.not_sent(label, exc)
    try:
        return await store(assoc, source, priority=priority, chunk_size=chunk_size)
    except (TranscodeError, NegotiationError) as exc:
        return _not_sent(source, exc)
    except SourceError as exc:
        if not assoc.is_established:
            raise
        return _not_sent(source, exc)


def window_for(assoc: Association, window: int | None = None) -> int:
    """How many C-STOREs to keep in flight: ``window`` capped by what the peer granted."""
    granted = int(assoc.negotiated.max_operations_invoked)
    limit = granted if granted > 0 else UNLIMITED_WINDOW_CAP
    if window is not None:
        limit = min(limit, max(1, window))
    return max(1, limit)


async def store_many(
    assoc: Association,
    items: Iterable[Storable],
    *,
    window: int | None = None,
    priority: int = Priority.MEDIUM,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsyncIterator[StoreResult]:
    """C-STORE every item; yield a :class:`StoreResult` per item as each completes.

    Up to ``window`` requests (default and cap: the negotiated asynchronous
    operations window; 1 without one) are outstanding at a time, so results
    may come out of order. Per-instance problems (unreadable file, SOP class
    not accepted, impossible transcoding) become results with ``status``
    ``None``; an association failure is raised. A result whose profile outcome
    is ``abort`` (Flux: any failure) is yielded, then the association is
    aborted and nothing more is sent.
    """
    limit = window_for(assoc, window)
    flight = _InFlight(assoc, priority, chunk_size, flush_every=(limit + 1) // 2)
    finished = flight.finished
    iterator = iter(items)
    exhausted = False
    # The next item, made ready (opened, checked, its context chosen) while the window
    # is full: that work overlaps the peer's, not the wait for its answer.
    ready: _Ready | None = None
    try:
        while True:
            while flight.active + len(finished) < limit:
                if ready is None:
                    if exhausted:
                        break
                    try:
                        item = next(iterator)
                    except StopIteration:
                        exhausted = True
                        break
                    ready = flight.prepare(item)
                flight.begin(ready)
                ready = None
            if not flight.active and not finished:
                return
            if not finished and ready is None and not exhausted:
                try:
                    ready = flight.prepare(next(iterator))
                except StopIteration:
                    exhausted = True
            if not finished:
                await flight.wait()
            while finished:
                result = flight.take()
                if result is None:
                    continue  # retried: it comes back later
                yield result
                if result.outcome is _ABORT:
                    # The profile says a status like this one ends the association (Flux).
                    assoc.log.error("%s: aborting the association", result.describe())
                    assoc.abort_nowait(f"status 0x{result.status or 0:04X}")
                    return
    finally:
        await flight.cancel()


class _InFlight:
    """The C-STOREs :func:`store_many` has in flight, and their results as they come.

    An instance that goes out in its own transfer syntax is sent right here, with no
    task (a small file read whole, a larger one read from the file into the PDUs as
    they are written): its response stream reports back through a callback. Anything
    else (transcoding, retries) runs :func:`store` in a task. Items that fail before
    anything is sent become results at once.
    """

    def __init__(
        self, assoc: Association, priority: int, chunk_size: int, *, flush_every: int
    ) -> None:
        self._assoc = assoc
        self._priority = priority
        self._chunk_size = chunk_size
        # Small requests written together at the end of a loop step would reach the
        # peer as one batch, answered as one batch: each side idle while the other
        # works. Written in halves of the window, the peer works on the first half
        # while the second is prepared.
        self._flush_every = flush_every
        self._protocol = assoc.protocol  # (established: the same for the association's life)
        self._unflushed = 0
        self._loop = asyncio.get_running_loop()
        #: Requests and tasks under way.
        self.active = 0
        #: What is done and not yet taken: results, tasks, or (source, context, stream).
        self.finished: deque[_Done] = deque()
        self._tasks: set[asyncio.Task[StoreResult]] = set()
        self._waiter: asyncio.Future[None] | None = None
        # choose_context per (SOP class, transfer syntax): the accepted contexts are fixed.
        self._contexts: dict[tuple[str, str], NegotiatedContext] = {}
        # Shared by the AE's associations: its next ones send look-alikes of these files.
        self._shapes = assoc.kept.get(CheckedShapes, CheckedShapes)
        # Category and profile outcome per status code (see _answered).
        self._judged: dict[int, tuple[StatusCategory, Outcome]] = {}

    def prepare(self, item: Storable) -> _Ready:
        """``item``'s source, checked, and its context; or why it cannot be stored."""
        try:
            # (a source as it is, without the call: once per instance)
            source = item if type(item) is InstanceSource else as_source(item)
        except SourceError as exc:
            label = os.fspath(item) if isinstance(item, str | os.PathLike) else "dataset"
            return StoreResult.not_sent(label, exc)
        try:
            # A data set cut short is never sent (nor transcoded).
            source.check(self._chunk_size, shapes=self._shapes)
            # (self._context(source), the usual look-up without the call)
            ctx = self._contexts.get((source.sop_class_uid, source.transfer_syntax_uid))
            return source, ctx or self._context(source)
        except (TranscodeError, NegotiationError) as exc:
            return _not_sent(source, exc)
        except SourceError as exc:
            if not self._assoc.is_established:
                raise
            return _not_sent(source, exc)

    def begin(self, ready: _Ready) -> None:
        """Start storing an item :meth:`prepare` gave (or record why it cannot be)."""
        if isinstance(ready, StoreResult):
            self.finished.append(ready)
            return
        assoc = self._assoc
        source, ctx = ready
        self.active += 1
        if ctx.transfer_syntax != source.transfer_syntax_uid:
            self._spawn(_store_or_report(assoc, source, self._priority, self._chunk_size))
            return
        request = plain_store_rq(
            message_id=1,
            sop_class_uid=source.sop_class_uid,
            sop_instance_uid=source.sop_instance_uid,
            priority=self._priority,
            has_dataset=True,
        )
        data: bytes | FileDataSet | None = source.take_whole()
        if data is None:
            data = _file_data(source)
        stream = assoc.send_request(request, data, context=ctx)
        self._unflushed += 1
        if self._unflushed >= self._flush_every:
            self._unflushed = 0
            self._protocol.flush()
        entry = (source, ctx, stream)
        if stream.done:
            self._arrived(entry)
        else:
            # (a partial: called from C, one Python frame fewer than a lambda's)
            stream.on_final = partial(self._arrived, entry)

    def _context(self, source: InstanceSource) -> NegotiatedContext:
        key = (source.sop_class_uid, source.transfer_syntax_uid)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = choose_context(self._assoc, source)
        return ctx

    def _spawn(self, coroutine: Coroutine[object, object, StoreResult]) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._arrived)

    def _arrived(self, entry: _Done, _: object = None) -> None:
        self.active -= 1
        self.finished.append(entry)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until something is finished."""
        self._unflushed = 0  # the end of this loop step writes them
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self) -> StoreResult | None:
        """The oldest finished item's result; ``None`` when its outcome asked for a retry
        (a task then stores it again). Raises what ended the association."""
        entry = self.finished.popleft()
        if type(entry) is not tuple:  # (a request sent here, the usual case, is a tuple)
            if isinstance(entry, StoreResult):
                return entry
            assert isinstance(entry, asyncio.Task)
            self._tasks.discard(entry)
            return entry.result()
        source, ctx, stream = entry
        assoc = self._assoc
        try:
            response = stream.result()
        except SourceError:
            # The command and part of the data set may be out: the peer cannot recover.
            if assoc.is_established:
                assoc.abort_nowait("instance unreadable while sending")
            raise
        result = _answered(
            assoc, source, response, ctx.transfer_syntax, source.size, judged=self._judged
        )
        if result.outcome is not _RETRY:
            return result
        self.active += 1
        retry = _settle(
            assoc,
            source,
            result,
            priority=self._priority,
            move_originator=None,
            chunk_size=self._chunk_size,
        )
        self._spawn(retry)
        return None

    async def cancel(self) -> None:
        """Stop the tasks still running (the requests sent directly stay outstanding)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


_Ready: TypeAlias = "tuple[InstanceSource, NegotiatedContext] | StoreResult"
_Sent: TypeAlias = "tuple[InstanceSource, NegotiatedContext, ResponseStream]"
_Done: TypeAlias = "StoreResult | asyncio.Task[StoreResult] | _Sent"


async def store_all(
    assoc: Association,
    items: Iterable[Storable],
    *,
    window: int | None = None,
    priority: int = Priority.MEDIUM,
) -> list[StoreResult]:
    """:func:`store_many` collected into a list (completion order)."""
    return [r async for r in store_many(assoc, items, window=window, priority=priority)]


def collect_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Every file named in ``paths``, directories walked recursively in name order."""
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path
