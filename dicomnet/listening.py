"""Listening for associations: dual-stack servers, shared listening sockets, TLS acceptors.

Re-exported by :mod:`dicomnet.transport`, where callers import it from.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
from collections.abc import Callable, Sequence

from .acceptor import AcceptGate, Listener, SharedAcceptor
from .tls import TLSHandshake

__all__ = ["LISTEN_BACKLOG", "listen"]

#: Connections the kernel completes and queues for a listener until it accepts them (the
#: kernel caps it at net.core.somaxconn). asyncio's default, 100, is too small for a burst
#: of associations: connections past it are dropped and the peers' TCP retries back off
#: (1, 2, 4, 8, 16 s), so a busy server may see a requestor give up before it accepts.
LISTEN_BACKLOG = socket.SOMAXCONN


async def listen(
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: str | None,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None = None,
    backlog: int = LISTEN_BACKLOG,
    handshake_timeout: float | None = None,
    reuse_port: bool = False,
    start_serving: bool = True,
    shared: Sequence[socket.socket] = (),
    gate: AcceptGate | None = None,
) -> list[Listener]:
    """Listen on ``host``; ``None``/``""`` means every interface, IPv6 (``::``) and IPv4.

    ``shared``: accept from these listening sockets instead (``host`` and
    ``port`` unused), which other processes accept from too
    (:class:`~dicomnet.acceptor.SharedAcceptor`: a few connections each time,
    each when ``gate`` says so).

    ``start_serving=False`` only binds: connections are refused until each
    server's ``start_serving()`` (a process whose handlers are not ready yet).

    ``reuse_port``: ``SO_REUSEPORT``, so several processes listen on one port
    (the kernel spreads connections over them by a hash of their addresses;
    ``serve --workers`` shares one listening socket instead, see ``shared``).

    With port 0 and no host, the IPv6 socket picks the port and the IPv4 one
    binds the same number, so the server has a single port to report.

    With ``ssl``, each connection's TLS handshake must complete within
    ``handshake_timeout`` seconds (the ARTIM timeout, for an acceptor); a
    refused one is logged with the peer's address (see :class:`TLSHandshake`).
    """
    loop = asyncio.get_running_loop()
    if ssl is not None:
        context, app_factory = ssl, protocol_factory

        def protocol_factory() -> asyncio.BaseProtocol:
            return TLSHandshake(app_factory, context, handshake_timeout)

    if shared:
        acceptors: list[Listener] = [
            SharedAcceptor(sock, protocol_factory, gate=gate) for sock in shared
        ]
        if start_serving:
            for acceptor in acceptors:
                await acceptor.start_serving()
        return acceptors

    async def create(address: str, port: int, family: int = socket.AF_UNSPEC) -> asyncio.Server:
        # (No ssl here: with TLS, each connection's protocol does the handshake itself.)
        return await loop.create_server(
            protocol_factory,
            address,
            port,
            backlog=backlog,
            family=family,
            reuse_port=reuse_port,
            start_serving=start_serving,
        )

    if host:
        return [await create(host, port)]
    servers: list[Listener] = []
    try:
        servers.append(await create("::", port, socket.AF_INET6))
        port = servers[0].sockets[0].getsockname()[1]
    except OSError:
        pass  # no IPv6 on this host
    try:
        servers.append(await create("0.0.0.0", port, socket.AF_INET))
    except OSError:
        if not servers:
            raise
    return servers
