"""A data set's first fragments wait for their handler instead of being copied.

A request's handler runs as a task that has not started when its command and
the first fragments of its data set arrive in the same read, so those
fragments would be copied into its :class:`~dicomnet.services.base.DataStream`.
When they are many, the association holds the rest of the read for one step
of the event loop instead (:meth:`~dicomnet.transport.ULProtocol.hold_input`):
a handler that claims the stream in its first step (the Storage SCP writing
into a file) then gets them as views of the receive buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dicomnet.services.base import DataStream

if TYPE_CHECKING:
    from dicomnet.transport import ULProtocol

__all__ = ["HOLD_BYTES", "hold_for_handler"]

#: Fragments held back at least this large: below it a copy costs less than a loop step.
HOLD_BYTES = 64 * 1024


def hold_for_handler(
    protocol: ULProtocol | None,
    target: object,
    parts: list[memoryview],
    resume: Callable[[], None],
) -> bool:
    """Hold the input when ``parts`` begin ``target``'s data set and no one claimed it yet.

    True when the input is held: ``resume`` goes on with ``parts`` and the rest
    of the read at the next loop step (or sooner, when the buffer is needed).
    """
    return (
        type(target) is DataStream
        and not target.received
        and not target.claimed
        and protocol is not None
        and sum(map(len, parts)) >= HOLD_BYTES
        and protocol.hold_input(resume)
    )
