"""Start every AE of a system in one event loop, on its ports, over shared resources.

:func:`start_system` binds every port first (a system that cannot listen leaves
nothing behind), then opens the shared resources (store folder, index,
worklist folder), then gives each AE the handlers its ``services`` name. AEs on
a port of their own listen as :meth:`dicomnet.ae.AE.serve` does; AEs that share a
port are routed by called AE title (:mod:`.router`).
"""

from __future__ import annotations

import logging
import ssl as ssl_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dicomnet.ae import AE, Server
from dicomnet.archive import IndexBackend
from dicomnet.archive.commitment_sqlite import index_verdict
from dicomnet.errors import ConfigurationError
from dicomnet.policy import Policy
from dicomnet.print.model import PrinterSettings
from dicomnet.print.render import FilmRenderer
from dicomnet.query.charsets import CharsetPolicy
from dicomnet.query.index import InstanceIndex
from dicomnet.query.source import MemorySource
from dicomnet.queue.service import SendQueue
from dicomnet.services.base import Service
from dicomnet.services.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentSCP,
    ReportMode,
)
from dicomnet.services.commitment_durable import DurableCommitmentSCP
from dicomnet.services.dataset_check import DatasetCheck
from dicomnet.services.mwl import WorklistService
from dicomnet.services.mwl import support_from_profile as mwl_support
from dicomnet.services.print_scp import PrintSCP
from dicomnet.services.qr import QueryRetrieveService
from dicomnet.services.storage_abort import AbortWhenNotStored
from dicomnet.services.storage_scp import StorageService
from dicomnet.services.suboperations import RetrieveRules
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceStore

from .forwarding import start_queue
from .quota import RetrieveTouches
from .resources import Resources, open_resources
from .router import RoutedPort
from .spec import AESpec, QueryKeys, ServiceKind, SystemSpec
from .tls import ae_tls_contexts

__all__ = ["RunningSystem", "commitment_report_syntaxes", "planned_ports", "start_system"]

_log = logging.getLogger("dicomnet.systems")

#: A group of AEs listening together: the port asked for and a key that keeps
#: AEs apart that each asked for any free port (0).
_Group = tuple[int, str]


@dataclass
class RunningSystem:
    """A started system: its AEs, servers, bound ports and shared resources."""

    spec: SystemSpec
    aes: dict[str, AE]
    servers: dict[str, Server]
    ports: dict[str, int]
    resources: Resources
    routed: list[RoutedPort] = field(default_factory=list)
    commitments: list[CommitmentSCP] = field(default_factory=list)
    #: The send queue (a system file with ``[queue]``).
    queue: SendQueue | None = None

    def ingest_store(self) -> InstanceStore | None:
        """The store STOW-RS writes to: with a queue, its commits wake the senders."""
        store = self.resources.store
        if store is None or self.queue is None:
            return store
        return self.queue.wrap(store)

    def memory_store(self, name: str) -> MemoryStore:
        """The in-memory store of the ``memory-storage`` AE ``name``."""
        return self.resources.memory[name]

    async def close(self) -> None:
        """Stop listening, abort live associations, cancel reports, close the index."""
        for port in self.routed:
            port.close()
        for server in self.servers.values():
            server.close()
        for port in self.routed:
            await port.wait_closed()
        for server in self.servers.values():
            await server.wait_closed()
        for commitment in self.commitments:
            commitment.close()
        for commitment in self.commitments:
            await commitment.drain()
        if self.queue is not None:
            await self.queue.close()
            self.queue = None
        await self.resources.close()


def planned_ports(
    spec: SystemSpec,
    *,
    port_offset: int = 0,
    ae_ports: Mapping[str, int] | None = None,
    any_port: bool = False,
) -> dict[str, _Group]:
    """Per AE name, the port it will ask for and its listening group.

    ``ae_ports`` overrides an AE's port (AEs given the same non-zero port share
    it; 0: a free port of its own). ``any_port`` turns every port of the file
    into a free one, keeping the AEs that share a port in the file together.
    Other ports are the file's plus ``port_offset``.
    """
    ae_ports = dict(ae_ports or {})
    for name in ae_ports:
        spec.ae(name)  # raises for an unknown name
    plan: dict[str, _Group] = {}
    for ae in spec.aes:
        if ae.name in ae_ports:
            port = ae_ports[ae.name]
            plan[ae.name] = (port, ae.name if port == 0 else "")
        elif any_port or ae.port == 0:
            plan[ae.name] = (0, f"file:{ae.port}" if ae.port else ae.name)
        else:
            port = ae.port + port_offset
            if not 0 < port < 65536:
                raise ValueError(
                    f"{ae.name}: port {ae.port} + offset {port_offset} is out of range"
                )
            plan[ae.name] = (port, "")
    return plan


