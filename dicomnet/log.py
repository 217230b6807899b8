"""Logging that names the association in every record.

Records from an association read ``assoc#3 LOCAL<-PEER: message`` (acceptor)
or ``assoc#3 LOCAL->PEER: message`` (requestor); the arrow points from the
requestor to the acceptor. The same text is available to formatters as the
``association`` attribute of the record.

Every value a peer chose (AE titles, UIDs, version names, query values, error
comments, text of errors that quote them) goes through :func:`logsafe` before it
reaches a record: control characters are escaped, so a newline cannot forge a
second record, and the length is capped, so a megabyte UID costs one short line.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

__all__ = [
    "ERROR_LIMIT",
    "LOGSAFE_LIMIT",
    "AssociationLogger",
    "association_label",
    "get_logger",
    "logsafe",
]

#: Characters of a peer-supplied value kept in a log record by default.
LOGSAFE_LIMIT = 128
#: Characters kept of an error's text, which may quote a peer's values.
ERROR_LIMIT = 400


def get_logger(name: str) -> logging.Logger:
    """The stdlib logger for a dicomnet module."""
    return logging.getLogger(name)


def logsafe(value: object, limit: int = LOGSAFE_LIMIT) -> str:
    """``value`` as text fit for one log line, whatever a peer put in it.

    Characters that are not printable (newlines, other control characters, line
    and paragraph separators) are written as Python escapes (``\\n``,
    ``\\x1b``, ``\\u2028``). Past ``limit`` characters of that text the rest
    is replaced by ``...`` and the original length: ``1.2.3... (1048576 chars)``.
    Bytes are shown as ASCII with escapes. Only the first ``limit`` characters
    are examined, so a huge value costs no more than a short one.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value[: limit + 1])
        text = raw.decode("ascii", "backslashreplace")
        total = len(value)
    else:
        text = value if isinstance(value, str) else str(value)
        total = len(text)
    head = text[:limit]
    if not head.isprintable():
        head = "".join(c if c.isprintable() else _escape(c) for c in head)
    if len(head) > limit or total > limit:
        return f"{head[:limit]}... ({total} chars)"
    return head


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def association_label(number: int, local: str, peer: str, *, requestor: bool) -> str:
    """``assoc#N LOCAL->PEER`` (we requested) or ``assoc#N LOCAL<-PEER`` (we accepted).

    The titles pass through :func:`logsafe` (capped at 32 characters): they can come
    from the peer.
    """
    arrow = "->" if requestor else "<-"
    return f"assoc#{number} {logsafe(local or '?', 32)}{arrow}{logsafe(peer or '?', 32)}"


class AssociationLogger(logging.LoggerAdapter[logging.Logger]):
    """A :class:`logging.LoggerAdapter` that prefixes the association's label.

    The label can change once AE titles are known (an acceptor learns the
    peer's title from the A-ASSOCIATE-RQ): call :meth:`relabel`, or
    :meth:`rename`, which formats the label only when a record first needs it
    (an association whose records are all below the level never formats one).
    """

    def __init__(self, logger: logging.Logger, label: str) -> None:
        super().__init__(logger, {"association": label})
        self._label: str | None = label
        self._parts: tuple[int, str, str, bool] = (0, "", "", False)

    @property
    def label(self) -> str:
        """The text that names the association in its records."""
        if self._label is None:
            number, local, peer, requestor = self._parts
            self.relabel(association_label(number, local, peer, requestor=requestor))
            assert self._label is not None
        return self._label

    def relabel(self, label: str) -> None:
        """Use ``label`` in every later record."""
        self._label = label
        self.extra = {"association": label}

    def rename(self, number: int, local: str, peer: str, *, requestor: bool) -> None:
        """:meth:`relabel` with :func:`association_label` of these, formatted when first used."""
        self._label = None
        self._parts = (number, local, peer, requestor)

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        label = self.label
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("association", label)
        kwargs["extra"] = extra
        return f"{label}: {msg}", kwargs
