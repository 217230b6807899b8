"""The Application Entity: a Policy plus handlers, serving and requesting associations.

``AE.serve()`` listens as an association acceptor (SCP side) and
``AE.associate()`` opens one as requestor (SCU side). Both return objects
usable with ``async with``.

Association limit (``Policy.max_associations``), past it
(``Policy.on_association_limit``):

* ``REJECT``: the A-ASSOCIATE-RQ is read and answered with A-ASSOCIATE-RJ
  (2 transient, 3 service-provider presentation, 2 local-limit-exceeded),
  PS3.8 Table 9-21.
* ``QUEUE``: the TCP connection is accepted but *held*: not read, and its
  Upper Layer not started, so ARTIM (PS3.8 §9.1.5, started by Evt5 when the
  transport connection is accepted) does not run while it waits. When a slot
  frees, the oldest held connection is started: ARTIM starts then, and the
  A-ASSOCIATE-RQ the peer sent meanwhile is read from the socket buffer. A
  connection is held at most ``timers.associate`` seconds (about when the peer's
  own association timer gives up): then it is answered as ``REJECT`` would,
  so no held connection keeps its descriptor past a timer.

A server never dies of one connection: every per-connection error is caught,
logged and costs only that connection (see :class:`dicomnet.transport.ULProtocol`).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import socket
import ssl as ssl_module
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from dicomnet_pdu.connection import Role, ULConnection
from dicomnet_pdu.pdus import AAssociateRQ

from . import negotiation
from .acceptor import AcceptGate, Listener
from .association import Association
from .association.common_extended import CommonExtendedCheck
from .association.hooks import NegotiationHooks
from .association.kept import KeptByAE
from .association.memo import NegotiationMemo
from .heap import release_free_memory
from .negotiation import ExtendedCheck, IdentityCheck
from .policy import (
    LimitMode,
    Policy,
    ProposedContext,
)
from .services.base import Binding, HandlerRegistry, Service
from .services.verification import VerificationService
from .transport import LISTEN_BACKLOG, ULProtocol, connect, listen

__all__ = ["AE", "AssociateCall", "Server"]

_log = logging.getLogger("dicomnet.ae")

#: The profile of an AE made without a Policy: Verification as SCU and SCP.
DEFAULT_PROFILE = "dicomnet-verification"

#: Connections that must have closed before a server left without any returns freed memory.
TRIM_AFTER_CONNECTIONS = 64
#: ... once it has stayed without a connection this long (a new one cancels it), so clients
#: that connect one after the other do not pay for a collection and trim every 64 of them.
TRIM_WHEN_IDLE_SECONDS = 0.2


def default_policy(title: str) -> Policy:
    """A Verification-only Policy (SCU and SCP) for ``title``: the profile
    ``conformance/profiles/dicomnet-verification.toml``."""
    return replace(_default_policy(), ae_title=title)


@functools.cache
def _default_policy() -> Policy:
    # dicomnet.conformance imports nothing of the AE: imported here, when first needed.
    from .conformance import load_profile  # noqa: PLC0415

    return load_profile(DEFAULT_PROFILE).policy()


class AE:
    """An Application Entity: ``title``, its :class:`~dicomnet.policy.Policy`, its handlers.

    The Verification SCP is registered by default; :meth:`add_handler` adds
    (or overrides) services. ``identity_check``, ``extended_check`` and
    ``common_extended_check`` are the acceptor's hooks for user identity, SOP
    class extended and SOP class common extended negotiation (see
    :data:`dicomnet.negotiation.IdentityCheck`,
    :data:`dicomnet.negotiation.ExtendedCheck` and
    :data:`dicomnet.association.common_extended.CommonExtendedCheck`); without
    them a user identity is accepted without a server response, extended
    negotiation is not answered and common extended items are only recorded.
    A hook that raises refuses the association (1, 1, 1).
    """

    def __init__(
        self,
        title: str,
        policy: Policy | None = None,
        *,
        handlers: Iterable[Service | Binding] = (),
        identity_check: IdentityCheck | None = None,
        extended_check: ExtendedCheck | None = None,
        common_extended_check: CommonExtendedCheck | None = None,
    ) -> None:
        if policy is None:
            policy = default_policy(title)
        elif policy.ae_title != title:
            policy = replace(policy, ae_title=title)
        self.title = title
        self.policy = policy
        self.registry = HandlerRegistry([VerificationService(), *handlers])
        #: Decides on a requestor's user identity (PS3.7 D.3.3.7) when we accept:
        #: False rejects the association (1, 1, 1), True/None accepts, bytes
        #: accepts and is the server response (sent when the requestor asked).
        self.identity_check = identity_check
        #: Decides on SOP class extended negotiation (PS3.7 D.3.3.5) when we
        #: accept: called with (SOP class UID, the requestor's application
        #: information); the bytes to answer with, or None to leave it unanswered.
        self.extended_check = extended_check
        #: Decides on SOP class common extended negotiation (PS3.7 D.3.3.6) when
        #: we accept: False refuses the SOP class's contexts (result 1).
        self.common_extended_check = common_extended_check
        self._numbers = itertools.count(1)
        # Negotiation outcomes of the associations this AE requests, reused for equal PDUs.
        self._memo = NegotiationMemo()
        # What the services keep for this AE's next requested associations.
        self._kept = KeptByAE()

    def add_handler(self, service: Service | Binding) -> None:
        """Register a service (every binding it has) or a single binding."""
        self.registry.add(service)

    def next_number(self) -> int:
        """The number of the next association (used in log records)."""
        return next(self._numbers)

    async def serve(
        self,
        host: str | None = None,
        port: int = 11112,
        *,
        ssl: ssl_module.SSLContext | None = None,
        handlers: Iterable[Service | Binding] = (),
        backlog: int = LISTEN_BACKLOG,
        reuse_port: bool = False,
        start_serving: bool = True,
        shared: Sequence[socket.socket] = (),
        gate: AcceptGate | None = None,
    ) -> Server:
        """Listen for associations (``host`` None/"" = every IPv4 and IPv6 interface).

        ``reuse_port``: share the port with other processes (``SO_REUSEPORT``).
        ``shared``: accept from these listening sockets, which other processes
        accept from too (``serve --workers``), each connection when ``gate``
        says so (see :mod:`dicomnet.acceptor`).
        ``start_serving=False``: bind only, and accept from :meth:`Server.start_serving`
        on (once the handlers the caller adds to ``server.registry`` are in).
        """
        registry = self.registry.copy()
        for service in handlers:
            registry.add(service)
        server = Server(self, registry)
        server.listeners = await listen(
            server.protocol_factory,
            host,
            port,
            ssl=ssl,
            backlog=backlog,
            handshake_timeout=self.policy.timers.artim,
            reuse_port=reuse_port,
            start_serving=start_serving,
            shared=shared,
            gate=gate,
        )
        _log.info("%s listening on %s", self.title, ", ".join(map(str, server.addresses)))
        return server

    def associate(
        self,
        host: str,
        port: int,
        *,
        called_ae: str = "ANY-SCP",
        contexts: Sequence[ProposedContext] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        family: int = 0,
        **request_options: Any,
    ) -> AssociateCall:
        """Request an association; ``await`` it or use it with ``async with``.

        ``contexts`` overrides the Policy's proposed contexts;
        ``request_options`` (``user_identity``, ``extended``,
        ``common_extended``) go to :func:`dicomnet.negotiation.build_request`.
        Raises :class:`~dicomnet.errors.AssociationRejected`,
        :class:`~dicomnet.errors.AssociationAborted` or
        :class:`~dicomnet.errors.TimeoutExpired` (``connect``, ``associate``).
        """
        return AssociateCall(
            self._open(
                host,
                port,
                called_ae=called_ae,
                contexts=contexts,
                ssl=ssl,
                server_hostname=server_hostname,
                family=family,
                request_options=request_options,
            )
        )

    async def _open(
        self,
        host: str,
        port: int,
        *,
        called_ae: str,
        contexts: Sequence[ProposedContext] | None,
        ssl: ssl_module.SSLContext | None,
        server_hostname: str | None,
        family: int,
        request_options: dict[str, Any],
    ) -> Association:
        policy = self.policy
        proposed = None if contexts is None else tuple(contexts)

        def build() -> AAssociateRQ:
            return negotiation.build_request(
                policy, called_ae_title=called_ae, contexts=proposed, **request_options
            )

        # Options (a user identity, say) make the request differ: built each time.
        memo = self._memo
        rq = build() if request_options else memo.request(policy, (called_ae, proposed), build)
        conn = ULConnection(
            Role.REQUESTOR,
            max_pdu_receive=policy.max_pdu_receive,
            artim_timeout=policy.timers.artim,
            closing_timeout=policy.timers.closing,
            associate_cache=memo.pdus,
        )
        conn.connect(rq)
        association = Association(
            policy=policy,
            registry=self.registry,
            requestor=True,
            number=self.next_number(),
            request=rq,
            on_end=self.registry.association_ended,
            memo=memo,
            kept=self._kept,
        )

        def factory() -> ULProtocol:
            return ULProtocol(
                conn,
                listener=association,
                artim_seconds=policy.timers.artim,
                tcp_nodelay=policy.tcp_nodelay,
                on_connected=association.attach,
            )

        protocol = await connect(
            factory,
            host,
            port,
            ssl=ssl,
            server_hostname=server_hostname,
            timeout=policy.timers.connect,
            family=family,
        )
        try:
            await association.wait_established()
        except BaseException:
            protocol.abort_transport()
            raise
        return association


def _address(peername: tuple[Any, ...] | None) -> str:
    if not peername:
        return "?"
    host, port = peername[0], peername[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class AssociateCall:
    """What :meth:`AE.associate` returns: awaitable, or an async context manager."""

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._association: Association | None = None

    def __await__(self) -> Generator[Any, None, Association]:
        return self._opening.__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> Association:
        self._association = await self._opening
        return self._association

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._association is not None:
            await self._association.__aexit__(exc_type, exc, tb)


class Server:
    """A listening acceptor returned by :meth:`AE.serve`.

    ``port`` is the bound port (one number even when listening on both IPv4
    and IPv6). ``close()`` stops listening and aborts live associations;
    ``async with server`` does both and waits.
    """

    def __init__(self, ae: AE, registry: HandlerRegistry) -> None:
        self.ae = ae
        self.policy = ae.policy
        self.registry = registry
        self.listeners: list[Listener] = []
        #: Associations being served (counted against ``max_associations``).
        self.active: set[Association] = set()
        self._held: deque[tuple[ULProtocol, Association]] = deque()
        self._hold_timers: dict[ULProtocol, asyncio.TimerHandle] = {}
        self._protocols: set[ULProtocol] = set()
        # Protocols made for accepted connections, not connected yet (a failed one goes
        # with its last reference): counted in `connections` as soon as they exist.
        self._starting: weakref.WeakSet[ULProtocol] = weakref.WeakSet()
        self._closed_since_trim = 0  # connections closed since freed memory was returned
        self._trim: asyncio.TimerHandle | None = None
        self._closing = False
        #: Negotiation outcomes of this server's associations, reused for equal PDUs.
        self.memo = NegotiationMemo()
        #: Called with each association as it ends (e.g. to count and log it).
        self.ended_hooks: list[Callable[[Association], None]] = []
        #: Called after each connection has closed (:attr:`connections` counts it no more).
        self.closed_hooks: list[Callable[[], None]] = []

    # -- introspection -------------------------------------------------------------

    @property
    def sockets(self) -> list[Any]:
        """Listening sockets."""
        return [sock for listener in self.listeners for sock in listener.sockets]

    @property
    def addresses(self) -> list[tuple[Any, ...]]:
        """Bound addresses of the listening sockets."""
        return [sock.getsockname() for sock in self.sockets]

    @property
    def port(self) -> int:
        """The bound TCP port."""
        port: int = self.sockets[0].getsockname()[1]
        return port

    async def start_serving(self) -> None:
        """Accept connections (a server made with ``start_serving=False``)."""
        for listener in self.listeners:
            await listener.start_serving()

    @property
    def connections(self) -> int:
        """Connections open now (associations served, held, or being refused), and
        accepted ones whose protocol is made but not connected yet."""
        return len(self._protocols) + len(self._starting)

    @property
    def held(self) -> int:
        """Connections waiting for a slot (QUEUE mode)."""
        return len(self._held)

    # -- connections ---------------------------------------------------------------

    def protocol_factory(self) -> ULProtocol:
        """A protocol for one accepted connection (asyncio calls this)."""
        policy = self.policy
        conn = ULConnection(
            Role.ACCEPTOR,
            max_pdu_receive=policy.max_pdu_receive,
            artim_timeout=policy.timers.artim,
            closing_timeout=policy.timers.closing,
            associate_cache=self.memo.pdus,
        )
        protocol = ULProtocol(
            conn,
            artim_seconds=policy.timers.artim,
            tcp_nodelay=policy.tcp_nodelay,
            autostart=False,
            on_connected=self._connected,
        )
        self._starting.add(protocol)
        return protocol

    def _connected(self, protocol: ULProtocol) -> None:
        self._starting.discard(protocol)
        policy = self.policy
        limit = policy.max_associations
        over = bool(limit) and len(self.active) + len(self._held) >= limit
        queue = over and policy.on_association_limit is LimitMode.QUEUE
        association = self._association_for(protocol, reject_for_limit=over and not queue)
        if association.log.isEnabledFor(logging.INFO):
            association.log.info("connection from %s", _address(protocol.peername))
        self._add(protocol)
        protocol.closed.add_done_callback(lambda _: self._connection_closed(protocol))
        if self._closing:
            protocol.abort_transport()
        elif queue:
            association.log.info("association limit (%d) reached: connection held", limit)
            protocol.hold()
            self._held.append((protocol, association))
            seconds = policy.timers.associate
            if seconds is not None:
                loop = asyncio.get_running_loop()
                self._hold_timers[protocol] = loop.call_later(
                    seconds, self._hold_expired, protocol, association, seconds
                )
        else:
            if not over:
                self.active.add(association)
            protocol.start()

    def adopt(self, protocol: ULProtocol) -> Association:
        """Serve a connection that another listener accepted and routed here.

        Used when several AEs share one port (:mod:`dicomnet.systems.router`): the
        A-ASSOCIATE-RQ has been read already, so past the association limit the
        request is rejected (2, 3, 2) whatever ``on_association_limit`` says (a held
        connection cannot be un-read). The caller hands the RQ to the association.
        """
        limit = self.policy.max_associations
        over = bool(limit) and len(self.active) >= limit
        association = self._association_for(protocol, reject_for_limit=over)
        self._add(protocol)
        protocol.closed.add_done_callback(lambda _: self._connection_closed(protocol))
        if self._closing:
            protocol.abort_transport()
        elif not over:
            self.active.add(association)
        return association

    def _association_for(self, protocol: ULProtocol, *, reject_for_limit: bool) -> Association:
        association = Association(
            policy=self.policy,
            registry=self.registry,
            requestor=False,
            number=self.ae.next_number(),
            reject_for_limit=reject_for_limit,
            on_end=self._ended,
            hooks=NegotiationHooks(
                self.ae.identity_check, self.ae.extended_check, self.ae.common_extended_check
            ),
            memo=self.memo,
        )
        protocol.listener = association
        association.attach(protocol)
        # Until the A-ASSOCIATE-RQ names the calling AE, records name the peer's address.
        association.log.rename(
            association.number, self.ae.title, _address(protocol.peername), requestor=False
        )
        return association

    def _unhold(self, protocol: ULProtocol) -> None:
        handle = self._hold_timers.pop(protocol, None)
        if handle is not None:
            handle.cancel()

    def _hold_expired(self, protocol: ULProtocol, association: Association, seconds: float) -> None:
        """Held too long: read the A-ASSOCIATE-RQ and answer it as over the limit."""
        self._hold_timers.pop(protocol, None)
        try:
            self._held.remove((protocol, association))
        except ValueError:
            return
        association.log.warning("no free slot within %g s: answering as over the limit", seconds)
        self._association_for(protocol, reject_for_limit=True)
        protocol.release_hold()

    def _add(self, protocol: ULProtocol) -> None:
        self._protocols.add(protocol)
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None

    def _connection_closed(self, protocol: ULProtocol) -> None:
        self._protocols.discard(protocol)
        self._closed_since_trim += 1
        for hook in self.closed_hooks:
            try:
                hook()
            except Exception:
                _log.exception("connection closed hook failed")
        # After a burst of connections, once none is left, what they used goes back to
        # the system (the heap would otherwise stay at the burst's peak).
        idle = not self._protocols and self._trim is None and not self._closing
        if idle and self._closed_since_trim >= TRIM_AFTER_CONNECTIONS:
            loop = asyncio.get_running_loop()
            self._trim = loop.call_later(TRIM_WHEN_IDLE_SECONDS, self._release_memory)

    def _release_memory(self) -> None:
        self._trim = None
        if not self._protocols:
            self._closed_since_trim = 0
            release_free_memory()

    def _ended(self, association: Association) -> None:
        self.active.discard(association)
        self.registry.association_ended(association)
        for hook in self.ended_hooks:
            try:
                hook(association)
            except Exception:
                _log.exception("association end hook failed")
        for item in list(self._held):
            if item[1] is association:
                self._held.remove(item)
                self._unhold(item[0])
        limit = self.policy.max_associations
        while self._held and not self._closing and (not limit or len(self.active) < limit):
            protocol, waiting = self._held.popleft()
            self._unhold(protocol)
            waiting.log.info("slot free: serving held connection")
            self.active.add(waiting)
            protocol.release_hold()

    # -- shutdown ------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening and drop every connection (live associations are aborted)."""
        self._closing = True
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None
        for listener in self.listeners:
            listener.close()
        for protocol in list(self._hold_timers):
            self._unhold(protocol)
        for protocol in list(self._protocols):
            association = protocol.listener
            if isinstance(association, Association) and association.is_established:
                association.abort_nowait("server closing")
                protocol.close_transport()  # flushes the A-ABORT first
            else:
                protocol.abort_transport()

    async def wait_closed(self) -> None:
        """Wait until the listeners and every connection are closed."""
        for listener in self.listeners:
            await listener.wait_closed()
        pending = [p.closed for p in self._protocols if not p.closed.done()]
        if pending:
            await asyncio.gather(*pending)

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()
