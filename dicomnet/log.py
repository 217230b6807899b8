"""Logging that names the association in every record.

Records from an association read ``assoc#3 LOCAL<-PEER: message`` (acceptor)
or ``assoc#3 LOCAL->PEER: message`` (requestor); the arrow points from the
requestor to the acceptor. The same text is available to formatters as the
``association`` attribute of the record.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

__all__ = ["AssociationLogger", "association_label", "get_logger"]


def get_logger(name: str) -> logging.Logger:
    """The stdlib logger for a dicomnet module."""
    return logging.getLogger(name)


def association_label(number: int, local: str, peer: str, *, requestor: bool) -> str:
    """``assoc#N LOCAL->PEER`` (we requested) or ``assoc#N LOCAL<-PEER`` (we accepted)."""
    arrow = "->" if requestor else "<-"
    return f"assoc#{number} {local or '?'}{arrow}{peer or '?'}"


class AssociationLogger(logging.LoggerAdapter[logging.Logger]):
    """A :class:`logging.LoggerAdapter` that prefixes the association's label.

    The label can change once AE titles are known (an acceptor learns the
    peer's title from the A-ASSOCIATE-RQ): call :meth:`relabel`.
    """

    def __init__(self, logger: logging.Logger, label: str) -> None:
        super().__init__(logger, {"association": label})
        self.label = label

    def relabel(self, label: str) -> None:
        """Use ``label`` in every later record."""
        self.label = label
        self.extra = {"association": label}

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("association", self.label)
        kwargs["extra"] = extra
        return f"{self.label}: {msg}", kwargs