async def start_system(
    spec: SystemSpec,
    *,
    host: str | None = None,
    root: Path = Path(),
    port_offset: int = 0,
    ae_ports: Mapping[str, int] | None = None,
    any_port: bool = False,
    fsync: bool = True,
    destinations: Iterable[tuple[str, tuple[str, int]]] = (),
    ssl: ssl_module.SSLContext | None = None,
) -> RunningSystem:
    """Bind every port of ``spec``, open its resources, add the handlers, serve.

    A port is bound first (a busy one fails before anything is made) but accepts
    only once every handler is in: a peer that connects during start-up is
    refused and retries, rather than being answered by an AE without its services.

    Raises OSError when a port cannot be bound, ConfigurationError when a folder or
    the index cannot be made (what was started is closed again), ValueError for a bad
    port plan.
    """
    plan = planned_ports(spec, port_offset=port_offset, ae_ports=ae_ports, any_port=any_port)
    tls = ae_tls_contexts(spec.aes, ssl)
    aes = {ae.name: _make_ae(ae) for ae in spec.aes}
    servers: dict[str, Server] = {}
    routed: list[RoutedPort] = []
    ports: dict[str, int] = {}
    running = RunningSystem(spec, aes, servers, ports, Resources(), routed)
    groups: dict[_Group, list[AESpec]] = {}
    for ae in spec.aes:
        groups.setdefault(plan[ae.name], []).append(ae)
    try:
        for (port, _), members in groups.items():
            if len(members) == 1:
                entity = aes[members[0].name]
                server = await entity.serve(
                    host, port, ssl=tls[members[0].name], start_serving=False
                )
                servers[members[0].name] = server
                ports[members[0].name] = server.port
                continue
            group_servers = {
                m.name: Server(aes[m.name], aes[m.name].registry.copy()) for m in members
            }
            fallback = next((group_servers[m.name] for m in members if m.unknown_called_ae), None)
            router = RoutedPort(list(group_servers.values()), fallback=fallback)
            routed.append(router)
            await router.listen(
                host, port, ssl=_shared_tls(tls, members, port), start_serving=False
            )
            servers.update(group_servers)
            ports.update(dict.fromkeys(group_servers, router.port))
        try:
            running.resources = await open_resources(spec, root, fsync=fsync)
        except OSError as exc:
            raise ConfigurationError(f"{spec.path}: resources: {exc}") from exc
    except BaseException:
        await running.close()
        raise
    moves = dict(spec.destinations)
    moves.update(dict(destinations))
    try:
        running.queue = start_queue(spec, running.resources, moves)
    except BaseException:
        await running.close()
        raise
    for ae in spec.aes:
        for handler in _handlers(ae, aes[ae.name], running, moves):
            servers[ae.name].registry.add(handler)
        _log.info("%s (%s) listening on port %d", ae.title, ae.name, ports[ae.name])
    for server in servers.values():
        await server.start_serving()  # a routed port's servers have no listener of their own
    for router in routed:
        await router.start_serving()
    for commitment in running.commitments:
        if isinstance(commitment, DurableCommitmentSCP):
            await commitment.resume()  # the reports a previous run left undelivered
    if running.queue is not None:
        await running.queue.start()  # jobs a previous run left are sent too
    return running


def _make_ae(ae: AESpec) -> AE:
    # Relational queries are granted as its contexts say; the file's overrides on top.
    policy = ae.overrides.apply(ae.profile.policy())
    return AE(policy.ae_title, policy)


