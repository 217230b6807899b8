"""Several AEs on one TCP port, each association routed by its called AE title.

A :class:`RoutedPort` listens once for a group of :class:`~dicomnet.ae.Server`
objects that do not listen themselves. Each connection is started at once
(ARTIM runs, PS3.8 §9.1.5); when its A-ASSOCIATE-RQ arrives, the server whose
AE answers to the Called AE Title (exactly, as the profile's ``called`` list
says) takes the connection over (:meth:`~dicomnet.ae.Server.adopt`) and
negotiates with its own policy. A called title that no AE of the port answers
to goes to the port's ``fallback`` server when there is one (whose profile then
decides, e.g. "Verification only"), else it is rejected with A-ASSOCIATE-RJ
(1, 1, 7): rejected-permanent, service-user, called-AE-title-not-recognized
(PS3.8 Table 9-21).

Past an AE's association limit the request is rejected (2, 3, 2): the request
has been read, so a shared port cannot hold a connection unread as a port of
its own does with ``on_association_limit = "queue"``.
"""

from __future__ import annotations

import logging
import ssl as ssl_module
from collections.abc import Sequence
from typing import Any

from dicomnet_pdu import events as ul
from dicomnet_pdu.connection import Role, ULConnection

from ..ae import AE, Server
from ..policy import AETitlePolicy, Policy, WrongCalledAE
from ..transport import LISTEN_BACKLOG, ULProtocol, listen

__all__ = ["RoutedPort"]

_log = logging.getLogger("dicomnet.systems.router")


def _answers_to(server: Server) -> tuple[str, ...]:
    return tuple(title.strip() for title in server.policy.ae_titles.called_ae_titles)


class _Unrouted:
    """The listener of a connection until its A-ASSOCIATE-RQ names the called AE."""

    def __init__(self, port: RoutedPort, protocol: ULProtocol) -> None:
        self.port = port
        self.protocol = protocol

    def ul_event(self, event: object) -> None:
        if isinstance(event, ul.AssociateIndication):
            self.port.route(self.protocol, event)
        # Anything else before the request (transport closed, abort, ARTIM) ends the
        # connection in the core; there is no association to tell.

    def timer_expired(self, name: str, seconds: float) -> None:
        _log.info("connection closed: no A-ASSOCIATE-RQ within %g s (%s)", seconds, name)

    def link_lost(self, exc: BaseException | None) -> None:
        return None


class RoutedPort:
    """One listening port for ``servers``, routed by called AE title.

    ``fallback`` (one of ``servers``, or None) takes the requests whose called
    title no server answers to; without it they are rejected (1, 1, 7).
    """

    def __init__(self, servers: Sequence[Server], *, fallback: Server | None = None) -> None:
        if not servers:
            raise ValueError("a routed port needs at least one server")
        self.servers = tuple(servers)
        self.routes: dict[str, Server] = {}
        for server in self.servers:
            for title in _answers_to(server):
                if title == "*":
                    raise ValueError(
                        f"{server.ae.title}: an AE answering to any called title ('*')"
                        " cannot share a port"
                    )
                if title in self.routes:
                    raise ValueError(f"two AEs on one port answer to {title!r}")
                self.routes[title] = server
        self.fallback = fallback
        self.refuser = _refusing_server(tuple(self.routes), self.servers[0].policy)
        self.listeners: list[Any] = []
        policies = [server.policy for server in self.servers]
        sizes = [policy.max_pdu_receive for policy in policies]
        self._max_pdu = 0 if 0 in sizes else max(sizes)
        self._artim = max(policy.timers.artim for policy in policies)
        # AEs sharing a port share one connection core: the longest closing timeout.
        self._closing = max(
            p.timers.artim if p.timers.closing is None else p.timers.closing for p in policies
        )
        self._tcp_nodelay = all(policy.tcp_nodelay for policy in policies)
        self._unrouted: set[ULProtocol] = set()

    async def listen(
        self,
        host: str | None,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        backlog: int = LISTEN_BACKLOG,
        start_serving: bool = True,
    ) -> None:
        """Bind and listen (``port`` 0: any free port, see :attr:`port`); with
        ``start_serving=False`` bind only, until :meth:`start_serving`."""
        self.listeners = await listen(
            self.protocol_factory,
            host,
            port,
            ssl=ssl,
            backlog=backlog,
            handshake_timeout=self._artim,
            start_serving=start_serving,
        )
        titles = ", ".join(self.routes)
        _log.info("%s listening on port %d", titles, self.port)

    async def start_serving(self) -> None:
        """Accept connections (after ``listen(start_serving=False)``)."""
        for listener in self.listeners:
            await listener.start_serving()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        sockets = [sock for listener in self.listeners for sock in listener.sockets]
        bound: int = sockets[0].getsockname()[1]
        return bound

    def protocol_factory(self) -> ULProtocol:
        """A protocol for one accepted connection (asyncio calls this)."""
        conn = ULConnection(
            Role.ACCEPTOR,
            max_pdu_receive=self._max_pdu,
            artim_timeout=self._artim,
            closing_timeout=self._closing,
        )
        protocol = ULProtocol(
            conn, artim_seconds=self._artim, tcp_nodelay=self._tcp_nodelay, autostart=True
        )
        protocol.listener = _Unrouted(self, protocol)
        self._unrouted.add(protocol)
        protocol.closed.add_done_callback(lambda _: self._unrouted.discard(protocol))
        return protocol

    def route(self, protocol: ULProtocol, indication: ul.AssociateIndication) -> None:
        """Hand the connection and its request to the AE the called title names."""
        self._unrouted.discard(protocol)
        called = indication.rq.called_ae_title.strip()
        server = self.routes.get(called) or self.fallback or self.refuser
        conn = protocol.conn
        if isinstance(conn, ULConnection):
            conn.set_max_pdu_receive(server.policy.max_pdu_receive)
        association = server.adopt(protocol)
        association.ul_event(indication)

    def close(self) -> None:
        """Stop listening; abort the connections not routed yet (servers close themselves)."""
        for listener in self.listeners:
            listener.close()
        for protocol in list(self._unrouted):
            protocol.abort_transport()

    async def wait_closed(self) -> None:
        """Wait until the listeners are closed."""
        for listener in self.listeners:
            await listener.wait_closed()


def _refusing_server(titles: tuple[str, ...], like: Policy) -> Server:
    """A server that rejects every request (1, 1, 7): its AE answers to none of them."""
    rules = AETitlePolicy(called_ae_titles=titles, wrong_called_ae=WrongCalledAE.REJECT)
    policy = Policy(
        ae_title=titles[0] if titles else "ROUTER",
        ae_titles=rules,
        max_pdu_receive=like.max_pdu_receive,
        timers=like.timers,
    )
    ae = AE(policy.ae_title, policy)
    return Server(ae, ae.registry)
