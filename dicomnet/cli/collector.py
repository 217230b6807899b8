"""The cyclic garbage collector of a serving process, set once it is ready.

CPython's collector looks at young objects each time 700 more have been
allocated than freed, and at every object now and then. A server that holds
many associations at once keeps thousands of objects alive per association
for a second or more, so the default spends a fifth to a quarter of a
worker's CPU time in the collector (measured: 1.3 s of 5.8 s for 1000
associations of 20 small instances), most of it walking the same long-lived
objects again and again.

:func:`settle_collector` is called by ``dicomnet serve`` once its handlers are
ready, before the first association: it collects what start-up left,
freezes every object alive then (modules, the conformance registry, the
index: :func:`gc.freeze`, never looked at again) and lets the young
generation grow to :data:`YOUNG_OBJECTS` objects between collections. A
process-wide setting, made by the command only: the library never changes it.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["YOUNG_OBJECTS", "settle_collector"]

#: Net allocations between two collections of the young generation (CPython: 700).
YOUNG_OBJECTS: Final = 10_000
#: Collections of a generation between two of the next older one (CPython's own).
OLDER_EVERY: Final = 10


def settle_collector() -> None:
    """Freeze what start-up left alive and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, OLDER_EVERY, OLDER_EVERY)
