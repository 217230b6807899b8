"""TLS: context files named in errors, and the acceptor's handshake bounded and logged.

A TLS handshake that does not complete (silence, a plaintext client, a client
without a certificate or with one the CA did not sign) must end within the
ARTIM timeout and leave exactly one log line with the peer's address; the
association layer never sees such a connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from pathlib import Path

import pytest
from conftest import require_module
from helpers.certs import CertSet, make_certs
from helpers.policies import make_policy

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.errors import ConfigurationError
from dicomnet.tls import client_tls_context, server_tls_context
from dicomnet.transport import run
from dicomnet_pdu.codec import encode_pdu

ARTIM = 0.5


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def strangers(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    """Another CA and its client certificate: untrusted by the server."""
    return make_certs(tmp_path_factory.mktemp("strangers"))


# -------------------------------------------------------------------- files


def exactly(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return f"^{re.escape(text)}$"


def test_missing_files_are_named(certs: CertSet) -> None:
    with pytest.raises(ConfigurationError, match=exactly("certificate file not found: /nope.pem")):
        server_tls_context("/nope.pem", str(certs.server_key))
    with pytest.raises(ConfigurationError, match=exactly("private key file not found: /nope.key")):
        server_tls_context(str(certs.server_cert), "/nope.key")
    with pytest.raises(ConfigurationError, match=exactly("CA bundle not found: /nope-ca.pem")):
        client_tls_context("/nope-ca.pem")


def test_files_that_are_not_pem_are_named(certs: CertSet, tmp_path: Path) -> None:
    text = tmp_path / "text.pem"
    text.write_text("hello\n")
    empty_pem = tmp_path / "empty.pem"
    empty_pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match=exactly(f"not a PEM certificate: {text}")):
        server_tls_context(str(text), str(certs.server_key))
    with pytest.raises(ConfigurationError, match=exactly(f"not a PEM private key: {text}")):
        server_tls_context(str(certs.server_cert), str(text))
    with pytest.raises(
        ConfigurationError, match=exactly(f"not a valid PEM certificate: {empty_pem}")
    ):
        server_tls_context(str(empty_pem), str(certs.server_key))
    with pytest.raises(
        ConfigurationError, match=f"^not a PEM CA bundle .*: {re.escape(str(text))}$"
    ):
        client_tls_context(str(text))
    with pytest.raises(
        ConfigurationError, match=exactly(f"not a valid PEM CA bundle: {empty_pem}")
    ):
        server_tls_context(str(certs.server_cert), str(certs.server_key), str(empty_pem))
    with pytest.raises(ConfigurationError, match="does not belong to certificate"):
        server_tls_context(str(certs.server_cert), str(certs.client_key))


def test_requiring_client_certificates_needs_a_ca(certs: CertSet) -> None:
    with pytest.raises(ConfigurationError, match="--tls-ca"):
        server_tls_context(str(certs.server_cert), str(certs.server_key), require_client_cert=True)


# ---------------------------------------------------------------- handshake


async def _serve(certs: CertSet) -> tuple[AE, ssl.SSLContext]:
    policy = make_policy("SCP", timers={"artim": ARTIM})
    context = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    return AE("SCP", policy), context


def _refusals(caplog: pytest.LogCaptureFixture, address: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "TLS handshake" in r.getMessage() and address in r.getMessage()
    ]


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(65536), 10 * ARTIM + 10)
    except ConnectionError:
        return True
    return data == b""


async def test_a_silent_client_is_dropped_after_artim(
    certs: CertSet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    ae, context = await _serve(certs)
    async with await ae.serve("127.0.0.1", 0, ssl=context) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        address = "{}:{}".format(*writer.get_extra_info("sockname")[:2])
        try:
            assert await _closed_by_server(reader)  # no ClientHello: closed, not held 60 s
        finally:
            writer.close()
        assert not server.active
    (line,) = _refusals(caplog, address)
    assert "ARTIM" in line


async def test_a_plaintext_client_is_refused_and_logged(
    certs: CertSet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    ae, context = await _serve(certs)
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP")
    async with await ae.serve("127.0.0.1", 0, ssl=context) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        address = "{}:{}".format(*writer.get_extra_info("sockname")[:2])
        try:
            writer.write(encode_pdu(rq))
            assert await _closed_by_server(reader)
        finally:
            writer.close()
    assert len(_refusals(caplog, address)) == 1


@pytest.mark.parametrize("client", ["no certificate", "untrusted certificate"])
async def test_a_client_without_a_trusted_certificate_is_refused_and_logged(
    client: str, certs: CertSet, strangers: CertSet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomnet")
    ae, context = await _serve(certs)
    if client == "no certificate":
        client_context = client_tls_context(str(certs.ca))
    else:
        client_context = client_tls_context(
            str(certs.ca), str(strangers.client_cert), str(strangers.client_key)
        )
    async with await ae.serve("127.0.0.1", 0, ssl=context) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        address = "{}:{}".format(*sock.getsockname()[:2])
        refused = False
        try:
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=client_context, server_hostname="localhost"
            )
            # TLS 1.3: the client finishes first; the refusal arrives as an alert.
            refused = await _closed_by_server(reader)
            writer.close()
        except (ssl.SSLError, ConnectionError):
            refused = True
        assert refused
        for _ in range(100):  # the server logs when its side of the handshake ends
            if _refusals(caplog, address):
                break
            await asyncio.sleep(0.02)
        assert not server.active
    assert len(_refusals(caplog, address)) == 1


async def test_a_trusted_client_is_served(certs: CertSet) -> None:
    ae, context = await _serve(certs)
    client_context = client_tls_context(
        str(certs.ca), str(certs.client_cert), str(certs.client_key)
    )
    async with await ae.serve("127.0.0.1", 0, ssl=context) as server:
        async with AE("SCU").associate(
            "127.0.0.1",
            server.port,
            called_ae="SCP",
            ssl=client_context,
            server_hostname="localhost",
        ) as assoc:
            assert (await assoc.echo()).code == 0


def test_the_handshake_on_uvloop(certs: CertSet, caplog: pytest.LogCaptureFixture) -> None:
    # uvloop reads a new connection at once: the ClientHello must still reach start_tls.
    require_module("uvloop")

    async def both() -> None:
        await test_a_trusted_client_is_served(certs)
        await test_a_plaintext_client_is_refused_and_logged(certs, caplog)

    run(both(), use_uvloop=True)