def _handlers(
    ae: AESpec, entity: AE, running: RunningSystem, destinations: Mapping[str, tuple[str, int]]
) -> list[Service]:
    resources = running.resources
    handlers: list[Service] = []
    for kind in ae.services:
        if kind is ServiceKind.STORAGE:
            assert resources.store is not None
            DatasetCheck.prepare_iod_check(entity.policy.statuses)
            storage = _storage(resources, running.queue)
            handlers.append(AbortWhenNotStored(storage) if ae.abort_on_store_failure else storage)
        elif kind is ServiceKind.MEMORY_STORAGE:
            store = _memory_store(ae, resources)
            storage = StorageService(store)
            handlers.append(AbortWhenNotStored(storage) if ae.abort_on_store_failure else storage)
        elif kind is ServiceKind.QR:
            support = None
            if ae.query_keys is not QueryKeys.ALL:
                strict = ae.query_keys is QueryKeys.PROFILE_ONLY
                support = QueryRetrieveService.support_from_profile(
                    ae.profile.query_keys, with_required=strict, omit_unsupported=strict
                )
            source: IndexBackend | RetrieveTouches | MemorySource
            if ServiceKind.MEMORY_STORAGE in ae.services:
                # What the AE holds in memory, answered while it runs.
                held = _memory_store(ae, resources).index
                assert isinstance(held, InstanceIndex)
                source = MemorySource(held)
            elif resources.quota is not None:
                assert resources.index is not None
                source = RetrieveTouches(resources.index, resources.quota)
            else:
                assert resources.index is not None
                source = resources.index
            handlers.append(
                QueryRetrieveService(
                    source,
                    destinations=destinations,
                    support=support,
                    rules=RetrieveRules.from_profile(ae.profile),
                    charsets=CharsetPolicy(ae.profile.character_sets),
                    constraints=ae.profile.query_constraints,
                )
            )
        elif kind is ServiceKind.MWL:
            assert resources.worklist is not None
            keys = None if ae.query_keys is QueryKeys.ALL else mwl_support(ae.profile.query_keys)
            charsets = CharsetPolicy(ae.profile.character_sets)
            handlers.append(WorklistService(resources.worklist, support=keys, charsets=charsets))
        elif kind is ServiceKind.COMMITMENT:
            assert resources.folder is not None
            commitment = _commitment(ae, entity, resources, destinations)
            running.commitments.append(commitment)
            handlers.append(commitment)
        elif kind is ServiceKind.PRINT:
            assert resources.films is not None
            settings = PrinterSettings(name=ae.title, dpi=float(running.spec.film_dpi))
            handlers.append(PrintSCP(FilmRenderer(resources.films, settings), settings))
    return handlers


def _storage(resources: Resources, queue: SendQueue | None) -> StorageService:
    assert resources.store is not None
    if queue is None:
        return StorageService(resources.store)
    return StorageService(queue.wrap(resources.store), decide=queue.decide_hook())


def _memory_store(ae: AESpec, resources: Resources) -> MemoryStore:
    """The AE's in-memory store (made on first use), bounded and indexed."""
    store = resources.memory.get(ae.name)
    if store is None:
        store = MemoryStore(max_bytes=ae.memory_limit, index=InstanceIndex())
        resources.memory[ae.name] = store
    return store


def _commitment(
    ae: AESpec, entity: AE, resources: Resources, destinations: Mapping[str, tuple[str, int]]
) -> CommitmentSCP:
    """From the index, reports kept until delivered, when there is one (else the folder)."""
    syntaxes = commitment_report_syntaxes(entity.policy)
    index, journal = resources.index, resources.journal
    if index is not None and journal is not None and ae.commitment_report is not ReportMode.SAME:
        return DurableCommitmentSCP(
            index_verdict(index),
            journal,
            mode=ae.commitment_report,
            destinations=destinations,
            requestor=entity,
            transfer_syntaxes=syntaxes,
        )
    return CommitmentSCP(
        store=resources.folder,
        mode=ae.commitment_report,
        destinations=destinations,
        requestor=entity,
        transfer_syntaxes=syntaxes,
    )


def commitment_report_syntaxes(policy: Policy) -> tuple[str, ...]:
    """The transfer syntaxes a Storage Commitment SCP proposes for its report association.

    Those of the policy's proposed context for the class, else those it accepts.
    """
    for proposed in policy.proposed_contexts:
        if proposed.abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL:
            return proposed.transfer_syntaxes
    accepted = policy.accepted(STORAGE_COMMITMENT_PUSH_MODEL)
    if accepted is not None and accepted.transfer_syntaxes:
        return accepted.transfer_syntaxes
    return ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def _shared_tls(
    tls: Mapping[str, ssl_module.SSLContext | None], members: list[AESpec], port: int
) -> ssl_module.SSLContext | None:
    """The one TLS context of AEs sharing ``port``; they must agree."""
    contexts = {id(tls[m.name]): tls[m.name] for m in members}
    if len(contexts) > 1:
        names = ", ".join(m.name for m in members)
        raise ConfigurationError(f"AEs sharing port {port} ({names}) differ in TLS")
    return next(iter(contexts.values()))
