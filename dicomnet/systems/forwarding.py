"""The send queue of a system (``[queue]``): made over the resources, before the AEs serve.

:func:`start_queue` resolves each destination's address (its own, else the
system's ``[destinations]`` or ``--destination`` entry of its AE title), loads
the sending profile, and routes every instance the index takes
(:attr:`Resources.route`). The caller starts the queue once the AEs serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dicomnet.conformance import load_profile
from dicomnet.errors import ConfigurationError
from dicomnet.queue.service import SendQueue

from .resources import Resources
from .spec import SystemSpec

__all__ = ["start_queue"]


def start_queue(
    spec: SystemSpec, resources: Resources, addresses: Mapping[str, tuple[str, int]]
) -> SendQueue | None:
    """The system's send queue (not started), or ``None`` without ``[queue]``."""
    queue = spec.queue
    if queue is None:
        return None
    if resources.queue_store is None:
        raise ConfigurationError(f"{spec.path}: [queue] needs the store's index")
    destinations = []
    for dest in queue.destinations:
        address = dest.address or addresses.get(dest.ae_title)
        if address is None:
            raise ConfigurationError(
                f"{spec.path}: queue destination {dest.name!r}: no address for"
                f" {dest.ae_title} (give 'address', a [destinations] entry or --destination)"
            )
        destinations.append(replace(dest, address=address))
    profile = load_profile(queue.profile)
    running = SendQueue(
        replace(queue, destinations=tuple(destinations)), resources.queue_store, profile
    )
    resources.route = running.route
    return running
