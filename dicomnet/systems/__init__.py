"""Systems: the AEs of one seed system in one process (``conformance/systems/*.toml``).

:func:`load_system` reads a system file; :func:`start_system` starts its AEs in
the running event loop, on their own ports or several on one port routed by
called AE title (:class:`RoutedPort`).
"""

from .router import RoutedPort
from .runner import RunningSystem, planned_ports, start_system
from .spec import AESpec, QueryKeys, ServiceKind, SystemSpec, list_systems, load_system

__all__ = [
    "AESpec",
    "QueryKeys",
    "RoutedPort",
    "RunningSystem",
    "ServiceKind",
    "SystemSpec",
    "list_systems",
    "load_system",
    "planned_ports",
    "start_system",
]
