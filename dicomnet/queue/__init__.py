"""The send queue: durable send jobs, routing rules, senders (see ``conformance/README.md``).

* :mod:`.model`: jobs, their states, the :class:`QueueStore` interface;
* :mod:`.sqlite`: the jobs in the archive's SQLite database;
* :mod:`.config`: the ``[queue]`` table of a system file (destinations, routes, mode);
* :mod:`.pacing`: byte-rate token bucket, minimum interval, retry backoff;
* :mod:`.sender`: one destination's associations and attempts;
* :mod:`.service`: the running queue (routing on ingest, senders, synchronous mode).
"""

from .config import DestinationSpec, ForwardMode, QueueSpec, RouteRule
from .model import DestinationCounts, Job, JobState, Outcome, QueueStore
from .service import QueuedStore, SendQueue
from .sqlite import SqliteQueueStore

__all__ = [
    "DestinationCounts",
    "DestinationSpec",
    "ForwardMode",
    "Job",
    "JobState",
    "Outcome",
    "QueueSpec",
    "QueueStore",
    "QueuedStore",
    "RouteRule",
    "SendQueue",
    "SqliteQueueStore",
]
