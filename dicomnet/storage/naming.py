"""Unnamed files named a batch at a time, by whoever commits their rows (the archive's index).

A :class:`~dicomnet.storage.folder.FileSink` of an unnamed file (:mod:`.unnamed`)
can hand its complete file over instead of linking it itself
(:meth:`~dicomnet.storage.folder.FileSink.unlinked`): its descriptor goes into
a :class:`PendingLink` and, with fsync, its fsync is started in the store's
commit executor (nothing comes back to the event loop from there). The index
then names the files of a whole batch in one step before the batch's rows are
committed (:func:`link_all`): it waits for their fsyncs, then their final
names are appended to the store's
intent log in one write (and, with fsync, made durable by one
``fdatasync``), each file is linked under its name, and the folder is synced
once. Once the batch's rows are durable, :func:`settle_all` settles the
lines. So the log still names every file that may be in the folder without
its row, durably before the link, at one write and one sync per batch
instead of one write per file and a sync for a few.

From the hand-over on, the :class:`PendingLink` owns the descriptor: the
sink never closes it (a cancelled store leaves it to the batch, which links
it and commits its row, or closes it); :meth:`PendingLink.abandon` closes
it when no batch will take it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import Future
from operator import attrgetter
from typing import TYPE_CHECKING, Final

from .intents import Intent
from .sinks import Outcome

if TYPE_CHECKING:
    from .folder import FolderStore

__all__ = ["PendingLink", "link_all", "settle_all"]

_log = logging.getLogger("dicomnet.storage")
#: A link's store.
_STORE: Final = attrgetter("store")
#: A link's line in the intent log.
_INTENT: Final = attrgetter("intent")
#: A link's descriptor.
_FD: Final = attrgetter("fd")


class PendingLink:
    """A complete unnamed file of ``store`` and the name it is to get (see the module).

    One is made per stored instance: what most links never change (no fsync running,
    no line yet, no outcome or error) is a class value until it is set. (The usual
    hand-over, :meth:`~dicomnet.storage.file_sink.FileSink.unlinked`, makes one by
    storing ``store``, ``fd`` and ``final`` itself: ``__init__`` sets nothing else.)
    """

    #: The file's fsync running in the store's commit executor (``None``: no fsync,
    #: or done before the hand-over).
    synced: Future[None] | None = None
    #: Its line in the store's intent log, once written (settled once, by whoever
    #: ends its story: :func:`settle_all`, or the sink after a failure).
    intent: Intent | None = None
    #: ``STORED`` once linked, ``DUPLICATE_KEPT`` if the name was taken (kept first);
    #: ``None`` before, or after an error.
    outcome: Outcome | None = None
    #: Why it was not linked (a refused duplicate, a failed write or link).
    error: BaseException | None = None

    def __init__(
        self, store: FolderStore, fd: int, final: str, synced: Future[None] | None = None
    ) -> None:
        self.store = store
        #: The unnamed file's descriptor (``-1`` once it is linked or closed).
        self.fd = fd
        #: Its final path.
        self.final = final
        if synced is not None:
            self.synced = synced

    @property
    def linked(self) -> bool:
        """Whether the file has its name."""
        return self.outcome is Outcome.STORED

    def settle(self) -> None:
        """Settle the line of the name (once: its row is in, or the file is gone)."""
        intent, self.intent = self.intent, None
        if intent is not None:
            self.store.intents.settle(intent)

    def wait_synced(self) -> BaseException | None:
        """Wait for the file's fsync (blocking); what it raised, if it failed."""
        synced, self.synced = self.synced, None
        return None if synced is None else synced.exception()

    def close(self) -> None:
        """Close the descriptor if it is still open (an unlinked file is gone with it).

        Not under a running fsync: then once it is done, by the thread that ran it.
        """
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        synced, self.synced = self.synced, None
        if synced is not None and not synced.done():
            synced.add_done_callback(lambda _: _close(fd))
        else:
            _close(fd)

    def abandon(self) -> None:
        """Close the file if no batch named it, and settle its line (the file is gone)."""
        self.close()
        self.settle()


def link_all(links: Sequence[PendingLink]) -> list[PendingLink]:
    """Name the files of ``links`` not yet named; those that did not get their name.

    Per store: the files' fsyncs waited for, the names in the intent log (one
    write, synced with fsync), the links, the folder synced (with fsync). A
    file whose fsync fails, or whose name is taken, or that fails otherwise is
    closed (so gone) and its line settled; see
    :attr:`PendingLink.outcome` and :attr:`PendingLink.error`. Never raises
    for one file's failure. Blocking (with fsync: call it in a thread).
    """
    # (Every one still open, as a rule: no Python per link to find those.)
    if min(map(_FD, links), default=-1) >= 0:
        todo = list(links)
    else:
        todo = [link for link in links if link.fd >= 0]
    if not todo:
        return []
    store = todo[0].store
    if len(set(map(_STORE, todo))) == 1:  # (one store, the usual case: no Python per link)
        return store.link_pending(todo)
    groups: dict[int, list[PendingLink]] = {}
    for link in todo:
        groups.setdefault(id(link.store), []).append(link)
    return [failed for group in groups.values() for failed in group[0].store.link_pending(group)]


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError as exc:
        _log.debug("closing an unnamed file failed: %s", exc)


def settle_all(links: Sequence[PendingLink]) -> None:
    """Settle the lines of ``links`` (their rows are durable): one lock per store."""
    if not links:
        return
    store = links[0].store
    if len(set(map(_STORE, links))) == 1:
        intents = list(map(_INTENT, links))
        for link in links:
            link.intent = None
        store.intents.settle_all(intents)
        return
    for link in links:
        link.settle()
