"""dicomnet to dicomnet over TLS (with and without client certificates) and over IPv6."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from helpers.certs import make_certs

from dicomnet.ae import AE
from dicomnet.errors import AssociationAborted
from dicomnet.transport import client_tls_context, server_tls_context


async def test_tls_with_required_client_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    server_ctx = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    good = client_tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    async with await AE("SCP").serve("127.0.0.1", 0, ssl=server_ctx) as server:
        async with AE("SCU").associate("localhost", server.port, ssl=good) as assoc:
            assert (await assoc.echo()).is_success
            assert assoc.protocol.extra("peercert") is not None
        # Without a client certificate the handshake fails: the server refuses us.
        anonymous = client_tls_context(str(certs.ca))
        with pytest.raises((ssl.SSLError, ConnectionError, OSError, AssociationAborted)):
            async with AE("SCU").associate("localhost", server.port, ssl=anonymous) as assoc:
                await assoc.echo()


async def test_tls_client_verifies_the_server(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_certs(tmp_path / "other")
    server_ctx = server_tls_context(str(certs.server_cert), str(certs.server_key))
    async with await AE("SCP").serve("127.0.0.1", 0, ssl=server_ctx) as server:
        wrong_ca = client_tls_context(str(other.ca))
        with pytest.raises(ssl.SSLCertVerificationError):
            await AE("SCU").associate("localhost", server.port, ssl=wrong_ca)
        unverified = client_tls_context(verify=False)
        async with AE("SCU").associate("127.0.0.1", server.port, ssl=unverified) as assoc:
            assert (await assoc.echo()).is_success


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
async def test_ipv6_loopback_and_dual_stack() -> None:
    async with (
        await AE("SCP").serve("::1", 0) as server,
        AE("SCU").associate("::1", server.port) as assoc,
    ):
        assert assoc.peer_address is not None and assoc.peer_address[0] == "::1"
        assert (await assoc.echo()).is_success
    # No host: every interface, IPv6 and IPv4, on one port number.
    async with await AE("SCP").serve(None, 0) as server:
        families = {sock.family for sock in server.sockets}
        assert socket.AF_INET in families
        for host in ("127.0.0.1", "::1") if socket.AF_INET6 in families else ("127.0.0.1",):
            async with AE("SCU").associate(host, server.port) as assoc:
                assert (await assoc.echo()).is_success
